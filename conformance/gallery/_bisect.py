"""Broken pollers for the BISECT rules: BisectBatchOnFunctionError (SPEC §5)."""

from __future__ import annotations

import dataclasses
import math

from conformance.gallery._base import ConfiguredProcessor, GalleryPoller, VariantPoller, entry
from reference.config import MappingConfig
from reference.events import PolledRecord
from reference.shard import Batch, ShardProcessor

__all__ = ["ENTRIES"]


def _bisecting(processor: ShardProcessor, batch: Batch) -> bool:
    """The reference would split this failed batch (BISECT-2)."""
    return processor._config.bisect_on_function_error and len(batch.records) >= 2


def _throttled(processor: ShardProcessor, batch: Batch, before: int) -> bool:
    """After ``_invoke``: the batch is still in flight with an unchanged count, which only a
    throttle leaves behind."""
    return batch.invocations == before and bool(processor._queue) and processor._queue[0] is batch


# ---- BISECT-2 ------------------------------------------------------------------------------------


class _NoBisectProcessor(ConfiguredProcessor):
    def misread(self, config: MappingConfig) -> MappingConfig:
        # The bug: BisectBatchOnFunctionError is never read; failed batches are retried whole.
        return dataclasses.replace(config, bisect_on_function_error=False)


class _NoBisectPoller(VariantPoller):
    processor = _NoBisectProcessor


class _UpperFirstProcessor(ShardProcessor):
    def _complete_failure(self, batch: Batch) -> None:
        if not _bisecting(self, batch):
            return super()._complete_failure(batch)
        middle = math.ceil(len(batch.records) / 2)
        # The bug: the halves are queued upper first, breaking shard order.
        self._replace_current(Batch(batch.records[middle:]), Batch(batch.records[:middle]))
        return None


class _UpperFirstPoller(VariantPoller):
    processor = _UpperFirstProcessor


# ---- BISECT-3 ------------------------------------------------------------------------------------


class _SplitCountsProcessor(ShardProcessor):
    def _complete_failure(self, batch: Batch) -> None:
        if not _bisecting(self, batch):
            return super()._complete_failure(batch)
        middle = math.ceil(len(batch.records) / 2)
        # The bug: a split is counted as one more retry; each half starts with its parent's
        # count plus one.
        count = batch.invocations + 1
        self._replace_current(
            Batch(batch.records[:middle], invocations=count), Batch(batch.records[middle:], invocations=count)
        )
        return None


class _SplitCountsPoller(VariantPoller):
    processor = _SplitCountsProcessor


# ---- BISECT-4 ------------------------------------------------------------------------------------


class _SplitOffLastProcessor(ShardProcessor):
    def _complete_failure(self, batch: Batch) -> None:
        if not _bisecting(self, batch):
            return super()._complete_failure(batch)
        # The bug: "splitting" takes off only the last record (`records[:-1]`, `records[-1:]`).
        self._replace_current(Batch(batch.records[:-1]), Batch(batch.records[-1:]))
        return None


class _SplitOffLastPoller(VariantPoller):
    processor = _SplitOffLastProcessor


class _OverlappingHalvesProcessor(ShardProcessor):
    def _complete_failure(self, batch: Batch) -> None:
        if not _bisecting(self, batch) or len(batch.records) < 3:
            return super()._complete_failure(batch)
        middle = math.ceil(len(batch.records) / 2)
        # The bug: an off-by-one slice puts the middle record in both halves, so it is sent
        # again after the lower half succeeded.
        self._replace_current(Batch(batch.records[:middle]), Batch(batch.records[middle - 1 :]))
        return None


class _OverlappingHalvesPoller(VariantPoller):
    processor = _OverlappingHalvesProcessor


# ---- BISECT-5 ------------------------------------------------------------------------------------


class _IsolatedGivenUpProcessor(ShardProcessor):
    def _complete_failure(self, batch: Batch) -> None:
        if self._config.bisect_on_function_error and len(batch.records) == 1:
            # The bug: once bisection has isolated the failing record, it is given up on at
            # once instead of being retried under MaximumRetryAttempts.
            return self._discard_exhausted(batch)
        return super()._complete_failure(batch)


class _IsolatedGivenUpPoller(VariantPoller):
    processor = _IsolatedGivenUpProcessor


# ---- BISECT-6 ------------------------------------------------------------------------------------


class _ShrinkingBatchSizeProcessor(ShardProcessor):
    def _complete_failure(self, batch: Batch) -> None:
        if _bisecting(self, batch):
            # The bug: the split is done by halving the shard's batch size, which stays halved
            # for every batch polled afterwards.
            half = math.ceil(len(batch.records) / 2)
            self._config = dataclasses.replace(self._config, batch_size=min(self._config.batch_size, half))
        super()._complete_failure(batch)


