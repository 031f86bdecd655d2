"""Mapping parameters: CreateEventSourceMapping fields, validated the way AWS would, turned into a
typed configuration.

Every rejection is an ``InvalidMappingParameter`` that names the parameter, the value given and
what is allowed, so a user sees at once how to fix the mapping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

__all__ = [
    "DESTINATION_KINDS",
    "KNOWN_PARAMETERS",
    "SOURCES",
    "STARTING_POSITIONS",
    "InvalidMappingParameter",
    "MappingConfig",
    "UnsupportedMappingParameter",
    "source_of_arn",
]

SOURCES = ("kinesis", "dynamodb")
STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
DESTINATION_KINDS = ("sqs", "sns", "s3")

KNOWN_PARAMETERS = (
    "BatchSize",
    "BisectBatchOnFunctionError",
    "DestinationConfig",
    "Enabled",
    "EventSourceArn",
    "FilterCriteria",
    "FunctionName",
    "FunctionResponseTypes",
    "MaximumBatchingWindowInSeconds",
    "MaximumRecordAgeInSeconds",
    "MaximumRetryAttempts",
    "ParallelizationFactor",
    "StartingPosition",
    "StartingPositionTimestamp",
    "TumblingWindowInSeconds",
)

_MISSING = object()

# arn:<partition>:<service>:<region>:<account>:<resource>; S3 bucket ARNs have no region/account.
_QUEUE_OR_TOPIC_ARN = re.compile(r"^arn:[a-z0-9-]+:(sqs|sns):[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+$")
_BUCKET_ARN = re.compile(r"^arn:[a-z0-9-]+:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_KINESIS_STREAM_ARN = re.compile(r"^arn:[a-z0-9-]+:kinesis:[a-z0-9-]+:\d{12}:stream/[A-Za-z0-9_.-]+$")
_DYNAMODB_STREAM_ARN = re.compile(
    r"^arn:[a-z0-9-]+:dynamodb:[a-z0-9-]+:\d{12}:table/[A-Za-z0-9_.-]+/stream/.+$"
)


class InvalidMappingParameter(ValueError):
    """A mapping parameter was rejected. ``parameter`` is its CreateEventSourceMapping name,
    ``value`` what was given (``None`` when it was missing), ``allowed`` a short description of
    the accepted values."""

    def __init__(self, parameter: str, value: Any, allowed: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.value = value
        self.allowed = allowed


class UnsupportedMappingParameter(InvalidMappingParameter, NotImplementedError):
    """A valid AWS setting that the reference poller does not implement (it says which)."""


@dataclass(frozen=True)
class MappingConfig:
    """The validated mapping. Field comments give the rule ids that define each setting."""

    source: str  # "kinesis" | "dynamodb"
    starting_position: str  # START-1
    starting_position_timestamp: datetime | None = None  # START-4, AT_TIMESTAMP only
    batch_size: int = 100  # BATCH-1
    batching_window_seconds: int = 0  # BATCH-3
    maximum_retry_attempts: int = -1  # RETRY-1; -1 = retry until the records expire
    maximum_record_age_seconds: int = -1  # RETRY-2; -1 = no age limit
    bisect_on_function_error: bool = False  # BISECT-1
    report_batch_item_failures: bool = False  # PBF-1
    destination_arn: str | None = None  # DLQ-1
    enabled: bool = True

    @property
    def destination_kind(self) -> str | None:
        """``"sqs"``, ``"sns"``, ``"s3"`` or ``None`` (no on-failure destination)."""
        return self.destination_arn.split(":")[2] if self.destination_arn else None

    @classmethod
    def from_parameters(
        cls, parameters: Mapping[str, Any], source: str, event_source_arn: str | None = None
    ) -> MappingConfig:
        """Validate CreateEventSourceMapping ``parameters`` for a ``source`` ("kinesis" or
        "dynamodb"). ``event_source_arn``, when given, is checked against an ``EventSourceArn``
        parameter and named in messages."""
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, found {source!r}")
        if not isinstance(parameters, Mapping):
            raise InvalidMappingParameter(
                "parameters",
                parameters,
                "a mapping of CreateEventSourceMapping field names to values",
                f"the mapping parameters must be a mapping of CreateEventSourceMapping field names, "
                f"found {type(parameters).__name__}",
            )
        unknown = sorted((name for name in parameters if name not in KNOWN_PARAMETERS), key=str)
        if unknown:
            name = unknown[0]
            raise InvalidMappingParameter(
                str(name),
                parameters[name],
                f"one of {', '.join(KNOWN_PARAMETERS)}",
                f"Unknown mapping parameter {name!r}: the known parameters are {', '.join(KNOWN_PARAMETERS)}",
            )
        p = parameters
        _check_identity(p, event_source_arn)
        starting_position, timestamp = _starting_position(p, source, event_source_arn)
        _check_unsupported(p)
        return cls(
            source=source,
            starting_position=starting_position,
            starting_position_timestamp=timestamp,
            batch_size=_integer(p, "BatchSize", 100, 1, 10_000, "BATCH-1"),
            batching_window_seconds=_integer(p, "MaximumBatchingWindowInSeconds", 0, 0, 300, "BATCH-3"),
            maximum_retry_attempts=_integer(
                p, "MaximumRetryAttempts", -1, 0, 10_000, "RETRY-1", minus_one_allowed=True
            ),
            maximum_record_age_seconds=_integer(
                p, "MaximumRecordAgeInSeconds", -1, 60, 604_800, "RETRY-2", minus_one_allowed=True
            ),
            bisect_on_function_error=_boolean(p, "BisectBatchOnFunctionError", False, "BISECT-1"),
            report_batch_item_failures=_function_response_types(p),
            destination_arn=_destination(p),
            enabled=_boolean(p, "Enabled", True, "CFG-1"),
        )


def source_of_arn(arn: str) -> str:
    """``"kinesis"`` or ``"dynamodb"`` from an event source ARN; a clear error for anything else."""
    if isinstance(arn, str) and _KINESIS_STREAM_ARN.match(arn):
        return "kinesis"
    if isinstance(arn, str) and _DYNAMODB_STREAM_ARN.match(arn):
        return "dynamodb"
    raise InvalidMappingParameter(
        "EventSourceArn",
        arn,
        "a Kinesis stream ARN or a DynamoDB stream ARN",
        f"EventSourceArn={arn!r} is not a stream ARN: it must look like "
        "arn:aws:kinesis:<region>:<account>:stream/<name> or "
        "arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>",
    )


# ---- individual parameters ------------------------------------------------------------------


def _integer(
    p: Mapping[str, Any],
    name: str,
    default: int,
    low: int,
    high: int,
    rule: str,
    *,
    minus_one_allowed: bool = False,
) -> int:
    value = p.get(name, _MISSING)
    if value is _MISSING or value is None:
        return default
    allowed = (
        f"-1 or an integer from {low} to {high}" if minus_one_allowed else f"an integer from {low} to {high}"
    )
    # bool is an int subclass in Python; True is not a batch size.
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidMappingParameter(
            name, value, allowed, f"{name}={value!r} is not an integer: {name} must be {allowed} ({rule})"
        )
    if minus_one_allowed and value == -1:
        return value
    if not low <= value <= high:
        raise InvalidMappingParameter(
            name, value, allowed, f"{name}={value!r} is out of range: {name} must be {allowed} ({rule})"
        )
    return value


def _boolean(p: Mapping[str, Any], name: str, default: bool, rule: str) -> bool:
    value = p.get(name, _MISSING)
    if value is _MISSING or value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidMappingParameter(
            name,
            value,
            "true or false",
            f"{name}={value!r} is not a boolean: {name} must be true or false ({rule})",
        )
    return value


def _starting_position(
    p: Mapping[str, Any], source: str, event_source_arn: str | None
) -> tuple[str, datetime | None]:
    allowed = ", ".join(STARTING_POSITIONS)
    value = p.get("StartingPosition", _MISSING)
    if value is _MISSING or value is None:
        # START-1: required for stream sources.
        raise InvalidMappingParameter(
            "StartingPosition",
            None,
            f"one of {allowed}",
            "StartingPosition is missing: it is required for stream sources and must be one of "
            f"{allowed} (START-1)",
        )
    if value not in STARTING_POSITIONS:
        raise InvalidMappingParameter(
            "StartingPosition",
            value,
            f"one of {allowed}",
            f"StartingPosition={value!r} is not a starting position: it must be one of {allowed} (START-1)",
        )
    timestamp = _timestamp(p)
    if value == "AT_TIMESTAMP":
        if source != "kinesis":
            # START-1: AWS answers "Unsupported starting position for arn type".
            arn = f" {event_source_arn}" if event_source_arn else ""
            raise InvalidMappingParameter(
                "StartingPosition",
                value,
                "TRIM_HORIZON or LATEST for DynamoDB Streams",
                f"StartingPosition='AT_TIMESTAMP' is not supported for the DynamoDB stream{arn}: "
                "use TRIM_HORIZON or LATEST (START-1)",
            )
        if timestamp is None:
            raise InvalidMappingParameter(
                "StartingPositionTimestamp",
                None,
                "Unix seconds (a number) or a timezone-aware datetime",
                "StartingPositionTimestamp is missing: StartingPosition='AT_TIMESTAMP' needs it, "
                "as Unix seconds such as 1700000000.5 (START-4)",
            )
    else:
        # Only AT_TIMESTAMP reads the timestamp; it is ignored otherwise (after the type check),
        # as CreateEventSourceMapping does not use it for the other positions.
        timestamp = None
    return str(value), timestamp


def _timestamp(p: Mapping[str, Any]) -> datetime | None:
    value = p.get("StartingPositionTimestamp", _MISSING)
    if value is _MISSING or value is None:
        return None
    allowed = "Unix seconds (a number) or a timezone-aware datetime"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidMappingParameter(
                "StartingPositionTimestamp",
                value,
                allowed,
                f"StartingPositionTimestamp={value!r} has no time zone: give Unix seconds or a "
                "timezone-aware datetime (START-4)",
            )
        return value.astimezone(timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return datetime.fromtimestamp(value, tz=timezone.utc)
    raise InvalidMappingParameter(
        "StartingPositionTimestamp",
        value,
        allowed,
        f"StartingPositionTimestamp={value!r} is not a time: it must be {allowed} (START-4)",
    )


def _function_response_types(p: Mapping[str, Any]) -> bool:
    value = p.get("FunctionResponseTypes", _MISSING)
    if value is _MISSING or value is None:
        return False
    allowed = "[] or ['ReportBatchItemFailures']"
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items = list(value)
        if not items:
            return False
        if items == ["ReportBatchItemFailures"]:
            return True
    raise InvalidMappingParameter(
        "FunctionResponseTypes",
        value,
        allowed,
        f"FunctionResponseTypes={value!r} is not allowed: it must be {allowed} (PBF-1)",
    )


def _destination(p: Mapping[str, Any]) -> str | None:
    value = p.get("DestinationConfig", _MISSING)
    if value is _MISSING or value is None:
        return None
    allowed = "{'OnFailure': {'Destination': <SQS queue, SNS topic or S3 bucket ARN>}}"
    if not isinstance(value, Mapping):
        raise InvalidMappingParameter(
            "DestinationConfig",
            value,
            allowed,
            f"DestinationConfig={value!r} is not an object: it must look like {allowed} (DLQ-1)",
        )
    extra = sorted(str(k) for k in value if k != "OnFailure")
    if extra:
        # DLQ-1: OnSuccess is not supported for stream sources.
        raise InvalidMappingParameter(
            "DestinationConfig",
            value,
            allowed,
            f"DestinationConfig has {', '.join(extra)}: stream sources accept only OnFailure "
            f"destinations, as {allowed} (DLQ-1)",
        )
    on_failure = value.get("OnFailure")
    if on_failure is None:
        return None
    if not isinstance(on_failure, Mapping) or any(k != "Destination" for k in on_failure):
        raise InvalidMappingParameter(
            "DestinationConfig",
            value,
            allowed,
            f"DestinationConfig.OnFailure={on_failure!r} is not allowed: it must be {{}} or "
            "{'Destination': <ARN>} (DLQ-1)",
        )
    arn = on_failure.get("Destination")
    if arn is None:
        return None  # CFG-1: {"OnFailure": {}} means no destination.
    if isinstance(arn, str) and (_QUEUE_OR_TOPIC_ARN.match(arn) or _BUCKET_ARN.match(arn)):
        return arn
    raise InvalidMappingParameter(
        "DestinationConfig",
        arn,
        "an SQS queue, SNS topic or S3 bucket ARN",
        f"DestinationConfig.OnFailure.Destination={arn!r} is not an SQS queue, SNS topic or S3 bucket "
        "ARN: use arn:aws:sqs:<region>:<account>:<queue>, arn:aws:sns:<region>:<account>:<topic> "
        "or arn:aws:s3:::<bucket> (DLQ-1)",
    )


def _check_identity(p: Mapping[str, Any], event_source_arn: str | None) -> None:
    name = p.get("FunctionName", _MISSING)
    if name is not _MISSING and not isinstance(name, str):
        raise InvalidMappingParameter(
            "FunctionName", name, "a function name or ARN", f"FunctionName={name!r} is not a string"
        )
    arn = p.get("EventSourceArn", _MISSING)
    if arn is not _MISSING and event_source_arn is not None and arn != event_source_arn:
        raise InvalidMappingParameter(
            "EventSourceArn",
            arn,
            f"the ARN of the stream being polled ({event_source_arn})",
            f"EventSourceArn={arn!r} is not the stream this poller serves ({event_source_arn}); "
            "leave it out or give the same ARN",
        )


def _check_unsupported(p: Mapping[str, Any]) -> None:
    # ORD-7: valid 1..10, but the reference keeps one batch per shard in flight.
    factor = _integer(p, "ParallelizationFactor", 1, 1, 10, "ORD-7")
    if factor != 1:
        raise UnsupportedMappingParameter(
            "ParallelizationFactor",
            factor,
            "1",
            f"ParallelizationFactor={factor} is valid for AWS but not implemented by the reference "
            "poller, which keeps one batch per shard in flight: use 1 (ORD-7)",
        )
    # TW-1: valid 0..900; tumbling windows are not claimed by the reference.
    window = _integer(p, "TumblingWindowInSeconds", 0, 0, 900, "TW-1")
    if window != 0:
        raise UnsupportedMappingParameter(
            "TumblingWindowInSeconds",
            window,
            "0",
            f"TumblingWindowInSeconds={window} is valid for AWS but tumbling windows are not "
            "implemented by the reference poller: use 0 (TW-1)",
        )
    criteria = p.get("FilterCriteria", _MISSING)
    if criteria is not _MISSING and criteria not in (None, {}, {"Filters": []}):
        raise UnsupportedMappingParameter(
            "FilterCriteria",
            criteria,
            "no filters",
            "FilterCriteria is valid for AWS but event filtering is not implemented by the "
            "reference poller: leave it out (FILT-1)",
        )
