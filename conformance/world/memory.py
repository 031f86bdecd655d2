"""The in-memory world: boto3-compatible clients over plain Python lists and dicts.

Fast enough for thousands of scenarios a minute, and shaped like the real thing: every call's
parameters are checked by botocore's validator against the real service model, responses have
the shapes boto3 returns after parsing (tz-aware UTC datetimes, ``bytes`` for blobs,
``ResponseMetadata``), and errors are the ``ClientError`` subclasses with the error codes AWS
uses. Request ids, message ids, DynamoDB eventIDs and iterators are deterministic.

Where AWS and moto differ on something a poller can observe, the in-memory world follows boto3
against AWS and says so below; the moto backend (``moto_backend.py``) shows the other side.

Details that matter to pollers:

* Only records released so far (``World.release_due_records``) are visible.
* Shard iterators are opaque strings standing for (shard, position after sequence number,
  issue time). They position by sequence number, as Kinesis does, so an AT_SEQUENCE_NUMBER iterator
  for a record not yet written still starts at that record once it arrives.
* ``AT_TIMESTAMP``: boto3 serialises the ``Timestamp`` parameter for Kinesis as whole epoch
  seconds (it truncates fractions before sending); this world applies the same truncation, so
  a poller sees exactly what it would see against AWS.
* ``MillisBehindLatest`` is the arrival gap between the newest record in the shard and the last
  record returned (0 once caught up), as moto computes it.
* Iterators never expire unless the scenario's ``world.iterator_lifetime`` (or the
  ``iterator_lifetime`` argument) is set (seconds of virtual time; AWS uses 300), in which case an
  iterator older than that raises ``ExpiredIteratorException``. The moto backend gets the same
  expiry from the fault layer (``faults.py``), since moto's iterators never expire.
* The scenario's other world conditions (throttled GetRecords, failing destination writes,
  arrival times in a non-UTC offset) are applied by ``faults.py`` in both backends; wide item
  images (``world.wide_items``) come from ``conformance.items``.
* DynamoDB GetRecords answers ``eventVersion`` "1.1" as AWS does (moto answers "1.0").
"""

from __future__ import annotations

import base64
import binascii
import bisect
import calendar
import hashlib
import io
import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar

from botocore.exceptions import ClientError
from botocore.paginate import Paginator
from botocore.response import StreamingBody
from botocore.utils import parse_to_aware_datetime

from conformance.clock import VirtualClock
from conformance.items import item_image
from conformance.scenario import Scenario, Source
from conformance.trace import StreamRecord
from conformance.world import names
from conformance.world._base import (
    WorldBase,
    destination_resource,
    dynamodb_stream_arn,
    item_id,
    unix_seconds,
)
from conformance.world._service import counter_uuid, deterministic_uuid, response_metadata, service_support
from conformance.world.faults import EXPIRED_MESSAGES

__all__ = ["MemoryWorld"]

_KINESIS_ITERATOR_PREFIX = "AAAAAAAAAAG"
_KINESIS_MAX_LIMIT = 10_000
_DYNAMODB_MAX_LIMIT = 1_000
_SQS_DEFAULT_VISIBILITY = 30.0
_WIDE_EXTRA_BYTES = 96  # about what the extra attributes of a wide item add to SizeBytes


@dataclass
class _Shard:
    shard_id: str
    index: int
    starting_hash: int
    ending_hash: int
    starting_sequence: str
    records: list[StreamRecord] = field(default_factory=list)
    sequences: list[int] = field(default_factory=list)
    stamps: list[float] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)


@dataclass
class _Message:
    message_id: str
    body: str
    md5: str
    sent_ms: int
    receipt_handle: str = ""
    receive_count: int = 0
    visible_at: float = 0.0


@dataclass
class _Queue:
    name: str
    url: str
    arn: str
    messages: list[_Message] = field(default_factory=list)


@dataclass
class _Object:
    body: bytes
    content_type: str
    etag: str
    last_modified: datetime


