"""Retries, discards and record age (RETRY-3..11), with the documents they produce."""

from __future__ import annotations

from typing import Any

import pytest


def raise_while(rig: Any, *poison: str) -> Any:
    """A script: the function raises whenever one of ``poison`` is in the batch."""
    return lambda records: rig.RAISE if any(rig_seq(r) in poison for r in records) else None


def rig_seq(record: dict[str, Any]) -> str:
    if "kinesis" in record:
        return str(record["kinesis"]["sequenceNumber"])
    return str(record["dynamodb"]["SequenceNumber"])


def batches(rig: Any) -> list[list[str]]:
    """The record sets of the invocations that reached the function, in order."""
    return [call.sequence_numbers for call in rig.function.delivered]


@pytest.mark.parametrize("source", ["kinesis", "dynamodb"])
def test_batch_is_invoked_n_plus_one_times_then_discarded(make_rig: Any, source: str) -> None:
    # RETRY-3, ORD-5, RETRY-10, DLQ-11: P fails; G waits until P's third failure, then goes.
    rig = make_rig(source)
    poison, good = rig.put(b"P"), rig.put(b"G")
    rig.function.script = raise_while(rig, poison)
    rig.run(rig.poller("sqs", BatchSize=1, MaximumRetryAttempts=2), polls=6)
    assert batches(rig) == [[poison], [poison], [poison], [good]]
    [document] = rig.sqs_documents()
    assert document["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert document["requestContext"]["approximateInvokeCount"] == 3
    assert document["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    info = document["KinesisBatchInfo" if source == "kinesis" else "DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (poison, poison, 1)


def test_zero_retries_means_one_invocation(kinesis: Any) -> None:
    # RETRY-4
    records = kinesis.put_many(2)
    kinesis.function.script = lambda rs: kinesis.RAISE if len(rs) == 2 else None
    poller = kinesis.poller("sqs", MaximumRetryAttempts=0)
    kinesis.run(poller, polls=3)
    assert batches(kinesis) == [records]
    [document] = kinesis.sqs_documents()
    assert document["requestContext"]["approximateInvokeCount"] == 1
    assert document["KinesisBatchInfo"]["batchSize"] == 2
    assert poller.shards[0].checkpoint == records[-1]  # RETRY-10: the checkpoint moved past them


def test_minus_one_retries_forever_and_blocks_the_shard(kinesis: Any) -> None:
    # RETRY-5, ORD-5
    poison, good = kinesis.put(b"P"), kinesis.put(b"G")
    kinesis.function.script = raise_while(kinesis, poison)
    kinesis.run(kinesis.poller("sqs", BatchSize=1, MaximumRetryAttempts=-1), polls=50, gap=60.0)
    assert batches(kinesis) == [[poison]] * 50
    assert kinesis.sqs_documents() == []
    assert kinesis.function.deliveries_of(good) == 0


def test_throttles_do_not_count_toward_retries(kinesis: Any) -> None:
    # RETRY-6: three throttles, then the function runs and raises twice (N=1).
    record = kinesis.put(b"x")
    answers = iter([kinesis.THROTTLE] * 3 + [kinesis.RAISE] * 5)
    kinesis.function.script = lambda records: next(answers)
    kinesis.run(kinesis.poller("sqs", MaximumRetryAttempts=1), polls=8)
    assert [c.throttled for c in kinesis.function.calls] == [True, True, True, False, False]
    [document] = kinesis.sqs_documents()
    assert document["requestContext"]["approximateInvokeCount"] == 2
    assert document["KinesisBatchInfo"]["startSequenceNumber"] == record


def test_throttled_batch_is_retried_identically_and_not_bisected(kinesis: Any) -> None:
    # RETRY-6, BISECT-9
    records = kinesis.put_many(4)
    answers = iter([kinesis.THROTTLE, kinesis.THROTTLE, None])
    kinesis.function.script = lambda rs: next(answers)
    kinesis.run(kinesis.poller(BisectBatchOnFunctionError=True, MaximumRetryAttempts=0), polls=4)
    assert [c.sequence_numbers for c in kinesis.function.calls] == [records] * 3
    assert kinesis.function.calls[-1].throttled is False


def test_expired_records_are_split_off_and_fresh_ones_invoked(kinesis: Any) -> None:
    # RETRY-7 (the AWS recording's setup): one record older than 60 s, then 5 fresh records.
    old = kinesis.put(b"old", at=kinesis.ago(61))
    fresh = kinesis.put_many(5)
    poller = kinesis.poller("sqs", BatchSize=10, MaximumRetryAttempts=0, MaximumRecordAgeInSeconds=60)
    kinesis.run(poller, polls=2)
    assert batches(kinesis) == [fresh]
    [document] = kinesis.sqs_documents()
    assert document["requestContext"]["condition"] == "RecordAgeExceeded"
    assert "responseContext" not in document  # DLQ-5
    info = document["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (old, old, 1)


def test_record_too_old_when_first_polled_is_discarded_without_invocation(ddb: Any) -> None:
    # RETRY-8: count 1, no responseContext, never invoked; the request id is a fresh UUID.
    ddb.put(b"old", at=ddb.ago(3600))
    ddb.run(ddb.poller("sqs", MaximumRetryAttempts=0, MaximumRecordAgeInSeconds=60), polls=2)
    assert ddb.function.calls == []
    [document] = ddb.sqs_documents()
    assert document["requestContext"]["condition"] == "RecordAgeExceeded"
    assert document["requestContext"]["approximateInvokeCount"] == 1
    assert document["requestContext"]["requestId"] == "00000000-0000-4000-8000-000000abc001"
    assert list(document) == ["requestContext", "version", "timestamp", "DDBStreamBatchInfo"]


def test_age_exactly_at_the_limit_is_not_expired(kinesis: Any) -> None:
    # RETRY-7: "older than" the limit; age == limit is still fresh.
    record = kinesis.put(b"x", at=kinesis.ago(60))
    kinesis.run(kinesis.poller("sqs", MaximumRecordAgeInSeconds=60))
    assert batches(kinesis) == [[record]]
    assert kinesis.sqs_documents() == []


@pytest.mark.parametrize(
    ("retries", "gap", "condition"),
    [(2, 1.0, "RetryAttemptsExhausted"), (100, 25.0, "RecordAgeExceeded")],
)
def test_whichever_limit_is_reached_first_ends_the_retries(
    kinesis: Any, retries: int, gap: float, condition: str
) -> None:
    # RETRY-9
    kinesis.put(b"x")
    kinesis.function.script = lambda records: kinesis.RAISE
    poller = kinesis.poller("sqs", MaximumRetryAttempts=retries, MaximumRecordAgeInSeconds=60)
    kinesis.run(poller, polls=10, gap=gap)
    [document] = kinesis.sqs_documents()
    assert document["requestContext"]["condition"] == condition
    # N=2 ends after 3 invocations; with N=100 ages 0, 25 and 50 s are invoked and at 75 s the
    # record is discarded for age: 3 invocations either way.
    expected_invocations = 3
    assert len(kinesis.function.calls) == expected_invocations
    assert document["requestContext"]["approximateInvokeCount"] == expected_invocations
    assert ("responseContext" in document) == (condition == "RetryAttemptsExhausted")


def test_expiry_during_retries_splits_the_old_prefix_and_gives_the_rest_a_fresh_count(kinesis: Any) -> None:
    # RETRY-7 before every invocation; SEMANTICS: the rest is a new batch with a fresh count.
    old = kinesis.put(b"old", at=kinesis.ago(50))
    young = kinesis.put(b"young", at=kinesis.ago(0))
    kinesis.function.script = lambda records: kinesis.RAISE
    poller = kinesis.poller("sqs", MaximumRetryAttempts=3, MaximumRecordAgeInSeconds=60)
    kinesis.run(poller, polls=12, gap=4.0)
    # Invoked with both at ages 50, 54, 58 (3 failures); at age 62 `old` is split off.
    assert batches(kinesis)[:3] == [[old, young]] * 3
    assert batches(kinesis)[3:] == [[young]] * 4  # a fresh count: N + 1 = 4 invocations
    age_doc, exhausted_doc = kinesis.sqs_documents()
    assert age_doc["requestContext"]["condition"] == "RecordAgeExceeded"
    assert age_doc["requestContext"]["approximateInvokeCount"] == 3
    assert age_doc["requestContext"]["requestId"] == kinesis.function.calls[2].request_id
    assert age_doc["KinesisBatchInfo"]["startSequenceNumber"] == old
    assert age_doc["KinesisBatchInfo"]["batchSize"] == 1
    assert exhausted_doc["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert exhausted_doc["requestContext"]["approximateInvokeCount"] == 4
    assert exhausted_doc["KinesisBatchInfo"]["startSequenceNumber"] == young


def test_without_destination_discarded_records_are_skipped_silently(kinesis: Any) -> None:
    # RETRY-11
    poison, good = kinesis.put(b"P"), kinesis.put(b"G")
    kinesis.function.script = raise_while(kinesis, poison)
    poller = kinesis.poller(BatchSize=1, MaximumRetryAttempts=1)
    kinesis.run(poller, polls=4)
    assert batches(kinesis) == [[poison], [poison], [good]]
    assert kinesis.sqs_documents() == [] and kinesis.sns_documents() == [] and kinesis.s3_objects() == []
    assert poller.shards[0].checkpoint == good


def test_transient_failure_recovers_without_discard(kinesis: Any) -> None:
    # RETRY-3: the same batch, from the same first record, is invoked again and then succeeds.
    records = kinesis.put_many(3)
    answers = iter([kinesis.RAISE, kinesis.RAISE, None])
    kinesis.function.script = lambda rs: next(answers)
    poller = kinesis.poller("sqs", MaximumRetryAttempts=5)
    kinesis.run(poller, polls=5)
    assert batches(kinesis) == [records] * 3
    assert kinesis.sqs_documents() == []
    assert poller.shards[0].checkpoint == records[-1]


def test_failed_destination_write_blocks_the_shard_until_delivered(kinesis: Any) -> None:
    # RETRY-10 with no loss: the checkpoint moves only once the document is delivered.
    poison, good = kinesis.put(b"P"), kinesis.put(b"G")
    kinesis.function.script = raise_while(kinesis, poison)
    kinesis.sqs.delete_queue(QueueUrl=kinesis.queue_url)
    poller = kinesis.poller("sqs", BatchSize=1, MaximumRetryAttempts=0)
    kinesis.run(poller, polls=3)
    assert batches(kinesis) == [[poison]]
    assert poller.shards[0].checkpoint is None
    kinesis.sqs.create_queue(QueueName="conformance-on-failure")
    kinesis.run(poller, polls=2)
    [document] = kinesis.sqs_documents()
    assert document["KinesisBatchInfo"]["startSequenceNumber"] == poison
    assert batches(kinesis) == [[poison], [good]]


def test_expired_records_leave_before_a_batch_is_formed(kinesis: Any) -> None:
    # RETRY-7 with a batching window: the fresh records form a full batch of their own and go at
    # once (BATCH-5); they are not sent short because older records aged out of their batch.
    start = kinesis.clock.now()
    old = kinesis.put_many(2, at=kinesis.ago(61))
    fresh = kinesis.put_many(3)
    poller = kinesis.poller(
        "sqs", BatchSize=3, MaximumBatchingWindowInSeconds=100, MaximumRecordAgeInSeconds=60
    )
    kinesis.run(poller, polls=2)
    assert batches(kinesis) == [fresh]
    assert kinesis.function.calls[0].at == start
    [document] = kinesis.sqs_documents()
    assert document["requestContext"]["condition"] == "RecordAgeExceeded"
    assert document["requestContext"]["approximateInvokeCount"] == 1
    info = document["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (old[0], old[1], 2)


def test_a_partial_batch_left_after_expiry_still_waits_for_the_window(kinesis: Any) -> None:
    start = kinesis.clock.now()
    kinesis.put_many(2, at=kinesis.ago(61))
    fresh = kinesis.put(b"fresh")
    poller = kinesis.poller(
        "sqs", BatchSize=3, MaximumBatchingWindowInSeconds=30, MaximumRecordAgeInSeconds=60
    )
    kinesis.run(poller, polls=40)
    assert len(kinesis.sqs_documents()) == 1
    assert batches(kinesis) == [[fresh]]
    assert (kinesis.function.calls[0].at - start).total_seconds() == 30.0


def test_expired_records_are_reported_in_documents_of_at_most_batch_size(kinesis: Any) -> None:
    # DLQ-2: one document per discarded batch; a batch never exceeds BatchSize (BATCH-2).
    old = kinesis.put_many(5, at=kinesis.ago(120))
    kinesis.run(kinesis.poller("sqs", BatchSize=2, MaximumRecordAgeInSeconds=60), polls=2)
    assert kinesis.function.calls == []
    spans = [
        (d["KinesisBatchInfo"]["startSequenceNumber"], d["KinesisBatchInfo"]["batchSize"])
        for d in kinesis.sqs_documents()
    ]
    assert spans == [(old[0], 2), (old[2], 2), (old[4], 1)]
