"""START: where reading begins (SPEC §11).

START-1 (StartingPosition is required and validated at create time) is left to the harness: a
poller that rejects a valid value makes the run INCONCLUSIVE with the reason. START-5
(re-enabling) is outside the scenario model.
"""

from __future__ import annotations

from conformance.rules.analysis import Analysis, Scope, seconds
from conformance.rules.common import Findings, checker, may_have_expired_unsent

__all__: list[str] = []


def _first_touch(an: Analysis, shard_id: str) -> tuple[int, int, float] | None:
    """(trace position, lowest shard position, time) of the first attempt or document touching
    the shard."""
    touches = [(a.index, a.first, a.at) for a in an.attempts[shard_id]]
    touches += [(d.index, d.positions[0], d.at) for d in an.docs if d.shard_id == shard_id and d.positions]
    return min(touches) if touches else None


def _read_from_start(an: Analysis, out: Findings, what: str) -> None:
    """Reading begins at the first in-scope record of every shard, and out-of-scope records are
    never processed."""
    for shard_id in an.shards:
        fates = an.shard_fates(shard_id)
        for fate in fates:
            if fate.scope is Scope.OUT:
                out.exercise()
                touched = fate.sends[0].name if fate.sends else (fate.docs[0].name if fate.docs else None)
                if touched is not None:
                    out.violate(
                        f"record {fate.label} (arrived {seconds(an.written(fate.record))}) was processed in "
                        f"{touched}, although {what} does not read it"
                    )
        wanted = [f for f in fates if f.scope is Scope.IN]
        if not wanted:
            continue
        out.exercise()
        first = _first_touch(an, shard_id)
        if first is None:
            if an.completed and not may_have_expired_unsent(an, wanted[0], an.end_at):
                out.violate(f"record {wanted[0].label} was never processed, although {what} reads it")
            continue
        _, position, at = first
        for fate in wanted:
            if fate.position >= position:
                break
            if an.possibly_expired(fate.record, at):
                continue
            out.violate(
                f"the first batch of {shard_id} began at {an.label(an.record(shard_id, position))}, "
                "skipping record "
                f"{fate.label} (arrived {seconds(an.written(fate.record))}), which {what} reads"
            )
            break


@checker("START-2")
def trim_horizon(an: Analysis, out: Findings) -> None:
    """TRIM_HORIZON starts at the oldest record: records written before the mapping existed are
    processed, then the new ones."""
    if an.settings.starting_position == "TRIM_HORIZON":
        _read_from_start(an, out, "TRIM_HORIZON (the oldest record onwards)")


@checker("START-3")
def latest(an: Analysis, out: Findings) -> None:
    """LATEST processes only records added after the iterator was set up; records written
    strictly after the start are all processed (one written at the very start may go either
    way)."""
    if an.settings.starting_position == "LATEST":
        _read_from_start(an, out, f"LATEST (records added after the start at {seconds(an.started_at)})")


@checker("START-4")
def at_timestamp(an: Analysis, out: Findings) -> None:
    """AT_TIMESTAMP starts at the first record whose arrival is at or after
    StartingPositionTimestamp."""
    if an.settings.starting_position == "AT_TIMESTAMP" and an.settings.starting_timestamp is not None:
        _read_from_start(
            an, out, f"AT_TIMESTAMP {an.settings.starting_timestamp!r} (records arrived at or after it)"
        )
