"""BISECT: BisectBatchOnFunctionError (SPEC §5).

BISECT-1 (a boolean parameter, default false) is left to the harness: rejecting a valid value
makes the run INCONCLUSIVE with the reason.
"""

from __future__ import annotations

import itertools

from conformance.rules.analysis import PAYLOAD_LIMIT, Analysis, Attempt, Run
from conformance.rules.common import (
    Findings,
    acceptable_retries,
    checker,
    doc_subject,
    first_reads,
    is_proper_prefix,
)
from conformance.rules.responses import OutcomeKind

__all__: list[str] = []


def _failed_multi(attempt: Attempt) -> bool:
    """A batch of two or more records that reached the function and failed completely."""
    return attempt.reached and attempt.kind is OutcomeKind.FAILURE and len(attempt.positions) >= 2


def _after(an: Analysis, attempt: Attempt) -> tuple[Attempt | None, list[tuple[int, ...]]]:
    """The attempt after a failed one, and the record sets a retry of it may hold."""
    following = an.next_attempt(attempt)
    at = following.at if following is not None else an.end_at
    return following, acceptable_retries(an, attempt, at)


def _halves(size: int) -> set[int]:
    """Split points of a batch in two halves: floor or ceil (BISECT-2 leaves the odd record's
    side open)."""
    return {size // 2, (size + 1) // 2} - {0, size}


def _split_candidates(an: Analysis, failed: Attempt, at: float, halves_only: bool) -> set[tuple[int, ...]]:
    """What the next attempt may carry after bisecting ``failed`` at time ``at``: the lower part
    without the records that grew too old meanwhile (RETRY-7), or, when the whole lower half
    grew too old, the upper half. A poller may halve before or after splitting off the expired
    records; ``halves_only`` limits the split point to floor or ceil."""
    retry = failed.retry
    candidates: set[tuple[int, ...]] = set()
    for rest in acceptable_retries(an, failed, at):
        for whole in (retry, rest):
            points = _halves(len(whole)) if halves_only else set(range(1, len(whole)))
            for cut in points:
                lower = tuple(p for p in whole[:cut] if p in rest)
                if lower:
                    candidates.add(lower)
            for cut in _halves(len(whole)):
                if not any(p in rest for p in whole[:cut]):
                    upper = tuple(p for p in whole[cut:] if p in rest)
                    if upper:
                        candidates.add(upper)
    return candidates


def _failed_attempts(an: Analysis) -> list[Attempt]:
    return [a for attempts in an.attempts.values() for a in attempts if _failed_multi(a)]


@checker("BISECT-2")
def split_on_function_error(an: Analysis, out: Findings) -> None:
    """A batch of two or more records that fails with a function error is split, and its lower
    part is invoked next (an invalid RBIF response may also be retried whole)."""
    if not an.settings.bisect:
        return
    for failed in _failed_attempts(an):
        out.exercise()
        span = an.labels(failed.shard_id, failed.positions)
        detail = failed.outcome.detail
        following, allowed = _after(an, failed)
        if following is None or not set(following.positions) & set(failed.retry):
            # Not retried at all: discarded. That is fine only for records grown too old.
            gone = an.discarded_after(an.run_of(failed))
            if gone and not an.age_justified(gone):
                out.violate(
                    f"batch {span} failed with {detail} in {failed.name} and was discarded without being "
                    "split; with BisectBatchOnFunctionError it is split in two and retried"
                )
            continue
        if any(len(a) < 2 for a in allowed) and following.positions in allowed:
            continue  # expiry left at most one record: nothing to split
        if following.positions in _split_candidates(an, failed, following.at, halves_only=False):
            continue
        if following.positions in allowed:
            if failed.outcome.invalid:
                continue  # SPEC is silent on bisecting invalid responses: either is accepted
            out.violate(
                f"batch {span} failed with {detail} in {failed.name} and was retried whole in "
                f"{following.name}; with BisectBatchOnFunctionError it is split in two"
            )
        else:
            out.violate(
                f"after batch {span} failed with {detail} in {failed.name}, {following.name} carried "
                f"{an.labels(failed.shard_id, following.positions)}; bisection retries the lower half, "
                f"starting at {an.label(an.record(failed.shard_id, allowed[0][0]))}, first"
            )


@checker("BISECT-3")
def split_keeps_quota(an: Analysis, out: Findings) -> None:
    """A split does not use up the retry quota: a record discarded under bisection reached the
    function (failing) at least MaximumRetryAttempts + 1 times."""
    quota = an.settings.quota
    if not an.settings.bisect or quota is None:
        return
    for fate in an.all_fates():
        if fate.acked_by is not None or fate.discard is None or fate.failed_deliveries == 0:
            continue
        if an.possibly_expired(fate.record, fate.discard.at):
            continue
        out.exercise()
        if fate.failed_deliveries < quota:
            out.violate(
                f"record {fate.label} was discarded after only {fate.failed_deliveries} failed "
                "invocation(s); "
                f"splitting a batch does not use up the retry quota, so it is invoked {quota} times "
                f"(MaximumRetryAttempts {an.settings.max_retries})"
            )


@checker("BISECT-4")
def split_until_isolated(an: Analysis, out: Findings) -> None:
    """Splits are in halves (floor or ceil) and repeat until the failing record is alone; a half
    that succeeds is not delivered again."""
    if not an.settings.bisect:
        return
    for failed in _failed_attempts(an):
        out.exercise()
        following = an.next_attempt(failed)
        if following is None:
            continue
        split = _split_candidates(an, failed, following.at, halves_only=False)
        if following.positions in split and following.positions not in _split_candidates(
            an, failed, following.at, halves_only=True
        ):
            size, parts = len(following.positions), len(failed.positions)
            out.violate(
                f"batch {an.labels(failed.shard_id, failed.positions)} was split into {size} + "
                f"{parts - size} records ({following.name}); bisection splits a batch in two halves"
            )
    for fate in an.all_fates():
        acked = fate.acked_by
        if acked is not None:
            again = next((a for a in fate.sends if a.index > acked.index), None)
            if again is not None:
                out.violate(
                    f"record {fate.label} succeeded in {acked.name} but was delivered again in {again.name}; "
                    "a half that succeeds is checkpointed"
                )
            continue
        if fate.discard is None or fate.failed_deliveries == 0:
            continue
        if an.possibly_expired(fate.record, fate.discard.at):
            continue
        last = fate.reached[-1]
        if last.outcome.function_error is None:
            continue  # exhausted partial failures discard the whole suffix (PBF-7)
        out.exercise()
        if len(last.positions) > 1:
            out.violate(
                f"record {fate.label} was discarded while still in a batch of {len(last.positions)} records "
                f"({last.name}); bisection keeps splitting until the failing record is alone"
            )


def _isolated(an: Analysis, run: Run) -> bool:
    """A one-record batch made by bisection: its record failed before in a larger batch."""
    if len(run.positions) != 1:
        return False
    fate = an.fate(run.shard_id, run.positions[0])
    return any(
        a.index < run.first.index and a.reached and len(a.positions) > 1 and a.kind is OutcomeKind.FAILURE
        for a in fate.sends
    )


@checker("BISECT-5")
def isolated_record_retries(an: Analysis, out: Findings) -> None:
    """A record isolated by bisection is retried under MaximumRetryAttempts (a fresh count: N + 1
    invocations alone) and then discarded with RetryAttemptsExhausted."""
    quota = an.settings.quota
    if not an.settings.bisect:
        return
    for runs in an.runs.values():
        for run in runs:
            if not _isolated(an, run) or not any(
                a.reached and a.kind is OutcomeKind.FAILURE for a in run.attempts
            ):
                continue
            out.exercise()
            gone = an.discarded_after(run)
            if not gone or an.age_justified(gone):
                continue
            label = gone[0].label
            if quota is not None and run.real != quota:
                out.violate(
                    f"record {label}, isolated by bisection, was invoked {run.real} time(s) alone "
                    "before it was discarded; a one-record batch is retried under MaximumRetryAttempts "
                    f"{an.settings.max_retries}: {quota} invocations"
                )
            doc = gone[0].discard.doc if gone[0].discard is not None else None
            if doc is not None and doc.condition != "RetryAttemptsExhausted":
                out.violate(
                    f"{doc_subject(an, doc)} gives condition {doc.condition!r} for isolated record {label}; "
                    "it is discarded with RetryAttemptsExhausted"
                )


@checker("BISECT-6")
def batch_size_unchanged(an: Analysis, out: Findings) -> None:
    """Bisection does not change BatchSize: batches polled after it are full size again."""
    if not an.settings.bisect:
        return
    reads = first_reads(an)
    limit = an.settings.batch_size
    for shard_id, runs in an.runs.items():
        smallest: int | None = None
        for run in runs:
            if run.origin == "split":
                smallest = len(run.positions) if smallest is None else min(smallest, len(run.positions))
                continue
            attempt = run.first
            fresh = all(an.fate(shard_id, p).sends[0].number == attempt.number for p in attempt.positions)
            if smallest is None or not fresh or len(attempt.positions) >= limit:
                continue
            waiting = 0
            for position in range(attempt.last + 1, len(an.shards[shard_id])):
                fate = an.fate(shard_id, position)
                read = reads.get((shard_id, position))
                if (
                    read is None
                    or read >= attempt.index
                    or (fate.sends and fate.sends[0].index < attempt.index)
                ):
                    break
                waiting += 1
            if len(attempt.positions) <= smallest and waiting == 0:
                continue
            out.exercise()
            if waiting and len(attempt.positions) <= smallest and not _would_cap(an, attempt):
                out.violate(
                    f"after bisection, {attempt.name} carried only {len(attempt.positions)} new record(s) "
                    f"although record {an.label(an.record(shard_id, attempt.last + 1))} had "
                    f"already been read; bisection does not change BatchSize ({limit})"
                )


def _would_cap(an: Analysis, attempt: Attempt) -> bool:
    record = an.record(attempt.shard_id, attempt.last + 1)
    return len(attempt.view.invocation.payload) + len(record.data) * 4 // 3 + 400 > PAYLOAD_LIMIT


@checker("BISECT-7")
def bisect_with_rbif(an: Analysis, out: Findings) -> None:
    """With ReportBatchItemFailures on, a function error is still bisected, while a partial
    failure is retried from the reported record to the end of the batch, not split."""
    if not (an.settings.bisect and an.settings.rbif):
        return
    for attempts in an.attempts.values():
        for last in attempts:
            if not last.reached:
                continue
            span = an.labels(last.shard_id, last.positions)
            following, allowed = _after(an, last)
            if last.kind is OutcomeKind.FAILURE and last.outcome.function_error and len(last.positions) >= 2:
                out.exercise()
                retried_whole = (
                    following is not None
                    and following.positions in allowed
                    and following.positions
                    not in _split_candidates(an, last, following.at, halves_only=False)
                )
                if retried_whole and following is not None and all(len(a) >= 2 for a in allowed):
                    out.violate(
                        f"with ReportBatchItemFailures on, batch {span} failed with {last.outcome.detail} in "
                        f"{last.name} and was retried whole in {following.name}; function errors are still "
                        "bisected"
                    )
            elif last.kind is OutcomeKind.PARTIAL and len(last.retry) >= 2:
                out.exercise()
                if following is not None and any(is_proper_prefix(following.positions, a) for a in allowed):
                    out.violate(
                        f"{last.name} returned {last.outcome.detail}, and {following.name} retried only "
                        f"{an.labels(last.shard_id, following.positions)}; a partial failure is retried from "
                        f"the reported record {an.label(an.record(last.shard_id, last.retry[0]))} "
                        "to the end of the batch, not bisected"
                    )


@checker("BISECT-8")
def merged_documents(an: Analysis, out: Findings) -> None:
    """Under bisection a document may describe several records (merged metadata), but only
    records that failed and were not acknowledged."""
    if not an.settings.bisect:
        return
    for doc in an.docs:
        if doc.shard_id is None or not doc.positions:
            continue
        out.exercise()
        for position in doc.positions:
            fate = an.fate(doc.shard_id, position)
            acked = fate.acked_by
            if acked is not None and acked.index < doc.index:
                out.violate(f"{doc.name} describes record {fate.label}, which had succeeded in {acked.name}")
                break
            failed = any(a.reached and a.index < doc.index and position not in a.acked for a in fate.sends)
            if not failed and not an.possibly_expired(fate.record, doc.at):
                out.violate(
                    f"{doc.name} describes record {fate.label}, which never failed; merged "
                    "documents describe failed records only"
                )
                break


@checker("BISECT-9")
def throttles_not_bisected(an: Analysis, out: Findings) -> None:
    """Bisection applies to function errors only: a throttled batch is retried whole."""
    if not an.settings.bisect:
        return
    for shard_id, attempts in an.attempts.items():
        for throttled, following in itertools.pairwise(attempts):
            if throttled.reached or len(throttled.positions) < 2:
                continue
            out.exercise()
            allowed = acceptable_retries(an, throttled, following.at)
            if following.positions not in allowed and any(
                is_proper_prefix(following.positions, a) for a in allowed
            ):
                out.violate(
                    f"after {throttled.name} was throttled with {an.labels(shard_id, throttled.positions)}, "
                    f"{following.name} retried only {an.labels(shard_id, following.positions)}; "
                    "throttles are retried whole, bisection applies to function errors only"
                )
