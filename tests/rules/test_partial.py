"""PBF checkers."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import History


def test_pbf1_a_return_value_read_although_rbif_is_off(history: type[History]) -> None:
    h = history("kinesis", retries=2)
    r = h.put_many(2)
    h.ok(r, 0, response={"batchItemFailures": [{"itemIdentifier": r[1].sequence_number}]})
    h.ok(r[1:], 1)
    (message,) = h.violations("PBF-1")
    assert "counts as success while ReportBatchItemFailures is off" in message
    assert f"yet record {r[1].label} was delivered again in invocation #2" in message


def test_pbf2_a_valid_partial_failure_treated_as_complete(history: type[History]) -> None:
    h = history("kinesis", rbif=True, retries=2)
    r = h.put_many(3)
    h.partial(r, 0, reported=[r[1]])
    h.ok(r, 1)
    (message,) = h.violations("PBF-2")
    assert f"treated the whole batch from {r[0].label} as failed" in message


def test_pbf3_the_retry_begins_at_the_lowest_by_text_not_number(history: type[History]) -> None:
    h = history("kinesis", rbif=True)
    head = h.put(0, sequence_number="8000")
    short, long = h.put(0, sequence_number="9000"), h.put(0, sequence_number="10000")
    h.partial([head, short, long], 0, reported=[long, short])
    h.ok([long], 1)  # "10000" < "9000" as text: the wrong record
    (message,) = h.violations("PBF-3")
    assert f"the lowest reported record (compared as integers) is {short.label}" in message
    assert f"began at {long.label}" in message


def test_pbf3_only_the_reported_records_retried(history: type[History]) -> None:
    h = history("kinesis", rbif=True)
    r = h.put_many(3)
    h.partial(r, 0, reported=[r[1]])
    h.ok(r[1:2], 1)
    (message,) = h.violations("PBF-3")
    assert f"lacks record {r[2].label}" in message


def test_pbf4_a_success_form_treated_as_a_failure(history: type[History]) -> None:
    h = history("kinesis", rbif=True, success_form="empty_string")
    r = h.put(0)
    h.ok([r], 0)
    h.ok([r], 1)
    (message,) = h.violations("PBF-4")
    assert 'returned the success response "", which counts as complete success' in message
    assert f"record {r.label} was delivered again" in message


def test_pbf5_an_invalid_response_treated_as_success(history: type[History]) -> None:
    h = history("kinesis", rbif=True, retries=2, batch_size=1)
    p, g = h.put(0), h.put(0)
    h.invalid([p], 0, form="empty_identifier")
    h.ok([g], 1)
    (message,) = h.violations("PBF-5")
    assert 'returned the invalid response {"batchItemFailures": [{"itemIdentifier": ""}]}' in message
    assert f"moved past {p.label} after 1 invocation(s)" in message


def test_pbf5_the_document_reports_an_exception(history: type[History]) -> None:
    h = history("kinesis", rbif=True, retries=0, destination="sqs")
    r = h.put_many(2)
    h.invalid(r, 0)
    h.discard(r, 0, function_error="Unhandled")
    (message,) = h.violations("PBF-5")
    assert r[1].label in message and "functionError 'Unhandled' instead of None" in message


def test_pbf6_an_exception_read_as_a_response(history: type[History]) -> None:
    h = history("kinesis", rbif=True, retries=2, batch_size=1)
    p, g = h.put(0), h.put(0)
    h.fail([p], 0)
    h.ok([g], 1)
    (message,) = h.violations("PBF-6")
    assert "returned a function error (Unhandled), which counts as a complete failure" in message
    assert p.label in message


def test_pbf6_the_document_reports_null(history: type[History]) -> None:
    h = history("kinesis", rbif=True, retries=0, destination="sqs")
    p = h.put(0)
    h.fail([p], 0)
    h.discard([p], 0, function_error=None)
    (message,) = h.violations("PBF-6")
    assert p.label in message and "functionError None instead of 'Unhandled'" in message


def test_pbf7_partial_retries_beyond_the_quota(history: type[History]) -> None:
    h = history("kinesis", rbif=True, retries=1)
    r = h.put_many(2)
    for t in range(3):
        h.partial(r, t, reported=[r[0]])
    (message,) = h.violations("PBF-7")
    assert "was invoked 3 times in a row after partial failures" in message and r[1].label in message


def test_pbf7_the_document_covers_the_acknowledged_records(history: type[History]) -> None:
    h = history("kinesis", rbif=True, retries=0, destination="sqs")
    r = h.put_many(3)
    h.partial(r, 0, reported=[r[1]])
    h.partial(r[1:], 1, reported=[r[1]])
    h.discard(r[1:], 1, function_error="Unhandled")
    (message,) = h.violations("PBF-7")
    assert "instead of statusCode 200 and functionError null" in message and r[2].label in message


def test_pbf8_the_shrunken_batch_discarded_without_an_invocation(history: type[History]) -> None:
    h = history("kinesis", rbif=True, retries=3, destination="sqs")
    r = h.put_many(2)
    h.partial(r, 0, reported=[r[1]])
    h.discard(r[1:], 0, count=1, function_error=None)
    (message,) = h.violations("PBF-8")
    assert f"the shrunken batch {r[1].label} was discarded without being invoked" in message


def test_pbf8_the_shrunken_batch_with_too_few_invocations(history: type[History]) -> None:
    h = history("kinesis", rbif=True, retries=2, destination="sqs")
    r = h.put_many(2)
    h.partial(r, 0, reported=[r[1]])
    h.partial(r[1:], 1, reported=[r[1]])
    h.partial(r[1:], 2, reported=[r[1]])
    h.discard(r[1:], 2, count=3, function_error=None)
    (message,) = h.violations("PBF-8")
    assert f"shrank the batch to {r[1].label}" in message and "invoked only 2 time(s)" in message
