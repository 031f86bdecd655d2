"""ReportBatchItemFailures through the poller (PBF-1, PBF-3..8, DLQ-10)."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.scenario import INVALID_FORMS, SUCCESS_FORMS

RBIF = ["ReportBatchItemFailures"]


def seq(record: dict[str, Any]) -> str:
    if "kinesis" in record:
        return str(record["kinesis"]["sequenceNumber"])
    return str(record["dynamodb"]["SequenceNumber"])


def batches(rig: Any) -> list[list[str]]:
    return [call.sequence_numbers for call in rig.function.delivered]


def report(*identifiers: str) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": i} for i in identifiers]}


@pytest.mark.parametrize("source", ["kinesis", "dynamodb"])
@pytest.mark.parametrize("form", sorted(SUCCESS_FORMS))
def test_every_success_form_acknowledges_the_batch_after_one_invocation(
    make_rig: Any, source: str, form: str
) -> None:
    # PBF-4
    rig = make_rig(source)
    first = rig.put_many(3)
    rig.function.script = lambda records: SUCCESS_FORMS[form]
    poller = rig.poller("sqs", FunctionResponseTypes=RBIF, MaximumRetryAttempts=2)
    rig.run(poller, polls=3)
    later = rig.put_many(1)
    rig.run(poller, polls=2)
    assert batches(rig) == [first, later]
    assert rig.sqs_documents() == []
    assert poller.shards[0].checkpoint == later[-1]


@pytest.mark.parametrize("source", ["kinesis", "dynamodb"])
@pytest.mark.parametrize("form", sorted(INVALID_FORMS))
def test_every_invalid_form_fails_the_whole_batch(make_rig: Any, source: str, form: str) -> None:
    # PBF-5: retried like a function error; the document covers the whole batch with
    # statusCode 200 and functionError null.
    rig = make_rig(source)
    records = rig.put_many(3)
    rig.function.script = lambda rs: INVALID_FORMS[form]
    rig.run(rig.poller("sqs", FunctionResponseTypes=RBIF, MaximumRetryAttempts=1), polls=3)
    assert batches(rig) == [records, records]
    [document] = rig.sqs_documents()
    assert document["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert document["requestContext"]["approximateInvokeCount"] == 2
    assert document["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": None,
    }
    info = document["KinesisBatchInfo" if source == "kinesis" else "DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        records[0],
        records[-1],
        3,
    )


def test_retry_starts_at_the_lowest_reported_record_and_keeps_all_later_ones(kinesis: Any) -> None:
    # PBF-3: records 3 and 5 reported; 3, 4, 5 are retried (not only the reported ones).
    records = kinesis.put_many(5)
    answers = iter([report(records[4], records[2]), None])
    kinesis.function.script = lambda rs: next(answers)
    poller = kinesis.poller(FunctionResponseTypes=RBIF)
    kinesis.run(poller, polls=3)
    assert batches(kinesis) == [records, records[2:]]
    assert poller.shards[0].checkpoint == records[-1]


def test_lowest_reported_is_compared_as_an_integer(kinesis: Any) -> None:
    # ORD-2, PBF-3: moto numbers records 1, 2, ...: "10" sorts before "9" as text.
    records = kinesis.put_many(12)
    assert records[8:10] == ["9", "10"]
    answers = iter([report(records[9], records[8]), None])
    kinesis.function.script = lambda rs: next(answers)
    kinesis.run(kinesis.poller(FunctionResponseTypes=RBIF), polls=3)
    assert batches(kinesis) == [records, records[8:]]


def test_partial_failure_retries_count_toward_the_quota(kinesis: Any) -> None:
    # PBF-7: the first record is reported every time; the identical set is retried N times.
    records = kinesis.put_many(3)
    kinesis.function.script = lambda rs: report(seq(rs[0]))
    kinesis.run(kinesis.poller("sqs", FunctionResponseTypes=RBIF, MaximumRetryAttempts=2), polls=5)
    assert batches(kinesis) == [records] * 3
    [document] = kinesis.sqs_documents()
    assert document["requestContext"]["approximateInvokeCount"] == 3
    assert document["responseContext"]["functionError"] is None
    assert document["KinesisBatchInfo"]["batchSize"] == 3


@pytest.mark.parametrize("source", ["kinesis", "dynamodb"])
def test_shrunken_batch_gets_a_fresh_count(make_rig: Any, source: str) -> None:
    # PBF-8 and DLQ-10, the AWS recordings' setup: 6 records, BatchSize 3, N=3, record 6 always
    # reported. Records 1-5 once each; record 6 five times; the document says 4 and covers it.
    rig = make_rig(source)
    records = rig.put_many(6)
    always = records[5]
    rig.function.script = lambda rs: report(always) if always in [seq(r) for r in rs] else None
    rig.run(rig.poller("sqs", BatchSize=3, FunctionResponseTypes=RBIF, MaximumRetryAttempts=3), polls=8)
    assert batches(rig) == [records[:3], records[3:], [always], [always], [always], [always]]
    assert [rig.function.deliveries_of(r) for r in records] == [1, 1, 1, 1, 1, 5]
    [document] = rig.sqs_documents()
    assert document["requestContext"]["approximateInvokeCount"] == 4
    assert document["responseContext"]["functionError"] is None
    info = document["KinesisBatchInfo" if source == "kinesis" else "DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (always, always, 1)


def test_a_function_error_with_rbif_is_a_complete_failure(kinesis: Any) -> None:
    # PBF-6
    records = kinesis.put_many(2)
    kinesis.function.script = lambda rs: kinesis.RAISE
    kinesis.run(kinesis.poller("sqs", FunctionResponseTypes=RBIF, MaximumRetryAttempts=0), polls=2)
    [document] = kinesis.sqs_documents()
    assert document["responseContext"]["functionError"] == "Unhandled"
    assert document["KinesisBatchInfo"]["batchSize"] == len(records)


def test_reported_failures_are_ignored_without_rbif(kinesis: Any) -> None:
    # PBF-1: the return value is ignored when RBIF is off.
    records = kinesis.put_many(2)
    kinesis.function.script = lambda rs: report(records[0])
    poller = kinesis.poller("sqs", MaximumRetryAttempts=0)
    kinesis.run(poller, polls=3)
    assert batches(kinesis) == [records]
    assert kinesis.sqs_documents() == []
    assert poller.shards[0].checkpoint == records[-1]