class MemoryWorld(WorldBase):
    """The default world backend: everything in process memory."""

    backend: ClassVar[str] = "memory"
    expires_iterators: ClassVar[bool] = True

    def __init__(
        self, scenario: Scenario, clock: VirtualClock | None = None, *, iterator_lifetime: float | None = None
    ) -> None:
        super().__init__(scenario, clock)
        self.iterator_lifetime = (
            iterator_lifetime if iterator_lifetime is not None else scenario.world.iterator_lifetime
        )
        self._wide_items = scenario.world.wide_items
        self._request_numbers = itertools.count(1)
        self._iterator_numbers = itertools.count(0x5A17E9)
        self._iterators: dict[str, tuple[_Shard, int, float]] = {}
        self._kinesis = scenario.source is Source.KINESIS
        self._stream_arn = names.KINESIS_STREAM_ARN if self._kinesis else dynamodb_stream_arn(self.created_at)
        ordered = sorted(range(len(scenario.shards)), key=lambda i: scenario.shards[i].shard_id)
        # Hash-key ranges split evenly in shard-id order, as CreateStream(ShardCount=n) does.
        step = 2**128 // len(ordered)
        by_index: dict[int, _Shard] = {}
        for position, si in enumerate(ordered):
            spec = scenario.shards[si]
            end = 2**128 - 1 if position == len(ordered) - 1 else (position + 1) * step - 1
            first = spec.records[0].sequence_number if spec.records else "0"
            by_index[si] = _Shard(spec.shard_id, si, position * step, end, first)
        self._shards = [by_index[si] for si in range(len(ordered))]
        self._listing = [by_index[si] for si in ordered]
        self._shard_by_id = {s.shard_id: s for s in self._shards}
        self.queues: dict[str, _Queue] = {}
        self.topics: dict[str, list[str]] = {}
        self.buckets: dict[str, dict[str, _Object]] = {}
        resource = destination_resource(scenario)
        if resource is not None:
            kind, name = resource
            if kind == "sqs":
                self._create_queue(name)
            elif kind == "sns":
                self._create_queue(names.SNS_SUBSCRIBER_QUEUE_NAME)
                self.topics[f"arn:aws:sns:{names.REGION}:{names.ACCOUNT_ID}:{name}"] = [
                    names.SNS_SUBSCRIBER_QUEUE_NAME
                ]
            else:
                self.buckets[name] = {}
        self._clients: dict[str, Any] = {
            "kinesis": MemoryKinesis(self),
            "dynamodbstreams": MemoryDynamoDBStreams(self),
            "lambda": self.function,
            "sqs": MemorySQS(self),
            "sns": MemorySNS(self),
            "s3": MemoryS3(self),
        }
        self.release_due_records()

    @property
    def event_source_arn(self) -> str:
        return self._stream_arn

    def _raw_client(self, service: str) -> Any:
        return self._clients[service]

    def _write(self, refs: list[tuple[int, int]]) -> list[StreamRecord]:
        written = []
        for ref in refs:
            shard = self._shards[ref[0]]
            spec = self._spec(ref)
            record = self._realised(ref, shard.shard_id, spec.sequence_number)
            shard.records.append(record)
            shard.sequences.append(int(spec.sequence_number))
            shard.stamps.append(unix_seconds(record.arrival))
            if not self._kinesis:
                shard.event_ids.append(
                    hashlib.md5(f"{self._stream_arn}|{spec.sequence_number}".encode()).hexdigest()
                )
            written.append(record)
        return written

    def _request_id(self, service: str) -> str:
        return counter_uuid(service, next(self._request_numbers))

    def _create_queue(self, name: str) -> None:
        self.queues[name] = _Queue(
            name,
            f"https://sqs.{names.REGION}.amazonaws.com/{names.ACCOUNT_ID}/{name}",
            f"arn:aws:sqs:{names.REGION}:{names.ACCOUNT_ID}:{name}",
        )


# ---- clients ----------------------------------------------------------------------------------


class _MemoryClient:
    _service: ClassVar[str] = ""

    def __init__(self, world: MemoryWorld) -> None:
        self._world = world
        self._support = service_support(self._service)
        self.meta = self._support.meta()
        self.exceptions = self._support.exceptions

    def __repr__(self) -> str:
        return f"<in-memory {self._service} client>"

    def can_paginate(self, operation_name: str) -> bool:
        return self._support.can_paginate(operation_name)

    def get_paginator(self, operation_name: str) -> Paginator[Any]:
        return self._support.paginator(operation_name, getattr(self, operation_name))

    def close(self) -> None:
        """Nothing to release (boto3 clients have close() too)."""

    def _begin(self, api_name: str, params: dict[str, Any]) -> str:
        if self._world._closed:
            raise RuntimeError(f"this memory world is closed: its {self._service} client no longer answers")
        self._support.validate(api_name, params)
        return self._world._request_id(self._service)

    def _ok(self, request_id: str, body: dict[str, Any]) -> dict[str, Any]:
        body["ResponseMetadata"] = response_metadata(request_id)
        return body

    def _fail(
        self, api_name: str, request_id: str, code: str, message: str, status: int = 400, **kw: Any
    ) -> ClientError:
        return self._support.error(api_name, code, message, status, request_id=request_id, **kw)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _unb64(text: str) -> str | None:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return None


