"""BISECT checkers."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import History


def test_bisect2_a_failed_batch_retried_whole(history: type[History]) -> None:
    h = history("kinesis", bisect=True, retries=3)
    r = h.put_many(4)
    h.fail(r, 0)
    h.fail(r, 1)
    messages = h.violations("BISECT-2")
    assert any(
        r[0].label.split(" on ")[0] in m and "was retried whole in invocation #2" in m for m in messages
    )


def test_bisect2_the_upper_half_first(history: type[History]) -> None:
    h = history("kinesis", bisect=True)
    r = h.put_many(4)
    h.fail(r, 0)
    h.ok(r[2:], 1)
    messages = h.violations("BISECT-2")
    assert any(f"retries the lower half, starting at {r[0].label}, first" in m for m in messages)


def test_bisect2_discarded_without_a_split(history: type[History]) -> None:
    h = history("kinesis", bisect=True, retries=0, destination="sqs")
    r = h.put_many(2)
    h.fail(r, 0)
    h.discard(r, 0)
    (message,) = h.violations("BISECT-2")
    assert "was discarded without being split" in message and r[1].label in message


def test_bisect2_an_invalid_response_may_be_retried_whole(history: type[History]) -> None:
    h = history("kinesis", bisect=True, rbif=True, retries=1)
    r = h.put_many(2)
    h.invalid(r, 0)
    h.ok(r, 1)
    assert h.violations("BISECT-2") == []


def test_bisect3_a_split_that_used_up_the_retries(history: type[History]) -> None:
    h = history("kinesis", bisect=True, retries=2, destination="sqs")
    r = h.put_many(2)
    h.fail(r, 0)
    h.fail(r[:1], 1)
    h.discard(r[:1], 1, count=1)
    messages = h.violations("BISECT-3")
    assert any(f"record {r[0].label} was discarded after only 2 failed invocation(s)" in m for m in messages)


def test_bisect4_a_split_that_is_not_in_halves(history: type[History]) -> None:
    h = history("kinesis", bisect=True)
    r = h.put_many(4)
    h.fail(r, 0)
    h.ok(r[:1], 1)
    h.ok(r[1:], 2)
    messages = h.violations("BISECT-4")
    assert any("was split into 1 + 3 records (invocation #2" in m and r[3].label in m for m in messages)


def test_bisect4_discarded_before_being_isolated(history: type[History]) -> None:
    h = history("kinesis", bisect=True, retries=0, destination="sqs")
    r = h.put_many(4)
    h.fail(r, 0)
    h.fail(r[:2], 1)
    h.discard(r[:2], 1)
    h.ok(r[2:], 2)
    messages = h.violations("BISECT-4")
    assert any(
        f"record {r[0].label} was discarded while still in a batch of 2 records" in m for m in messages
    )


def test_bisect4_a_succeeded_half_delivered_again(history: type[History]) -> None:
    h = history("kinesis", bisect=True)
    r = h.put_many(2)
    h.fail(r, 0)
    h.ok(r[:1], 1)
    h.ok(r, 2)
    messages = h.violations("BISECT-4")
    assert any(
        f"record {r[0].label} succeeded in invocation #2" in m and "delivered again" in m for m in messages
    )


def test_bisect5_an_isolated_record_with_too_few_retries(history: type[History]) -> None:
    h = history("kinesis", bisect=True, retries=2, destination="sqs")
    r = h.put_many(4)
    h.fail(r, 0)
    h.ok(r[:2], 1)
    h.fail(r[2:], 2)
    h.fail(r[2:3], 3)
    h.discard(r[2:3], 3, count=1)
    h.ok(r[3:], 4)
    (message,) = h.violations("BISECT-5")
    assert f"record {r[2].label}, isolated by bisection, was invoked 1 time(s) alone" in message
    assert "3 invocations" in message


def test_bisect6_later_batches_stay_small(history: type[History]) -> None:
    h = history("kinesis", bisect=True, batch_size=4)
    r = h.put_many(6)
    h.get_records(r, 0)
    h.fail(r[:2], 0)
    h.ok(r[:1], 1)
    h.ok(r[1:2], 2)
    h.ok(r[2:3], 3)  # still one record at a time, although r[3:6] were read long ago
    h.ok(r[3:4], 4)
    h.ok(r[4:5], 5)
    h.ok(r[5:], 6)
    messages = h.violations("BISECT-6")
    assert any(
        f"although record {r[3].label} had already been read" in m and "BatchSize (4)" in m for m in messages
    )


def test_bisect7_a_function_error_with_rbif_not_bisected(history: type[History]) -> None:
    h = history("kinesis", bisect=True, rbif=True, retries=1)
    r = h.put_many(2)
    h.fail(r, 0)
    h.ok(r, 1)
    (message,) = h.violations("BISECT-7")
    assert "with ReportBatchItemFailures on" in message and "function errors are still bisected" in message
    assert r[1].label in message


def test_bisect7_a_partial_failure_bisected(history: type[History]) -> None:
    h = history("kinesis", bisect=True, rbif=True)
    r = h.put_many(4)
    h.partial(r, 0, reported=[r[1]])
    h.ok(r[1:2], 1)
    h.ok(r[2:], 2)
    messages = h.violations("BISECT-7")
    assert any(f"retried only {r[1].label}" in m and "not bisected" in m for m in messages)


def test_bisect8_a_document_describing_a_succeeded_record(history: type[History]) -> None:
    h = history("kinesis", bisect=True, retries=0, destination="sqs")
    r = h.put_many(2)
    h.fail(r, 0)
    h.ok(r[:1], 1)
    h.fail(r[1:], 2)
    h.discard(r, 2)
    messages = h.violations("BISECT-8")
    assert any(f"describes record {r[0].label}, which had succeeded in invocation #2" in m for m in messages)


def test_bisect8_a_merged_document_of_failed_records_is_fine(history: type[History]) -> None:
    h = history("kinesis", bisect=True, retries=0, destination="sqs")
    r = h.put_many(2)
    h.fail(r, 0)
    h.fail(r[:1], 1)
    h.fail(r[1:], 2)
    h.discard(r, 2)
    assert h.violations("BISECT-8") == []


def test_bisect9_a_throttled_batch_bisected(history: type[History]) -> None:
    h = history("kinesis", bisect=True)
    r = h.put_many(2)
    h.throttle(r, 0)
    h.ok(r[:1], 1)
    h.ok(r[1:], 2)
    (message,) = h.violations("BISECT-9")
    assert (
        f"invocation #2 at +1 s retried only {r[0].label}" in message
        and "throttles are retried whole" in message
    )


def test_bisect2_a_failed_batch_whose_records_all_expired_is_not_split(history: type[History]) -> None:
    h = history("kinesis", bisect=True, max_age=60, poll_gaps=(5.0,))
    old = h.put_many(2, arrival=-58)
    later = h.put(0, arrival=-1)
    h.fail(old, 0)
    h.ok([later], 5)  # both failed records are 63 s old now: discarded for age, nothing to split
    assert h.violations("BISECT-2") == []


def test_bisect2_the_upper_half_goes_first_when_the_lower_half_expired(history: type[History]) -> None:
    h = history("kinesis", bisect=True, rbif=True, max_age=116)
    r = [h.put(0, arrival=0.001), h.put(0, arrival=0.553), h.put(0, arrival=3.492), h.put(0, arrival=59)]
    h.fail(r, 116)
    h.ok(r[2:], 117)  # the lower half is over 116 s old by now: split off for age, the upper half goes
    assert h.violations("BISECT-2") == []
    assert h.violations("BISECT-4") == []
    assert h.violations("BISECT-7") == []


def test_bisect4_a_floor_split_after_expiry_is_a_half(history: type[History]) -> None:
    h = history("kinesis", bisect=True, max_age=60)
    r = [h.put(0, arrival=-59.5), *h.put_many(4, arrival=-10)]
    h.fail(r, 0)
    h.ok(r[1:2], 1)  # lower half r[0:2] (floor of 5), of which r[0] has grown too old
    h.ok(r[2:], 2)
    assert h.violations("BISECT-4") == []
    assert h.violations("BISECT-2") == []
