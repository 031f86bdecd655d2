"""The invocation event exactly as the function receives it (EVT-K-*, EVT-D-*)."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import Any

from conformance.world import names

KINESIS_RECORD_KEYS = [
    "kinesis",
    "eventSource",
    "eventVersion",
    "eventID",
    "eventName",
    "invokeIdentityArn",
    "awsRegion",
    "eventSourceARN",
]
KINESIS_INNER_KEYS = [
    "kinesisSchemaVersion",
    "partitionKey",
    "sequenceNumber",
    "data",
    "approximateArrivalTimestamp",
]
DDB_RECORD_KEYS = [
    "eventID",
    "eventName",
    "eventVersion",
    "eventSource",
    "awsRegion",
    "dynamodb",
    "eventSourceARN",
]
DDB_INNER_KEYS = [
    "ApproximateCreationDateTime",
    "Keys",
    "NewImage",
    "SequenceNumber",
    "SizeBytes",
    "StreamViewType",
]


def test_kinesis_event_record_has_exactly_the_spec_keys_and_values(kinesis: Any) -> None:
    arrival = datetime(2024, 6, 1, 11, 59, 50, 987654, tzinfo=timezone.utc)
    sequence = kinesis.put(b"hello", at=arrival, key="custom")
    kinesis.run(kinesis.poller())
    [call] = kinesis.function.calls
    assert list(call.event) == ["Records"]  # EVT-K-1
    [record] = call.records
    assert list(record) == KINESIS_RECORD_KEYS  # EVT-K-2 (and the EVT-K-5 order)
    assert list(record["kinesis"]) == KINESIS_INNER_KEYS  # EVT-K-3
    assert record["kinesis"] == {
        "kinesisSchemaVersion": "1.0",
        "partitionKey": "custom",
        "sequenceNumber": sequence,
        "data": "aGVsbG8=",  # EVT-K-3: "hello"
        "approximateArrivalTimestamp": 1717243190.987,  # seconds, millisecond fraction
    }
    assert record["eventSource"] == "aws:kinesis"
    assert record["eventVersion"] == "1.0"
    assert record["eventID"] == f"shardId-000000000000:{sequence}"  # EVT-K-4
    assert record["eventName"] == "aws:kinesis:record"
    assert record["invokeIdentityArn"] == names.EXECUTION_ROLE_ARN
    assert record["awsRegion"] == names.REGION
    assert record["eventSourceARN"] == kinesis.stream_arn == names.KINESIS_STREAM_ARN


def test_kinesis_arrival_timestamp_is_a_json_number_of_seconds(kinesis: Any) -> None:
    kinesis.put(b"x", at=datetime(2024, 6, 1, 12, 0, 0, tzinfo=timezone.utc))
    kinesis.run(kinesis.poller())
    text = kinesis.function.payloads[0].decode()
    assert '"approximateArrivalTimestamp": 1717243200.0' in text  # a float, not a string, not ms
    assert isinstance(json.loads(text)["Records"][0]["kinesis"]["approximateArrivalTimestamp"], float)


def test_kinesis_binary_data_is_standard_base64_with_padding(kinesis: Any) -> None:
    data = bytes(range(256))
    kinesis.put(data)
    kinesis.run(kinesis.poller())
    encoded = kinesis.function.calls[0].records[0]["kinesis"]["data"]
    assert encoded == base64.b64encode(data).decode()
    assert base64.b64decode(encoded, validate=True) == data


def test_dynamodb_event_record_has_exactly_the_spec_keys_and_values(ddb: Any) -> None:
    sequence = ddb.put(b"foobar", at=datetime(2024, 6, 1, 11, 59, 55, 777000, tzinfo=timezone.utc), key="p1")
    ddb.run(ddb.poller())
    [call] = ddb.function.calls
    assert list(call.event) == ["Records"]
    [record] = call.records
    assert list(record) == DDB_RECORD_KEYS  # EVT-D-1: no invokeIdentityArn
    assert len(record["eventID"]) == 32 and int(record["eventID"], 16) >= 0
    assert record["eventName"] == "INSERT"
    assert record["eventVersion"] == "1.1"
    assert record["eventSource"] == "aws:dynamodb"
    assert record["awsRegion"] == names.REGION
    assert record["eventSourceARN"] == ddb.stream_arn
    dynamodb = record["dynamodb"]
    assert list(dynamodb) == DDB_INNER_KEYS  # EVT-D-2
    # Rounded DOWN to the second, as a float.
    assert dynamodb["ApproximateCreationDateTime"] == 1717243195.0
    assert isinstance(dynamodb["ApproximateCreationDateTime"], float)
    assert dynamodb["Keys"] == {"id": {"S": "item-1"}}
    # Binary values are base64 text again: {"B": "Zm9vYmFy"} for b"foobar".
    assert dynamodb["NewImage"] == {"id": {"S": "item-1"}, "pk": {"S": "p1"}, "data": {"B": "Zm9vYmFy"}}
    assert dynamodb["SequenceNumber"] == sequence
    assert isinstance(dynamodb["SizeBytes"], int)
    assert dynamodb["StreamViewType"] == "NEW_AND_OLD_IMAGES"


def test_nested_and_set_binary_attributes_are_encoded(ddb: Any) -> None:
    ddb.dynamodb.put_item(
        TableName=names.TABLE_NAME,
        Item={
            "id": {"S": "nested"},
            "set": {"BS": [b"a", b"b"]},
            "map": {"M": {"inner": {"B": b"foobar"}, "list": {"L": [{"B": b"x"}, {"N": "1"}]}}},
        },
    )
    ddb.run(ddb.poller())
    image = ddb.function.calls[0].records[0]["dynamodb"]["NewImage"]
    assert sorted(image["set"]["BS"]) == ["YQ==", "Yg=="]
    assert image["map"] == {"M": {"inner": {"B": "Zm9vYmFy"}, "list": {"L": [{"B": "eA=="}, {"N": "1"}]}}}