class _StreamClient(_MemoryClient):
    """Iterator and shard helpers shared by the Kinesis and DynamoDB Streams clients."""

    _iterator_types: ClassVar[tuple[str, ...]] = ()
    _expired_message: ClassVar[str] = ""

    def _shard(self, api_name: str, request_id: str, shard_id: str) -> _Shard:
        shard = self._world._shard_by_id.get(shard_id)
        if shard is None:
            raise self._shard_not_found(api_name, request_id, shard_id)
        return shard

    def _shard_not_found(self, api_name: str, request_id: str, shard_id: str) -> ClientError:
        raise NotImplementedError

    def _bad_type(self, api_name: str, request_id: str, value: str) -> ClientError:
        allowed = ", ".join(self._iterator_types)
        return self._fail(
            api_name,
            request_id,
            "ValidationException",
            f"1 validation error detected: Value '{value}' at 'shardIteratorType' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{allowed}]",
        )

    def _sequence(
        self, api_name: str, request_id: str, value: Any, parameter: str, iterator_type: str
    ) -> int:
        if value is None:
            raise self._fail(
                api_name,
                request_id,
                "InvalidArgumentException" if self._service == "kinesis" else "ValidationException",
                f"{parameter} is required for a shard iterator of type {iterator_type}",
            )
        text = str(value)
        if not text.isdigit():
            raise self._fail(
                api_name,
                request_id,
                "InvalidArgumentException" if self._service == "kinesis" else "ValidationException",
                f"{parameter} {text!r} is not a valid sequence number: it must be a decimal string",
            )
        return int(text)

    def _latest(self, shard: _Shard) -> int:
        return shard.sequences[-1] if shard.sequences else -1

    def _token(self, shard: _Shard, after: int) -> str:
        # Iterators are registered rather than encoded: a dict lookup is the cheapest opaque
        # token there is, and every GetRecords hands out a new one.
        world = self._world
        token = f"{next(world._iterator_numbers):024x}"
        world._iterators[token] = (shard, after, world.clock.elapsed)
        return token

    def _untoken(self, token: str) -> tuple[_Shard, int, float] | None:
        return self._world._iterators.get(token)

    def _check_age(self, api_name: str, request_id: str, issued: float) -> None:
        lifetime = self._world.iterator_lifetime
        if lifetime is not None and self._world.clock.elapsed - issued > lifetime:
            raise self._fail(api_name, request_id, "ExpiredIteratorException", self._expired_message)

    def _page(self, shard: _Shard, after: int, limit: int) -> tuple[int, int]:
        start = bisect.bisect_right(shard.sequences, after)
        return start, min(start + limit, len(shard.sequences))


