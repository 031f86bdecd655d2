"""PBF: ReportBatchItemFailures and the partial batch response (SPEC §6).

Outcomes are classified by ``responses.classify``, the kit's own reading of PBF-4 and PBF-5.
"""

from __future__ import annotations

from conformance.rules.analysis import Analysis, Attempt, Doc
from conformance.rules.common import (
    Findings,
    acceptable_retries,
    checker,
    credited,
    doc_subject,
    is_proper_prefix,
)
from conformance.rules.responses import OutcomeKind, describe_value

__all__: list[str] = []


def _response(attempt: Attempt) -> str:
    payload = attempt.view.invocation.response_payload
    text = payload.decode("utf-8", "replace")
    return describe_value(text) if len(text) <= 80 else describe_value(text[:79] + "…")


def _acknowledged_check(an: Analysis, out: Findings, attempt: Attempt, why: str) -> None:
    """A fully successful attempt's records are neither delivered again nor discarded."""
    following = an.next_attempt(attempt)
    if following is not None:
        again = sorted(set(following.positions) & set(attempt.positions))
        if again:
            out.violate(
                f"{attempt.name} returned {why}, yet record "
                f"{an.label(an.record(attempt.shard_id, again[0]))} was delivered again in {following.name}"
            )
            return
    for doc in an.docs:
        if (
            doc.shard_id == attempt.shard_id
            and doc.index > attempt.index
            and set(doc.positions) & set(attempt.positions)
        ):
            position = min(set(doc.positions) & set(attempt.positions))
            out.violate(
                f"{attempt.name} returned {why}, yet record "
                f"{an.label(an.record(attempt.shard_id, position))} was discarded in {doc.name}"
            )
            return


@checker("PBF-1")
def return_value_ignored_when_off(an: Analysis, out: Findings) -> None:
    """With ReportBatchItemFailures off the function's return value is ignored: any return
    without a function error acknowledges the whole batch."""
    if an.settings.rbif:
        return
    for attempts in an.attempts.values():
        for attempt in attempts:
            if attempt.kind is not OutcomeKind.SUCCESS:
                continue
            out.exercise()
            _acknowledged_check(
                an,
                out,
                attempt,
                f"{_response(attempt)} without a function error, which counts as success while "
                "ReportBatchItemFailures is off",
            )


@checker("PBF-2")
def identifiers_are_sequence_numbers(an: Analysis, out: Findings) -> None:
    """``itemIdentifier`` is the record's sequence number: a response naming records of the batch
    is a partial failure, not a complete one (records before the lowest are processed)."""
    if not an.settings.rbif:
        return
    for attempts in an.attempts.values():
        for attempt in attempts:
            if attempt.kind is not OutcomeKind.PARTIAL or not attempt.acked:
                continue
            out.exercise()
            first = an.record(attempt.shard_id, attempt.first)
            following = an.next_attempt(attempt)
            restarted = following is not None and following.first == attempt.first
            documented = next(
                (
                    d
                    for d in an.docs_between(
                        attempt.shard_id, attempt.index, following.index if following else 1 << 60
                    )
                    if d.positions and d.positions[0] == attempt.first
                ),
                None,
            )
            if restarted or documented is not None:
                where = following.name if restarted and following is not None else _doc_name(documented)
                out.violate(
                    f"{attempt.name} returned {attempt.outcome.detail}, naming records by sequence "
                    f"number, yet {where} treated the whole batch from {an.label(first)} as failed; a valid "
                    "partial failure acknowledges the records before the lowest reported one"
                )


def _doc_name(doc: Doc | None) -> str:
    return doc.name if doc is not None else "a document"


