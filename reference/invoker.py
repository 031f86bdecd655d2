"""One synchronous Invoke of the function with a batch (EVT-K-1), and what it answered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from conformance.contract import PollerContext
from reference.batching import event_payload
from reference.config import MappingConfig
from reference.destinations import InvocationResult
from reference.events import PolledRecord
from reference.responses import Outcome, Throttled, classify_response

__all__ = ["Invocation", "Invoker"]

_KEPT_PAYLOADS = 64


@dataclass(frozen=True)
class Invocation:
    """``request_id`` and ``result`` are ``None`` when the call never reached the function."""

    outcome: Outcome
    request_id: str | None
    result: InvocationResult | None


class Invoker:
    def __init__(self, context: PollerContext, config: MappingConfig) -> None:
        self._client = context.client("lambda")
        self._function_arn = context.function_arn
        self._report_batch_item_failures = config.report_batch_item_failures
        # Payloads of the batches invoked lately, by the identity of their record tuple (kept
        # alive here, so an id is never reused while its entry lasts).
        self._payloads: dict[int, tuple[Sequence[PolledRecord], bytes]] = {}

    def invoke(self, records: Sequence[PolledRecord]) -> Invocation:
        try:
            response = self._client.invoke(
                FunctionName=self._function_arn,
                InvocationType="RequestResponse",  # EVT-K-1: synchronous
                Payload=self._payload(records),
            )
        except ClientError as error:
            # RETRY-6: throttles and service errors happen before the function runs; they are
            # retried without counting. Any Invoke error is taken as such, since Invoke reports
            # a failure *of the function* in FunctionError with HTTP 200, never as an error.
            code = str(error.response.get("Error", {}).get("Code", "ClientError"))
            return Invocation(Throttled(code), None, None)
        payload = _read_payload(response.get("Payload"))
        outcome = self.classify(response, payload, records)
        metadata = response.get("ResponseMetadata") or {}
        request_id = metadata.get("RequestId")
        status = response.get("StatusCode")
        result = InvocationResult(
            status_code=status if isinstance(status, int) else 200,
            executed_version=str(response.get("ExecutedVersion") or "$LATEST"),  # DLQ-5
            function_error=str(response["FunctionError"]) if response.get("FunctionError") else None,
        )
        return Invocation(outcome, str(request_id) if request_id else None, result)

    def _payload(self, records: Sequence[PolledRecord]) -> bytes:
        # A retry sends the very batch again (the same tuple of frozen records): its payload is
        # serialised once, not once per attempt. Shards take turns, so a few batches are kept.
        kept = self._payloads.get(id(records))
        if kept is not None and kept[0] is records:
            return kept[1]
        payload = event_payload(records)
        if len(self._payloads) >= _KEPT_PAYLOADS:
            self._payloads.clear()
        self._payloads[id(records)] = (records, payload)
        return payload

    def classify(
        self, response: Mapping[str, Any], payload: bytes, records: Sequence[PolledRecord]
    ) -> Outcome:
        """What a completed Invoke meant for ``records`` (a seam for variants of the poller)."""
        return classify_response(
            response,
            payload,
            report_batch_item_failures=self._report_batch_item_failures,
            sequence_numbers={r.sequence_number for r in records},
        )


def _read_payload(body: Any) -> bytes:
    """The bytes of the ``Payload`` StreamingBody (or of plain bytes from a simple client)."""
    if body is None:
        return b""
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    data = body.read()
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)