class MemoryKinesis(_StreamClient):
    """``kinesis``: list_shards, describe_stream(_summary), get_shard_iterator, get_records."""

    _service = "kinesis"
    _iterator_types = (
        "AT_SEQUENCE_NUMBER",
        "AFTER_SEQUENCE_NUMBER",
        "TRIM_HORIZON",
        "LATEST",
        "AT_TIMESTAMP",
    )
    _expired_message = EXPIRED_MESSAGES["kinesis"]

    def _stream(self, api_name: str, request_id: str, params: dict[str, Any]) -> None:
        name = params.get("StreamName")
        arn = params.get("StreamARN")
        if name is None and arn is None:
            raise self._fail(
                api_name,
                request_id,
                "InvalidArgumentException",
                "Either StreamName or StreamARN should be provided.",
            )
        if (
            not self._world._kinesis
            or (name is not None and name != names.STREAM_NAME)
            or (arn is not None and arn != names.KINESIS_STREAM_ARN)
        ):
            shown = name if name is not None else arn
            raise self._fail(
                api_name,
                request_id,
                "ResourceNotFoundException",
                f"Stream {shown} under account {names.ACCOUNT_ID} not found.",
            )

    def _shard_not_found(self, api_name: str, request_id: str, shard_id: str) -> ClientError:
        return self._fail(
            api_name,
            request_id,
            "ResourceNotFoundException",
            f"Shard {shard_id} in stream {names.STREAM_NAME} under account {names.ACCOUNT_ID} does not exist",
        )

    @staticmethod
    def _shard_json(shard: _Shard) -> dict[str, Any]:
        return {
            "ShardId": shard.shard_id,
            "HashKeyRange": {
                "StartingHashKey": str(shard.starting_hash),
                "EndingHashKey": str(shard.ending_hash),
            },
            "SequenceNumberRange": {"StartingSequenceNumber": shard.starting_sequence},
        }

    def _after_start(self, listing: list[_Shard], exclusive_start: str | None) -> list[_Shard]:
        if exclusive_start is None:
            return listing
        return [s for s in listing if s.shard_id > exclusive_start]

    def list_shards(self, **params: Any) -> dict[str, Any]:
        request_id = self._begin("ListShards", params)
        token = params.get("NextToken")
        if token is not None:
            if params.get("StreamName") is not None:
                raise self._fail(
                    "ListShards",
                    request_id,
                    "InvalidArgumentException",
                    "NextToken and StreamName cannot be provided together.",
                )
            start = _unb64(token)
            if start is None or not start.isdigit():
                raise self._fail(
                    "ListShards", request_id, "InvalidArgumentException", f"Invalid NextToken: {token}"
                )
            shards = self._world._listing[int(start) :]
        else:
            self._stream("ListShards", request_id, params)
            shards = self._after_start(self._world._listing, params.get("ExclusiveStartShardId"))
        limit = params.get("MaxResults", 1000)
        body: dict[str, Any] = {"Shards": [self._shard_json(s) for s in shards[:limit]]}
        if len(shards) > limit:
            consumed = len(self._world._listing) - len(shards) + limit
            body["NextToken"] = _b64(str(consumed))
        return self._ok(request_id, body)

    def _description(self) -> dict[str, Any]:
        return {
            "StreamName": names.STREAM_NAME,
            "StreamARN": names.KINESIS_STREAM_ARN,
            "StreamStatus": "ACTIVE",
        }

    def describe_stream(self, **params: Any) -> dict[str, Any]:
        request_id = self._begin("DescribeStream", params)
        self._stream("DescribeStream", request_id, params)
        shards = self._after_start(self._world._listing, params.get("ExclusiveStartShardId"))
        limit = params.get("Limit", 100)
        description = self._description()
        description["Shards"] = [self._shard_json(s) for s in shards[:limit]]
        description["HasMoreShards"] = len(shards) > limit
        description["RetentionPeriodHours"] = 24
        description["StreamCreationTimestamp"] = self._world.created_at
        description["EnhancedMonitoring"] = [{"ShardLevelMetrics": []}]
        description["EncryptionType"] = "NONE"
        return self._ok(request_id, {"StreamDescription": description})

    def describe_stream_summary(self, **params: Any) -> dict[str, Any]:
        request_id = self._begin("DescribeStreamSummary", params)
        self._stream("DescribeStreamSummary", request_id, params)
        summary = self._description()
        summary["StreamModeDetails"] = {"StreamMode": "PROVISIONED"}
        summary["RetentionPeriodHours"] = 24
        summary["StreamCreationTimestamp"] = self._world.created_at
        summary["EnhancedMonitoring"] = [{"ShardLevelMetrics": []}]
        summary["EncryptionType"] = "NONE"
        summary["OpenShardCount"] = len(self._world._shards)
        summary["ConsumerCount"] = 0
        return self._ok(request_id, {"StreamDescriptionSummary": summary})

    def list_streams(self, **params: Any) -> dict[str, Any]:
        request_id = self._begin("ListStreams", params)
        streams = [names.STREAM_NAME] if self._world._kinesis else []
        summaries = [
            {
                "StreamName": names.STREAM_NAME,
                "StreamARN": names.KINESIS_STREAM_ARN,
                "StreamStatus": "ACTIVE",
                "StreamModeDetails": {"StreamMode": "PROVISIONED"},
                "StreamCreationTimestamp": self._world.created_at,
            }
            for _ in streams
        ]
        return self._ok(
            request_id, {"StreamNames": streams, "HasMoreStreams": False, "StreamSummaries": summaries}
        )

    def get_shard_iterator(self, **params: Any) -> dict[str, Any]:
        api = "GetShardIterator"
        request_id = self._begin(api, params)
        self._stream(api, request_id, params)
        shard = self._shard(api, request_id, params["ShardId"])
        kind = params["ShardIteratorType"]
        if kind == "TRIM_HORIZON":
            after = -1
        elif kind == "LATEST":
            after = self._latest(shard)
        elif kind == "AT_SEQUENCE_NUMBER":
            after = (
                self._sequence(
                    api, request_id, params.get("StartingSequenceNumber"), "StartingSequenceNumber", kind
                )
                - 1
            )
        elif kind == "AFTER_SEQUENCE_NUMBER":
            after = self._sequence(
                api, request_id, params.get("StartingSequenceNumber"), "StartingSequenceNumber", kind
            )
        elif kind == "AT_TIMESTAMP":
            if params.get("Timestamp") is None:
                raise self._fail(
                    api,
                    request_id,
                    "InvalidArgumentException",
                    "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. "
                    "Current request has no timestamp parameter.",
                )
            # boto3 sends Kinesis timestamps as whole epoch seconds (fractions truncated).
            instant = parse_to_aware_datetime(params["Timestamp"])
            seconds = float(calendar.timegm(instant.timetuple()))
            first = bisect.bisect_left(shard.stamps, seconds)  # START-4: first arrival >= timestamp
            after = shard.sequences[first - 1] if first > 0 else -1
        else:
            raise self._bad_type(api, request_id, kind)
        return self._ok(request_id, {"ShardIterator": _KINESIS_ITERATOR_PREFIX + self._token(shard, after)})

    def get_records(self, **params: Any) -> dict[str, Any]:
        api = "GetRecords"
        request_id = self._begin(api, params)
        token = params["ShardIterator"]
        decoded = (
            self._untoken(token[len(_KINESIS_ITERATOR_PREFIX) :])
            if token.startswith(_KINESIS_ITERATOR_PREFIX)
            else None
        )
        if decoded is None:
            raise self._fail(
                api, request_id, "InvalidArgumentException", f"Invalid ShardIterator: {token[:64]}"
            )
        if params.get("StreamARN") not in (None, names.KINESIS_STREAM_ARN):
            raise self._fail(
                api,
                request_id,
                "InvalidArgumentException",
                f"The StreamARN {params['StreamARN']} does not match the stream of the shard iterator",
            )
        shard, after, issued = decoded
        self._check_age(api, request_id, issued)
        limit = params.get("Limit", _KINESIS_MAX_LIMIT)
        if limit > _KINESIS_MAX_LIMIT:
            raise self._fail(
                api,
                request_id,
                "ValidationException",
                f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: "
                f"Member must have value less than or equal to {_KINESIS_MAX_LIMIT}",
            )
        start, end = self._page(shard, after, limit)
        records = shard.records
        out = [
            {
                "SequenceNumber": r.sequence_number,
                "ApproximateArrivalTimestamp": r.arrival,
                "Data": r.data,
                "PartitionKey": r.partition_key,
            }
            for r in records[start:end]
        ]
        if end > start:
            next_after = shard.sequences[end - 1]
            behind = int((shard.stamps[-1] - shard.stamps[end - 1]) * 1000)
        else:
            next_after, behind = after, 0
        body = {
            "Records": out,
            "NextShardIterator": _KINESIS_ITERATOR_PREFIX + self._token(shard, next_after),
            "MillisBehindLatest": behind,
        }
        return self._ok(request_id, body)


