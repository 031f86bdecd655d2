"""BATCH: batch size, invoking as soon as records are available, the batching window, the
payload cap, and never invoking with nothing (SPEC §2).

BATCH-1, BATCH-3 and BATCH-7 (valid parameter ranges) are not checkers: a poller that rejects a
valid parameter raises, and the harness reports the run INCONCLUSIVE with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from conformance.observation import RunStatus
from conformance.rules.analysis import PAYLOAD_LIMIT, Analysis, Attempt, Fate, seconds
from conformance.rules.common import Findings, checker, first_reads, ready_at, view_subject

__all__: list[str] = []

# Bytes a record adds to the event besides its base64 data (keys, ARNs, ids); an estimate used
# only to tell whether the payload cap could have mattered.
_RECORD_OVERHEAD = 400


@checker("BATCH-2")
def batch_size_limit(an: Analysis, out: Findings) -> None:
    """A batch never holds more than BatchSize records."""
    limit = an.settings.batch_size
    for view in an.views:
        shards = {s.record.shard_id for s in view.sent if s.record is not None}
        if len(view.sent) > limit or any(len(an.shards[s]) > limit for s in shards):
            out.exercise()
        if len(view.sent) > limit:
            out.violate(
                f"{view_subject(an, view)} carried {len(view.sent)} records, more than BatchSize {limit}"
            )


def _lateness(an: Analysis, out: Findings, allowed: float, why: str) -> None:
    """Every record is first sent within ``allowed`` seconds of when it could be (in the stream,
    mapping started, earlier records of its shard resolved)."""
    for shard_id in an.shards:
        for fate in an.shard_fates(shard_id):
            if not fate.in_scope or not fate.sends:
                continue
            ready = ready_at(an, fate)
            if ready is None:
                continue
            out.exercise()
            first = fate.sends[0]
            if first.at - ready > allowed:
                out.violate(
                    f"record {fate.label} could be sent from {seconds(ready)} but was first delivered in "
                    f"{first.name}, {first.at - ready:.3f} s later; {why}"
                )


@checker("BATCH-4")
def invoke_when_available(an: Analysis, out: Findings) -> None:
    """With no batching window, records are invoked as soon as they are available, even one."""
    if an.settings.window > 0:
        return
    _lateness(
        an,
        out,
        an.slack,
        f"with MaximumBatchingWindowInSeconds 0 a poller invokes as soon as records are available "
        f"(allowing {an.slack:g} s for polling)",
    )


@checker("BATCH-5")
def batching_window(an: Analysis, out: Findings) -> None:
    """With a window W > 0, a partial batch is delivered no later than about W after its records
    became available, and no earlier than W after the window could have opened."""
    window = an.settings.window
    if window <= 0:
        return
    _lateness(
        an,
        out,
        window + an.slack,
        f"the batching window of {window:g} s ends the wait (allowing {an.slack:g} s for polling)",
    )
    for shard_id, attempts in an.attempts.items():
        previous_at = an.started_at
        for attempt in attempts:
            fresh = all(an.fate(shard_id, p).sends[0].number == attempt.number for p in attempt.positions)
            opened = previous_at
            previous_at = attempt.at
            if not fresh or len(attempt.positions) >= an.settings.batch_size or _capped(an, attempt):
                continue
            out.exercise()
            if attempt.at < opened + window - 0.001:
                out.violate(
                    f"{view_subject(an, attempt.view)} was invoked at {seconds(attempt.at)} with "
                    f"{len(attempt.positions)} of BatchSize {an.settings.batch_size} records, only "
                    f"{attempt.at - opened:.3f} s after the window could open ({seconds(opened)}); with "
                    f"MaximumBatchingWindowInSeconds {window:g} a partial batch waits for the window"
                )


def _estimate(an: Analysis, shard_id: str, position: int) -> int:
    """About how many bytes one record adds to an event: its base64 data plus keys and ids."""
    return 4 * -(-len(an.record(shard_id, position).data) // 3) + _RECORD_OVERHEAD


def _capped(an: Analysis, attempt: Attempt) -> bool:
    """Whether adding the shard's next record would have pushed the payload over the cap."""
    following = attempt.last + 1
    if following >= len(an.shards[attempt.shard_id]):
        return False
    size = len(attempt.view.invocation.payload)
    return size + _estimate(an, attempt.shard_id, following) > PAYLOAD_LIMIT


_SEPARATOR = len(", ")
"""Bytes between two records of the event's list (``json.dumps`` defaults, as the reference)."""

_SIX_MB = 6_000_000
"""BATCH-6 says "6 MB" and leaves the accounting uncertain (⚠): a batch is only judged cut too
early when it would have stayed within 6 MB counted in decimal with the next record added, which
leaves room for a poller that reads the limit as decimal or keeps a margin below 6 MiB."""


def _fresh(an: Analysis, attempt: Attempt) -> bool:
    """Whether every record of the attempt is sent for the first time: a batch as it was formed,
    not a retry, a partial-failure suffix or a bisected half."""
    return all(an.fate(attempt.shard_id, p).sends[0].number == attempt.number for p in attempt.positions)


def _entry_size(an: Analysis, fate: Fate) -> int | None:
    """The exact serialized size of the record's entry in the event, from its first send."""
    if not fate.sends:
        return None
    sent = next((s for s in fate.sends[0].view.sent if s.position == fate.position), None)
    return None if sent is None else len(json.dumps(sent.raw).encode("utf-8"))


def _estimated_entry_size(an: Analysis, attempt: Attempt, fate: Fate) -> int:
    """A record never sent: its base64 data plus the rest of an entry, as large as in the batch
    it follows (same keys, ids of nearly the same length)."""
    last = an.fate(attempt.shard_id, attempt.last)
    overhead = (_entry_size(an, last) or 0) - _base64_length(last.record.data)
    return _base64_length(fate.record.data) + max(overhead, 0)


