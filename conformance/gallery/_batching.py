"""Broken pollers for the BATCH rules (batch size, invoking promptly, the batching window, the
6 MiB payload cap, never an empty invocation)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from conformance.gallery._base import (
    ConfiguredProcessor,
    GalleryPoller,
    VariantPoller,
    decoded_data,
    entry,
    with_size,
)
from reference.config import MappingConfig
from reference.events import PolledRecord
from reference.invoker import Invocation, Invoker
from reference.responses import Outcome, Throttled
from reference.shard import Batch, ShardProcessor

__all__ = ["ENTRIES"]


# ---- BATCH-2 -------------------------------------------------------------------------------------


class _NoBatchSizeProcessor(ConfiguredProcessor):
    def misread(self, config: MappingConfig) -> MappingConfig:
        # The bug: BatchSize is never applied; a batch is everything that was read.
        return dataclasses.replace(config, batch_size=10_000)


class _NoBatchSizePoller(VariantPoller):
    processor = _NoBatchSizeProcessor


class _BatchSizePlusOneProcessor(ConfiguredProcessor):
    def misread(self, config: MappingConfig) -> MappingConfig:
        # The bug: `count <= BatchSize` where `count < BatchSize` was meant.
        return dataclasses.replace(config, batch_size=config.batch_size + 1)


class _BatchSizePlusOnePoller(VariantPoller):
    processor = _BatchSizePlusOneProcessor


# ---- BATCH-4 -------------------------------------------------------------------------------------


class _IdleBackoffProcessor(ShardProcessor):
    _idle_until = 0.0
    _backoff = 0.0

    def _read(self) -> None:
        if len(self._pending) >= self._config.batch_size:
            return super()._read()
        now = self._clock.monotonic()
        if now < self._idle_until:
            return None
        before = len(self._pending)
        super()._read()
        if len(self._pending) > before:
            self._backoff = 0.0
        else:
            # The bug: an idle shard is read less and less often (the wait doubles up to a
            # minute), so a record arriving then waits far longer than a poll.
            self._backoff = min(max(2 * self._backoff, 1.0), 60.0)
            self._idle_until = now + self._backoff
        return None


class _IdleBackoffPoller(VariantPoller):
    processor = _IdleBackoffProcessor


# ---- BATCH-5 -------------------------------------------------------------------------------------


class _NoWindowProcessor(ConfiguredProcessor):
    def misread(self, config: MappingConfig) -> MappingConfig:
        # The bug: MaximumBatchingWindowInSeconds is never read; partial batches go at once.
        return dataclasses.replace(config, batching_window_seconds=0)


class _NoWindowPoller(VariantPoller):
    processor = _NoWindowProcessor


# ---- BATCH-6 -------------------------------------------------------------------------------------


class _RememberingInvoker(Invoker):
    """Remembers the outcome of its last Invoke."""

    last: Outcome | None = None

    def invoke(self, records: Sequence[PolledRecord]) -> Invocation:
        invocation = super().invoke(records)
        self.last = invocation.outcome
        return invocation


class _HalveWhenRefusedProcessor(ShardProcessor):
    def _invoke(self, batch: Batch) -> None:
        super()._invoke(batch)
        last = self._invoker.last if isinstance(self._invoker, _RememberingInvoker) else None
        refused = isinstance(last, Throttled) and last.error_code == "RequestEntityTooLargeException"
        if refused and len(batch.records) >= 2 and self._queue and self._queue[0] is batch:
            # Invoke refused the oversized payload (HTTP 413); the batch is halved and sent again.
            middle = len(batch.records) // 2
            self._replace_current(Batch(batch.records[:middle]), Batch(batch.records[middle:]))


class _RawBytesCapPoller(VariantPoller):
    invoker = _RememberingInvoker
    processor = _HalveWhenRefusedProcessor

    def edit_event(self, event: dict[str, Any], record: PolledRecord) -> PolledRecord:
        # The bug: the 6 MiB cap is applied to the records' raw data bytes, not to the event
        # that is sent, whose base64 and JSON make it a third larger.
        if "kinesis" in event:
            return with_size(record, len(decoded_data(event)))
        return with_size(record, int(event["dynamodb"].get("SizeBytes", record.size)))


class _DropOverCapProcessor(ShardProcessor):
    def _current_batch(self) -> Batch | None:
        fresh = not self._queue
        batch = super()._current_batch()
        if fresh and batch is not None and self._pending and len(batch.records) < self._config.batch_size:
            # The payload cap cut the batch short. The bug: the record that did not fit is
            # dropped instead of starting the next batch.
            del self._pending[0]
        return batch


class _DropOverCapPoller(VariantPoller):
    processor = _DropOverCapProcessor


# ---- BATCH-9 -------------------------------------------------------------------------------------


class _EmptyAfterExpiryProcessor(ShardProcessor):
    def _expire_pending(self) -> bool:
        had_records = bool(self._pending)
        delivered = super()._expire_pending()
        if delivered and had_records and not self._pending:
            # The bug: every record read was too old and was discarded, and the batch that is
            # left, now empty, is invoked anyway.
            self._invoker.invoke(())
        return delivered

    def _split_expired(self, batch: Batch) -> Batch | None:
        remaining = super()._split_expired(batch)
        if remaining is None and self._undelivered is None:
            self._invoker.invoke(())  # the same bug for a batch that aged while retried
        return remaining


class _EmptyAfterExpiryPoller(VariantPoller):
    processor = _EmptyAfterExpiryProcessor


ENTRIES: tuple[GalleryPoller, ...] = (
    entry(
        "batch_size_ignored",
        "BATCH-2",
        "BatchSize is never applied: a batch is everything one read returned",
        _NoBatchSizePoller,
    ),
    entry(
        "batch_size_off_by_one",
        "BATCH-2",
        "a batch takes BatchSize + 1 records (<= where < was meant)",
        _BatchSizePlusOnePoller,
    ),
    entry(
        "idle_shard_backoff",
        "BATCH-4",
        "an idle shard is read less and less often (up to once a minute), delaying new records",
        _IdleBackoffPoller,
    ),
    entry(
        "batching_window_ignored",
        "BATCH-5",
        "MaximumBatchingWindowInSeconds is never read: partial batches are invoked at once",
        _NoWindowPoller,
    ),
    entry(
        "payload_cap_on_raw_bytes",
        "BATCH-6",
        "the 6 MiB cap is counted on raw record bytes, so the base64 JSON event exceeds it (refused: halved)",
        _RawBytesCapPoller,
    ),
    entry(
        "drops_record_cut_by_payload_cap",
        "BATCH-6",
        "when the 6 MiB cap cuts a batch short, the record that did not fit is dropped",
        _DropOverCapPoller,
    ),
    entry(
        "empty_invocation_after_expiry",
        "BATCH-9",
        "a batch whose records all aged out is still invoked, with no records",
        _EmptyAfterExpiryPoller,
    ),
)
