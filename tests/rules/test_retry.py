"""RETRY checkers."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import History


def test_retry3_more_invocations_than_allowed(history: type[History]) -> None:
    h = history("kinesis", retries=1)
    p = h.put(0)
    for t in range(3):
        h.fail([p], t)
    (message,) = h.violations("RETRY-3")
    assert f"batch {p.label} was invoked 3 times in a row; MaximumRetryAttempts 1 allows at most 2" in message


def test_retry3_the_retry_is_not_the_same_batch(history: type[History]) -> None:
    h = history("kinesis", retries=2)
    r = h.put_many(2)
    h.fail(r, 0)
    h.fail(r[:1], 1)
    messages = h.violations("RETRY-3")
    assert any(
        "a failed batch is retried as the same batch" in m and r[0].label.split(" on ")[0] in m
        for m in messages
    )


def test_retry3_discarded_before_the_retries_are_used(history: type[History]) -> None:
    h = history("kinesis", retries=2, destination="sqs")
    p = h.put(0)
    h.fail([p], 0)
    h.discard([p], 0, count=1)
    (message,) = h.violations("RETRY-3")
    assert f"batch {p.label} was sent to the destination in destination document #1" in message
    assert "after 1 invocation(s); with MaximumRetryAttempts 2 it is invoked 3 times" in message


def test_retry3_an_expired_prefix_may_leave_the_retry(history: type[History]) -> None:
    h = history("kinesis", retries=-1, max_age=60, poll_gaps=(10.0,))
    old, fresh = h.put(0, arrival=-55), h.put(0, arrival=-5)
    h.fail([old, fresh], 0)
    h.fail([fresh], 10)  # ``old`` is 65 s old: split off for age (RETRY-7)
    h.ok([fresh], 20)
    assert h.violations("RETRY-3") == []


def test_retry4_a_batch_invoked_twice_with_zero_retries(history: type[History]) -> None:
    h = history("kinesis", retries=0)
    p = h.put(0)
    h.fail([p], 0)
    h.fail([p], 1)
    (message,) = h.violations("RETRY-4")
    assert (
        f"batch {p.label} was invoked 2 times; with MaximumRetryAttempts 0 a batch is invoked once" in message
    )


def test_retry4_records_of_a_failed_batch_invoked_again(history: type[History]) -> None:
    h = history("kinesis", retries=0)
    r = h.put_many(2)
    h.fail(r, 0)
    h.ok(r[1:], 1)
    (message,) = h.violations("RETRY-4")
    assert (
        "with MaximumRetryAttempts 0 a failed batch is discarded at once" in message
        and r[1].shard_id in message
    )


def test_retry5_unlimited_retries_skipped_anyway(history: type[History]) -> None:
    h = history("kinesis", batch_size=1)
    p, g = h.put(0), h.put(0)
    h.fail([p], 0)
    h.fail([p], 1)
    h.ok([g], 2)
    (message,) = h.violations("RETRY-5")
    assert f"record {p.label} was skipped at +2 s after 2 failed invocation(s)" in message
    assert "MaximumRetryAttempts is -1" in message and "no age limit" in message


def test_retry5_exhausted_although_unlimited(history: type[History]) -> None:
    h = history("kinesis", max_age=600, destination="sqs")
    p = h.put(0)
    h.fail([p], 0)
    h.discard([p], 0)
    messages = h.violations("RETRY-5")
    assert any(f"record {p.label}" in m and "with condition RetryAttemptsExhausted" in m for m in messages)


def test_retry6_throttles_counted_toward_the_retries(history: type[History]) -> None:
    h = history("kinesis", retries=1, destination="sqs")
    p = h.put(0)
    h.throttle([p], 0)
    h.fail([p], 1)
    h.discard([p], 1, count=2)
    (message,) = h.violations("RETRY-6")
    assert f"batch {p.label} was sent to the destination" in message
    assert "after 1 invocation(s) and 1 throttle(s); throttles do not count" in message


def test_retry6_a_throttled_batch_dropped(history: type[History]) -> None:
    h = history("kinesis", batch_size=1, retries=3)
    t, g = h.put(0), h.put(0)
    h.throttle([t], 0)
    h.ok([g], 1)
    (message,) = h.violations("RETRY-6")
    assert f"batch {t.label} was skipped at +1 s right after the throttle in invocation #1" in message


def test_retry7_an_expired_record_invoked(history: type[History]) -> None:
    h = history("kinesis", max_age=60)
    old = h.put(0, arrival=-100)
    h.ok([old], 0)
    (message,) = h.violations("RETRY-7")
    assert f"invocation #1 at +0 s sent record {old.label} although it was 100.000 s old" in message


def test_retry7_a_fresh_record_discarded_for_age(history: type[History]) -> None:
    h = history("kinesis", max_age=60, destination="sqs")
    old, fresh = h.put(0, arrival=-100), h.put(0, arrival=-10)
    h.discard([old, fresh], 0, condition="RecordAgeExceeded")
    (message,) = h.violations("RETRY-7")
    assert f"discarded record {fresh.label} as RecordAgeExceeded although it was only 10.000 s old" in message


def test_retry7_dynamodb_rounding_is_tolerated(history: type[History]) -> None:
    h = history("dynamodb", max_age=60)
    r = h.put(0, arrival=-59.5)  # the stream says -60 (rounded down): a poller may see 60.5 s
    h.fail([r], 0)
    h.fail([r], 0.6)  # 60.1 s old by its true arrival: within the rounding
    assert h.violations("RETRY-7") == []


def test_retry8_count_and_response_context_of_a_never_invoked_record(history: type[History]) -> None:
    h = history("kinesis", max_age=60, destination="sqs")
    old = h.put(0, arrival=-100)
    doc = h.document([old], 0, condition="RecordAgeExceeded", count=2)
    doc["responseContext"] = {"statusCode": 200, "executedVersion": "$LATEST", "functionError": None}
    h.write(doc, 0)
    messages = h.violations("RETRY-8")
    assert any(old.label in m and "approximateInvokeCount 2" in m for m in messages)
    assert any("never invoked) has a responseContext" in m for m in messages)


def test_retry9_age_discard_reported_as_retries_exhausted(history: type[History]) -> None:
    h = history("kinesis", retries=5, max_age=60, destination="sqs", poll_gaps=(3.0,))
    p = h.put(0, arrival=-55)
    h.fail([p], 0)
    h.fail([p], 3)
    h.discard([p], 6, count=2)
    (message,) = h.violations("RETRY-9")
    assert (
        p.label in message
        and "invoked only 2 of 6 times" in message
        and "the condition is RecordAgeExceeded" in message
    )


def test_retry9_record_age_count_below_one(history: type[History]) -> None:
    h = history("kinesis", max_age=60, destination="sqs")
    old = h.put(0, arrival=-100)
    h.discard([old], 0, condition="RecordAgeExceeded", count=0)
    (message,) = h.violations("RETRY-9")
    assert f"for {old.label} has approximateInvokeCount 0" in message


def test_retry10_a_discarded_record_delivered_again(history: type[History]) -> None:
    h = history("kinesis", retries=0, destination="sqs")
    p = h.put(0)
    h.fail([p], 0)
    h.discard([p], 0)
    h.ok([p], 1)
    (message,) = h.violations("RETRY-10")
    assert f"record {p.label} was delivered again in invocation #2" in message


def test_retry10_the_shard_stays_blocked_after_a_discard(history: type[History]) -> None:
    h = history("kinesis", batch_size=1, retries=0, destination="sqs")
    p, g = h.put(0), h.put(0)
    h.fail([p], 0)
    h.discard([p], 0)
    (message,) = h.violations("RETRY-10", ended_at=60)
    assert f"record {g.label} (written at -10 s) was never processed; a discard unblocks the shard" in message


def test_retry11_a_document_without_a_destination(history: type[History]) -> None:
    h = history("kinesis", retries=0)
    p = h.put(0)
    h.fail([p], 0)
    h.write(h.document([p], 0), 0, kind="sqs")
    messages = h.violations("RETRY-11")
    assert any(f"wrote destination document #1 (sqs, at +0 s) for {p.label}" in m for m in messages)


def test_retry11_processing_stops_after_a_silent_discard(history: type[History]) -> None:
    h = history("kinesis", batch_size=1, retries=1)
    p, g = h.put(0), h.put(0)
    h.fail([p], 0)
    h.fail([p], 1)
    (message,) = h.violations("RETRY-11", ended_at=60)
    assert f"after batch {p.label} used its 2 invocation(s), record {g.label} was never processed" in message


def test_retry11_records_that_expired_after_the_discard_count_as_progress(history: type[History]) -> None:
    h = history("kinesis", batch_size=1, retries=0, max_age=60, window=100)
    p = h.put(0, arrival=-1)
    h.put(0, arrival=10)  # waits for a window longer than its age limit: dropped, silently
    h.fail([p], 100)
    assert h.violations("RETRY-11", ended_at=400) == []


def test_retry6_leaves_too_few_attempts_in_all_to_retry3(history: type[History]) -> None:
    h = history("kinesis", retries=3, destination="sqs")
    p = h.put(0)
    h.throttle([p], 0)
    h.fail([p], 1)
    h.discard([p], 1, count=1)  # 2 attempts in all, 4 due: not explained by counting throttles
    assert h.violations("RETRY-6") == []
    assert h.violations("RETRY-3")
