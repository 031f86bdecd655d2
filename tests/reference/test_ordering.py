"""Ordering across and within shards (ORD-1..6, ORD-9)."""

from __future__ import annotations

from collections import Counter
from typing import Any


def seq(record: dict[str, Any]) -> str:
    if "kinesis" in record:
        return str(record["kinesis"]["sequenceNumber"])
    return str(record["dynamodb"]["SequenceNumber"])


def shard_of(record: dict[str, Any]) -> str:
    return str(record["eventID"]).split(":", 1)[0]


def test_each_batch_holds_records_of_one_shard(make_rig: Any) -> None:
    # ORD-1
    rig = make_rig("kinesis", shards=3)
    for i in range(9):
        rig.put(f"{i}".encode(), shard=i % 3)
    rig.run(rig.poller(BatchSize=10), polls=2)
    assert len(rig.function.calls) == 3
    shards_seen = set()
    for call in rig.function.calls:
        shards = {shard_of(r) for r in call.records}
        assert len(shards) == 1
        shards_seen |= shards
    assert shards_seen == set(rig.shard_ids)


def test_records_in_a_batch_ascend_numerically_and_are_contiguous(kinesis: Any) -> None:
    # ORD-2: moto's numbers cross from 9 to 10, where text order and number order differ.
    records = kinesis.put_many(15)
    kinesis.run(kinesis.poller(BatchSize=4), polls=5)
    delivered = [call.sequence_numbers for call in kinesis.function.calls]
    assert delivered == [records[0:4], records[4:8], records[8:12], records[12:15]]
    flat = [s for batch in delivered for s in batch]
    assert [int(s) for s in flat] == sorted(int(s) for s in flat)


def test_one_batch_per_shard_per_poll(make_rig: Any) -> None:
    # ORD-3: at most one batch in flight per shard; the next only after the previous finished.
    rig = make_rig("kinesis", shards=2)
    for i in range(8):
        rig.put(f"{i}".encode(), shard=i % 2)
    rig.run(rig.poller(BatchSize=1), polls=6)
    per_poll_and_shard = Counter((call.at, shard_of(call.records[0])) for call in rig.function.calls)
    assert set(per_poll_and_shard.values()) == {1}
    assert len(rig.function.calls) == 8


def test_success_moves_the_checkpoint_past_the_highest_record(kinesis: Any) -> None:
    # ORD-4
    first = kinesis.put_many(3)
    poller = kinesis.poller(BatchSize=3)
    kinesis.run(poller)
    assert poller.shards[0].checkpoint == first[-1]
    second = kinesis.put_many(2)
    kinesis.run(poller)
    assert kinesis.function.calls[-1].sequence_numbers == second  # starts after the checkpoint
    assert poller.shards[0].checkpoint == second[-1]


def test_a_failing_batch_blocks_later_records_of_its_shard(kinesis: Any) -> None:
    # ORD-5: G is not delivered before P's third failed invocation (N=2).
    poison, good = kinesis.put(b"P"), kinesis.put(b"G")
    kinesis.function.script = lambda rs: kinesis.RAISE if seq(rs[0]) == poison else None
    kinesis.run(kinesis.poller(BatchSize=1, MaximumRetryAttempts=2), polls=5)
    order = [call.sequence_numbers[0] for call in kinesis.function.calls]
    assert order == [poison, poison, poison, good]


def test_a_blocked_shard_never_holds_back_another(make_rig: Any) -> None:
    # ORD-6: shard 0 retries forever; shard 1 is processed as if alone.
    rig = make_rig("kinesis", shards=2)
    poison = rig.put(b"P", shard=0)
    rig.put(b"behind-P", shard=0)
    others = [rig.put(f"{i}".encode(), shard=1) for i in range(4)]
    # moto numbers each shard from 1, so the poison record is named by its eventID.
    poison_id = f"{rig.shard_ids[0]}:{poison}"
    rig.function.script = lambda rs: rig.RAISE if rs[0]["eventID"] == poison_id else None
    rig.run(rig.poller(BatchSize=1, MaximumRetryAttempts=-1), polls=6)
    delivered_on_1 = [
        c.sequence_numbers[0] for c in rig.function.calls if shard_of(c.records[0]) == rig.shard_ids[1]
    ]
    assert delivered_on_1 == others
    on_0 = [c.sequence_numbers[0] for c in rig.function.calls if shard_of(c.records[0]) == rig.shard_ids[0]]
    assert on_0 == [poison] * 6


def test_delivery_is_at_least_once(kinesis: Any) -> None:
    # ORD-9: every record is delivered; some more than once (partial retry and a transient error).
    records = kinesis.put_many(6)
    answers = iter([{"batchItemFailures": [{"itemIdentifier": records[1]}]}, kinesis.RAISE, None, None])
    kinesis.function.script = lambda rs: next(answers)
    kinesis.run(
        kinesis.poller(
            BatchSize=3, FunctionResponseTypes=["ReportBatchItemFailures"], MaximumRetryAttempts=-1
        ),
        polls=5,
    )
    counts = [kinesis.function.deliveries_of(r) for r in records]
    assert counts == [1, 3, 3, 1, 1, 1]
