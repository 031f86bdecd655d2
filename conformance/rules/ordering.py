"""ORD: shard order, one batch in flight per shard, blocking on errors, shard independence,
at-least-once delivery (SPEC §1)."""

from __future__ import annotations

import itertools
import json

from conformance.rules.analysis import Analysis, Attempt, Fate, seconds
from conformance.rules.common import Findings, checker, may_have_expired_unsent, view_subject
from conformance.rules.responses import OutcomeKind
from conformance.trace import StreamRecord

__all__: list[str] = []


@checker("ORD-1")
def one_shard_per_batch(an: Analysis, out: Findings) -> None:
    """Every batch holds records of one shard; Kinesis eventIDs share the shard prefix."""
    for view in an.views:
        if len(view.sent) >= 2 and len(an.shards) >= 2:
            out.exercise()
        records = [s.record for s in view.sent if s.record is not None]
        shards = list(dict.fromkeys(r.shard_id for r in records))
        if len(shards) > 1:
            first = next(r for r in records if r.shard_id == shards[0])
            other = next(r for r in records if r.shard_id == shards[1])
            out.violate(
                f"{view.name} mixed records of {len(shards)} shards: {an.label(first)} and "
                f"{an.label(other)}; a batch holds records of exactly one shard"
            )
            continue
        if an.kinesis and len(view.sent) >= 2:
            prefixes = {
                s.raw["eventID"].rsplit(":", 1)[0]
                for s in view.sent
                if isinstance(s.raw, dict) and isinstance(s.raw.get("eventID"), str)
            }
            if len(prefixes) > 1:
                out.violate(
                    f"{view_subject(an, view)} carried eventIDs with {len(prefixes)} different "
                    "shard prefixes "
                    f"({', '.join(sorted(prefixes))}); every record of a batch has the same shardId prefix"
                )


@checker("ORD-2")
def ascending_in_batch(an: Analysis, out: Findings) -> None:
    """Inside a batch, records ascend by sequence number compared as integers."""
    for view in an.views:
        groups: dict[str, list[tuple[int, str]]] = {}
        for sent in view.sent:
            if sent.record is None or sent.sequence_number is None or not sent.sequence_number.isdigit():
                continue
            groups.setdefault(sent.record.shard_id, []).append(
                (int(sent.sequence_number), an.label(sent.record))
            )
        if any(len(g) >= 2 for g in groups.values()):
            out.exercise()
        for group in groups.values():
            for (before, before_label), (after, after_label) in itertools.pairwise(group):
                if after == before:
                    out.violate(f"{view.name} carried record {after_label} twice")
                    break
                if after < before:
                    out.violate(
                        f"{view.name} delivered record {after_label} after {before_label}, although its "
                        "sequence number is lower; records of a batch are in ascending order, compared as "
                        "integers"
                    )
                    break


@checker("ORD-3")
def one_batch_in_flight(an: Analysis, out: Findings) -> None:
    """With ParallelizationFactor 1, a shard's next invocation starts after the previous one
    finished (overlap is seen in the calls' start/finish ticks)."""
    if an.settings.parallelization != 1:
        return
    for attempts in an.attempts.values():
        ordered = sorted(attempts, key=lambda a: a.view.invocation.call.started)
        for before, after in itertools.pairwise(ordered):
            out.exercise()
            if after.view.invocation.call.started < before.view.invocation.call.finished:
                out.violate(
                    f"{view_subject(an, after.view)} started before {before.name} of the same shard "
                    f"({an.labels(before.shard_id, before.positions)}) had finished; with "
                    "ParallelizationFactor 1 one batch per shard is in flight"
                )


@checker("ORD-4")
def checkpoint_after_success(an: Analysis, out: Findings) -> None:
    """After a fully successful batch, the shard's next batch starts right after its highest
    record (records in between may only have been discarded for age), and no later batch of the
    shard goes back to it: the checkpoint never moves back, whatever came in between (a
    discarded batch, an expired iterator)."""
    if an.settings.parallelization != 1:
        return
    for shard_id, attempts in an.attempts.items():
        checkpoint: Attempt | None = None  # the success with the highest record so far
        for before, after in itertools.pairwise(attempts):
            if before.kind is OutcomeKind.SUCCESS and (checkpoint is None or before.last > checkpoint.last):
                checkpoint = before
            if checkpoint is None:
                continue
            out.exercise()
            back = [p for p in after.positions if p <= checkpoint.last]
            if back:
                record = an.record(shard_id, back[0])
                verb = "delivered again" if back[0] in checkpoint.acked else "delivered"
                out.violate(
                    f"record {an.label(record)} was {verb} in {after.name} after {checkpoint.name} had "
                    f"succeeded with the batch ending at {an.label(an.record(shard_id, checkpoint.last))}; "
                    "the checkpoint moves past a successful batch"
                )
                continue
            if before is not checkpoint:
                continue
            for position in range(before.last + 1, after.first):
                fate = an.fate(shard_id, position)
                documented = any(d.index < after.index for d in fate.docs)
                if not fate.in_scope or documented or an.possibly_expired(fate.record, after.at):
                    continue
                out.violate(
                    f"after {before.name} succeeded with the batch ending at "
                    f"{an.label(an.record(shard_id, before.last))}, the next batch ({after.name}) began at "
                    f"{an.label(an.record(shard_id, after.first))}, skipping record {fate.label}; "
                    "the next batch starts right after the checkpoint"
                )
                break


