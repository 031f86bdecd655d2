"""The per-shard state machine: records read but not yet batched, the batch in flight and the
bisected halves waiting behind it, attempt counts, the record-age split and the checkpoint.

One ``poll()`` makes at most one Invoke for this shard (ORD-3); a failing batch is retried on a
later poll, never by waiting inside this one.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from botocore.exceptions import ClientError

from conformance.contract import Clock
from reference.batching import batch_ready, batch_take
from reference.config import MappingConfig
from reference.destinations import (
    RECORD_AGE_EXCEEDED,
    RETRY_ATTEMPTS_EXHAUSTED,
    Destination,
    Discard,
    InvocationResult,
)
from reference.events import PolledRecord
from reference.invoker import Invoker
from reference.responses import CompleteFailure, PartialFailure, Success, Throttled
from reference.source import ShardReader

__all__ = ["Batch", "ShardProcessor"]


@dataclass
class Batch:
    """A batch is its exact record set (SEMANTICS "Attempt counting"): any change of the set
    (a partial-failure suffix, a bisected half, expired records split off) is a new ``Batch``
    with a fresh count.

    ``invocations`` counts Invoke calls that reached the function with exactly these records;
    throttles are not counted (RETRY-6)."""

    records: tuple[PolledRecord, ...]
    invocations: int = 0
    last_request_id: str | None = None
    last_result: InvocationResult | None = None


class ShardProcessor:
    def __init__(
        self,
        reader: ShardReader,
        config: MappingConfig,
        invoker: Invoker,
        destination: Destination | None,
        clock: Clock,
        new_uuid: Callable[[], UUID],
    ) -> None:
        self.reader = reader
        self._config = config
        self._invoker = invoker
        self._destination = destination
        self._clock = clock
        self._new_uuid = new_uuid
        self._pending: list[PolledRecord] = []  # read, not yet in a batch, shard order
        self._queue: deque[Batch] = deque()  # [0] is the batch in flight; bisected halves follow
        self._window_opened_at: float | None = None
        self._undelivered: Discard | None = None
        self.checkpoint: str | None = None
        """The highest sequence number acknowledged or discarded (ORD-4, RETRY-10)."""

    @property
    def shard_id(self) -> str:
        return self.reader.shard_id

    @property
    def batches(self) -> tuple[tuple[PolledRecord, ...], ...]:
        """The batch in flight and the halves waiting behind it, in the order they will go."""
        return tuple(b.records for b in self._queue)

    @property
    def pending(self) -> tuple[PolledRecord, ...]:
        return tuple(self._pending)

    def poll(self) -> None:
        # A document that could not be delivered keeps the shard where it is until it goes
        # (no record may be lost: the checkpoint moves only once it is delivered).
        if self._undelivered is not None and not self._deliver(self._undelivered):
            return
        self._read()
        while True:
            batch = self._current_batch()
            if batch is None:
                return
            # RETRY-7/8/9: before every invocation, including retries.
            remaining = self._split_expired(batch)
            if self._undelivered is not None:
                return
            if remaining is None:
                continue  # nothing left to invoke: move on to the next batch in this poll
            self._invoke(remaining)
            return  # ORD-3: at most one invocation per shard per poll

    # ---- reading and batching ---------------------------------------------------------------

    def _read(self) -> None:
        # Read only when the pending records cannot fill a batch: a blocked shard does not pile
        # up records, and a full batch never waits for a read.
        if len(self._pending) >= self._config.batch_size:
            return
        records = self.reader.read()
        self._pending.extend(records)
        if records and not self._queue and self._window_opened_at is None:
            # BATCH-5: the window opens when the idle shard gets its first record.
            self._window_opened_at = self._clock.monotonic()

    def _current_batch(self) -> Batch | None:
        if self._queue:
            return self._queue[0]
        if not self._expire_pending():
            return None  # a document could not be delivered; the shard waits
        take = batch_take(self._pending, self._config.batch_size)  # BATCH-2, BATCH-6
        ready = batch_ready(
            pending=len(self._pending),
            take=take,
            batch_size=self._config.batch_size,
            window_seconds=self._config.batching_window_seconds,
            window_opened_at=self._window_opened_at,
            now=self._clock.monotonic(),
        )
        if not ready:
            return None  # BATCH-9: nothing to send, or the window is still open
        batch = Batch(tuple(self._pending[:take]))  # ORD-2: contiguous, in shard order
        del self._pending[:take]
        self._queue.append(batch)
        self._window_opened_at = None
        return batch

    def _finish_current(self) -> None:
        self._queue.popleft()
        if not self._queue:
            # BATCH-5 (uncertain start): "the next batching window begins as soon as the previous
            # function invocation completes" (DOC-ESM), so it opens now if records are waiting.
            self._window_opened_at = self._clock.monotonic() if self._pending else None

    def _replace_current(self, *batches: Batch) -> None:
        self._queue.popleft()
        self._queue.extendleft(reversed(batches))

    # ---- record age -------------------------------------------------------------------------

    def _expire_pending(self) -> bool:
        """Discard the records that are too old before a new batch is formed from them
        (RETRY-7, RETRY-8: never invoked, count 1, no responseContext), in documents of at most
        BatchSize records. Done before the batch is formed, not after, so the records that
        remain make a batch of their own that still honours BatchSize and the batching window
        (BATCH-5): a batch is never sent short just because its oldest records aged out.
        Returns False if a document could not be delivered."""
        limit = self._config.maximum_record_age_seconds
        if limit == -1:
            return True
        now = self._clock.now()
        age_limit = timedelta(seconds=limit)
        while self._pending and now - self._pending[0].arrival > age_limit:
            count = 1
            while (
                count < min(len(self._pending), self._config.batch_size)
                and now - self._pending[count].arrival > age_limit
            ):
                count += 1
            expired = tuple(self._pending[:count])
            del self._pending[:count]
            self._discard(expired, RECORD_AGE_EXCEEDED, invoke_count=1, request_id=None, response=None)
            if self._undelivered is not None:
                return False
        if not self._pending:
            self._window_opened_at = None  # the window opens again with the next record read
        return True

    def _split_expired(self, batch: Batch) -> Batch | None:
        """Split off the records of a formed batch that grew older than
        MaximumRecordAgeInSeconds while it was retried (or throttled), and discard them as one
        document (RETRY-7, RETRY-9). Returns the batch to invoke, or None if nothing is left."""
        limit = self._config.maximum_record_age_seconds
        if limit == -1:
            return batch
        now = self._clock.now()
        age_limit = timedelta(seconds=limit)
        # RETRY-7 (INF): age is measured from the record's arrival in the stream. Arrivals are
        # non-decreasing in shard order, so the expired records are a prefix; the maximal
        # expired prefix is taken, so a fresh record is never discarded for age.
        count = 0
        while count < len(batch.records) and now - batch.records[count].arrival > age_limit:
            count += 1
        if count == 0:
            return batch
        expired, rest = batch.records[:count], batch.records[count:]
        remaining = Batch(rest) if rest else None  # a changed record set: fresh count
        if remaining is None:
            self._finish_current()
        else:
            self._replace_current(remaining)
        # RETRY-8/9 (uncertain count): SEMANTICS takes the invocations so far of the batch the
        # records were in, or 1 if it was never invoked. Reason: the never-invoked recording
        # (RETRY-8) shows 1, and the expire-while-retrying recording shows 8 after repeated
        # failed invocations, which counting invocations explains (the older 1 does not fit a
        # retried batch). requestId: the last invocation's, or a new one if never invoked.
        # No responseContext (DLQ-5).
        self._discard(
            expired,
            RECORD_AGE_EXCEEDED,
            invoke_count=max(batch.invocations, 1),
            request_id=batch.last_request_id,
            response=None,
        )
        return remaining

    # ---- invoking and handling the outcome --------------------------------------------------

    def _invoke(self, batch: Batch) -> None:
        invocation = self._invoker.invoke(batch.records)
        outcome = invocation.outcome
        if isinstance(outcome, Throttled):
            # RETRY-6, BISECT-9: not counted, not bisected; the identical batch goes again on a
            # later poll.
            return
        batch.invocations += 1
        batch.last_request_id = invocation.request_id
        batch.last_result = invocation.result
        if isinstance(outcome, Success):
            self._acknowledge(batch.records)  # ORD-4
            self._finish_current()
        elif isinstance(outcome, PartialFailure):
            self._partial_failure(batch, outcome.lowest)
        elif isinstance(outcome, CompleteFailure):
            self._complete_failure(batch)

    def _partial_failure(self, batch: Batch, lowest: str) -> None:
        # PBF-3, BISECT-7: records before the lowest reported one are done; it and every later
        # record of the batch are retried.
        index = next(i for i, r in enumerate(batch.records) if r.sequence_number == lowest)
        if index > 0:
            self._acknowledge(batch.records[:index])
            # PBF-8 (uncertain): the shrunken batch starts a fresh attempt count, so it gets
            # MaximumRetryAttempts + 1 invocations of its own. Reason: in both AWS recordings the
            # always-reported record was delivered N+2 times with approximateInvokeCount N+1.
            self._replace_current(Batch(batch.records[index:]))
            return
        # PBF-7: the identical record set is retried, and that retry counts.
        if self._exhausted(batch):
            self._discard_exhausted(batch)

    def _complete_failure(self, batch: Batch) -> None:
        if self._config.bisect_on_function_error and len(batch.records) >= 2:
            # BISECT-2 (uncertain odd split): the lower half takes ceil(n/2) records and goes
            # first, keeping shard order. No source says which half gets the extra record;
            # ceil is the shared SEMANTICS choice (checkers accept floor or ceil).
            # BISECT-3: the split uses none of the retry quota.
            # BISECT-5 (uncertain): each half is a new batch with a fresh attempt count (the
            # TRAIN-W3 reading "it also resets the retry ... parameters"); record age is a
            # property of the record and is never reset. BISECT-6: BatchSize is unchanged.
            middle = math.ceil(len(batch.records) / 2)
            self._replace_current(Batch(batch.records[:middle]), Batch(batch.records[middle:]))
            return
        # RETRY-3/4/5; BISECT-5: a one-record batch is retried under MaximumRetryAttempts.
        if self._exhausted(batch):
            self._discard_exhausted(batch)

    def _exhausted(self, batch: Batch) -> bool:
        # RETRY-3: at most N + 1 invocations; RETRY-5: -1 never exhausts.
        retries = self._config.maximum_retry_attempts
        return retries != -1 and batch.invocations >= retries + 1

    def _discard_exhausted(self, batch: Batch) -> None:
        self._finish_current()
        # DLQ-11: approximateInvokeCount is the number of invocations of the discarded batch.
        # DLQ-10: after a partial failure the batch *is* the suffix, so the document covers it.
        self._discard(
            batch.records,
            RETRY_ATTEMPTS_EXHAUSTED,
            invoke_count=batch.invocations,
            request_id=batch.last_request_id,
            response=batch.last_result,
        )

    # ---- checkpoint and discards ------------------------------------------------------------

    def _acknowledge(self, records: Sequence[PolledRecord]) -> None:
        self.checkpoint = records[-1].sequence_number

    def _discard(
        self,
        records: tuple[PolledRecord, ...],
        condition: str,
        *,
        invoke_count: int,
        request_id: str | None,
        response: InvocationResult | None,
    ) -> None:
        discard = Discard(
            condition=condition,
            records=records,
            # DLQ-4 (uncertain): the last invocation's request id; a new one if never invoked.
            request_id=request_id or str(self._new_uuid()),
            invoke_count=invoke_count,
            response=response,
            at=self._clock.now(),  # DLQ-6: the time of the discard
        )
        self._deliver(discard)

    def _deliver(self, discard: Discard) -> bool:
        """Send the document (RETRY-10), or skip it silently with no destination (RETRY-11).
        The checkpoint moves past the records only once that is done."""
        if self._destination is not None:
            try:
                self._destination.deliver(discard)
            except ClientError:
                self._undelivered = discard
                return False
        self._undelivered = None
        self._acknowledge(discard.records)
        return True
