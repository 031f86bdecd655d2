"""DLQ, S3 and S3KEY checkers."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import History

    from conformance.trace import StreamRecord


def poison(history: type[History], **settings: Any) -> tuple[History, StreamRecord]:
    """A poison record invoked twice (MaximumRetryAttempts 1), then discarded."""
    settings.setdefault("retries", 1)
    h = history(settings.pop("source", "kinesis"), **settings)
    p = h.put(0)
    h.fail([p], 0)
    h.fail([p], 1)
    return h, p


# ---- DLQ ---------------------------------------------------------------------------------------


def test_dlq2_published_to_the_wrong_destination(history: type[History]) -> None:
    h, p = poison(history, destination="sns")
    h.write(h.document([p], 1, count=2), 1, kind="sqs")
    messages = h.violations("DLQ-2")
    assert any(
        f"for {p.label}: it went to sqs" in m and "on-failure destination is arn:aws:sns" in m
        for m in messages
    )


def test_dlq2_not_json(history: type[History]) -> None:
    h, p = poison(history, destination="sqs")
    h.write("record " + p.sequence_number + " failed", 1)
    (message,) = h.violations("DLQ-2")
    assert "is not a JSON object" in message and p.sequence_number[:20] in message


def test_dlq2_one_record_in_two_documents(history: type[History]) -> None:
    h, p = poison(history, destination="sqs")
    h.discard([p], 1, count=2)
    h.discard([p], 1, count=2)
    messages = h.violations("DLQ-2")
    assert any(f"record {p.label} is described by destination document #1" in m for m in messages)


def test_dlq2_one_batch_split_over_documents(history: type[History]) -> None:
    h = history("kinesis", retries=0, destination="sqs")
    r = h.put_many(2)
    h.fail(r, 0)
    h.discard(r[:1], 0)
    h.discard(r[1:], 0)
    (message,) = h.violations("DLQ-2")
    assert "was reported in 2 documents (#1, #2)" in message and r[0].label.split(" on ")[0] in message


def test_dlq3_records_in_an_sqs_document_and_the_wrong_batch_info(history: type[History]) -> None:
    h, p = poison(history, destination="sqs")
    doc = h.document([p], 1, count=2)
    doc["payload"] = {"Records": [h.event_record(p)]}
    doc["DDBStreamBatchInfo"] = doc.pop("KinesisBatchInfo")
    h.write(doc, 1)
    (message,) = h.violations("DLQ-3")
    assert (
        "it lacks KinesisBatchInfo" in message and "it has unexpected DDBStreamBatchInfo, payload" in message
    )


def test_dlq4_request_context(history: type[History]) -> None:
    h, p = poison(history, destination="sqs")
    doc = h.document([p], 1, count=2, condition="MaximumRecordAgeExceeded", request_id="req-1")
    doc["requestContext"]["functionArn"] = "arn:aws:lambda:us-east-1:123456789012:function:other"
    h.write(doc, 1)
    (message,) = h.violations("DLQ-4")
    assert p.label in message and "requestId 'req-1' is not a UUID" in message
    assert (
        "condition 'MaximumRecordAgeExceeded' is not one of" in message and "is not the mapping's" in message
    )


def test_dlq5_missing_response_context(history: type[History]) -> None:
    h, p = poison(history, destination="sqs")
    doc = h.document([p], 1, count=2)
    del doc["responseContext"]
    h.write(doc, 1)
    (message,) = h.violations("DLQ-5")
    assert f"for {p.label} (RetryAttemptsExhausted) has no responseContext object" in message


def test_dlq5_function_error_of_an_exception(history: type[History]) -> None:
    h, p = poison(history, destination="sqs")
    h.discard([p], 1, count=2, function_error=None)
    (message,) = h.violations("DLQ-5")
    assert "functionError None instead of 'Unhandled': the function raised (Unhandled)" in message


def test_dlq5_response_context_for_an_age_discard(history: type[History]) -> None:
    h = history("kinesis", max_age=60, destination="sqs")
    old = h.put(0, arrival=-100)
    doc = h.document([old], 0, condition="RecordAgeExceeded")
    doc["responseContext"] = {"statusCode": 200, "executedVersion": "$LATEST", "functionError": None}
    h.write(doc, 0)
    (message,) = h.violations("DLQ-5")
    assert f"for {old.label} has a responseContext although its condition is RecordAgeExceeded" in message


def test_dlq6_version_and_timestamp_format(history: type[History]) -> None:
    h, p = poison(history, destination="sqs")
    doc = h.document([p], 1, count=2)
    doc["version"] = "1"
    doc["timestamp"] = "2024-03-01T12:00:01Z"
    h.write(doc, 1)
    (message,) = h.violations("DLQ-6")
    assert p.label in message and "version '1' instead of '1.0'" in message
    assert "timestamp '2024-03-01T12:00:01Z' is not UTC ISO-8601 with milliseconds" in message


def test_dlq6_timestamp_is_not_the_discard_time(history: type[History]) -> None:
    h, p = poison(history, destination="sqs")
    doc = h.document([p], 1, count=2)
    doc["timestamp"] = doc["KinesisBatchInfo"]["approximateArrivalOfFirstRecord"]
    h.write(doc, 1)
    (message,) = h.violations("DLQ-6")
    assert "is not the discard time" in message and p.label in message


def test_dlq7_kinesis_arrivals_without_milliseconds(history: type[History]) -> None:
    h, p = poison(history, destination="sqs")
    doc = h.document([p], 1, count=2)
    doc["KinesisBatchInfo"]["approximateArrivalOfFirstRecord"] = "2024-03-01T11:59:50Z"
    doc["KinesisBatchInfo"]["streamArn"] = "arn:aws:kinesis:us-east-1:123456789012:stream/other"
    h.write(doc, 1)
    (message,) = h.violations("DLQ-7")
    assert (
        p.label in message and "approximateArrivalOfFirstRecord '2024-03-01T11:59:50Z' is not UTC" in message
    )
    assert "streamArn 'arn:aws:kinesis:us-east-1:123456789012:stream/other' is not the stream" in message


def test_dlq7_a_sequence_number_that_is_not_a_record(history: type[History]) -> None:
    h, p = poison(history, destination="sqs")
    doc = h.document([p], 1, count=2)
    doc["KinesisBatchInfo"]["endSequenceNumber"] = int(p.sequence_number)
    h.write(doc, 1)
    (message,) = h.violations("DLQ-7")
    assert f"endSequenceNumber {int(p.sequence_number)} is not the sequence number of a record" in message


def test_dlq8_dynamodb_arrivals_with_a_fraction(history: type[History]) -> None:
    h, p = poison(history, source="dynamodb", destination="sqs")
    doc = h.document([p], 1, count=2)
    doc["DDBStreamBatchInfo"]["approximateArrivalOfLastRecord"] = "2024-03-01T11:59:50.000Z"
    h.write(doc, 1)
    (message,) = h.violations("DLQ-8")
    assert (
        p.label in message
        and "approximateArrivalOfLastRecord '2024-03-01T11:59:50.000Z' is not UTC" in message
    )


def test_dlq9_the_discard_time_given_as_the_arrival(history: type[History]) -> None:
    h, p = poison(history, destination="sqs")
    doc = h.document([p], 1, count=2)
    doc["KinesisBatchInfo"]["approximateArrivalOfFirstRecord"] = doc["timestamp"]
    h.write(doc, 1)
    (message,) = h.violations("DLQ-9")
    assert f"but record {p.label} arrived at" in message and "approximateArrivalOfFirstRecord" in message


def test_dlq10_batch_size_and_an_acknowledged_record(history: type[History]) -> None:
    h = history("kinesis", retries=0, destination="sqs")
    r = h.put_many(2)
    h.ok(r[:1], 0)
    h.fail(r[1:], 1)
    doc = h.document(r, 1)
    h.write(doc, 1)
    (message,) = h.violations("DLQ-10")
    assert f"describes record {r[0].label}, which had been acknowledged in invocation #1" in message
    doc2 = h.document(r[1:], 1)
    doc2["KinesisBatchInfo"]["batchSize"] = 3
    h2 = history("kinesis", retries=0, destination="sqs")
    q = h2.put(0)
    h2.fail([q], 0)
    bad = h2.document([q], 0)
    bad["KinesisBatchInfo"]["batchSize"] = 3
    h2.write(bad, 0)
    (message,) = h2.violations("DLQ-10")
    assert f"for {q.label} gives batchSize 3, but the range holds 1 record(s)" in message


def test_dlq10_after_a_partial_failure_the_range_is_the_suffix(history: type[History]) -> None:
    h = history("kinesis", retries=0, rbif=True, destination="sqs")
    r = h.put_many(3)
    h.partial(r, 0, reported=[r[1]])
    h.partial(r[1:], 1, reported=[r[1]])
    h.discard(r[1:2], 1, function_error=None)  # the suffix holds r[2] too
    (message,) = h.violations("DLQ-10")
    assert f"for {r[1].label} does not describe the discarded batch" in message
    assert f"the records still to process were {r[1].label.split(' on ')[0]} to {r[2].label}" in message


def test_dlq11_the_invoke_count(history: type[History]) -> None:
    h, p = poison(history, destination="sqs")
    h.discard([p], 1, count=5)
    (message,) = h.violations("DLQ-11")
    assert (
        f"for {p.label} gives approximateInvokeCount 5, but the discarded batch was invoked 2 time(s)"
        in message
    )


@pytest.mark.parametrize(("destination", "rule_id"), [("sqs", "DLQ-2"), ("s3", "S3-1")])
def test_a_refused_write_to_the_wrong_destination(
    history: type[History], destination: str, rule_id: str
) -> None:
    # A refused write is no document: only this check sees it (S3-1's search has S3 destinations).
    h, p = poison(history, destination=destination)
    h.write(h.document([p], 1, count=2), 1, kind="sns", error_code="NotFound")
    (message,) = h.violations(rule_id)
    assert (
        f"the document for {p.label} was written with sns.publish at +1 s, refused with NotFound" in message
    )
    assert "it went to sns (arn:aws:sns:" in message
    assert f"on-failure destination is arn:aws:{destination}:" in message


def test_dlq2_a_write_the_destination_refused_is_no_breach(history: type[History]) -> None:
    h, p = poison(history, destination="sqs")
    h.write(h.document([p], 1, count=2), 1, error_code="RequestThrottled")
    h.write(h.document([p], 2, count=2), 2)
    assert h.violations("DLQ-2") == []


# ---- S3 ----------------------------------------------------------------------------------------


def test_s3_1_payload_missing_or_different(history: type[History]) -> None:
    h, p = poison(history, destination="s3")
    doc = h.document([p], 1, count=2, s3=True)
    doc["payload"]["Records"][0]["kinesis"]["data"] = "AAAA"
    h.write(doc, 1)
    (message,) = h.violations("S3-1")
    assert f"the payload record for {p.label} differs from the record sent to the function" in message
    h2, q = poison(history, destination="s3")
    h2.write(h2.document([q], 1, count=2), 1)
    (message,) = h2.violations("S3-1")
    assert f"for {q.label} has payload null" in message


def test_s3_1_a_never_invoked_record_in_the_payload(history: type[History]) -> None:
    h = history("kinesis", max_age=60, destination="s3")
    old = h.put(0, arrival=-100)
    doc = h.document([old], 0, condition="RecordAgeExceeded", s3=True)
    doc["payload"]["Records"][0]["eventSource"] = "aws:kinesis:record"
    h.write(doc, 0)
    (message,) = h.violations("S3-1")
    assert f"the payload record for {old.label} has eventSource 'aws:kinesis:record'" in message


def test_s3_2_payload_as_a_string(history: type[History]) -> None:
    h, p = poison(history, destination="s3")
    doc = h.document([p], 1, count=2, s3=True)
    doc["payload"] = json.dumps(doc["payload"])
    h.write(doc, 1)
    (message,) = h.violations("S3-2")
    assert f"for {p.label} embeds payload as a JSON string" in message
    assert h.violations("S3-1") == []  # a JSON string is accepted as the payload itself


def s3_with_key(history: type[History], key: str) -> tuple[History, StreamRecord]:
    h, p = poison(history, destination="s3")
    h.write(h.document([p], 1, count=2, s3=True), 1, key=key)
    return h, p


def test_s3key1_the_key_format(history: type[History]) -> None:
    h, p = s3_with_key(history, f"aws/lambda/{'x' * 8}/shardId-000000000000/2024-03-01T12:00:01-abc")
    (message,) = h.violations("S3KEY-1")
    assert p.label in message and "not aws/lambda/<mapping UUID>/<shardId>/YYYY/MM/DD/" in message


def test_s3key2_the_key_time_is_the_timestamp(history: type[History]) -> None:
    key = (
        "aws/lambda/6f2b8e3a-1c4d-4e5f-9a7b-0c1d2e3f4a5b/shardId-000000000000/2024/03/01/2024-03-01T12.00.00-"
    )
    h, p = s3_with_key(history, key + "00000000-0000-4000-8000-000000000001")
    (message,) = h.violations("S3KEY-2")
    assert (
        p.label in message
        and "holds 2024/03/01/2024-03-01T12.00.01, but the key has 2024/03/01/2024-03-01T12.00.00" in message
    )


def test_s3key3_mapping_uuid_and_shard(history: type[History]) -> None:
    key = "aws/lambda/00000000-1111-2222-3333-444444444444/shard-0/2024/03/01/2024-03-01T12.00.01-"
    h, p = s3_with_key(history, key + "00000000-0000-4000-8000-000000000001")
    (message,) = h.violations("S3KEY-3")
    assert p.label in message and "instead of the mapping UUID" in message
    assert "'shard-0' instead of the batch info's shardId 'shardId-000000000000'" in message


def test_s3key4_the_suffix_is_a_lowercase_uuid(history: type[History]) -> None:
    h, p = poison(history, destination="s3")
    shard = p.shard_id
    h.write(
        h.document([p], 1, count=2, s3=True),
        1,
        key=h.s3_key(shard, 1, suffix="ABCDEF00-0000-4000-8000-000000000001"),
    )
    (message,) = h.violations("S3KEY-4")
    assert "has key suffix 'ABCDEF00-0000-4000-8000-000000000001', not a lowercase UUID" in message


def test_dlq11_under_bisection_a_count_including_the_larger_batches_is_accepted(
    history: type[History],
) -> None:
    h = history("kinesis", bisect=True, retries=1, destination="sqs")
    r = h.put_many(2)
    h.fail(r, 0)
    h.ok(r[:1], 1)
    h.fail(r[1:], 2)
    h.fail(r[1:], 3)
    h.discard(r[1:], 3, count=3)  # 2 alone + 1 in the batch it was split from
    assert h.violations("DLQ-11") == []
    h.discard(r[1:], 3, count=4)
    assert any("gives approximateInvokeCount 4" in m for m in h.violations("DLQ-11"))


def test_dlq10_an_expired_head_may_go_in_its_own_document(history: type[History]) -> None:
    h = history("kinesis", retries=1, max_age=60, destination="sqs", poll_gaps=(5.0,))
    old, fresh = h.put(0, arrival=-58), h.put(0, arrival=-10)
    h.fail([old, fresh], 0)
    h.fail([old, fresh], 5)  # retries used up; ``old`` is now 63 s old
    h.discard([fresh], 5, count=2)
    h.discard([old], 5, condition="RecordAgeExceeded", count=2)
    assert h.violations("DLQ-10") == []
