"""RETRY: retries after function errors, throttles, record age, and what a discard does
(SPEC §4).

RETRY-1 and RETRY-2 (valid parameter ranges) are left to the harness: a poller that rejects a
valid value raises, and the run is INCONCLUSIVE with the reason. RETRY-12 (backoff) is not
specified and RETRY-13 (timeouts) cannot be observed: the scripted function never times out.
"""

from __future__ import annotations

from conformance.rules.analysis import Analysis, Fate, Run, seconds
from conformance.rules.common import (
    Findings,
    acceptable_retries,
    checker,
    credited,
    doc_subject,
    may_have_expired_unsent,
)
from conformance.rules.responses import OutcomeKind

__all__: list[str] = []


def _complete_failure_run(run: Run) -> bool:
    """Every attempt that reached the function failed completely (throttles may be mixed in)."""
    reached = [a for a in run.attempts if a.reached]
    return bool(reached) and all(a.kind is OutcomeKind.FAILURE for a in reached)


def _how(fate: Fate) -> str:
    discard = fate.discard
    if discard is None:
        return "pending"
    if discard.doc is not None:
        return f"sent to the destination in {discard.doc.name}"
    if discard.how == "skipped":
        return f"skipped at {seconds(discard.at)}"
    return "left unprocessed when the run settled"


@checker("RETRY-3")
def retried_then_discarded(an: Analysis, out: Findings) -> None:
    """A failed batch is retried as the same batch, at most MaximumRetryAttempts + 1 times in
    all, and is not discarded before that."""
    quota = an.settings.quota
    for runs in an.runs.values():
        for run in runs:
            if not _complete_failure_run(run):
                continue
            out.exercise()
            span = an.labels(run.shard_id, run.positions)
            if quota is not None and run.real > quota:
                out.violate(
                    f"batch {span} was invoked {run.real} times in a row; MaximumRetryAttempts "
                    f"{an.settings.max_retries} allows at most {quota}"
                )
            if an.settings.bisect and len(run.positions) >= 2:
                continue  # bisection decides what follows (BISECT-2)
            following = run.following
            if following is not None and set(following.positions) & set(run.positions):
                allowed = acceptable_retries(an, run.last, following.at)
                if following.positions not in allowed:
                    out.violate(
                        f"after {run.last.name} failed with {run.last.outcome.detail}, the retry "
                        f"{following.name} carried {an.labels(run.shard_id, following.positions)}; a failed "
                        f"batch is retried as the same batch ({span})"
                    )
                continue
            gone = an.discarded_after(run)
            if not gone or an.age_justified(gone) or quota is None:
                continue  # pending, expired, or unlimited retries (RETRY-5)
            if credited(an, run, gone) < quota:
                out.violate(
                    f"batch {span} was {_how(gone[0])} after {run.real} invocation(s); with "
                    f"MaximumRetryAttempts {an.settings.max_retries} it is invoked {quota} times before "
                    "it is discarded"
                )


@checker("RETRY-4")
def zero_retries(an: Analysis, out: Findings) -> None:
    """With MaximumRetryAttempts 0 a batch is invoked once; if that fails it is discarded at
    once."""
    if an.settings.max_retries != 0:
        return
    for runs in an.runs.values():
        for run in runs:
            if not any(
                a.reached and a.kind in (OutcomeKind.FAILURE, OutcomeKind.PARTIAL) for a in run.attempts
            ):
                continue
            out.exercise()
            span = an.labels(run.shard_id, run.positions)
            if run.real > 1:
                out.violate(
                    f"batch {span} was invoked {run.real} times; with MaximumRetryAttempts 0 a batch is "
                    "invoked once"
                )
                continue
            following = run.following
            if (
                not an.settings.bisect
                and run.last.kind is OutcomeKind.FAILURE
                and following is not None
                and set(following.positions) & set(run.positions)
            ):
                out.violate(
                    f"after {run.last.name} failed, records of batch {span} were invoked again in "
                    f"{following.name}; with MaximumRetryAttempts 0 a failed batch is discarded at once"
                )