class MemoryDynamoDBStreams(_StreamClient):
    """``dynamodbstreams``: describe_stream, list_streams, get_shard_iterator, get_records."""

    _service = "dynamodbstreams"
    _iterator_types = ("TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")
    _expired_message = EXPIRED_MESSAGES["dynamodbstreams"]

    def _stream(self, api_name: str, request_id: str, arn: str) -> None:
        if self._world._kinesis or arn != self._world._stream_arn:
            raise self._fail(
                api_name,
                request_id,
                "ResourceNotFoundException",
                f"Requested resource not found: Stream: {arn} not found",
            )

    def _shard_not_found(self, api_name: str, request_id: str, shard_id: str) -> ClientError:
        return self._fail(
            api_name,
            request_id,
            "ResourceNotFoundException",
            f"Requested resource not found: Shard: {shard_id} in Stream: {self._world._stream_arn} not found",
        )

    def describe_stream(self, **params: Any) -> dict[str, Any]:
        api = "DescribeStream"
        request_id = self._begin(api, params)
        self._stream(api, request_id, params["StreamArn"])
        shards = self._world._listing
        start = params.get("ExclusiveStartShardId")
        if start is not None:
            shards = [s for s in shards if s.shard_id > start]
        limit = params.get("Limit", 100)
        description: dict[str, Any] = {
            "StreamArn": self._world._stream_arn,
            "StreamLabel": self._world._stream_arn.rsplit("/", 1)[-1],
            "StreamStatus": "ENABLED",
            "StreamViewType": names.STREAM_VIEW_TYPE,
            "CreationRequestDateTime": self._world.created_at,
            "TableName": names.TABLE_NAME,
            "KeySchema": [{"AttributeName": names.TABLE_HASH_KEY, "KeyType": "HASH"}],
            "Shards": [
                {
                    "ShardId": s.shard_id,
                    "SequenceNumberRange": {"StartingSequenceNumber": s.starting_sequence},
                }
                for s in shards[:limit]
            ],
        }
        if len(shards) > limit:
            description["LastEvaluatedShardId"] = shards[limit - 1].shard_id
        return self._ok(request_id, {"StreamDescription": description})

    def list_streams(self, **params: Any) -> dict[str, Any]:
        request_id = self._begin("ListStreams", params)
        streams = []
        if not self._world._kinesis and params.get("TableName") in (None, names.TABLE_NAME):
            arn = self._world._stream_arn
            streams.append(
                {"StreamArn": arn, "TableName": names.TABLE_NAME, "StreamLabel": arn.rsplit("/", 1)[-1]}
            )
        return self._ok(request_id, {"Streams": streams})

    def _iterator(self, shard: _Shard, after: int) -> str:
        return f"{self._world._stream_arn}|1|{self._token(shard, after)}"

    def get_shard_iterator(self, **params: Any) -> dict[str, Any]:
        api = "GetShardIterator"
        request_id = self._begin(api, params)
        self._stream(api, request_id, params["StreamArn"])
        shard = self._shard(api, request_id, params["ShardId"])
        kind = params["ShardIteratorType"]
        if kind == "TRIM_HORIZON":
            after = -1
        elif kind == "LATEST":
            after = self._latest(shard)
        elif kind == "AT_SEQUENCE_NUMBER":
            after = self._sequence(api, request_id, params.get("SequenceNumber"), "SequenceNumber", kind) - 1
        elif kind == "AFTER_SEQUENCE_NUMBER":
            after = self._sequence(api, request_id, params.get("SequenceNumber"), "SequenceNumber", kind)
        else:
            raise self._bad_type(api, request_id, kind)
        return self._ok(request_id, {"ShardIterator": self._iterator(shard, after)})

    def get_records(self, **params: Any) -> dict[str, Any]:
        api = "GetRecords"
        request_id = self._begin(api, params)
        token = params["ShardIterator"]
        prefix = f"{self._world._stream_arn}|1|"
        decoded = self._untoken(token[len(prefix) :]) if token.startswith(prefix) else None
        if decoded is None:
            raise self._fail(api, request_id, "ValidationException", f"Invalid ShardIterator: {token[:64]}")
        shard, after, issued = decoded
        self._check_age(api, request_id, issued)
        limit = params.get("Limit", _DYNAMODB_MAX_LIMIT)
        if limit > _DYNAMODB_MAX_LIMIT:
            raise self._fail(
                api,
                request_id,
                "ValidationException",
                f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: "
                f"Member must have value less than or equal to {_DYNAMODB_MAX_LIMIT}",
            )
        start, end = self._page(shard, after, limit)
        out = [self._record(shard, i) for i in range(start, end)]
        next_after = shard.sequences[end - 1] if end > start else after
        return self._ok(request_id, {"Records": out, "NextShardIterator": self._iterator(shard, next_after)})

    def _record(self, shard: _Shard, position: int) -> dict[str, Any]:
        # Built fresh on every read: a poller that rewrites records in place (base64-encoding
        # binary values for the event, say) must not change what the stream holds.
        record = shard.records[position]
        key = item_id(record.ref)
        pk = record.partition_key
        size = 2 * (len(names.TABLE_HASH_KEY) + len(key)) + 2 + len(pk.encode("utf-8")) + 4 + len(record.data)
        image = item_image(record.ref, pk, record.data, wide=self._world._wide_items)
        if self._world._wide_items:
            size += _WIDE_EXTRA_BYTES + 8 * min(len(record.data), 8)
        return {
            "eventID": shard.event_ids[position],
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": names.REGION,
            "dynamodb": {
                "ApproximateCreationDateTime": record.arrival,
                "Keys": {names.TABLE_HASH_KEY: {"S": key}},
                "NewImage": image,
                "SequenceNumber": record.sequence_number,
                "SizeBytes": size,
                "StreamViewType": names.STREAM_VIEW_TYPE,
            },
        }


