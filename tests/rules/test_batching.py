"""BATCH checkers."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import History


def test_batch2_more_records_than_batch_size(history: type[History]) -> None:
    h = history("kinesis", batch_size=2)
    r = h.put_many(3)
    h.ok(r, 0)
    (message,) = h.violations("BATCH-2")
    assert f"with {r[0].label.split(' on ')[0]} to {r[2].label} (3 records) carried 3 records" in message
    assert "more than BatchSize 2" in message


def test_batch4_records_held_back_without_a_window(history: type[History]) -> None:
    h = history("kinesis", batch_size=10)
    r = h.put(0, arrival=-10)
    h.ok([r], 20)
    (message,) = h.violations("BATCH-4")
    assert (
        f"record {r.label} could be sent from +0 s but was first delivered in invocation #1 at +20 s"
        in message
    )


def test_batch4_waits_for_the_earlier_records(history: type[History]) -> None:
    h = history("kinesis", batch_size=1, retries=-1)
    p, g = h.put(0, arrival=-10), h.put(0, arrival=-10)
    for t in range(20):  # g cannot go before p is resolved: no lateness
        h.fail([p], t)
    h.ok([p], 20)
    h.ok([g], 21)
    assert h.violations("BATCH-4") == []


def test_batch5_a_partial_batch_before_the_window_closed(history: type[History]) -> None:
    h = history("kinesis", batch_size=10, window=5)
    r = [h.put(0, arrival=1), h.put(0, arrival=2)]
    h.ok(r, 2)
    (message,) = h.violations("BATCH-5")
    assert (
        r[0].label.split(" on ")[0] in message
        and "with 2 of BatchSize 10 records, only 2.000 s after" in message
    )


def test_batch5_a_record_kept_past_the_window(history: type[History]) -> None:
    h = history("kinesis", batch_size=10, window=5)
    r = h.put(0, arrival=1)
    h.ok([r], 30)
    (message,) = h.violations("BATCH-5")
    assert f"record {r.label} could be sent from +1 s" in message and "batching window of 5 s" in message


def test_batch5_a_full_batch_need_not_wait(history: type[History]) -> None:
    h = history("kinesis", batch_size=2, window=5)
    r = h.put_many(2, arrival=1)
    h.ok(r, 1)
    assert h.violations("BATCH-5") == []


def test_batch6_a_payload_over_six_mebibytes(history: type[History]) -> None:
    h = history("kinesis", batch_size=10)
    r = [h.put(0, data=b"x" * (2 * 1024 * 1024)) for _ in range(3)]
    h.ok(r, 0)
    (message,) = h.violations("BATCH-6")
    assert r[2].label in message and "over the 6291456-byte (6 MiB) synchronous invocation limit" in message


def test_batch9_an_invocation_without_records(history: type[History]) -> None:
    h = history("kinesis")
    r = h.put(0)
    h.ok([r], 0)
    h.ok([], 1)
    (message,) = h.violations("BATCH-9")
    assert f"invocation #2 at +1 s carried no records (the invocation before it carried {r.label})" in message
