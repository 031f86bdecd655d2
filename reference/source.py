"""Shard discovery and reading, for Kinesis and DynamoDB Streams, through the clients of the
context (``context.client("kinesis")`` / ``context.client("dynamodbstreams")``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from botocore.exceptions import ClientError

from conformance.contract import PollerContext
from reference.config import MappingConfig
from reference.events import PolledRecord, dynamodb_record, kinesis_record

__all__ = ["DynamoDBStreamSource", "KinesisSource", "ShardReader", "StreamSource", "open_source"]

# A read that hits these is simply tried again on a later poll.
_TRY_LATER = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "ThrottlingException",
        "KMSThrottlingException",
    }
)


_MARK_ATTEMPTS = 5


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class StreamSource(Protocol):
    """The four things a poller needs from a stream service."""

    timestamp_iterators: bool
    """Whether AT_TIMESTAMP iterators exist (Kinesis only)."""

    def shard_ids(self) -> list[str]: ...

    def iterator(
        self,
        shard_id: str,
        iterator_type: str,
        *,
        after_sequence: str | None = None,
        timestamp: datetime | None = None,
    ) -> str | None: ...

    def read(self, iterator: str) -> tuple[list[Mapping[str, Any]], str | None]:
        """Records and the next iterator (``None``: the shard is closed and fully read)."""
        ...

    def record(self, raw: Mapping[str, Any], shard_id: str) -> PolledRecord: ...


class KinesisSource:
    """Kinesis Data Streams. The stream is addressed by name: iterators obtained with the name
    work with every client, while some (moto's) cannot read iterators obtained by ARN."""

    READ_LIMIT = 10_000  # the GetRecords maximum
    timestamp_iterators = True

    def __init__(self, context: PollerContext) -> None:
        self._context = context
        self._client = context.client("kinesis")
        self._stream_name = context.event_source_arn.split(":stream/", 1)[1]

    def shard_ids(self) -> list[str]:
        shards: list[str] = []
        response = self._client.list_shards(StreamName=self._stream_name)
        while True:
            shards.extend(str(s["ShardId"]) for s in response.get("Shards", []))
            token = response.get("NextToken")
            if not token:
                return shards
            # ListShards refuses StreamName together with NextToken.
            response = self._client.list_shards(NextToken=token)

    def iterator(
        self,
        shard_id: str,
        iterator_type: str,
        *,
        after_sequence: str | None = None,
        timestamp: datetime | None = None,
    ) -> str | None:
        params: dict[str, Any] = {
            "StreamName": self._stream_name,
            "ShardId": shard_id,
            "ShardIteratorType": iterator_type,
        }
        if after_sequence is not None:
            params["StartingSequenceNumber"] = after_sequence
        if timestamp is not None:
            params["Timestamp"] = timestamp
        found = self._client.get_shard_iterator(**params).get("ShardIterator")
        return str(found) if found else None

    def read(self, iterator: str) -> tuple[list[Mapping[str, Any]], str | None]:
        response = self._client.get_records(ShardIterator=iterator, Limit=self.READ_LIMIT)
        following = response.get("NextShardIterator")
        return list(response.get("Records", [])), (str(following) if following else None)

    def record(self, raw: Mapping[str, Any], shard_id: str) -> PolledRecord:
        return kinesis_record(raw, shard_id, self._context)


class DynamoDBStreamSource:
    """DynamoDB Streams, addressed by the stream ARN of the context."""

    READ_LIMIT = 1_000  # the GetRecords maximum
    timestamp_iterators = False

    def __init__(self, context: PollerContext) -> None:
        self._context = context
        self._client = context.client("dynamodbstreams")
        self._stream_arn = context.event_source_arn

    def shard_ids(self) -> list[str]:
        shards: list[str] = []
        params: dict[str, Any] = {"StreamArn": self._stream_arn}
        while True:
            description = self._client.describe_stream(**params)["StreamDescription"]
            shards.extend(str(s["ShardId"]) for s in description.get("Shards", []))
            last = description.get("LastEvaluatedShardId")
            if not last:
                return shards
            params["ExclusiveStartShardId"] = last

    def iterator(
        self,
        shard_id: str,
        iterator_type: str,
        *,
        after_sequence: str | None = None,
        timestamp: datetime | None = None,
    ) -> str | None:
        params: dict[str, Any] = {
            "StreamArn": self._stream_arn,
            "ShardId": shard_id,
            "ShardIteratorType": iterator_type,
        }
        if after_sequence is not None:
            params["SequenceNumber"] = after_sequence
        found = self._client.get_shard_iterator(**params).get("ShardIterator")
        return str(found) if found else None

    def read(self, iterator: str) -> tuple[list[Mapping[str, Any]], str | None]:
        response = self._client.get_records(ShardIterator=iterator, Limit=self.READ_LIMIT)
        following = response.get("NextShardIterator")
        return list(response.get("Records", [])), (str(following) if following else None)

    def record(self, raw: Mapping[str, Any], shard_id: str) -> PolledRecord:
        return dynamodb_record(raw, shard_id, self._context)


def open_source(context: PollerContext, config: MappingConfig) -> StreamSource:
    if config.source == "kinesis":
        return KinesisSource(context)
    return DynamoDBStreamSource(context)


class ShardReader:
    """Reads one shard forward from the starting position (START-2..4), remembering the last
    record read so an expired iterator can be renewed without loss or repeats."""

    def __init__(self, source: StreamSource, shard_id: str, config: MappingConfig) -> None:
        self.shard_id = shard_id
        self._source = source
        self._config = config
        self._iterator: str | None = None
        self._last_sequence: str | None = None
        self._opened_at: datetime | None = None
        self._ended = False
        self._horizon_is_latest = False
        # Records before the starting position that a stream may still hand out (see read()).
        self._skip_before: Callable[[PolledRecord], bool] | None = None
        if config.starting_position == "AT_TIMESTAMP" and config.starting_position_timestamp is not None:
            start = config.starting_position_timestamp
            self._skip_before = lambda record: record.arrival < start  # START-4: arrival >= timestamp

    @property
    def ended(self) -> bool:
        """The shard is closed and every record in it has been read."""
        return self._ended

    def open(self, now: datetime) -> None:
        """Position the iterator at ``now``, the poller's first poll: LATEST means records that
        arrive after this moment (START-3)."""
        self._opened_at = now
        self._iterator = self._starting_iterator()
        self._ended = self._iterator is None
        if self._config.starting_position == "LATEST" and not self._source.timestamp_iterators:
            self._mark_latest()

    def read(self) -> list[PolledRecord]:
        if self._ended:
            return []
        raw: list[Mapping[str, Any]] | None = None
        for _ in range(2):  # once more with a renewed iterator if the first one expired
            if self._iterator is None:
                self._iterator = self._resume_iterator()
                if self._iterator is None:
                    return []
            try:
                raw, following = self._source.read(self._iterator)
                break
            except ClientError as error:
                code = _error_code(error)
                if code == "ExpiredIteratorException":
                    self._iterator = None
                    continue
                if code in _TRY_LATER:
                    return []
                raise
        if raw is None:
            return []
        self._iterator = following
        self._ended = following is None
        records = [self._source.record(r, self.shard_id) for r in raw]
        if records:
            self._last_sequence = records[-1].sequence_number
        if self._skip_before is not None:
            # The iterator already asked for the starting position; filtering again keeps it
            # exact with streams that position AT_TIMESTAMP iterators loosely (moto compares
            # whole seconds). Arrivals only grow, so the first record kept ends the filtering.
            skip = self._skip_before
            records = [r for r in records if not skip(r)]
            if records:
                self._skip_before = None
        return records

    def _mark_latest(self) -> None:
        """DynamoDB Streams has no AT_TIMESTAMP iterator, so an expired LATEST iterator could only
        be replaced by a new LATEST one, missing what arrived meanwhile (START-3, LOSS-1). Instead
        the newest record at start-up is noted now, by reading the shard once from TRIM_HORIZON
        (after the LATEST iterator was set up, so nothing falls between the two): an expired
        iterator then resumes after it. Throttled reads are retried at once, a few times, since
        the mark must be taken before anything else can arrive; if they all fail, the mark is
        missing and an expiry before the first record falls back to LATEST."""
        iterator = self._source.iterator(self.shard_id, "TRIM_HORIZON")
        throttles = 0
        while iterator is not None:
            try:
                raw, following = self._source.read(iterator)
            except ClientError as error:
                throttles += 1
                if _error_code(error) in _TRY_LATER and throttles < _MARK_ATTEMPTS:
                    continue
                self._last_sequence = None
                return
            if not raw:
                # Nothing was there at start-up: every record is newer, as from TRIM_HORIZON.
                self._horizon_is_latest = self._last_sequence is None
                return
            self._last_sequence = self._source.record(raw[-1], self.shard_id).sequence_number
            iterator = following

    def _starting_iterator(self) -> str | None:
        position = self._config.starting_position
        if position == "AT_TIMESTAMP":  # START-4 (Kinesis only, checked by MappingConfig)
            return self._source.iterator(
                self.shard_id, "AT_TIMESTAMP", timestamp=self._config.starting_position_timestamp
            )
        return self._source.iterator(self.shard_id, position)  # START-2 TRIM_HORIZON, START-3 LATEST

    def _resume_iterator(self) -> str | None:
        """A new iterator where the expired one stood."""
        if self._last_sequence is not None:
            return self._source.iterator(
                self.shard_id, "AFTER_SEQUENCE_NUMBER", after_sequence=self._last_sequence
            )
        if (
            self._config.starting_position == "LATEST"
            and self._opened_at is not None
            and self._source.timestamp_iterators
        ):
            # START-3: nothing read yet, so "after the first poll" is the instant it happened.
            # Strictly after: records arriving at that very instant were there before the
            # first iterator, which LATEST excludes.
            opened_at = self._opened_at
            self._skip_before = lambda record: record.arrival <= opened_at
            return self._source.iterator(self.shard_id, "AT_TIMESTAMP", timestamp=opened_at)
        if self._horizon_is_latest:
            return self._source.iterator(self.shard_id, "TRIM_HORIZON")
        # TRIM_HORIZON and AT_TIMESTAMP start at the same place again. DynamoDB LATEST can only
        # ask for LATEST again, which may miss records written while the expired iterator was
        # unused (START-3 allows start-up misses; pollers read far more often than iterators live).
        return self._starting_iterator()