class MemorySQS(_MemoryClient):
    """``sqs``: get_queue_url, send_message, receive_message, delete_message, get_queue_attributes."""

    _service = "sqs"

    def _missing(self, api_name: str, request_id: str) -> ClientError:
        return self._fail(
            api_name,
            request_id,
            "AWS.SimpleQueueService.NonExistentQueue",
            "The specified queue does not exist.",
            query_code="QueueDoesNotExist",
            extra={"Type": "Sender"},
        )

    def _queue(self, api_name: str, request_id: str, url: str) -> _Queue:
        parts = url.rstrip("/").split("/")
        queue = (
            self._world.queues.get(parts[-1]) if len(parts) >= 2 and parts[-2] == names.ACCOUNT_ID else None
        )
        if queue is None:
            raise self._missing(api_name, request_id)
        return queue

    def get_queue_url(self, **params: Any) -> dict[str, Any]:
        request_id = self._begin("GetQueueUrl", params)
        queue = self._world.queues.get(params["QueueName"])
        if queue is None or params.get("QueueOwnerAWSAccountId", names.ACCOUNT_ID) != names.ACCOUNT_ID:
            raise self._missing("GetQueueUrl", request_id)
        return self._ok(request_id, {"QueueUrl": queue.url})

    def send_message(self, **params: Any) -> dict[str, Any]:
        request_id = self._begin("SendMessage", params)
        queue = self._queue("SendMessage", request_id, params["QueueUrl"])
        body = params["MessageBody"]
        message = self._world_enqueue(queue, body)
        return self._ok(request_id, {"MD5OfMessageBody": message.md5, "MessageId": message.message_id})

    def _world_enqueue(self, queue: _Queue, body: str) -> _Message:
        world = self._world
        message = _Message(
            message_id=counter_uuid("message", next(world._request_numbers)),
            body=body,
            md5=hashlib.md5(body.encode("utf-8")).hexdigest(),
            sent_ms=int(unix_seconds(world.clock.now()) * 1000),
            visible_at=world.clock.elapsed,
        )
        queue.messages.append(message)
        return message

    def receive_message(self, **params: Any) -> dict[str, Any]:
        request_id = self._begin("ReceiveMessage", params)
        queue = self._queue("ReceiveMessage", request_id, params["QueueUrl"])
        wanted = params.get("MaxNumberOfMessages", 1)
        if not 1 <= wanted <= 10:
            raise self._fail(
                "ReceiveMessage",
                request_id,
                "InvalidParameterValue",
                f"Value {wanted} for parameter MaxNumberOfMessages is invalid. "
                "Reason: Must be between 1 and 10, if provided.",
            )
        now = self._world.clock.elapsed
        visibility = float(params.get("VisibilityTimeout", _SQS_DEFAULT_VISIBILITY))
        attributes = set(params.get("AttributeNames", [])) | set(
            params.get("MessageSystemAttributeNames", [])
        )
        out: list[dict[str, Any]] = []
        for message in queue.messages:
            if len(out) == wanted:
                break
            if message.visible_at > now:
                continue
            message.receive_count += 1
            message.visible_at = now + visibility
            message.receipt_handle = _b64(f"{queue.name}|{message.message_id}|{message.receive_count}")
            entry: dict[str, Any] = {
                "MessageId": message.message_id,
                "ReceiptHandle": message.receipt_handle,
                "MD5OfBody": message.md5,
                "Body": message.body,
            }
            if attributes:
                every = {
                    "SenderId": names.ACCOUNT_ID,
                    "SentTimestamp": str(message.sent_ms),
                    "ApproximateReceiveCount": str(message.receive_count),
                    "ApproximateFirstReceiveTimestamp": str(message.sent_ms),
                }
                entry["Attributes"] = {
                    k: v for k, v in every.items() if "All" in attributes or k in attributes
                }
            out.append(entry)
        return self._ok(request_id, {"Messages": out} if out else {})

    def delete_message(self, **params: Any) -> dict[str, Any]:
        request_id = self._begin("DeleteMessage", params)
        queue = self._queue("DeleteMessage", request_id, params["QueueUrl"])
        handle = params["ReceiptHandle"]
        remaining = [m for m in queue.messages if m.receipt_handle != handle]
        if len(remaining) == len(queue.messages):
            raise self._fail(
                "DeleteMessage",
                request_id,
                "ReceiptHandleIsInvalid",
                f'The input receipt handle "{handle}" is not a valid receipt handle.',
            )
        queue.messages[:] = remaining
        return self._ok(request_id, {})

    def get_queue_attributes(self, **params: Any) -> dict[str, Any]:
        request_id = self._begin("GetQueueAttributes", params)
        queue = self._queue("GetQueueAttributes", request_id, params["QueueUrl"])
        now = self._world.clock.elapsed
        every = {
            "QueueArn": queue.arn,
            "ApproximateNumberOfMessages": str(sum(1 for m in queue.messages if m.visible_at <= now)),
            "ApproximateNumberOfMessagesNotVisible": str(
                sum(1 for m in queue.messages if m.visible_at > now)
            ),
            "VisibilityTimeout": str(int(_SQS_DEFAULT_VISIBILITY)),
        }
        wanted = set(params.get("AttributeNames", []))
        chosen = {k: v for k, v in every.items() if "All" in wanted or k in wanted}
        return self._ok(request_id, {"Attributes": chosen} if chosen else {})