@checker("RETRY-5")
def unlimited_retries(an: Analysis, out: Findings) -> None:
    """With MaximumRetryAttempts -1 a failing record is retried until it is too old (or expires
    from the stream); it is never discarded before."""
    if an.settings.max_retries >= 0:
        return
    limit = an.settings.max_age
    for fate in an.all_fates():
        if not fate.in_scope or fate.failed_deliveries == 0:
            continue
        out.exercise()
        discard = fate.discard
        if discard is None or fate.acked_by is not None:
            continue
        if discard.doc is not None and discard.doc.condition == "RetryAttemptsExhausted":
            out.violate(
                f"record {fate.label} was {_how(fate)} with condition RetryAttemptsExhausted after "
                f"{fate.failed_deliveries} failed invocation(s), although MaximumRetryAttempts is -1 (retry "
                "until the record expires)"
            )
        elif not an.possibly_expired(fate.record, discard.at):
            age = an.age(fate.record, discard.at)
            limit_text = f"MaximumRecordAgeInSeconds {limit:g}" if limit is not None else "no age limit"
            out.violate(
                f"record {fate.label} was {_how(fate)} after {fate.failed_deliveries} failed invocation(s) "
                f"although MaximumRetryAttempts is -1 and it was only {age:.1f} s old ({limit_text}); it is "
                "retried until it expires"
            )


# GetRecords errors that say "read less often": the stream's throughput limits (Kinesis,
# DynamoDB Streams) and KMS throttling. Nothing reached the function.
_READ_THROTTLES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "ThrottlingException",
        "KMSThrottlingException",
    }
)


def _throttled_reads(an: Analysis) -> list[tuple[int, float, str]]:
    """(trace position, time, error code) of every GetRecords call the stream throttled."""
    return [
        (call.index, an.offset(call.at), str(call.error_code))
        for call in an.observation.trace.calls
        if call.operation in ("get_records", "GetRecords") and call.error_code in _READ_THROTTLES
    ]


@checker("RETRY-6")
def throttles_do_not_count(an: Analysis, out: Findings) -> None:
    """Throttles (failures before the function ran: a throttled Invoke, or a throttled GetRecords
    read) are retried until the records expire and do not count toward MaximumRetryAttempts."""
    quota = an.settings.quota
    reads = _throttled_reads(an)
    out.exercise(len(reads))
    for runs in an.runs.values():
        for run in runs:
            if reads and quota is not None:
                _read_throttles_not_counted(an, out, run, reads, quota)
            if run.throttles == 0:
                continue
            out.exercise(run.throttles)
            gone = an.discarded_after(run)
            if not gone or an.age_justified(gone):
                continue
            span = an.labels(run.shard_id, run.positions)
            if not run.last.reached:
                out.violate(
                    f"batch {span} was {_how(gone[0])} right after the throttle in {run.last.name}; a "
                    "throttled batch is retried until its records expire"
                )
            elif quota is not None and run.real + run.inherited < quota <= len(run.attempts) + run.inherited:
                # Counting the throttles would explain the early discard; fewer attempts than
                # that, throttles included, is RETRY-3's to report.
                out.violate(
                    f"batch {span} was {_how(gone[0])} after {run.real} invocation(s) and {run.throttles} "
                    f"throttle(s); throttles do not count toward MaximumRetryAttempts "
                    f"{an.settings.max_retries}, so it is invoked {quota} times"
                )


def _read_throttles_not_counted(
    an: Analysis, out: Findings, run: Run, reads: list[tuple[int, float, str]], quota: int
) -> None:
    """A failing batch discarded before its quota, with throttled reads meanwhile: the poller
    took the throttled reads for failed invocations (RETRY-3 reports early discards too; this
    names the cause)."""
    if not _complete_failure_run(run) or (an.settings.bisect and len(run.positions) >= 2):
        return
    gone = an.discarded_after(run)
    if not gone or an.age_justified(gone) or credited(an, run, gone) >= quota:
        return
    discard = gone[0].discard
    assert discard is not None  # discarded_after returns discarded records only
    during = [r for r in reads if run.first.index < r[0] < discard.index]
    if not during:
        return
    _, at, code = during[0]
    out.violate(
        f"batch {an.labels(run.shard_id, run.positions)} was {_how(gone[0])} after {run.real} invocation(s) "
        f"while {len(during)} GetRecords call(s) were throttled ({code} at {seconds(at)}); a throttled read "
        f"is not a failed invocation, so with MaximumRetryAttempts {an.settings.max_retries} the batch is "
        f"invoked {quota} times"
    )


