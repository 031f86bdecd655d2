"""Broken pollers for the error paths the world's conditions open (``Scenario.world``): throttled
GetRecords calls, expired shard iterators, failing destination writes, wide DynamoDB items and
arrival times in a non-UTC offset. Each gets one of those paths wrong the way a careful
implementer still could; the rest is the reference."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError

from conformance.gallery._base import GalleryPoller, VariantPoller, entry, with_event
from reference.config import MappingConfig
from reference.destinations import Discard
from reference.events import PolledRecord
from reference.shard import ShardProcessor
from reference.source import ShardReader, StreamSource

__all__ = ["ENTRIES"]

_READ_THROTTLES = frozenset({"ProvisionedThroughputExceededException", "LimitExceededException"})


# ---- RETRY-6: a throttled read counted as a failed invocation ---------------------------------------


class _CountingSource:
    """A stream source that tells its reader when a read was throttled."""

    def __init__(self, inner: StreamSource, reader: _ThrottleCountingReader) -> None:
        self._inner = inner
        self._reader = reader
        self.timestamp_iterators = inner.timestamp_iterators

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def read(self, iterator: str) -> tuple[list[Mapping[str, Any]], str | None]:
        try:
            return self._inner.read(iterator)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _READ_THROTTLES:
                self._reader.throttled_reads += 1
            raise


class _ThrottleCountingReader(ShardReader):
    def __init__(self, source: StreamSource, shard_id: str, config: MappingConfig) -> None:
        self.throttled_reads = 0
        super().__init__(_CountingSource(source, self), shard_id, config)


class _ReadThrottleIsRetryProcessor(ShardProcessor):
    def _read(self) -> None:
        reader = self.reader
        before = reader.throttled_reads if isinstance(reader, _ThrottleCountingReader) else 0
        # This poller reads ahead on every step, even with a full batch waiting (allowed: the
        # records are buffered in order); the bug is what it does with a throttled read.
        self._pending.extend(reader.read())
        if self._pending and not self._queue and self._window_opened_at is None:
            self._window_opened_at = self._clock.monotonic()
        after = reader.throttled_reads if isinstance(reader, _ThrottleCountingReader) else 0
        batch = self._queue[0] if self._queue else None
        if after > before and batch is not None:
            # The bug: the shard step's error handler counts every exception, a throttled
            # GetRecords included, as one more failed attempt of the batch waiting to be retried.
            batch.invocations += 1
            if self._exhausted(batch):
                self._discard_exhausted(batch)


class _ReadThrottleIsRetryPoller(VariantPoller):
    reader = _ThrottleCountingReader
    processor = _ReadThrottleIsRetryProcessor


# ---- LOSS-1: an expired iterator renewed at LATEST ---------------------------------------------------


class _ExpiredAtLatestReader(ShardReader):
    def _resume_iterator(self) -> str | None:
        # The bug: an expired iterator is replaced by a LATEST one, as if the mapping started
        # again; whatever arrived while the old iterator went unused is never read.
        return self._source.iterator(self.shard_id, "LATEST")


class _ExpiredAtLatestPoller(VariantPoller):
    reader = _ExpiredAtLatestReader


# ---- START-2/START-3: DynamoDB's start-up note (no AT_TIMESTAMP iterator to resume from) ---------------


def _note(reader: ShardReader, *, retry_throttles: bool, newest: bool) -> None:
    """The reference's start-up note (``ShardReader._mark_latest``) with two of its choices open:
    whether a throttled read is tried again, and whether the newest record of a page is noted."""
    source: StreamSource = reader._source
    iterator = source.iterator(reader.shard_id, "TRIM_HORIZON")
    attempts = 0
    while iterator is not None:
        try:
            raw, following = source.read(iterator)
        except ClientError as error:
            attempts += 1
            if (
                retry_throttles
                and error.response.get("Error", {}).get("Code") in _READ_THROTTLES
                and attempts < 5
            ):
                continue
            reader._last_sequence = None
            return
        if not raw:
            reader._horizon_is_latest = reader._last_sequence is None
            return
        reader._last_sequence = source.record(raw[-1 if newest else 0], reader.shard_id).sequence_number
        iterator = following


class _NoteGivenUpReader(ShardReader):
    def _mark_latest(self) -> None:
        # The bug: a throttled read of the note is not tried again; without the note an expired
        # LATEST iterator can only be renewed at LATEST, missing what arrived meanwhile.
        _note(self, retry_throttles=False, newest=True)


class _NoteGivenUpPoller(VariantPoller):
    reader = _NoteGivenUpReader


class _NoteAtFirstRecordReader(ShardReader):
    def _mark_latest(self) -> None:
        # The bug: the first record of the page is noted, not the last; an expired LATEST
        # iterator resumes after it and delivers records that were there before the start.
        _note(self, retry_throttles=True, newest=False)


class _NoteAtFirstRecordPoller(VariantPoller):
    reader = _NoteAtFirstRecordReader


class _NoteAtHorizonReader(ShardReader):
    def open(self, now: datetime) -> None:
        super().open(now)
        if self._config.starting_position == "TRIM_HORIZON" and not self._source.timestamp_iterators:
            # The bug: the note is taken for every DynamoDB starting position; if the first
            # read is late and its iterator expired, TRIM_HORIZON resumes after the note and
            # skips the records that were already there.
            self._mark_latest()


class _NoteAtHorizonPoller(VariantPoller):
    reader = _NoteAtHorizonReader


# ---- LOSS-1: the checkpoint moves past a document that was not delivered ----------------------------


class _CheckpointPastUndeliveredProcessor(ShardProcessor):
    def _deliver(self, discard: Discard) -> bool:
        if self._destination is not None:
            # The bug: the write error is logged and the batch counts as discarded anyway.
            with contextlib.suppress(ClientError):
                self._destination.deliver(discard)
        self._undelivered = None
        self._acknowledge(discard.records)
        return True


class _CheckpointPastUndeliveredPoller(VariantPoller):
    processor = _CheckpointPastUndeliveredProcessor


class _ReadsOnPastUndeliveredProcessor(ShardProcessor):
    def poll(self) -> None:
        waiting = self._undelivered
        if waiting is None or self._deliver(waiting):
            super().poll()
            return
        # The bug: the shard invokes nothing while the document waits, but it reads on and
        # discards the records that age out meanwhile; the one undelivered document the shard
        # remembers is then theirs, and the waiting one is forgotten.
        self._read()
        batch = self._current_batch()
        if batch is not None:
            self._split_expired(batch)


class _ReadsOnPastUndeliveredPoller(VariantPoller):
    processor = _ReadsOnPastUndeliveredProcessor


# ---- EVT-D-2: binaries inside sets, lists and maps sent as text ---------------------------------------


def _as_text(encoded: Any) -> Any:
    return base64.b64decode(encoded).decode("utf-8", "replace") if isinstance(encoded, str) else encoded


def _nested_as_text(attribute: Any, top: bool) -> Any:
    if not isinstance(attribute, dict) or len(attribute) != 1:
        return attribute
    ((tag, inner),) = attribute.items()
    if tag == "B":
        return attribute if top else {"B": _as_text(inner)}
    if tag == "BS":
        return {"BS": [_as_text(v) for v in inner]}
    if tag == "M":
        return {"M": {k: _nested_as_text(v, False) for k, v in inner.items()}}
    if tag == "L":
        return {"L": [_nested_as_text(v, False) for v in inner]}
    return attribute


class _NestedBinariesAsTextPoller(VariantPoller):
    def edit_event(self, event: dict[str, Any], record: PolledRecord) -> PolledRecord:
        change = event.get("dynamodb")
        if not isinstance(change, dict):
            return record
        # The bug: only top-level "B" attributes are base64-encoded again; the binaries inside
        # sets, lists and maps reach json.dumps as bytes, and its default= fallback writes them
        # as UTF-8 text.
        for key in ("NewImage", "OldImage"):
            if isinstance(change.get(key), dict):
                change[key] = {name: _nested_as_text(value, True) for name, value in change[key].items()}
        return with_event(record, event)


# ---- EVT-K-3: an aware arrival time relabelled as UTC -------------------------------------------------


def _relabelled(value: Any) -> Any:
    # The bug: `replace(tzinfo=utc)` where `astimezone(utc)` was meant: botocore's tzlocal()
    # datetimes keep their wall-clock reading and lose their offset.
    return value.replace(tzinfo=timezone.utc) if isinstance(value, datetime) else value


class _RelabellingSource:
    def __init__(self, inner: StreamSource) -> None:
        self._inner = inner
        self.timestamp_iterators = inner.timestamp_iterators

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def record(self, raw: Mapping[str, Any], shard_id: str) -> PolledRecord:
        copy = dict(raw)
        if "ApproximateArrivalTimestamp" in copy:
            copy["ApproximateArrivalTimestamp"] = _relabelled(copy["ApproximateArrivalTimestamp"])
        if isinstance(copy.get("dynamodb"), Mapping):
            change = dict(copy["dynamodb"])
            change["ApproximateCreationDateTime"] = _relabelled(change.get("ApproximateCreationDateTime"))
            copy["dynamodb"] = change
        return self._inner.record(copy, shard_id)


class _ArrivalRelabelledPoller(VariantPoller):
    def _open_source(self) -> StreamSource:
        return _RelabellingSource(super()._open_source())


ENTRIES: tuple[GalleryPoller, ...] = (
    entry(
        "read_throttle_counts_as_retry",
        "RETRY-6",
        "a throttled GetRecords call counts as a failed attempt of the batch being retried",
        _ReadThrottleIsRetryPoller,
    ),
    entry(
        "expired_iterator_resumes_at_latest",
        "LOSS-1",
        "an expired shard iterator is renewed at LATEST, skipping what arrived while it was unused",
        _ExpiredAtLatestPoller,
    ),
    entry(
        "start_up_note_given_up_when_throttled",
        "START-3",
        "DynamoDB LATEST: a throttled read of the start-up note is not retried, so an expired "
        "first iterator is renewed at LATEST and misses what arrived",
        _NoteGivenUpPoller,
    ),
    entry(
        "start_up_note_at_first_record",
        "START-3",
        "DynamoDB LATEST: the start-up note is the first record of the page, so an expired first "
        "iterator resumes before the start",
        _NoteAtFirstRecordPoller,
    ),
    entry(
        "start_up_note_at_trim_horizon",
        "START-2",
        "DynamoDB TRIM_HORIZON also takes the LATEST start-up note, so a late first read resumes "
        "after the records already there",
        _NoteAtHorizonPoller,
    ),
    entry(
        "checkpoint_past_undelivered_discard",
        "LOSS-1",
        "a discarded batch whose destination write failed is checkpointed anyway",
        _CheckpointPastUndeliveredPoller,
    ),
    entry(
        "reads_on_past_undelivered_discard",
        "LOSS-1",
        "while a discarded batch's document is undelivered the shard discards records that age out "
        "meanwhile, and their document replaces the waiting one",
        _ReadsOnPastUndeliveredPoller,
    ),
    entry(
        "nested_binaries_as_text",
        "EVT-D-2",
        "binary values inside BS sets, lists and maps are sent as UTF-8 text instead of base64",
        _NestedBinariesAsTextPoller,
    ),
    entry(
        "arrival_relabelled_as_utc",
        "EVT-K-3",
        "an aware arrival time in another offset is relabelled as UTC instead of converted",
        _ArrivalRelabelledPoller,
    ),
)
