"""BATCH checkers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conformance.rules import check

if TYPE_CHECKING:
    from conftest import History

    from conformance.trace import StreamRecord


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


MEBIBYTE_DATA = b"x" * 1_000_000  # base64: 1_333_336 bytes, so four fit under 6 MiB and five do not


def _large_run(history: type[History], count: int, **kwargs: Any) -> tuple[History, list[StreamRecord]]:
    """``count`` records of 1 MB read in one GetRecords call: the payload cap cuts a batch of
    BatchSize 10 after the fourth."""
    h = history("kinesis", batch_size=10, **kwargs)
    records = [h.put(0, data=MEBIBYTE_DATA) for _ in range(count)]
    h.get_records(records, 0)
    return h, records


def test_batch6_the_record_cut_off_by_the_cap_is_dropped(history: type[History]) -> None:
    h, r = _large_run(history, 6)
    h.ok(r[:4], 0)
    h.ok(r[5:], 1)
    (message,) = h.violations("BATCH-6")
    assert f"cut short before record {r[4].label}" in message
    assert f"began at {r[5].label}" in message and "followed by the record that did not fit" in message


def test_batch6_the_record_cut_off_last_is_never_sent(history: type[History]) -> None:
    h, r = _large_run(history, 5)
    h.ok(r[:4], 0)
    (message,) = h.violations("BATCH-6")
    assert f"cut short before record {r[4].label}" in message and "never sent" in message


def test_batch6_the_record_cut_off_starts_the_next_batch(history: type[History]) -> None:
    h, r = _large_run(history, 6)
    h.ok(r[:4], 0)
    h.ok(r[4:], 1)
    assert h.violations("BATCH-6") == []


def test_batch6_the_record_cut_off_may_expire_before_the_next_batch(history: type[History]) -> None:
    h, r = _large_run(history, 6, max_age=60)
    h.fail(r[:4], 0)
    h.ok(r[:4], 100)  # retried until the records behind it grew too old (RETRY-7)
    assert h.violations("BATCH-6") == []


def test_batch6_a_batch_cut_although_the_next_record_fits(history: type[History]) -> None:
    h = history("kinesis", batch_size=10)
    r = h.put_many(3)
    h.get_records(r, 0)
    h.ok(r[:1], 0)
    h.ok(r[1:], 1)
    (message,) = h.violations("BATCH-6")
    assert f"record {r[1].label} had been read and would have fitted" in message
    assert "1 of BatchSize 10 records" in message


def test_batch6_a_short_batch_of_everything_read_is_not_cut(history: type[History]) -> None:
    h = history("kinesis", batch_size=10)
    r = [h.put(0, arrival=-10), h.put(0, arrival=0.5)]
    h.get_records(r[:1], 0)
    h.ok(r[:1], 0)
    h.get_records(r[1:], 1)
    h.ok(r[1:], 1)
    assert check("BATCH-6", h.build()).violations == ()


def test_batch6_a_batch_left_short_by_expired_records_is_not_cut(history: type[History]) -> None:
    h = history("kinesis", batch_size=3, max_age=60)
    r = [h.put(0, arrival=-100), *h.put_many(3)]
    h.get_records(r, 0)
    h.ok(r[1:3], 0)  # the first record, too old, was split off the batch of three (RETRY-7)
    h.ok(r[3:], 1)
    assert check("BATCH-6", h.build()).violations == ()


def test_batch9_an_invocation_without_records(history: type[History]) -> None:
    h = history("kinesis")
    r = h.put(0)
    h.ok([r], 0)
    h.ok([], 1)
    (message,) = h.violations("BATCH-9")
    assert f"invocation #2 at +1 s carried no records (the invocation before it carried {r.label})" in message