@checker("ORD-5")
def error_blocks_shard(an: Analysis, out: Findings) -> None:
    """A failed batch blocks its shard: no later record is delivered until it succeeds or is
    discarded (in a document, or silently once its retries or its age ran out). Delivering a
    later record and then coming back to the failed one is the breach."""
    if an.settings.parallelization != 1:
        return
    quota = an.settings.quota
    for shard_id, attempts in an.attempts.items():
        outstanding: dict[int, Attempt] = {}
        for attempt in attempts:
            for position in list(outstanding):
                fate = an.fate(shard_id, position)
                if any(d.index < attempt.index for d in fate.docs) or (
                    fate.acked_by is not None and fate.acked_by.index < attempt.index
                ):
                    del outstanding[position]
            top = attempt.last
            for position in sorted(outstanding):
                if position in attempt.positions or position > top:
                    continue
                fate = an.fate(shard_id, position)
                failed_in = outstanding.pop(position)
                later_send = any(a.index > attempt.index for a in fate.sends)
                later_ack = fate.acked_by is not None and fate.acked_by.index > attempt.index
                if not (later_send or later_ack):
                    if fate.docs:
                        continue  # its document (even one written a little later) is its discard
                    failures = sum(
                        1
                        for a in fate.sends
                        if a.index < attempt.index and a.reached and position not in a.acked
                    )
                    exhausted = quota is not None and failures >= quota
                    if exhausted or an.possibly_expired(fate.record, attempt.at):
                        continue  # discarded, silently, at this point: other rules judge how
                carried = an.record(shard_id, top)
                out.violate(
                    f"record {an.label(carried)} was delivered ({attempt.name}) before {fate.label}, "
                    "which failed "
                    f"in {failed_in.name}, had been acknowledged or discarded; an error blocks its shard"
                )
                break
            if attempt.reached and attempt.kind in (OutcomeKind.FAILURE, OutcomeKind.PARTIAL):
                out.exercise()
                for position in attempt.retry:
                    outstanding.setdefault(position, attempt)
            for position in attempt.acked:
                outstanding.pop(position, None)


@checker("ORD-6")
def shards_independent(an: Analysis, out: Findings) -> None:
    """An error on one shard does not hold up the others: while a shard retries a failing batch,
    another shard with records waiting gets invoked."""
    if len(an.shards) < 2:
        return
    for shard_id, attempts in an.attempts.items():
        episode_end = -1
        for failed in attempts:
            if failed.index <= episode_end or not failed.reached:
                continue
            if failed.kind not in (OutcomeKind.FAILURE, OutcomeKind.PARTIAL):
                continue
            fates = [an.fate(shard_id, p) for p in failed.retry]
            ends = [_resolution_index(f) for f in fates]
            end_index = max(e if e is not None else 1 << 60 for e in ends)
            episode_end = end_index
            retries = [a for a in attempts if failed.index < a.index <= end_index]
            end_at = max(
                (f.resolved_at if f.resolved_at is not None else an.end_at for f in fates), default=an.end_at
            )
            # Two retries of this shard give a fair poller time to serve the others, unless a
            # batching window may keep them waiting.
            window = an.settings.window
            if len(retries) < 2 or (window > 0 and end_at - failed.at <= window + an.slack):
                continue
            for other in an.shards:
                if other == shard_id:
                    continue
                waiting = _waiting(an, other, failed.index, failed.at, end_at)
                if waiting is None:
                    continue
                out.exercise()
                served = (
                    any(failed.index < a.index <= end_index for a in an.attempts[other])
                    or any(d.shard_id == other and failed.index < d.index <= end_index for d in an.docs)
                    or _refused_write_for(an, other, failed.index, end_index)
                )
                if not served:
                    out.violate(
                        f"record {an.label(waiting)} (in the stream since "
                        f"{seconds(an.written(waiting))}) was not "
                        f"processed while {shard_id} retried its failing batch "
                        f"{an.labels(shard_id, failed.retry)} ({len(retries)} retries from "
                        f"{seconds(failed.at)} to {seconds(end_at)}); an error on one shard does "
                        "not block others"
                    )


