"""BATCH: batch size, invoking as soon as records are available, the batching window, the
payload cap, and never invoking with nothing (SPEC §2).

BATCH-1, BATCH-3 and BATCH-7 (valid parameter ranges) are not checkers: a poller that rejects a
valid parameter raises, and the harness reports the run INCONCLUSIVE with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping

from conformance.rules.analysis import PAYLOAD_LIMIT, Analysis, Attempt, seconds
from conformance.rules.common import Findings, checker, ready_at, view_subject

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


@checker("BATCH-6")
def payload_cap(an: Analysis, out: Findings) -> None:
    """The serialized invocation payload never exceeds 6 MiB; batches are cut short for it."""
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
