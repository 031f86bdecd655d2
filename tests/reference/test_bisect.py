"""BisectBatchOnFunctionError (BISECT-2..7, BISECT-9) as SEMANTICS.md decides the uncertain
points: the lower half takes ceil(n/2) records and goes first; each half has a fresh count."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.scenario import INVALID_FORMS


def seq(record: dict[str, Any]) -> str:
    if "kinesis" in record:
        return str(record["kinesis"]["sequenceNumber"])
    return str(record["dynamodb"]["SequenceNumber"])


def batches(rig: Any) -> list[list[str]]:
    return [call.sequence_numbers for call in rig.function.delivered]


def poison(rig: Any, *bad: str) -> Any:
    return lambda records: rig.RAISE if any(seq(r) in bad for r in records) else None


@pytest.mark.parametrize("source", ["kinesis", "dynamodb"])
def test_failed_batch_is_halved_until_the_bad_record_is_alone(make_rig: Any, source: str) -> None:
    # BISECT-2 (lower half first), BISECT-3 (with N=0 the halves still run: the split used no
    # quota), BISECT-4 (a succeeding half is not redelivered), BISECT-5 (alone, then discarded).
    rig = make_rig(source)
    a, b, c, d = rig.put_many(4)
    rig.function.script = poison(rig, c)
    rig.run(rig.poller("sqs", BisectBatchOnFunctionError=True, MaximumRetryAttempts=0), polls=6)
    assert batches(rig) == [[a, b, c, d], [a, b], [c, d], [c], [d]]
    [document] = rig.sqs_documents()
    info = document["KinesisBatchInfo" if source == "kinesis" else "DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["batchSize"]) == (c, 1)
    assert document["requestContext"]["approximateInvokeCount"] == 1
    assert document["responseContext"]["functionError"] == "Unhandled"


def test_odd_batch_gives_the_extra_record_to_the_lower_half(kinesis: Any) -> None:
    # BISECT-2 (uncertain odd split): ceil(5/2) = 3.
    records = kinesis.put_many(5)
    kinesis.function.script = poison(kinesis, records[0])
    kinesis.run(kinesis.poller(BisectBatchOnFunctionError=True, MaximumRetryAttempts=0), polls=8)
    assert batches(kinesis)[:3] == [records, records[:3], records[:2]]


def test_one_record_batch_is_retried_under_the_quota(kinesis: Any) -> None:
    # BISECT-5: the isolated record gets N + 1 invocations (fresh count after the split).
    a, b = kinesis.put_many(2)
    kinesis.function.script = poison(kinesis, b)
    kinesis.run(kinesis.poller("sqs", BisectBatchOnFunctionError=True, MaximumRetryAttempts=2), polls=8)
    assert batches(kinesis) == [[a, b], [a], [b], [b], [b]]
    [document] = kinesis.sqs_documents()
    assert document["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert document["requestContext"]["approximateInvokeCount"] == 3


def test_batch_size_is_unchanged_after_a_bisection(kinesis: Any) -> None:
    # BISECT-6
    first = kinesis.put_many(4)
    kinesis.function.script = poison(kinesis, first[0])
    poller = kinesis.poller(BatchSize=4, BisectBatchOnFunctionError=True, MaximumRetryAttempts=0)
    kinesis.run(poller, polls=5)
    later = kinesis.put_many(4)
    kinesis.run(poller, polls=2)
    assert batches(kinesis)[-1] == later


def test_partial_failure_under_bisection_retries_from_the_reported_record(kinesis: Any) -> None:
    # BISECT-7: with RBIF a partial failure is PBF-3, not a split.
    a, b, c, d = kinesis.put_many(4)
    answers = iter([{"batchItemFailures": [{"itemIdentifier": c}]}, None])
    kinesis.function.script = lambda records: next(answers)
    kinesis.run(
        kinesis.poller(
            BisectBatchOnFunctionError=True,
            FunctionResponseTypes=["ReportBatchItemFailures"],
            MaximumRetryAttempts=0,
        ),
        polls=3,
    )
    assert batches(kinesis) == [[a, b, c, d], [c, d]]


@pytest.mark.parametrize("form", sorted(INVALID_FORMS))
def test_invalid_rbif_response_is_a_complete_failure_and_bisects(kinesis: Any, form: str) -> None:
    # PBF-5 handled like a function error; SEMANTICS: it bisects too.
    a, b = kinesis.put_many(2)
    kinesis.function.script = lambda records: INVALID_FORMS[form] if seq(records[0]) == a else None
    kinesis.run(
        kinesis.poller(
            "sqs",
            BisectBatchOnFunctionError=True,
            FunctionResponseTypes=["ReportBatchItemFailures"],
            MaximumRetryAttempts=0,
        ),
        polls=4,
    )
    assert batches(kinesis) == [[a, b], [a], [b]]
    [document] = kinesis.sqs_documents()
    assert document["KinesisBatchInfo"]["startSequenceNumber"] == a
    assert document["responseContext"]["functionError"] is None


def test_every_half_that_fails_keeps_splitting(kinesis: Any) -> None:
    # BISECT-4: recursion down to single records on both sides.
    records = kinesis.put_many(4)
    bad = {records[1], records[2]}
    kinesis.function.script = poison(kinesis, *bad)
    kinesis.run(kinesis.poller("sqs", BisectBatchOnFunctionError=True, MaximumRetryAttempts=0), polls=10)
    a, b, c, d = records
    assert batches(kinesis) == [[a, b, c, d], [a, b], [a], [b], [c, d], [c], [d]]
    assert [doc["KinesisBatchInfo"]["startSequenceNumber"] for doc in kinesis.sqs_documents()] == [b, c]


def test_without_bisection_the_whole_batch_is_retried(kinesis: Any) -> None:
    records = kinesis.put_many(4)
    kinesis.function.script = poison(kinesis, records[3])
    kinesis.run(kinesis.poller("sqs", MaximumRetryAttempts=1), polls=3)
    assert batches(kinesis) == [records, records]
    [document] = kinesis.sqs_documents()
    assert document["KinesisBatchInfo"]["batchSize"] == 4
