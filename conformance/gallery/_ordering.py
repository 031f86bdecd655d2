"""Broken pollers for the ORD rules (shard order, blocking on errors, shard independence, at
least once) and for LOSS-1."""

from __future__ import annotations

from collections.abc import Sequence

from conformance.gallery._base import GalleryPoller, VariantPoller, entry
from reference.batching import batch_take
from reference.events import PolledRecord
from reference.shard import Batch, ShardProcessor

__all__ = ["ENTRIES"]


def _retrying(shard: ShardProcessor) -> bool:
    """The shard's batch in flight has failed at least once and is waiting for its retry."""
    queue = shard._queue
    return bool(queue) and queue[0].invocations > 0


# ---- ORD-1 ---------------------------------------------------------------------------------------


class _PooledProcessor(ShardProcessor):
    others: tuple[ShardProcessor, ...] = ()

    def _current_batch(self) -> Batch | None:
        fresh = not self._queue
        batch = super()._current_batch()
        if not fresh or batch is None:
            return batch
        # The bug: one buffer for the whole stream. A short batch is topped up with records
        # read from the other shards.
        records = list(batch.records)
        for other in self.others:
            room = self._config.batch_size - len(records)
            if room <= 0:
                break
            if other._queue:
                continue  # that shard is busy with a batch of its own
            other._read()
            records += other._pending[:room]
            del other._pending[:room]
        if len(records) > len(batch.records):
            batch = Batch(tuple(records))
            self._replace_current(batch)
        return batch


class _PooledPoller(VariantPoller):
    processor = _PooledProcessor

    def _start(self) -> list[ShardProcessor]:
        shards = super()._start()
        for shard in shards:
            if isinstance(shard, _PooledProcessor):
                shard.others = tuple(other for other in shards if other is not shard)
        return shards


# ---- ORD-2 ---------------------------------------------------------------------------------------


class _StringSortProcessor(ShardProcessor):
    def _read(self) -> None:
        super()._read()
        # The bug: the buffer is kept sorted by sequence number compared as text, so
        # "100…" sorts before "99…".
        self._pending.sort(key=lambda record: record.sequence_number)


class _StringSortPoller(VariantPoller):
    processor = _StringSortProcessor


# ---- ORD-4 ---------------------------------------------------------------------------------------


class _SkipAfterSuccessProcessor(ShardProcessor):
    _skip_next = False

    def _acknowledge(self, records: Sequence[PolledRecord]) -> None:
        super()._acknowledge(records)
        if self._queue and records is self._queue[0].records:
            # A whole batch succeeded. The bug: the checkpoint is stored as the *next* sequence
            # number and reading resumes after it, so one record is skipped.
            self._skip_next = True

    def _read(self) -> None:
        super()._read()
        if self._skip_next and self._pending:
            del self._pending[0]
            self._skip_next = False


class _SkipAfterSuccessPoller(VariantPoller):
    processor = _SkipAfterSuccessProcessor


# ---- ORD-5 ---------------------------------------------------------------------------------------


class _NoBlockingProcessor(ShardProcessor):
    def _current_batch(self) -> Batch | None:
        if _retrying(self) and self._pending:
            # The bug: a failing batch waits for its retry at the back, and what was read after
            # it is sent meanwhile.
            take = batch_take(self._pending, self._config.batch_size)
            if take:
                fresh = Batch(tuple(self._pending[:take]))
                del self._pending[:take]
                self._queue.appendleft(fresh)
        return super()._current_batch()


class _NoBlockingPoller(VariantPoller):
    processor = _NoBlockingProcessor


# ---- ORD-6 ---------------------------------------------------------------------------------------


class _StickyShardPoller(VariantPoller):
    def poll(self) -> None:
        if self._closed or not self.config.enabled:
            return super().poll()
        if self._shards is None:
            self._shards = self._start()
        busy = [shard for shard in self._shards if _retrying(shard)]
        if busy:
            busy[0].poll()
            return None
        for shard in self._shards:
            shard.poll()
            if _retrying(shard):
                # The bug: a failing shard gets the poller's whole attention until its batch
                # is resolved; the shards after it wait.
                return None
        return None


# ---- ORD-9 ---------------------------------------------------------------------------------------


class _FlushOnDiscardProcessor(ShardProcessor):
    def _discard_exhausted(self, batch: Batch) -> None:
        # The bug: giving up on a batch flushes the shard's buffer with it, so records that
        # were read but never sent are reported as failed.
        flushed = tuple(self._pending)
        self._pending.clear()
        if flushed:
            batch = Batch(
                batch.records + flushed,
                invocations=batch.invocations,
                last_request_id=batch.last_request_id,
                last_result=batch.last_result,
            )
        super()._discard_exhausted(batch)


class _FlushOnDiscardPoller(VariantPoller):
    processor = _FlushOnDiscardProcessor


# ---- LOSS-1 --------------------------------------------------------------------------------------


class _ForgetSurplusProcessor(ShardProcessor):
    def _read(self) -> None:
        super()._read()
        # The bug: GetRecords returned more than BatchSize; the surplus is forgotten although
        # the iterator has moved past it.
        del self._pending[self._config.batch_size :]


class _ForgetSurplusPoller(VariantPoller):
    processor = _ForgetSurplusProcessor


ENTRIES: tuple[GalleryPoller, ...] = (
    entry(
        "batch_spans_shards",
        "ORD-1",
        "one buffer for the whole stream: a short batch is topped up with another shard's records",
        _PooledPoller,
    ),
    entry(
        "sequence_numbers_sorted_as_strings",
        "ORD-2",
        "records read are sorted by sequence number compared as text, so 100… comes before 99…",
        _StringSortPoller,
    ),
    entry(
        "skips_record_after_success",
        "ORD-4",
        "the checkpoint after a successful batch is the next record's number, so that record is skipped",
        _SkipAfterSuccessPoller,
    ),
    entry(
        "next_batch_while_retrying",
        "ORD-5",
        "a failing batch waits at the back while the records read after it are invoked",
        _NoBlockingPoller,
    ),
    entry(
        "failing_shard_blocks_others",
        "ORD-6",
        "the poller stays with a failing shard until its batch is resolved; other shards wait",
        _StickyShardPoller,
    ),
    entry(
        "discard_flushes_unsent_records",
        "ORD-9",
        "discarding an exhausted batch also discards the records read after it, never sent",
        _FlushOnDiscardPoller,
    ),
    entry(
        "forgets_records_beyond_batch_size",
        "LOSS-1",
        "records read beyond BatchSize are dropped although the iterator moved past them",
        _ForgetSurplusPoller,
    ),
)