@checker("RETRY-7")
def record_age(an: Analysis, out: Findings) -> None:
    """Records older than MaximumRecordAgeInSeconds are not sent to the function; they are
    discarded as RecordAgeExceeded, apart from the fresh records of their batch."""
    limit = an.settings.max_age
    if limit is None:
        return
    for fate in an.all_fates():
        if not fate.in_scope:
            continue
        deadline = an.arrival(fate.record) + limit - an.age_tolerance
        acked_early = fate.acked_by is not None and fate.acked_by.at < deadline
        if not acked_early and an.end_at >= deadline:
            out.exercise()
        late = next((a for a in fate.sends if an.surely_expired(fate.record, a.at)), None)
        if late is not None:
            out.violate(
                f"{late.name} sent record {fate.label} although it was "
                f"{an.age(fate.record, late.at):.3f} s old, "
                f"over MaximumRecordAgeInSeconds {limit:g}; a record that old is discarded, not invoked"
            )
    for doc in an.docs:
        if doc.condition != "RecordAgeExceeded" or doc.shard_id is None:
            continue
        out.exercise()
        for position in doc.positions:
            record = an.record(doc.shard_id, position)
            if not an.possibly_expired(record, doc.at):
                out.violate(
                    f"{doc.name} discarded record {an.label(record)} as RecordAgeExceeded although "
                    "it was only "
                    f"{an.age(record, doc.at):.3f} s old (limit {limit:g} s); fresh records of a batch are "
                    "invoked, only the expired ones are discarded"
                )
                break


@checker("RETRY-8")
def expired_before_invocation(an: Analysis, out: Findings) -> None:
    """A record already too old when first polled is discarded without an invocation; its
    document says RecordAgeExceeded, approximateInvokeCount 1, and has no responseContext."""
    for doc in an.docs:
        if doc.condition != "RecordAgeExceeded" or doc.shard_id is None or not doc.positions:
            continue
        fates = [an.fate(doc.shard_id, p) for p in doc.positions]
        if any(a.reached and a.index < doc.index for f in fates for a in f.sends):
            continue
        out.exercise()
        context = doc.request_context or {}
        count = context.get("approximateInvokeCount")
        if count != 1 or isinstance(count, bool):
            out.violate(
                f"{doc_subject(an, doc)} (never invoked) has approximateInvokeCount {count!r}; a record "
                "discarded before any invocation is reported with 1"
            )
        if doc.document is not None and "responseContext" in doc.document:
            out.violate(
                f"{doc_subject(an, doc)} (never invoked) has a responseContext; a record discarded before "
                "any invocation has none"
            )


@checker("RETRY-9")
def whichever_limit_first(an: Analysis, out: Findings) -> None:
    """With an age limit, whichever limit is reached first ends the retries, and the condition
    says which; for RecordAgeExceeded approximateInvokeCount is at least 1."""
    if an.settings.max_age is None:
        return
    quota = an.settings.quota
    for doc in an.docs:
        if doc.shard_id is None or not doc.positions:
            continue
        out.exercise()
        condition = doc.condition
        if condition == "RecordAgeExceeded":
            count = (doc.request_context or {}).get("approximateInvokeCount")
            if not isinstance(count, int) or isinstance(count, bool) or count < 1:
                out.violate(
                    f"{doc_subject(an, doc)} has approximateInvokeCount {count!r}; for "
                    "RecordAgeExceeded it is an integer of at least 1"
                )
        elif condition == "RetryAttemptsExhausted" and quota is not None:
            last = an.last_reaching_attempt(doc.shard_id, doc.positions[0], doc.index)
            if last is None:
                continue
            run = an.run_of(last)
            fates = [an.fate(doc.shard_id, p) for p in doc.positions]
            expired = all(an.possibly_expired(f.record, doc.at) for f in fates)
            if credited(an, run, fates) < quota and expired:
                out.violate(
                    f"{doc_subject(an, doc)} gives condition RetryAttemptsExhausted, but the batch had been "
                    f"invoked only {run.real} of {quota} times: it was discarded because its records were "
                    f"older than {an.settings.max_age:g} s, so the condition is RecordAgeExceeded"
                )