def _base64_length(data: bytes) -> int:
    return 4 * -(-len(data) // 3)


def _cut_batches(an: Analysis, out: Findings) -> None:
    """A batch is cut short, at fewer than BatchSize records, when needed: when the next record,
    already read, would have taken the payload over the cap. Then that record starts the
    shard's next batch; when it would have fitted, the batch was cut for nothing."""
    limit = an.settings.batch_size
    reads = first_reads(an)
    for shard_id, attempts in an.attempts.items():
        for attempt in attempts:
            following = attempt.last + 1
            if len(attempt.positions) >= limit or following >= len(an.shards[shard_id]):
                continue
            read = reads.get((shard_id, following))
            fate = an.fate(shard_id, following)
            if read is None or read > attempt.index or not fate.in_scope or not _fresh(an, attempt):
                continue  # not read yet: nothing was cut
            if fate.sends and fate.sends[0].index < attempt.index:
                continue  # sent before the batch it follows: ORD-2 and ORD-4 judge the order
            exact = _entry_size(an, fate)
            entry = exact if exact is not None else _estimated_entry_size(an, attempt, fate)
            size = len(attempt.view.invocation.payload) + _SEPARATOR + entry
            if size > PAYLOAD_LIMIT:
                out.exercise()
                _followed_by_the_record_cut_off(an, out, attempt, fate, size)
            elif exact is not None and size <= _SIX_MB and not _after_expired_records(an, attempt):
                out.exercise()
                out.violate(
                    f"{view_subject(an, attempt.view)} carried {len(attempt.positions)} of BatchSize {limit} "
                    f"records although record {fate.label} had been read and would have fitted (a payload "
                    f"of {size} bytes with it, within 6 MB); a batch is cut short only when the payload cap "
                    "needs it"
                )


def _after_expired_records(an: Analysis, attempt: Attempt) -> bool:
    """Whether records just before the batch were discarded unsent (too old): a poller may split
    them off a batch already formed, leaving it short (RETRY-7)."""
    if attempt.first == 0:
        return False
    before = an.fate(attempt.shard_id, attempt.first - 1)
    return before.discard is not None and not before.sends


def _followed_by_the_record_cut_off(
    an: Analysis, out: Findings, attempt: Attempt, cut_off: Fate, size: int
) -> None:
    """The record that did not fit is the first record of the next batch (unless it grew too old
    for the mapping meanwhile)."""
    later = next(
        (
            a
            for a in an.attempts[attempt.shard_id]
            if a.index > attempt.index and any(p > attempt.last for p in a.positions)
        ),
        None,
    )
    why = (
        f"{view_subject(an, attempt.view)} was cut short before record {cut_off.label} (with it the "
        f"payload would be {size} bytes, over the {PAYLOAD_LIMIT}-byte cap)"
    )
    if later is not None:
        first_new = min(p for p in later.positions if p > attempt.last)
        if first_new == cut_off.position or an.possibly_expired(cut_off.record, later.at):
            return
        out.violate(
            f"{why}, but the next batch, {later.name}, began at "
            f"{an.label(an.record(attempt.shard_id, first_new))}; a batch cut short is followed by the "
            "record that did not fit"
        )
    elif (
        not cut_off.sends
        and an.observation.status is RunStatus.COMPLETED
        and not an.possibly_expired(cut_off.record, an.end_at)
    ):
        out.violate(f"{why}, and that record was never sent; a batch cut short is followed by it")


@checker("BATCH-6")
def payload_cap(an: Analysis, out: Findings) -> None:
    """The serialized invocation payload never exceeds 6 MiB; batches are cut short for it, and
    only for it."""
    _cut_batches(an, out)
    limit = an.settings.batch_size
    for view in an.views:
        size = len(view.invocation.payload)
        records = [s.record for s in view.sent if s.record is not None]
        could_matter = size > PAYLOAD_LIMIT // 2
        if records:
            shard_id = records[0].shard_id
            first = an.position_of(records[0])
            available = [
                p
                for p in range(first, min(first + limit, len(an.shards[shard_id])))
                if an.written(an.record(shard_id, p)) <= view.at
            ]
            could_matter = could_matter or sum(_estimate(an, shard_id, p) for p in available) > PAYLOAD_LIMIT
        if could_matter:
            out.exercise()
        if size > PAYLOAD_LIMIT:
            out.violate(
                f"{view_subject(an, view)} sent a payload of {size} bytes, over the {PAYLOAD_LIMIT}-byte "
                "(6 MiB) synchronous invocation limit; the batch must be cut short"
            )


@checker("BATCH-9")
def never_empty(an: Analysis, out: Findings) -> None:
    """Empty polls cause no invocation: every invocation carries at least one record."""
    out.exercise(len(an.views))
    for call in an.observation.trace.calls:
        reply = call.response
        if (
            call.operation in ("get_records", "GetRecords")
            and isinstance(reply, Mapping)
            and reply.get("Records") == []
        ):
            out.exercise()
    for view in an.views:
        event = view.invocation.event
        if isinstance(event, Mapping) and event.get("Records") == []:
            previous = _previous_label(an, view.number)
            out.violate(f"{view.name} carried no records{previous}; an empty poll causes no invocation")


def _previous_label(an: Analysis, number: int) -> str:
    for view in reversed(an.views[: number - 1]):
        records = [s.record for s in view.sent if s.record is not None]
        if records:
            return f" (the invocation before it carried {an.label(records[-1])})"
    return ""