class MemorySNS(_MemoryClient):
    """``sns``: publish (delivering the notification envelope to the subscriber queue)."""

    _service = "sns"

    def publish(self, **params: Any) -> dict[str, Any]:
        request_id = self._begin("Publish", params)
        topic_arn = params.get("TopicArn") or params.get("TargetArn")
        subscribers = self._world.topics.get(topic_arn or "")
        if subscribers is None:
            raise self._fail(
                "Publish", request_id, "NotFound", "Topic does not exist", 404, extra={"Type": "Sender"}
            )
        world = self._world
        message_id = counter_uuid("notification", next(world._request_numbers))
        now = world.clock.now()
        envelope: dict[str, Any] = {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": topic_arn,
            "Message": params["Message"],
            "Timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLE",
            "SigningCertURL": f"https://sns.{names.REGION}.amazonaws.com/SimpleNotificationService.pem",
            "UnsubscribeURL": f"https://sns.{names.REGION}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
            f"{topic_arn}:{deterministic_uuid(f'{topic_arn}-subscription')}",
        }
        if params.get("Subject") is not None:
            envelope["Subject"] = params["Subject"]
        text = json.dumps(envelope, indent=2, sort_keys=True)
        sqs = world._clients["sqs"]
        for queue_name in subscribers:
            queue = world.queues.get(queue_name)
            if queue is not None:
                sqs._world_enqueue(queue, text)
        return self._ok(request_id, {"MessageId": message_id})


