"""Classifying Invoke answers (PBF-3..6, RETRY-3): each PBF-4 success form, each PBF-5 failure
form, and numeric comparison of reported sequence numbers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conformance.scenario import INVALID_FORMS, SUCCESS_FORMS
from reference.responses import (
    CompleteFailure,
    PartialFailure,
    Success,
    classify_payload,
    classify_response,
)

BATCH = ("49590338271490256608559692538361571095921575989136588898", "9", "10", "11")


def classify(value: Any, sequence_numbers: tuple[str, ...] = BATCH) -> object:
    return classify_payload(json.dumps(value).encode(), sequence_numbers)


@pytest.mark.parametrize("form", sorted(SUCCESS_FORMS))
def test_every_pbf4_form_is_success(form: str) -> None:
    assert classify(SUCCESS_FORMS[form]) == Success()


@pytest.mark.parametrize("form", sorted(INVALID_FORMS))
def test_every_pbf5_form_is_a_complete_failure_without_function_error(form: str) -> None:
    outcome = classify(INVALID_FORMS[form])
    assert isinstance(outcome, CompleteFailure)
    assert outcome.function_error is None  # DLQ-5: "functionError": null


@pytest.mark.parametrize(
    "value",
    [
        [{"itemIdentifier": None}],  # PBF-5 as SPEC writes it: a top-level list
        [{"foo": 123}],
        {"batchItemFailures": {"itemIdentifier": "9"}},  # not a list
        {"batchItemFailures": ["9"]},  # entries must be objects
        {"batchItemFailures": [{"itemIdentifier": "9"}, {"itemIdentifier": ""}]},  # a mix: still invalid
        {"batchItemFailures": [{"itemIdentifier": "12"}]},  # not in the batch
        {"batchItemFailures": [{"itemIdentifier": 9}]},  # a number equal to a sequence number
        "failed",
        42,
        True,
    ],
)
def test_other_invalid_responses_fail_the_whole_batch(value: Any) -> None:
    assert isinstance(classify(value), CompleteFailure)


def test_a_response_that_is_not_json_fails_the_batch() -> None:
    assert isinstance(classify_payload(b"<html>", BATCH), CompleteFailure)


def test_an_empty_payload_is_a_null_return() -> None:
    assert classify_payload(b"", BATCH) == Success()


def test_lowest_reported_is_chosen_by_integer_value_not_text() -> None:
    # PBF-3, ORD-2: "10" < "9" as text, but 9 < 10.
    value = {
        "batchItemFailures": [{"itemIdentifier": "10"}, {"itemIdentifier": "9"}, {"itemIdentifier": "11"}]
    }
    assert classify(value) == PartialFailure("9")
    long_first = {"batchItemFailures": [{"itemIdentifier": BATCH[0]}, {"itemIdentifier": "11"}]}
    assert classify(long_first) == PartialFailure("11")


def test_function_error_fails_whatever_the_payload() -> None:
    # RETRY-3, PBF-6
    response = {"StatusCode": 200, "FunctionError": "Unhandled"}
    for rbif in (True, False):
        outcome = classify_response(response, b"{}", report_batch_item_failures=rbif, sequence_numbers=BATCH)
        assert outcome == CompleteFailure("Unhandled", "the function raised (Unhandled)")


def test_return_value_is_ignored_without_report_batch_item_failures() -> None:
    # PBF-1
    payload = json.dumps(INVALID_FORMS["empty_identifier"]).encode()
    outcome = classify_response(
        {"StatusCode": 200}, payload, report_batch_item_failures=False, sequence_numbers=BATCH
    )
    assert outcome == Success()
    assert isinstance(
        classify_response(
            {"StatusCode": 200}, payload, report_batch_item_failures=True, sequence_numbers=BATCH
        ),
        CompleteFailure,
    )