def _later_waiting(an: Analysis, shard_id: str, after_position: int, index: int) -> Fate | None:
    """The first in-scope record after ``after_position`` still unresolved at trace position
    ``index`` that arrived early enough to be processed before the run ended."""
    horizon = an.end_at - an.slack - an.settings.window
    for fate in an.shard_fates(shard_id)[after_position + 1 :]:
        if not fate.in_scope:
            continue
        if fate.acked_by is not None and fate.acked_by.index < index:
            continue
        if fate.discard is not None and fate.discard.index < index:
            continue
        if not fate.sends and may_have_expired_unsent(an, fate, an.end_at):
            continue  # too old to invoke: dropped (silently with no destination), which is progress
        return fate if an.written(fate.record) <= horizon else None
    return None


def _touched_after(an: Analysis, shard_id: str, position: int, index: int) -> bool:
    return any(a.index > index and a.last > position for a in an.attempts[shard_id]) or any(
        d.shard_id == shard_id and d.index > index and d.positions and d.positions[-1] > position
        for d in an.docs
    )


@checker("RETRY-10")
def discard_unblocks(an: Analysis, out: Findings) -> None:
    """After a discard the checkpoint moves past the batch: its records are not delivered again
    and the shard's later records are processed."""
    for doc in an.docs:
        if doc.shard_id is None or not doc.positions:
            continue
        out.exercise()
        again = next(
            (
                a
                for a in an.attempts[doc.shard_id]
                if a.index > doc.index and set(a.positions) & set(doc.positions)
            ),
            None,
        )
        if again is not None:
            position = min(set(again.positions) & set(doc.positions))
            out.violate(
                f"record {an.label(an.record(doc.shard_id, position))} was delivered again in "
                f"{again.name} after "
                f"{doc.name} had discarded it; a discard moves the checkpoint past the batch"
            )
            continue
        waiting = _later_waiting(an, doc.shard_id, doc.positions[-1], doc.index)
        if waiting is not None and not _touched_after(an, doc.shard_id, doc.positions[-1], doc.index):
            out.violate(
                f"after {doc_subject(an, doc)}, record {waiting.label} (written at "
                f"{seconds(an.written(waiting.record))}) was never processed; a discard unblocks the shard"
            )


@checker("RETRY-11")
def silent_skip(an: Analysis, out: Findings) -> None:
    """With no on-failure destination, discarded records are skipped silently: nothing is
    written anywhere, and processing continues."""
    if an.settings.destination_kind is not None:
        return
    for doc in an.docs:
        out.exercise()
        out.violate(
            f"the poller wrote {doc_subject(an, doc)} to {doc.write.target}, although no "
            "on-failure destination is configured; discarded records are skipped silently"
        )
    quota = an.settings.quota
    if quota is None:
        return
    for runs in an.runs.values():
        for run in runs:
            last = run.last
            exhausted = last.reached and last.kind is not OutcomeKind.SUCCESS and run.real >= quota
            if not exhausted or (an.settings.bisect and len(last.retry) >= 2):
                continue
            out.exercise()
            if run.following is not None or not last.retry:
                continue
            waiting = _later_waiting(an, run.shard_id, last.retry[-1], last.index)
            if waiting is not None and not _touched_after(an, run.shard_id, last.retry[-1], last.index):
                out.violate(
                    f"after batch {an.labels(run.shard_id, run.positions)} used its {quota} invocation(s), "
                    f"record {waiting.label} was never processed; with no destination the batch is skipped "
                    "and processing continues"
                )
