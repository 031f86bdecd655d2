"""Broken pollers for the RETRY rules: retry counting, throttles, record age and what a discard
does (SPEC §4)."""

from __future__ import annotations

import dataclasses

from conformance.gallery._base import ConfiguredProcessor, GalleryPoller, VariantPoller, entry
from reference.config import MappingConfig
from reference.destinations import RECORD_AGE_EXCEEDED, RETRY_ATTEMPTS_EXHAUSTED, Discard, InvocationResult
from reference.events import PolledRecord
from reference.shard import Batch, ShardProcessor

__all__ = ["ENTRIES"]


# ---- RETRY-3, RETRY-4, RETRY-5 -------------------------------------------------------------------


class _OneRetryTooManyProcessor(ShardProcessor):
    def _exhausted(self, batch: Batch) -> bool:
        retries = self._config.maximum_retry_attempts
        # The bug: the first invocation is not counted, so N retries become N + 2 invocations.
        return retries != -1 and batch.invocations >= retries + 2


class _OneRetryTooManyPoller(VariantPoller):
    processor = _OneRetryTooManyProcessor


class _ZeroMeansUnlimitedProcessor(ShardProcessor):
    def _exhausted(self, batch: Batch) -> bool:
        # The bug: `MaximumRetryAttempts or -1` takes the valid value 0 for "not set".
        retries = self._config.maximum_retry_attempts or -1
        return retries != -1 and batch.invocations >= retries + 1


class _ZeroMeansUnlimitedPoller(VariantPoller):
    processor = _ZeroMeansUnlimitedProcessor


class _MinusOneMeansZeroProcessor(ShardProcessor):
    def _exhausted(self, batch: Batch) -> bool:
        # The bug: -1 is clamped to 0 (`max(0, MaximumRetryAttempts)`), so "retry until the
        # records expire" becomes "never retry".
        retries = max(0, self._config.maximum_retry_attempts)
        return batch.invocations >= retries + 1


class _MinusOneMeansZeroPoller(VariantPoller):
    processor = _MinusOneMeansZeroProcessor


# ---- RETRY-6 -------------------------------------------------------------------------------------


class _CountThrottlesProcessor(ShardProcessor):
    def _invoke(self, batch: Batch) -> None:
        before = batch.invocations
        super()._invoke(batch)
        if batch.invocations == before and self._queue and self._queue[0] is batch:
            # The batch was throttled (nothing else leaves it in place uncounted). The bug: the
            # throttle counts as an attempt.
            batch.invocations += 1
            if self._exhausted(batch):
                self._discard_exhausted(batch)


class _CountThrottlesPoller(VariantPoller):
    processor = _CountThrottlesProcessor


# ---- RETRY-7, RETRY-8, RETRY-9 -------------------------------------------------------------------


class _AgeCheckedOnceProcessor(ShardProcessor):
    def _split_expired(self, batch: Batch) -> Batch | None:
        # The bug: record age is checked when a batch is formed, never again before a retry,
        # so records that grow too old while their batch is retried are invoked anyway.
        return batch


class _AgeCheckedOncePoller(VariantPoller):
    processor = _AgeCheckedOnceProcessor


class _ZeroCountProcessor(ShardProcessor):
    def _discard(
        self,
        records: tuple[PolledRecord, ...],
        condition: str,
        *,
        invoke_count: int,
        request_id: str | None,
        response: InvocationResult | None,
    ) -> None:
        if condition == RECORD_AGE_EXCEEDED and request_id is None:
            invoke_count = 0  # the bug: the count of invocations so far, none for unsent records
        super()._discard(
            records, condition, invoke_count=invoke_count, request_id=request_id, response=response
        )


class _ZeroCountPoller(VariantPoller):
    processor = _ZeroCountProcessor


