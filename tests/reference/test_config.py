"""Mapping parameter validation: every parameter, its default, and the exact error text."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from reference import InvalidMappingParameter, MappingConfig, UnsupportedMappingParameter
from reference.config import KNOWN_PARAMETERS, source_of_arn

KINESIS_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/s"
DDB_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024-06-01T12:00:00.000"


def config(source: str = "kinesis", **parameters: Any) -> MappingConfig:
    parameters.setdefault("StartingPosition", "TRIM_HORIZON")
    return MappingConfig.from_parameters(parameters, source)


def test_defaults_are_those_of_create_event_source_mapping() -> None:
    # CFG-1, BATCH-1, BATCH-3, RETRY-1, RETRY-2, BISECT-1, PBF-1
    c = config()
    assert (c.batch_size, c.batching_window_seconds) == (100, 0)
    assert (c.maximum_retry_attempts, c.maximum_record_age_seconds) == (-1, -1)
    assert c.bisect_on_function_error is False
    assert c.report_batch_item_failures is False
    assert c.destination_arn is None and c.destination_kind is None
    assert c.starting_position == "TRIM_HORIZON" and c.starting_position_timestamp is None


def test_every_setting_is_read() -> None:
    c = config(
        BatchSize=10_000,
        MaximumBatchingWindowInSeconds=300,
        MaximumRetryAttempts=10_000,
        MaximumRecordAgeInSeconds=604_800,
        BisectBatchOnFunctionError=True,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Destination": "arn:aws:s3:::my-bucket"}},
        ParallelizationFactor=1,
        TumblingWindowInSeconds=0,
    )
    assert (c.batch_size, c.batching_window_seconds) == (10_000, 300)
    assert (c.maximum_retry_attempts, c.maximum_record_age_seconds) == (10_000, 604_800)
    assert c.bisect_on_function_error and c.report_batch_item_failures
    assert c.destination_kind == "s3"


@pytest.mark.parametrize(
    ("parameters", "parameter", "message"),
    [
        (
            {"BatchSize": 0},
            "BatchSize",
            "BatchSize=0 is out of range: BatchSize must be an integer from 1 to 10000 (BATCH-1)",
        ),
        (
            {"BatchSize": 10_001},
            "BatchSize",
            "BatchSize=10001 is out of range: BatchSize must be an integer from 1 to 10000 (BATCH-1)",
        ),
        (
            {"BatchSize": "10"},
            "BatchSize",
            "BatchSize='10' is not an integer: BatchSize must be an integer from 1 to 10000 (BATCH-1)",
        ),
        (
            {"BatchSize": True},
            "BatchSize",
            "BatchSize=True is not an integer: BatchSize must be an integer from 1 to 10000 (BATCH-1)",
        ),
        (
            {"MaximumBatchingWindowInSeconds": 301},
            "MaximumBatchingWindowInSeconds",
            "MaximumBatchingWindowInSeconds=301 is out of range: MaximumBatchingWindowInSeconds must be an "
            "integer from 0 to 300 (BATCH-3)",
        ),
        (
            {"MaximumRetryAttempts": -2},
            "MaximumRetryAttempts",
            "MaximumRetryAttempts=-2 is out of range: MaximumRetryAttempts must be -1 or an integer from 0 "
            "to 10000 (RETRY-1)",
        ),
        (
            {"MaximumRetryAttempts": 10_001},
            "MaximumRetryAttempts",
            "MaximumRetryAttempts=10001 is out of range: MaximumRetryAttempts must be -1 or an integer from "
            "0 to 10000 (RETRY-1)",
        ),
        (
            {"MaximumRecordAgeInSeconds": 59},
            "MaximumRecordAgeInSeconds",
            "MaximumRecordAgeInSeconds=59 is out of range: MaximumRecordAgeInSeconds must be -1 or an "
            "integer from 60 to 604800 (RETRY-2)",
        ),
        (
            {"MaximumRecordAgeInSeconds": 0},
            "MaximumRecordAgeInSeconds",
            "MaximumRecordAgeInSeconds=0 is out of range: MaximumRecordAgeInSeconds must be -1 or an "
            "integer from 60 to 604800 (RETRY-2)",
        ),
        (
            {"MaximumRecordAgeInSeconds": 604_801},
            "MaximumRecordAgeInSeconds",
            "MaximumRecordAgeInSeconds=604801 is out of range: MaximumRecordAgeInSeconds must be -1 or an "
            "integer from 60 to 604800 (RETRY-2)",
        ),
        (
            {"BisectBatchOnFunctionError": "yes"},
            "BisectBatchOnFunctionError",
            "BisectBatchOnFunctionError='yes' is not a boolean: BisectBatchOnFunctionError must be true or "
            "false (BISECT-1)",
        ),
        (
            {"FunctionResponseTypes": ["ReportBatchItemFailure"]},
            "FunctionResponseTypes",
            "FunctionResponseTypes=['ReportBatchItemFailure'] is not allowed: it must be [] or "
            "['ReportBatchItemFailures'] (PBF-1)",
        ),
        (
            {"FunctionResponseTypes": "ReportBatchItemFailures"},
            "FunctionResponseTypes",
            "FunctionResponseTypes='ReportBatchItemFailures' is not allowed: it must be [] or "
            "['ReportBatchItemFailures'] (PBF-1)",
        ),
        (
            {"StartingPosition": None},
            "StartingPosition",
            "StartingPosition is missing: it is required for stream sources and must be one of "
            "TRIM_HORIZON, LATEST, AT_TIMESTAMP (START-1)",
        ),
        (
            {"StartingPosition": "invalid"},
            "StartingPosition",
            "StartingPosition='invalid' is not a starting position: it must be one of TRIM_HORIZON, "
            "LATEST, AT_TIMESTAMP (START-1)",
        ),
        (
            {"StartingPosition": "AT_TIMESTAMP"},
            "StartingPositionTimestamp",
            "StartingPositionTimestamp is missing: StartingPosition='AT_TIMESTAMP' needs it, as Unix "
            "seconds such as 1700000000.5 (START-4)",
        ),
        (
            {"StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": "yesterday"},
            "StartingPositionTimestamp",
            "StartingPositionTimestamp='yesterday' is not a time: it must be Unix seconds (a number) or a "
            "timezone-aware datetime (START-4)",
        ),
        (
            {"ParallelizationFactor": 11},
            "ParallelizationFactor",
            "ParallelizationFactor=11 is out of range: ParallelizationFactor must be an integer from 1 to "
            "10 (ORD-7)",
        ),
        (
            {"TumblingWindowInSeconds": 901},
            "TumblingWindowInSeconds",
            "TumblingWindowInSeconds=901 is out of range: TumblingWindowInSeconds must be an integer from 0 "
            "to 900 (TW-1)",
        ),
        (
            {"DestinationConfig": {"OnFailure": {"Destination": "arn:aws:lambda:us-east-1:1:function:f"}}},
            "DestinationConfig",
            "DestinationConfig.OnFailure.Destination='arn:aws:lambda:us-east-1:1:function:f' is not an SQS "
            "queue, SNS topic or S3 bucket ARN: use arn:aws:sqs:<region>:<account>:<queue>, "
            "arn:aws:sns:<region>:<account>:<topic> or arn:aws:s3:::<bucket> (DLQ-1)",
        ),
        (
            {
                "DestinationConfig": {
                    "OnFailure": {},
                    "OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:123456789012:q"},
                }
            },
            "DestinationConfig",
            "DestinationConfig has OnSuccess: stream sources accept only OnFailure destinations, as "
            "{'OnFailure': {'Destination': <SQS queue, SNS topic or S3 bucket ARN>}} (DLQ-1)",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and " " not in v else None,
)
def test_invalid_parameter_is_rejected_with_an_exact_message(
    parameters: dict[str, Any], parameter: str, message: str
) -> None:
    given = {"StartingPosition": "TRIM_HORIZON", **parameters}
    with pytest.raises(InvalidMappingParameter) as raised:
        MappingConfig.from_parameters(given, "kinesis")
    assert str(raised.value) == message
    assert raised.value.parameter == parameter
    assert raised.value.allowed  # says what is accepted


def test_error_carries_parameter_value_and_allowed_range() -> None:
    with pytest.raises(InvalidMappingParameter) as raised:
        config(BatchSize=0)
    assert (raised.value.parameter, raised.value.value, raised.value.allowed) == (
        "BatchSize",
        0,
        "an integer from 1 to 10000",
    )
    assert isinstance(raised.value, ValueError)


def test_at_timestamp_is_rejected_for_dynamodb() -> None:
    # START-1: "Unsupported starting position for arn type"
    with pytest.raises(InvalidMappingParameter) as raised:
        MappingConfig.from_parameters(
            {"StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": 1.0}, "dynamodb", DDB_ARN
        )
    assert str(raised.value) == (
        f"StartingPosition='AT_TIMESTAMP' is not supported for the DynamoDB stream {DDB_ARN}: "
        "use TRIM_HORIZON or LATEST (START-1)"
    )


def test_at_timestamp_reads_unix_seconds_with_a_fraction() -> None:
    c = config(StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=1717243200.25)
    assert c.starting_position_timestamp == datetime(2024, 6, 1, 12, 0, 0, 250000, tzinfo=timezone.utc)


def test_unknown_parameter_lists_the_known_ones() -> None:
    with pytest.raises(InvalidMappingParameter) as raised:
        config(BatchSzie=10)
    assert raised.value.parameter == "BatchSzie"
    assert str(raised.value) == (
        f"Unknown mapping parameter 'BatchSzie': the known parameters are {', '.join(KNOWN_PARAMETERS)}"
    )


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        (
            {"ParallelizationFactor": 2},
            "ParallelizationFactor=2 is valid for AWS but not implemented by the reference poller, which "
            "keeps one batch per shard in flight: use 1 (ORD-7)",
        ),
        (
            {"TumblingWindowInSeconds": 60},
            "TumblingWindowInSeconds=60 is valid for AWS but tumbling windows are not implemented by the "
            "reference poller: use 0 (TW-1)",
        ),
        (
            {"FilterCriteria": {"Filters": [{"Pattern": "{}"}]}},
            "FilterCriteria is valid for AWS but event filtering is not implemented by the reference "
            "poller: leave it out (FILT-1)",
        ),
    ],
)
def test_valid_but_unsupported_settings_say_so(parameters: dict[str, Any], message: str) -> None:
    with pytest.raises(UnsupportedMappingParameter) as raised:
        config(**parameters)
    assert str(raised.value) == message
    assert isinstance(raised.value, NotImplementedError)
    assert isinstance(raised.value, InvalidMappingParameter)


@pytest.mark.parametrize(
    "destination",
    [
        "arn:aws:sqs:us-east-1:123456789012:q",
        "arn:aws:sns:us-east-1:123456789012:t",
        "arn:aws:s3:::my-bucket",
    ],
)
def test_destination_kinds(destination: str) -> None:
    c = config(DestinationConfig={"OnFailure": {"Destination": destination}})
    assert c.destination_arn == destination
    assert c.destination_kind == destination.split(":")[2]


def test_empty_on_failure_means_no_destination() -> None:
    # CFG-1 shows {"OnFailure": {}} for a mapping without destination.
    assert config(DestinationConfig={"OnFailure": {}}).destination_arn is None


def test_source_is_read_from_the_event_source_arn() -> None:
    assert source_of_arn(KINESIS_ARN) == "kinesis"
    assert source_of_arn(DDB_ARN) == "dynamodb"
    with pytest.raises(InvalidMappingParameter, match="is not a stream ARN"):
        source_of_arn("arn:aws:sqs:us-east-1:123456789012:q")


def test_event_source_arn_parameter_must_name_the_polled_stream() -> None:
    with pytest.raises(InvalidMappingParameter, match="is not the stream this poller serves"):
        MappingConfig.from_parameters(
            {"StartingPosition": "LATEST", "EventSourceArn": DDB_ARN}, "kinesis", KINESIS_ARN
        )
    same = MappingConfig.from_parameters(
        {"StartingPosition": "LATEST", "EventSourceArn": KINESIS_ARN}, "kinesis", KINESIS_ARN
    )
    assert same.starting_position == "LATEST"
