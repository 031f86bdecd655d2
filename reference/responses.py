"""What an Invoke call meant for the batch: success, partial failure, complete failure, or
throttled before the function ran (PBF-1..7, RETRY-3, RETRY-6)."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CompleteFailure",
    "Outcome",
    "PartialFailure",
    "Success",
    "Throttled",
    "classify_payload",
    "classify_response",
]


@dataclass(frozen=True)
class Success:
    """The whole batch is acknowledged (ORD-4)."""


@dataclass(frozen=True)
class PartialFailure:
    """RBIF: ``lowest`` is the lowest reported sequence number (PBF-3). Records before it are
    acknowledged; it and every later record of the batch are retried."""

    lowest: str


@dataclass(frozen=True)
class CompleteFailure:
    """The whole batch failed (RETRY-3, PBF-5, PBF-6). ``function_error`` is the Invoke
    ``FunctionError`` ("Unhandled" for a raised exception) or ``None`` for an invalid RBIF
    response (DLQ-5: ``"functionError": null``)."""

    function_error: str | None
    reason: str


@dataclass(frozen=True)
class Throttled:
    """The Invoke call failed before the function ran (RETRY-6): not counted, not bisected
    (BISECT-9); the identical batch is retried later."""

    error_code: str


Outcome = Success | PartialFailure | CompleteFailure | Throttled


def classify_response(
    response: Mapping[str, Any],
    payload: bytes,
    *,
    report_batch_item_failures: bool,
    sequence_numbers: Collection[str],
) -> Outcome:
    """Classify a completed Invoke (its parsed response and the bytes read from ``Payload``)."""
    function_error = response.get("FunctionError")
    if function_error:
        # RETRY-3, PBF-6: a raised error fails the batch whatever RBIF says.
        return CompleteFailure(str(function_error), f"the function raised ({function_error})")
    status = response.get("StatusCode")
    if isinstance(status, int) and not 200 <= status < 300:
        return CompleteFailure(None, f"Invoke answered StatusCode {status}")
    if not report_batch_item_failures:
        return Success()  # PBF-1: with RBIF off the return value is ignored.
    return classify_payload(payload, sequence_numbers)


def classify_payload(payload: bytes, sequence_numbers: Collection[str]) -> Outcome:
    """PBF-3/4/5: read a ReportBatchItemFailures response. ``sequence_numbers`` are the records
    of the batch exactly as sent (``kinesis.sequenceNumber`` / ``dynamodb.SequenceNumber``)."""
    if not payload.strip():
        return Success()  # a function that returns nothing; the same as null (PBF-4)
    try:
        value = json.loads(payload)
    except ValueError:
        return CompleteFailure(None, "the function's response is not JSON")
    if not isinstance(value, dict):
        # PBF-4: null, [] and "" are success; any other non-object fails the batch.
        if value is None or value == [] or value == "":
            return Success()
        return CompleteFailure(None, f"the response is not an object: {_short(value)}")
    failures = value.get("batchItemFailures")
    if failures is None:
        return Success()  # PBF-4: {} and {"batchItemFailures": null}
    if not isinstance(failures, list):
        return CompleteFailure(None, f"batchItemFailures is not a list: {_short(failures)}")
    if not failures:
        return Success()  # PBF-4: {"batchItemFailures": []}
    reported: list[str] = []
    for entry in failures:
        identifier = entry.get("itemIdentifier") if isinstance(entry, dict) else None
        # PBF-5: empty, null, missing, non-string or unknown identifiers fail the whole batch.
        # Uncertain (SPEC is silent): a mix of valid and invalid entries, and a number equal to
        # a sequence number, are complete failures too (SEMANTICS). Reason: a response that
        # cannot be read entirely cannot say which records succeeded, so nothing is
        # acknowledged on its word (at least once, ORD-9).
        if not isinstance(identifier, str) or identifier not in sequence_numbers:
            return CompleteFailure(None, f"invalid batchItemFailures entry {_short(entry)}")
        reported.append(identifier)
    # PBF-3: the checkpoint is the lowest reported record, compared as integers (ORD-2).
    return PartialFailure(min(reported, key=int))


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."