@checker("PBF-3")
def retry_from_lowest(an: Analysis, out: Findings) -> None:
    """After a partial failure the retry begins at the lowest reported record (numeric
    comparison) and holds every later record of the batch."""
    if not an.settings.rbif:
        return
    for attempts in an.attempts.values():
        for attempt in attempts:
            if attempt.kind is not OutcomeKind.PARTIAL or not attempt.retry:
                continue
            out.exercise()
            following = an.next_attempt(attempt)
            if following is None:
                continue
            if attempt.acked and following.first == attempt.first:
                continue  # the whole batch was restarted: PBF-2
            if not set(following.positions) & set(attempt.retry):
                continue  # the rest was discarded, not retried: PBF-7 and PBF-8 judge that
            allowed = acceptable_retries(an, attempt, following.at)
            if following.positions in allowed:
                continue
            if an.settings.bisect and any(is_proper_prefix(following.positions, a) for a in allowed):
                continue  # bisected: BISECT-7
            lowest = an.record(attempt.shard_id, attempt.retry[0])
            if following.first not in (a[0] for a in allowed if a):
                out.violate(
                    f"{attempt.name} returned {attempt.outcome.detail}; the lowest reported record "
                    f"(compared as integers) is {an.label(lowest)}, but the retry {following.name} began at "
                    f"{an.label(an.record(attempt.shard_id, following.first))}"
                )
            else:
                missing = sorted(set(allowed[0]) - set(following.positions))
                extra = sorted(set(following.positions) - set(allowed[0]))
                what = (
                    f"lacks record {an.label(an.record(attempt.shard_id, missing[0]))}"
                    if missing
                    else f"adds record {an.label(an.record(attempt.shard_id, extra[0]))}"
                )
                out.violate(
                    f"the retry {following.name} after {attempt.name} returned "
                    f"{attempt.outcome.detail} {what}; "
                    f"it holds the lowest reported record {an.label(lowest)} and every later "
                    "record of the batch"
                )


@checker("PBF-4")
def success_forms(an: Analysis, out: Findings) -> None:
    """null, {}, [], "", {"batchItemFailures": []} and {"batchItemFailures": null} are complete
    success: the batch is invoked once."""
    if not an.settings.rbif:
        return
    for attempts in an.attempts.values():
        for attempt in attempts:
            if attempt.kind is not OutcomeKind.SUCCESS:
                continue
            out.exercise()
            _acknowledged_check(
                an, out, attempt, f"{attempt.outcome.detail}, which counts as complete success"
            )


def _complete_failure(an: Analysis, out: Findings, attempt: Attempt, expected_error: str | None) -> None:
    """What PBF-5 and PBF-6 share: a complete failure is retried from its first record, or
    discarded whole once the retries are used up."""
    following = an.next_attempt(attempt)
    at = following.at if following is not None else an.end_at
    allowed = acceptable_retries(an, attempt, at)
    first = an.record(attempt.shard_id, attempt.first)
    detail = attempt.outcome.detail
    if following is not None and set(following.positions) & set(attempt.positions):
        if following.first not in (a[0] for a in allowed if a):
            out.violate(
                f"after {attempt.name} returned {detail}, a complete failure, the retry "
                f"{following.name} began at "
                f"{an.label(an.record(attempt.shard_id, following.first))} instead of {an.label(first)}"
            )
        return
    run = an.run_of(attempt)
    if run.last is not attempt:
        return
    gone = an.discarded_after(run)
    if not gone or an.age_justified(gone):
        return
    quota = an.settings.quota
    if an.settings.bisect and len(attempt.positions) >= 2 and not attempt.outcome.invalid:
        return  # BISECT-2 judges a batch discarded instead of split
    if quota is None or credited(an, run, gone) < quota:
        out.violate(
            f"after {attempt.name} returned {detail}, which counts as a complete failure, the "
            "poller moved past "
            f"{an.labels(attempt.shard_id, attempt.positions)} after {run.real} invocation(s) "
            f"without retrying it (MaximumRetryAttempts {an.settings.max_retries})"
        )
        return
    doc = gone[0].discard.doc if gone[0].discard is not None else None
    if doc is None:
        return
    problems = []
    described = acceptable_retries(an, attempt, doc.at)
    if doc.positions and doc.positions not in described and doc.positions != attempt.positions:
        problems.append(
            f"it describes {an.labels(attempt.shard_id, doc.positions)} instead of the whole batch"
        )
    if doc.condition != "RetryAttemptsExhausted":
        problems.append(f"condition {doc.condition!r} instead of 'RetryAttemptsExhausted'")
    response = doc.document.get("responseContext") if doc.document is not None else None
    if not isinstance(response, dict):
        problems.append("it has no responseContext")
    else:
        if response.get("statusCode") != 200:
            problems.append(f"statusCode {response.get('statusCode')!r} instead of 200")
        if "functionError" not in response or response["functionError"] != expected_error:
            problems.append(
                f"functionError {response.get('functionError', '(absent)')!r} instead of {expected_error!r}"
            )
    if problems:
        out.violate(
            f"{doc_subject(an, doc)}, discarding the batch of {attempt.name} ({detail}): "
            f"{'; '.join(problems)}"
        )


@checker("PBF-5")
def invalid_forms(an: Analysis, out: Findings) -> None:
    """An invalid response (empty, null or missing identifier, an identifier not in the batch)
    is a complete failure under the retry policy; once exhausted the document describes the whole
    batch with statusCode 200 and functionError null."""
    if not an.settings.rbif:
        return
    for attempts in an.attempts.values():
        for attempt in attempts:
            if attempt.kind is OutcomeKind.FAILURE and attempt.outcome.invalid:
                out.exercise()
                _complete_failure(an, out, attempt, None)