class _ShrinkingBatchSizePoller(VariantPoller):
    processor = _ShrinkingBatchSizeProcessor


# ---- BISECT-7 ------------------------------------------------------------------------------------


class _BisectPartialProcessor(ShardProcessor):
    def _partial_failure(self, batch: Batch, lowest: str) -> None:
        index = next(i for i, r in enumerate(batch.records) if r.sequence_number == lowest)
        rest = batch.records[index:]
        if not self._config.bisect_on_function_error or len(rest) < 2:
            return super()._partial_failure(batch, lowest)
        if index > 0:
            self._acknowledge(batch.records[:index])
        middle = math.ceil(len(rest) / 2)
        # The bug: a partial failure is bisected like a function error; the reported record
        # and the rest of the batch are split in two.
        self._replace_current(Batch(rest[:middle]), Batch(rest[middle:]))
        return None


class _BisectPartialPoller(VariantPoller):
    processor = _BisectPartialProcessor


# ---- BISECT-8 ------------------------------------------------------------------------------------


class _WholeBatchDocumentProcessor(ShardProcessor):
    """Remembers the batch each half was split from, and reports that whole batch."""

    _polled_as: dict[int, tuple[Batch, tuple[PolledRecord, ...]]] | None = None

    def _origins(self) -> dict[int, tuple[Batch, tuple[PolledRecord, ...]]]:
        # Keyed by id(); the half itself is kept in the value so its id stays unique.
        if self._polled_as is None:
            self._polled_as = {}
        return self._polled_as

    def _complete_failure(self, batch: Batch) -> None:
        origins = self._origins()
        polled = origins.get(id(batch), (batch, batch.records))[1]
        split = _bisecting(self, batch)
        super()._complete_failure(batch)
        if split:
            for half in list(self._queue)[:2]:
                origins[id(half)] = (half, polled)

    def _discard_exhausted(self, batch: Batch) -> None:
        origin = self._origins().get(id(batch))
        if origin is not None:
            # The bug: the document describes the batch as it was polled, including records of
            # halves that succeeded, instead of the records that failed.
            batch = dataclasses.replace(batch, records=origin[1])
        super()._discard_exhausted(batch)


class _WholeBatchDocumentPoller(VariantPoller):
    processor = _WholeBatchDocumentProcessor


# ---- BISECT-9 ------------------------------------------------------------------------------------


class _BisectThrottlesProcessor(ShardProcessor):
    def _invoke(self, batch: Batch) -> None:
        before = batch.invocations
        super()._invoke(batch)
        if _throttled(self, batch, before) and _bisecting(self, batch):
            # The bug: a throttled batch is bisected as if the function had failed.
            middle = math.ceil(len(batch.records) / 2)
            self._replace_current(Batch(batch.records[:middle]), Batch(batch.records[middle:]))


class _BisectThrottlesPoller(VariantPoller):
    processor = _BisectThrottlesProcessor


ENTRIES: tuple[GalleryPoller, ...] = (
    entry(
        "bisection_missing",
        "BISECT-2",
        "BisectBatchOnFunctionError is never read: a failed batch is retried whole",
        _NoBisectPoller,
    ),
    entry(
        "bisection_upper_half_first",
        "BISECT-2",
        "the upper half of a split batch is retried before the lower half",
        _UpperFirstPoller,
    ),
    entry(
        "bisection_split_counts_as_retry",
        "BISECT-3",
        "a split counts as a retry: each half starts with its parent's count plus one",
        _SplitCountsPoller,
    ),
    entry(
        "bisection_splits_off_last_record",
        "BISECT-4",
        "a failed batch is split into all but the last record and the last record, not halves",
        _SplitOffLastPoller,
    ),
    entry(
        "bisection_halves_overlap",
        "BISECT-4",
        "an off-by-one slice puts the middle record in both halves: it is redelivered after succeeding",
        _OverlappingHalvesPoller,
    ),
    entry(
        "bisection_isolated_record_not_retried",
        "BISECT-5",
        "a record isolated by bisection is discarded after one failure, without its retries",
        _IsolatedGivenUpPoller,
    ),
    entry(
        "bisection_shrinks_batch_size",
        "BISECT-6",
        "bisection halves the shard's batch size, and later batches stay small",
        _ShrinkingBatchSizePoller,
    ),
    entry(
        "bisection_of_partial_failures",
        "BISECT-7",
        "a partial failure (ReportBatchItemFailures) is bisected instead of retried from the reported record",
        _BisectPartialPoller,
    ),
    entry(
        "bisection_document_covers_polled_batch",
        "BISECT-8",
        "the destination document of an isolated record describes the whole batch as it was polled",
        _WholeBatchDocumentPoller,
    ),
    entry(
        "bisection_of_throttles",
        "BISECT-9",
        "a throttled batch is bisected as if the function had failed",
        _BisectThrottlesPoller,
    ),
)
