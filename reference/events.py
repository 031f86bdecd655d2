"""Invocation event records (EVT-K-*, EVT-D-*), built once per record when it is read.

A record is turned into the exact JSON object the function will receive; batches, on-failure
documents and S3 payloads all reuse that object, so what is sent and what is reported never
disagree.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from conformance.contract import PollerContext
from reference.times import epoch_millis, epoch_seconds, to_utc

__all__ = ["PolledRecord", "dynamodb_record", "kinesis_record"]


@dataclass(frozen=True)
class PolledRecord:
    """One record read from a shard, ready to be sent.

    ``arrival`` is the instant record age is measured from (RETRY-7): Kinesis
    ``ApproximateArrivalTimestamp`` (millisecond precision) or DynamoDB
    ``ApproximateCreationDateTime`` rounded down to the second. ``size`` is the length in bytes of
    ``event_record`` serialised as it is sent, for the payload cap (BATCH-6).
    """

    shard_id: str
    sequence_number: str
    arrival: datetime
    event_record: Mapping[str, Any]
    size: int

    @property
    def position(self) -> int:
        """The sequence number as an integer: ORD-2 compares numerically, never as text."""
        return int(self.sequence_number)


def kinesis_record(raw: Mapping[str, Any], shard_id: str, context: PollerContext) -> PolledRecord:
    """A Kinesis GetRecords record as the event record of EVT-K-2..4."""
    sequence_number = str(raw["SequenceNumber"])
    arrival = to_utc(raw["ApproximateArrivalTimestamp"])
    millis = epoch_millis(arrival)
    event = {
        # EVT-K-5 (informational): AWS's key order.
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": str(raw["PartitionKey"]),
            "sequenceNumber": sequence_number,
            # EVT-K-3: standard base64 with padding of the raw bytes.
            "data": base64.b64encode(_as_bytes(raw["Data"])).decode("ascii"),
            # EVT-K-3: a number of epoch seconds with a millisecond fraction.
            "approximateArrivalTimestamp": millis / 1000,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{sequence_number}",  # EVT-K-4
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": context.execution_role_arn,
        "awsRegion": context.region,
        "eventSourceARN": context.event_source_arn,
    }
    return _polled(shard_id, sequence_number, arrival.replace(microsecond=(millis % 1000) * 1000), event)


def dynamodb_record(raw: Mapping[str, Any], shard_id: str, context: PollerContext) -> PolledRecord:
    """A DynamoDB Streams GetRecords record as the event record of EVT-D-1..2."""
    stream_record = raw["dynamodb"]
    sequence_number = str(stream_record["SequenceNumber"])
    # EVT-D-2, DOC-DDB-REC: rounded down to the second, sent as a float.
    created = to_utc(stream_record["ApproximateCreationDateTime"]).replace(microsecond=0)
    dynamodb: dict[str, Any] = {"ApproximateCreationDateTime": float(epoch_seconds(created))}
    for key in ("Keys", "NewImage", "OldImage"):
        if key in stream_record:
            dynamodb[key] = _encode_attribute_map(stream_record[key])
    dynamodb["SequenceNumber"] = sequence_number
    for key in ("SizeBytes", "StreamViewType"):
        if key in stream_record:
            dynamodb[key] = stream_record[key]
    event: dict[str, Any] = {
        # EVT-D-1: the stream's own eventID (32 lowercase hex in AWS). A stream that gives none
        # gets a stable 32-hex id derived from the record's position, so redeliveries agree.
        "eventID": str(
            raw.get("eventID") or hashlib.md5(f"{shard_id}:{sequence_number}".encode()).hexdigest()
        ),
        "eventName": str(raw["eventName"]),
        # EVT-D-1: the AWS recording shows "1.1" (older docs say "1.0").
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": context.region,
        "dynamodb": dynamodb,
        "eventSourceARN": context.event_source_arn,
    }
    if "userIdentity" in raw:  # EVT-D-1: TTL deletes carry it.
        event["userIdentity"] = dict(raw["userIdentity"])
    return _polled(shard_id, sequence_number, created, event)


def _polled(shard_id: str, sequence_number: str, arrival: datetime, event: Mapping[str, Any]) -> PolledRecord:
    # Serialised exactly as batching.event_payload does (json.dumps defaults), so sizes add up.
    size = len(json.dumps(event).encode("utf-8"))
    return PolledRecord(shard_id, sequence_number, arrival, event, size)


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"a record's Data must be bytes, found {type(value).__name__}")


def _encode_attribute_map(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _encode_attribute(value) for name, value in item.items()}


def _encode_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB JSON with binary values as base64 text (EVT-D-2: ``{"B": "Zm9vYmFy"}``).

    botocore decodes ``B``/``BS`` to bytes; the event carries them encoded again. Maps and lists
    nest, so they are walked."""
    out: dict[str, Any] = {}
    for tag, inner in value.items():
        if tag == "B":
            out[tag] = _b64(inner)
        elif tag == "BS":
            out[tag] = [_b64(v) for v in inner]
        elif tag == "M":
            out[tag] = _encode_attribute_map(inner)
        elif tag == "L":
            out[tag] = [_encode_attribute(v) for v in inner]
        else:
            out[tag] = inner
    return out


def _b64(value: Any) -> str:
    if isinstance(value, str):  # already encoded (a client that does not decode binaries)
        return value
    return base64.b64encode(_as_bytes(value)).decode("ascii")