class _OneConditionProcessor(ShardProcessor):
    def _discard(
        self,
        records: tuple[PolledRecord, ...],
        condition: str,
        *,
        invoke_count: int,
        request_id: str | None,
        response: InvocationResult | None,
    ) -> None:
        # The bug: every discard says RetryAttemptsExhausted, whichever limit ended it.
        super()._discard(
            records,
            RETRY_ATTEMPTS_EXHAUSTED,
            invoke_count=invoke_count,
            request_id=request_id,
            response=response,
        )


class _OneConditionPoller(VariantPoller):
    processor = _OneConditionProcessor


# ---- RETRY-10, RETRY-11 --------------------------------------------------------------------------


class _StopAfterDiscardProcessor(ShardProcessor):
    _stopped = False

    def _discard_exhausted(self, batch: Batch) -> None:
        super()._discard_exhausted(batch)
        self._stopped = True  # the bug: an exhausted batch is treated as fatal for the shard

    def poll(self) -> None:
        if not self._stopped:
            super().poll()


class _StopAfterDiscardPoller(VariantPoller):
    processor = _StopAfterDiscardProcessor


class _NowhereToSendProcessor(ShardProcessor):
    def _deliver(self, discard: Discard) -> bool:
        if self._destination is None:
            # The bug: with no destination the discard counts as undelivered, so the shard
            # waits for a delivery that can never happen.
            self._undelivered = discard
            return False
        return super()._deliver(discard)


class _NowhereToSendPoller(VariantPoller):
    processor = _NowhereToSendProcessor


# ---- LIVE-1 --------------------------------------------------------------------------------------


class _NoAgeLimitProcessor(ConfiguredProcessor):
    def misread(self, config: MappingConfig) -> MappingConfig:
        # The bug: MaximumRecordAgeInSeconds is never read, so with MaximumRetryAttempts -1 a
        # record that always fails is retried for ever.
        return dataclasses.replace(config, maximum_record_age_seconds=-1)


class _NoAgeLimitPoller(VariantPoller):
    processor = _NoAgeLimitProcessor


ENTRIES: tuple[GalleryPoller, ...] = (
    entry(
        "retry_count_off_by_one",
        "RETRY-3",
        "the first invocation is not counted: MaximumRetryAttempts N gives N + 2 invocations",
        _OneRetryTooManyPoller,
    ),
    entry(
        "zero_retries_means_unlimited",
        "RETRY-4",
        "MaximumRetryAttempts 0 is taken for 'not set' (`or -1`): a failed batch is retried",
        _ZeroMeansUnlimitedPoller,
    ),
    entry(
        "minus_one_retries_means_zero",
        "RETRY-5",
        "MaximumRetryAttempts -1 is clamped to 0: a failing batch is discarded after one invocation",
        _MinusOneMeansZeroPoller,
    ),
    entry(
        "throttles_counted_as_attempts",
        "RETRY-6",
        "a throttled Invoke counts toward MaximumRetryAttempts",
        _CountThrottlesPoller,
    ),
    entry(
        "expired_records_invoked_on_retry",
        "RETRY-7",
        "age is checked only when a batch is formed: records that expire while it is retried are invoked",
        _AgeCheckedOncePoller,
    ),
    entry(
        "record_age_count_zero",
        "RETRY-8",
        "a record too old when first polled is reported with approximateInvokeCount 0",
        _ZeroCountPoller,
    ),
    entry(
        "one_condition_for_every_discard",
        "RETRY-9",
        "every discard says RetryAttemptsExhausted, also when the record age limit ended the retries",
        _OneConditionPoller,
    ),
    entry(
        "shard_stops_after_discard",
        "RETRY-10",
        "a discarded batch is treated as fatal for its shard: nothing after it is processed",
        _StopAfterDiscardPoller,
    ),
    entry(
        "no_destination_blocks_shard",
        "RETRY-11",
        "with no on-failure destination the discard counts as undelivered and the shard waits forever",
        _NowhereToSendPoller,
    ),
    entry(
        "record_age_limit_ignored",
        "LIVE-1",
        "MaximumRecordAgeInSeconds is never read: with unlimited retries a failing record is retried forever",
        _NoAgeLimitPoller,
    ),
)
