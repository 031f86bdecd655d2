"""Helpers shared by the family modules: collecting findings, the registry of checkers, and the
judgements several families make the same way (what a retry may look like, how many attempts a
discarded batch is credited with)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from conformance.rules.analysis import Analysis, Attempt, Doc, Fate, InvocationView, Run
from conformance.rules.model import CheckResult, Violation

__all__ = [
    "CHECKERS",
    "Findings",
    "acceptable_retries",
    "checker",
    "credited",
    "doc_subject",
    "first_reads",
    "is_proper_prefix",
    "may_have_expired_unsent",
    "ready_at",
    "view_subject",
]


class Findings:
    """What one checker found: its exercise count and its violations."""

    def __init__(self, rule_id: str) -> None:
        self.rule_id = rule_id
        self.exercised = 0
        self.violations: list[Violation] = []

    def exercise(self, times: int = 1) -> None:
        self.exercised += times

    def violate(self, message: str) -> None:
        """Record a violation; ``message`` is prose naming the offending record, and the rule id
        is appended in parentheses."""
        self.violations.append(Violation(self.rule_id, f"{message} ({self.rule_id})"))

    def result(self) -> CheckResult:
        # A violation is itself an opportunity the rule was given.
        exercised = max(self.exercised, 1) if self.violations else self.exercised
        return CheckResult(exercised, tuple(self.violations))


RuleCheck = Callable[[Analysis, Findings], None]

CHECKERS: dict[str, RuleCheck] = {}
"""One checker per rule id, filled by the family modules as they are imported."""


def checker(rule_id: str) -> Callable[[RuleCheck], RuleCheck]:
    def register(function: RuleCheck) -> RuleCheck:
        if rule_id in CHECKERS:
            raise RuntimeError(f"two checkers for {rule_id}")
        CHECKERS[rule_id] = function
        return function

    return register


def view_subject(an: Analysis, view: InvocationView) -> str:
    """How a message names an invocation's batch: ``invocation #3 (at +2 s) with 49590…0001 to
    49590…0004 on shardId-000000000000 (4 records)``."""
    records = [s.record for s in view.sent if s.record is not None]
    if not records:
        return f"{view.name} with {len(view.sent)} unrecognised record(s)"
    shard = records[0].shard_id
    positions = sorted({an.position_of(r) for r in records if r.shard_id == shard})
    return f"{view.name} with {an.labels(shard, positions)}"


def doc_subject(an: Analysis, doc: Doc) -> str:
    """``destination document #2 (sqs, at +31 s) for 49590…0003 on shardId-…``."""
    if doc.shard_id is not None and doc.positions:
        return f"{doc.name} for {an.labels(doc.shard_id, doc.positions)}"
    return doc.name


def acceptable_retries(an: Analysis, attempt: Attempt, at: float) -> list[tuple[int, ...]]:
    """The record sets a retry of ``attempt``'s unfinished records may carry at time ``at``: all
    of them, or without a leading run of records that may have grown too old (RETRY-7 splits
    those off) or were already discarded in a document."""
    retry = attempt.retry
    out = [retry]
    for cut in range(1, len(retry)):
        fate = an.fate(attempt.shard_id, retry[cut - 1])
        documented = fate.discard is not None and fate.discard.how == "document"
        if not (an.possibly_expired(fate.record, at) or documented):
            break
        out.append(retry[cut:])
    return out


def is_proper_prefix(part: Sequence[int], whole: Sequence[int]) -> bool:
    return 0 < len(part) < len(whole) and tuple(whole[: len(part)]) == tuple(part)


def credited(an: Analysis, run: Run, gone: Sequence[Fate] = ()) -> int:
    """Attempts a discarded batch can be credited with, read leniently: the attempts of its run
    (throttles included; RETRY-6 judges those), plus those of the batch it was derived from by a
    partial failure or an age split (PBF-8, RETRY-7), or, under bisection, the failed deliveries
    of its records."""
    count = len(run.attempts) + run.inherited
    if an.settings.bisect and gone:
        count = max(count, min(f.failed_deliveries for f in gone))
    return count


def ready_at(an: Analysis, fate: Fate) -> float | None:
    """When the poller could first send this record: it was in the stream, the mapping had
    started, and every earlier record of its shard in scope was resolved. None when an earlier
    record never was."""
    ready = max(an.written(fate.record), an.started_at)
    for position in range(fate.position - 1, -1, -1):
        before = an.fate(fate.record.shard_id, position)
        if not before.in_scope:
            continue
        resolved = before.resolved_at
        if resolved is None:
            return None
        return max(ready, resolved)
    return ready


def may_have_expired_unsent(an: Analysis, fate: Fate, by: float) -> bool:
    """Whether a record that was never sent may have grown too old before the poller had to
    take it (by ``by`` at the latest): then a poller with no destination drops it silently."""
    ready = ready_at(an, fate)
    moment = by if ready is None else min(by, ready + an.slack + an.settings.window)
    return an.possibly_expired(fate.record, moment)


def first_reads(an: Analysis) -> dict[tuple[str, int], int]:
    """For each record, the trace position of the first GetRecords response that held it."""
    out: dict[tuple[str, int], int] = {}
    for call in an.observation.trace.calls:
        if call.operation not in ("get_records", "GetRecords") or not isinstance(call.response, Mapping):
            continue
        records = call.response.get("Records")
        if not isinstance(records, list):
            continue
        numbers = []
        for record in records:
            if not isinstance(record, Mapping):
                continue
            inner = record.get("dynamodb")
            number = (
                inner.get("SequenceNumber") if isinstance(inner, Mapping) else record.get("SequenceNumber")
            )
            numbers.append(number)
        found = [an.find(None, n) for n in numbers]
        shards = [r.shard_id for r in found if r is not None]
        for number, record in zip(numbers, found, strict=False):
            if record is None and shards:
                record = an.find(shards[0], number)
            if record is not None:
                out.setdefault((record.shard_id, an.position_of(record)), call.index)
    return out