class MemoryS3(_MemoryClient):
    """``s3``: put_object, get_object, head_object, list_objects_v2."""

    _service = "s3"

    def _bucket(self, api_name: str, request_id: str, name: str) -> dict[str, _Object]:
        bucket = self._world.buckets.get(name)
        if bucket is None:
            raise self._fail(
                api_name,
                request_id,
                "NoSuchBucket",
                "The specified bucket does not exist",
                404,
                extra={"BucketName": name},
            )
        return bucket

    def _object(self, api_name: str, request_id: str, params: dict[str, Any]) -> _Object:
        bucket = self._bucket(api_name, request_id, params["Bucket"])
        found = bucket.get(params["Key"])
        if found is None:
            raise self._fail(
                api_name,
                request_id,
                "NoSuchKey",
                "The specified key does not exist.",
                404,
                extra={"Key": params["Key"]},
            )
        return found

    def put_object(self, **params: Any) -> dict[str, Any]:
        request_id = self._begin("PutObject", params)
        bucket = self._bucket("PutObject", request_id, params["Bucket"])
        body = params.get("Body", b"")
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif not isinstance(body, bytes):
            body = body.read() if hasattr(body, "read") else bytes(body)
            body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        etag = f'"{hashlib.md5(body).hexdigest()}"'
        modified = self._world.clock.now().astimezone(timezone.utc).replace(microsecond=0)
        bucket[params["Key"]] = _Object(
            body, params.get("ContentType", "binary/octet-stream"), etag, modified
        )
        return self._ok(request_id, {"ETag": etag})

    def get_object(self, **params: Any) -> dict[str, Any]:
        request_id = self._begin("GetObject", params)
        found = self._object("GetObject", request_id, params)
        body = self._head(found)
        body["Body"] = StreamingBody(io.BytesIO(found.body), len(found.body))
        return self._ok(request_id, body)

    def head_object(self, **params: Any) -> dict[str, Any]:
        request_id = self._begin("HeadObject", params)
        return self._ok(request_id, self._head(self._object("HeadObject", request_id, params)))

    @staticmethod
    def _head(found: _Object) -> dict[str, Any]:
        return {
            "AcceptRanges": "bytes",
            "LastModified": found.last_modified,
            "ContentLength": len(found.body),
            "ETag": found.etag,
            "ContentType": found.content_type,
            "Metadata": {},
        }

    def list_objects_v2(self, **params: Any) -> dict[str, Any]:
        request_id = self._begin("ListObjectsV2", params)
        name = params["Bucket"]
        bucket = self._bucket("ListObjectsV2", request_id, name)
        prefix = params.get("Prefix", "")
        limit = params.get("MaxKeys", 1000)
        after = params.get("StartAfter", "")
        token = params.get("ContinuationToken")
        if token is not None:
            after = _unb64(token) or ""
        keys = sorted(k for k in bucket if k.startswith(prefix) and k > after)
        page = keys[:limit]
        contents = [
            {
                "Key": k,
                "LastModified": bucket[k].last_modified,
                "ETag": bucket[k].etag,
                "Size": len(bucket[k].body),
                "StorageClass": "STANDARD",
            }
            for k in page
        ]
        body: dict[str, Any] = {"IsTruncated": len(keys) > limit}
        if contents:
            body["Contents"] = contents
        body.update({"Name": name, "Prefix": prefix, "MaxKeys": limit, "KeyCount": len(page)})
        if len(keys) > limit:
            body["NextContinuationToken"] = _b64(page[-1])
        if token is not None:
            body["ContinuationToken"] = token
        return self._ok(request_id, body)