@checker("PBF-6")
def unhandled_with_rbif(an: Analysis, out: Findings) -> None:
    """With ReportBatchItemFailures on, an unhandled exception is a complete failure; its
    document says functionError "Unhandled"."""
    if not an.settings.rbif:
        return
    for attempts in an.attempts.values():
        for attempt in attempts:
            error = attempt.outcome.function_error
            if attempt.kind is OutcomeKind.FAILURE and error is not None:
                out.exercise()
                _complete_failure(an, out, attempt, error)


@checker("PBF-7")
def partial_retries_count(an: Analysis, out: Findings) -> None:
    """Retries after partial failures count against MaximumRetryAttempts; when they run out, the
    records from the lowest reported one to the end are discarded with RetryAttemptsExhausted,
    statusCode 200 and functionError null."""
    if not an.settings.rbif:
        return
    quota = an.settings.quota
    for runs in an.runs.values():
        for run in runs:
            if not any(a.kind is OutcomeKind.PARTIAL for a in run.attempts):
                continue
            out.exercise()
            span = an.labels(run.shard_id, run.positions)
            if quota is not None and run.real > quota:
                out.violate(
                    f"batch {span} was invoked {run.real} times in a row after partial failures; they count "
                    f"against MaximumRetryAttempts {an.settings.max_retries} (at most {quota} invocations)"
                )
            last = run.last
            if last.kind is not OutcomeKind.PARTIAL or last.acked:
                continue  # a shrinking partial failure starts a new batch (PBF-8)
            gone = an.discarded_after(run)
            if not gone or an.age_justified(gone) or quota is None:
                continue
            if credited(an, run, gone) < quota:
                out.violate(
                    f"batch {span} was discarded after {run.real} invocation(s) ending in partial failures; "
                    f"MaximumRetryAttempts {an.settings.max_retries} allows {quota}"
                )
                continue
            doc = gone[0].discard.doc if gone[0].discard is not None else None
            if doc is None:
                continue
            problems = []
            if doc.positions and doc.positions not in acceptable_retries(an, last, doc.at):
                problems.append(
                    f"it describes {an.labels(run.shard_id, doc.positions)} instead of the records "
                    "from the lowest "
                    f"reported one to the end of the batch ({an.labels(run.shard_id, last.retry)})"
                )
            if doc.condition != "RetryAttemptsExhausted":
                problems.append(f"condition {doc.condition!r} instead of 'RetryAttemptsExhausted'")
            response = doc.document.get("responseContext") if doc.document is not None else None
            if (
                not isinstance(response, dict)
                or response.get("statusCode") != 200
                or response.get("functionError", "?") is not None
            ):
                problems.append(
                    f"responseContext {describe_value(response)} instead of statusCode 200 and "
                    "functionError null"
                )
            if problems:
                out.violate(f"{doc_subject(an, doc)}: {'; '.join(problems)}")


@checker("PBF-8")
def shrunken_batch_count(an: Analysis, out: Findings) -> None:
    """After a partial failure shrinks the batch, the shrunken batch SHOULD get a fresh count:
    MaximumRetryAttempts + 1 invocations before it is discarded."""
    quota = an.settings.quota
    if not an.settings.rbif or quota is None:
        return
    for runs in an.runs.values():
        for run in runs:
            last = run.last
            if last.kind is OutcomeKind.PARTIAL and last.acked:
                # The suffix left by this partial failure: discarded without being invoked?
                gone = an.discarded_after(run)
                if len(gone) == len(last.retry) and not an.age_justified(gone):
                    out.exercise()
                    out.violate(
                        f"after {last.name} returned {last.outcome.detail}, the shrunken batch "
                        f"{an.labels(run.shard_id, last.retry)} was discarded without being invoked; it gets "
                        f"{quota} invocations of its own"
                    )
            if run.origin != "shrink" or not any(
                a.reached and a.kind is not OutcomeKind.SUCCESS for a in run.attempts
            ):
                continue
            out.exercise()
            gone = an.discarded_after(run)
            if gone and not an.age_justified(gone) and run.real < quota:
                out.violate(
                    "after a partial failure shrank the batch to "
                    f"{an.labels(run.shard_id, run.positions)}, the "
                    f"shrunken batch was invoked only {run.real} time(s) before it was discarded; "
                    f"it gets {quota} invocations of its own"
                )
