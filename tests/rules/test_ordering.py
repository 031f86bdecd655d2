"""ORD checkers: each breach is reported, naming the offending record."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conformance.rules import check

if TYPE_CHECKING:
    from conftest import History


def test_ord1_a_batch_mixing_two_shards(history: type[History]) -> None:
    h = history("kinesis", shards=2)
    a, b = h.put(0), h.put(1)
    h.ok([a, b], 0)
    (message,) = h.violations("ORD-1")
    assert f"mixed records of 2 shards: {a.label} and {b.label}" in message


def test_ord1_eventids_with_different_shard_prefixes(history: type[History]) -> None:
    h = history("kinesis", shards=2)
    a = h.put_many(2)

    def other_prefix(records: list[dict[str, object]]) -> None:
        records[1]["eventID"] = f"shardId-000000000001:{a[1].sequence_number}"

    h.ok(a, 0, tweak=other_prefix)
    (message,) = h.violations("ORD-1")
    assert "2 different shard prefixes" in message and a[0].label.split(" on ")[0] in message


def test_ord2_out_of_order_is_named(history: type[History]) -> None:
    h = history("kinesis")
    r = h.put_many(3)
    h.ok([r[0], r[2], r[1]], 0)
    (message,) = h.violations("ORD-2")
    assert f"delivered record {r[1].label} after {r[2].label}" in message


def test_ord2_compares_sequence_numbers_as_integers(history: type[History]) -> None:
    h = history("kinesis")
    short, long = h.put(0, sequence_number="9000"), h.put(0, sequence_number="10000")
    h.ok([short, long], 0)  # "10000" < "9000" as text, but 9000 < 10000 as numbers
    assert h.violations("ORD-2") == []
    h.ok([long, short], 1)
    (message,) = h.violations("ORD-2")
    assert f"delivered record {short.label} after {long.label}" in message


def test_ord2_a_record_twice_in_one_batch(history: type[History]) -> None:
    h = history("kinesis")
    r = h.put(0)
    h.ok([r, r], 0)
    (message,) = h.violations("ORD-2")
    assert f"carried record {r.label} twice" in message


def test_ord3_overlapping_invocations_of_one_shard(history: type[History]) -> None:
    h = history("kinesis", batch_size=1)
    a, b = h.put(0), h.put(0)
    h.ok([a], 0, ticks=(1, 4))
    h.ok([b], 0, ticks=(2, 3))
    (message,) = h.violations("ORD-3")
    assert b.label in message and "started before invocation #1" in message


def test_ord4_a_successful_record_delivered_again(history: type[History]) -> None:
    h = history("kinesis")
    r = h.put_many(3)
    h.ok(r[:2], 0)
    h.ok(r[1:], 1)
    (message,) = h.violations("ORD-4")
    assert f"record {r[1].label} was delivered again in invocation #2" in message


def test_ord4_a_successful_record_delivered_again_after_a_discarded_batch(history: type[History]) -> None:
    # The checkpoint never moves back: not right after the success, nor after a discard between.
    h = history("kinesis", batch_size=1, retries=0)
    r = h.put_many(2)
    h.ok(r[:1], 0)
    h.fail(r[1:], 1)  # no retries: discarded
    h.ok(r[:1], 2)
    (message,) = h.violations("ORD-4")
    assert f"record {r[0].label} was delivered again in invocation #3 at +2 s after invocation #1" in message


def test_ord4_the_next_batch_skips_a_record(history: type[History]) -> None:
    h = history("kinesis")
    r = h.put_many(3)
    h.ok(r[:1], 0)
    h.ok(r[2:], 1)
    (message,) = h.violations("ORD-4")
    assert f"skipping record {r[1].label}" in message


def test_ord4_a_record_too_old_may_be_skipped(history: type[History]) -> None:
    h = history("kinesis", max_age=60)
    first = h.put(0, arrival=-30)
    h.put(0, arrival=-30)
    last = h.put(0, arrival=0)
    h.ok([first], 0)
    h.ok([last], 40)  # the middle record is 70 s old by now: dropped for age, not skipped
    assert h.violations("ORD-4") == []


def test_ord5_a_later_record_delivered_while_the_failing_one_waits(history: type[History]) -> None:
    h = history("kinesis", batch_size=1, retries=2)
    p, g = h.put(0), h.put(0)
    h.fail([p], 0)
    h.ok([g], 1)
    h.fail([p], 2)
    h.fail([p], 3)
    (message,) = h.violations("ORD-5")
    assert f"record {g.label} was delivered (invocation #2" in message
    assert f"before {p.label}, which failed in invocation #1" in message


def test_ord5_a_late_document_still_discards(history: type[History]) -> None:
    h = history("kinesis", batch_size=1, retries=0, destination="sqs")
    p, g = h.put(0), h.put(0)
    h.fail([p], 0)
    h.ok([g], 1)
    h.discard([p], 1)  # written after g went, but p was done with: no out-of-order delivery
    assert h.violations("ORD-5") == []


def test_ord5_a_premature_silent_skip(history: type[History]) -> None:
    h = history("kinesis", batch_size=1, retries=3)
    p, g = h.put(0), h.put(0)
    h.fail([p], 0)
    h.ok([g], 1)
    (message,) = h.violations("ORD-5")
    assert f"record {g.label} was delivered (invocation #2 at +1 s) before {p.label}" in message


def test_ord5_moving_on_after_the_retries_is_fine(history: type[History]) -> None:
    h = history("kinesis", batch_size=1, retries=1)
    p, g = h.put(0), h.put(0)
    h.fail([p], 0)
    h.fail([p], 1)
    h.ok([g], 2)
    assert h.violations("ORD-5") == []


def test_ord6_one_failing_shard_holds_up_another(history: type[History]) -> None:
    h = history("kinesis", shards=2, batch_size=1, retries=3, destination="sqs")
    p = h.put(0)
    waiting = h.put(1)
    for t in range(4):
        h.fail([p], t)
    h.discard([p], 3, count=4)
    h.ok([waiting], 4)
    (message,) = h.violations("ORD-6")
    assert f"record {waiting.label}" in message and "while shardId-000000000000 retried" in message


def test_ord7_one_partition_key_in_two_batches_in_flight(history: type[History]) -> None:
    h = history("kinesis", parallelization=2, batch_size=1)
    a, b = h.put(0, key="same"), h.put(0, key="same")
    h.ok([a], 0, ticks=(1, 4))
    h.ok([b], 0, ticks=(2, 3))
    messages = h.violations("ORD-7")
    assert any("partition key 'same'" in m and b.label in m for m in messages)


def test_ord7_a_partition_key_out_of_order(history: type[History]) -> None:
    h = history("kinesis", parallelization=2, batch_size=1)
    a, b = h.put(0, key="k"), h.put(0, key="k")
    h.ok([b], 0)
    h.ok([a], 1)
    messages = h.violations("ORD-7")
    assert any(f"record {b.label} was first delivered before {a.label}" in m for m in messages)


def test_ord9_discarded_as_failed_without_reaching_the_function(history: type[History]) -> None:
    h = history("kinesis", retries=0, destination="sqs")
    r = h.put(0)
    h.throttle([r], 0)
    h.discard([r], 0)
    (message,) = h.violations("ORD-9")
    assert (
        f"record {r.label} was sent to the destination" in message
        and "only in throttled invocations" in message
    )


def test_ord6_a_record_that_expired_before_it_could_be_taken_is_no_evidence(history: type[History]) -> None:
    def waiting_shard(arrival: float) -> History:
        h = history("kinesis", shards=2, batch_size=1, max_age=60, poll_gaps=(10.0,))
        p = h.put(0, arrival=-1)
        h.put(1, arrival=arrival)
        for t in range(0, 51, 10):
            h.fail([p], t)
        return h

    # Nearly 60 s old at the start: gone before any poller had to take it, dropping it is all there is.
    assert check("ORD-6", waiting_shard(-59).build()).violations == ()
    # A fresh one should have been invoked while the other shard kept failing.
    (message,) = waiting_shard(-1).violations("ORD-6")
    assert "shardId-000000000001" in message and "while shardId-000000000000 retried" in message
