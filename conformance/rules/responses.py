"""How an invocation ended, read from the raw Invoke response (PBF-1, PBF-4, PBF-5, RETRY-3,
RETRY-6).

This is the kit's own reading of SPEC.md, written from the spec text: a poller that classifies
responses differently shows up as a poller that retries, acknowledges or discards the wrong
records.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from typing import Any

from conformance.trace import Invocation

__all__ = ["Outcome", "OutcomeKind", "classify", "describe_value"]

_NOTHING: Any = object()

# Error codes of an Invoke call that was throttled: the function never ran (RETRY-6).
_THROTTLE_CODES = frozenset({"TooManyRequestsException", "ThrottlingException"})


class OutcomeKind(Enum):
    SUCCESS = "success"
    """The whole batch is acknowledged (ORD-4, PBF-1, PBF-4)."""
    PARTIAL = "partial"
    """Valid ``batchItemFailures``: records before the lowest reported one are acknowledged
    (PBF-3)."""
    FAILURE = "failure"
    """A complete failure: a function error, or an invalid RBIF response (RETRY-3, PBF-5)."""
    THROTTLED = "throttled"
    """The Invoke call was throttled before the function ran (RETRY-6)."""
    NOT_INVOKED = "not invoked"
    """The Invoke call failed with another error: the batch never reached the function."""


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    what: str
    """Prose for messages, before the response: "a function error (Unhandled)", "the success
    response" ..."""
    response: Any = _NOTHING
    """The parsed response, shown after ``what`` in messages (rendered only when needed:
    outcomes are classified for every invocation, messages are rare)."""
    function_error: str | None = None
    invalid: bool = False
    """A complete failure caused by an invalid RBIF response (PBF-5), not by a function error."""
    lowest: str | None = None
    """PARTIAL: the lowest reported sequence number (numeric comparison, PBF-3)."""

    @property
    def detail(self) -> str:
        """``the invalid response {"batchItemFailures": [{"itemIdentifier": ""}]}``."""
        if self.response is _NOTHING:
            return self.what
        return f"{self.what} {describe_value(self.response)}"

    @cached_property  # read in every checker's loops
    def reached_function(self) -> bool:
        return self.kind not in (OutcomeKind.THROTTLED, OutcomeKind.NOT_INVOKED)

    @property
    def failed(self) -> bool:
        """Whether some record of the batch must be retried or discarded."""
        return self.kind is not OutcomeKind.SUCCESS


def describe_value(value: Any, limit: int = 80) -> str:
    """A short JSON rendering of a response value for messages."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def classify(invocation: Invocation, rbif: bool, sequence_numbers: Sequence[str]) -> Outcome:
    """The outcome of ``invocation`` for a mapping with ReportBatchItemFailures ``rbif``, whose
    batch holds records with ``sequence_numbers`` (as sent in the event)."""
    code = invocation.call.error_code
    if code is not None:
        if code in _THROTTLE_CODES or invocation.throttled:
            return Outcome(OutcomeKind.THROTTLED, f"a throttle ({code})")
        return Outcome(OutcomeKind.NOT_INVOKED, f"an Invoke error ({code})")
    if invocation.function_error is not None:
        # RETRY-3, PBF-6: an unhandled exception fails the whole batch, whatever RBIF says.
        return Outcome(
            OutcomeKind.FAILURE,
            f"a function error ({invocation.function_error})",
            function_error=invocation.function_error,
        )
    if not rbif:
        # PBF-1: with RBIF off the return value is ignored; any non-error return is success.
        return Outcome(OutcomeKind.SUCCESS, "a successful return (ReportBatchItemFailures is off)")
    return _classify_response(invocation.response_payload, sequence_numbers)


def _classify_response(payload: bytes, sequence_numbers: Sequence[str]) -> Outcome:
    try:
        value = json.loads(payload) if payload.strip() else None
    except ValueError:
        return Outcome(OutcomeKind.FAILURE, "a response that is not JSON", invalid=True)
    if not isinstance(value, Mapping):
        # PBF-4: null, [] and "" are success; any other top-level value is not a response.
        if value is None or value == [] or value == "":
            return Outcome(OutcomeKind.SUCCESS, "the success response", value)
        return Outcome(OutcomeKind.FAILURE, "the invalid response", value, invalid=True)
    failures = value.get("batchItemFailures")
    if failures is None or failures == []:
        # PBF-4: {}, {"batchItemFailures": []}, {"batchItemFailures": null}.
        return Outcome(OutcomeKind.SUCCESS, "the success response", value)
    if not isinstance(failures, list):
        return Outcome(OutcomeKind.FAILURE, "the invalid response", value, invalid=True)
    in_batch = set(sequence_numbers)
    reported: list[str] = []
    for entry in failures:
        identifier = entry.get("itemIdentifier") if isinstance(entry, Mapping) else None
        # PBF-2, PBF-5: an identifier must be the sequence number (a string) of a record of this
        # very batch; one bad entry makes the whole response a complete failure.
        if not isinstance(identifier, str) or identifier not in in_batch:
            return Outcome(OutcomeKind.FAILURE, "the invalid response", value, invalid=True)
        reported.append(identifier)
    lowest = min(reported, key=_numeric)  # PBF-3: numeric, not text, comparison
    return Outcome(OutcomeKind.PARTIAL, "the partial failure", value, lowest=lowest)


def _numeric(sequence_number: str) -> tuple[int, int, str]:
    if sequence_number.isdigit():
        return (0, int(sequence_number), "")
    return (1, 0, sequence_number)