def _refused_write_for(an: Analysis, shard_id: str, after: int, until: int) -> bool:
    """Whether the poller tried to write a document about ``shard_id`` between two trace
    positions and the destination refused it: the shard was served, and waits for the document
    to go (the world's ``destination_failures``)."""
    for call in an.observation.trace.calls[after + 1 : until + 1]:
        if call.error_code is None or call.operation not in ("send_message", "publish", "put_object"):
            continue
        body = call.params.get("MessageBody", call.params.get("Message", call.params.get("Body")))
        try:
            document = json.loads(body)
        except (TypeError, ValueError):
            continue
        infos = (
            [document.get(k) for k in ("KinesisBatchInfo", "DDBStreamBatchInfo")]
            if isinstance(document, dict)
            else []
        )
        if any(isinstance(info, dict) and info.get("shardId") == shard_id for info in infos):
            return True
    return False


def _resolution_index(fate: Fate) -> int | None:
    indexes = [fate.acked_by.index] if fate.acked_by is not None else []
    if fate.discard is not None and fate.discard.how != "end":
        indexes.append(fate.discard.index)
    return min(indexes) if indexes else None


def _waiting(an: Analysis, shard_id: str, index: int, at: float, until: float) -> StreamRecord | None:
    """The first record of ``shard_id`` waiting to be processed at trace position ``index`` (time
    ``at``), if the shard was healthy (not itself retrying a failure) then. A record that may
    have grown too old before ``until`` does not count: dropping it silently is all a poller with
    no destination does with it."""
    waiting: StreamRecord | None = None
    for fate in an.shard_fates(shard_id):
        if not fate.in_scope:
            continue
        resolved = _resolution_index(fate)
        if resolved is not None and resolved < index:
            continue
        failed_before = any(
            a.index < index and a.reached and fate.position not in a.acked for a in fate.sends
        )
        if failed_before:
            return None  # the shard is busy with its own failure
        if waiting is None and an.written(fate.record) <= at and not may_have_expired_unsent(an, fate, until):
            waiting = fate.record
    return waiting


@checker("ORD-7")
def partition_key_order(an: Analysis, out: Findings) -> None:
    """With ParallelizationFactor > 1, records of one partition key are never in two batches in
    flight at once, and are first delivered in shard order."""
    if an.settings.parallelization <= 1:
        return
    for shard_id, attempts in an.attempts.items():
        for i, first in enumerate(attempts):
            out.exercise()
            keys = {an.record(shard_id, p).partition_key for p in first.positions}
            for second in attempts[i + 1 :]:
                call_a, call_b = first.view.invocation.call, second.view.invocation.call
                if call_b.started >= call_a.finished:
                    break
                shared = keys & {an.record(shard_id, p).partition_key for p in second.positions}
                if shared:
                    out.violate(
                        f"{view_subject(an, second.view)} was in flight together with {first.name}, and both "
                        f"hold records with partition key {sorted(shared)[0]!r}; one key is never processed "
                        "concurrently"
                    )
        by_key: dict[str, list[int]] = {}
        for fate in an.shard_fates(shard_id):
            if fate.sends:
                by_key.setdefault(fate.record.partition_key, []).append(fate.position)
        for positions in by_key.values():
            firsts = [an.fate(shard_id, p).sends[0].index for p in positions]
            for (p_a, first_a), (p_b, first_b) in zip(
                zip(positions, firsts, strict=False),
                zip(positions[1:], firsts[1:], strict=False),
                strict=False,
            ):
                if first_b < first_a:
                    out.violate(
                        f"record {an.label(an.record(shard_id, p_b))} was first delivered before "
                        f"{an.label(an.record(shard_id, p_a))}, an earlier record with the same "
                        "partition key; order is kept per partition key"
                    )


@checker("ORD-8")
def parent_before_child(an: Analysis, out: Findings) -> None:
    """After resharding, a parent's records come before its children's. The scenario model has
    no resharding, so nothing here can exercise the rule (it needs the ``resharding``
    capability, which no shipped implementation claims)."""
    return


@checker("ORD-9")
def at_least_once(an: Analysis, out: Findings) -> None:
    """Delivery is at least once: a record discarded as failed (not for age) reached the
    function first. (Duplicates are allowed, so they are not judged.)"""
    for fate in an.all_fates():
        if not fate.in_scope or fate.acked_by is not None or fate.discard is None:
            continue
        discard = fate.discard
        if discard.doc is not None:
            if discard.doc.condition != "RetryAttemptsExhausted":
                continue
        elif not fate.sends:
            continue  # never sent at all: LOSS-1 judges it
        if an.possibly_expired(fate.record, discard.at):
            continue
        out.exercise()
        if not fate.reached:
            how = (
                f"sent to the destination in {discard.doc.name}"
                if discard.doc is not None
                else f"skipped at {seconds(discard.at)}"
            )
            tried = (
                f" (only in throttled invocations: {', '.join(a.name for a in fate.sends)})"
                if fate.sends
                else ""
            )
            out.violate(
                f"record {fate.label} was {how} as failed without ever reaching the function{tried}; "
                "delivery is at least once"
            )
