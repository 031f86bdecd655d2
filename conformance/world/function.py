"""The scripted function: what answers the poller's ``lambda.invoke`` in every world backend.

Behaviour is keyed by *record* (the scenario's ``Behaviour``), so it keeps its meaning whatever
batches the poller forms. For one invocation (SEMANTICS.md, "Function behaviour"):

1. If any record in the batch is THROTTLE with throttles remaining, each such record's remaining
   count drops by one and the call fails with ``TooManyRequestsException`` (HTTP 429) before the
   function runs: no delivery is counted (RETRY-6).
2. Otherwise the function runs and each record's delivery count goes up by one.
3. If any record is POISON, or TRANSIENT within its first ``times`` deliveries, the function
   raises: ``FunctionError: "Unhandled"`` with an ``{"errorMessage", "errorType"}`` payload.
4. Else the first INVALID record's PBF-5 form; else, if any record is REPORTED,
   ``{"batchItemFailures": [{"itemIdentifier": <sequence number as sent>}]}`` for every
   REPORTED record (PBF-2); else the scenario's PBF-4 success form.
5. The answer does not depend on the mapping's ReportBatchItemFailures: a function does not know
   how it is mapped, and code written for partial batch responses keeps returning them when the
   setting is off. With it off a correct poller ignores the answer (PBF-1); a poller that reads it
   anyway then sees a failure-looking body to misread.

Records are recognised in the incoming event by sequence number (``kinesis.sequenceNumber`` or
``dynamodb.SequenceNumber``; Kinesis records also by the shard named in their ``eventID``), using
the mapping from realised stream records to scenario records that the world registers as it
writes them. A record the function cannot recognise behaves as OK.

The object is a boto3-compatible ``lambda`` client exposing ``invoke`` (plus ``meta`` and
``exceptions``), with deterministic request ids so a scenario replays identically.
"""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.response import StreamingBody

from conformance.scenario import INVALID_FORMS, SUCCESS_FORMS, Behaviour, RecordSpec, Scenario, Source
from conformance.trace import StreamRecord, abbreviate
from conformance.world import names
from conformance.world._service import counter_uuid, response_metadata, service_support

__all__ = ["MAX_SYNC_PAYLOAD_BYTES", "ScriptedFunction"]

MAX_SYNC_PAYLOAD_BYTES = 6_291_456
"""The synchronous Invoke request limit (6 MiB), enforced as Lambda does (BATCH-6)."""

_INVOCATION_TYPES = ("Event", "RequestResponse", "DryRun")
_KEPT_PAYLOADS = 64


@dataclass
class _RecordState:
    spec: RecordSpec
    deliveries: int = 0
    throttles_left: int = 0


class ScriptedFunction:
    """A boto3-compatible lambda client whose one function follows the scenario's script."""

    def __init__(self, scenario: Scenario, *, function_arn: str = names.FUNCTION_ARN) -> None:
        self._support = service_support("lambda")
        self.meta = self._support.meta()
        self.exceptions = self._support.exceptions
        self._scenario = scenario
        self._function_arn = function_arn
        self._function_name = function_arn.rsplit(":", 1)[-1]
        self._partial_arn = function_arn.split(":", 4)[-1]  # "<account>:function:<name>"
        self._source = scenario.source
        self._success = _encode(SUCCESS_FORMS[scenario.success_form])
        self._states: dict[tuple[int, int], _RecordState] = {}
        for si, shard in enumerate(scenario.shards):
            for ri, spec in enumerate(shard.records):
                throttles = spec.times if spec.behaviour is Behaviour.THROTTLE else 0
                self._states[(si, ri)] = _RecordState(spec, throttles_left=throttles)
        # Recognition maps, filled by register(): (shard id, int seq) → ref, and int seq → ref
        # for sequence numbers that only one shard uses.
        self._by_shard_seq: dict[tuple[str, int], tuple[int, int]] = {}
        self._by_seq: dict[int, tuple[int, int] | None] = {}
        self._lock = threading.Lock()
        self._invocations = 0
        self._retired = False
        # Records of the payloads parsed lately: a poller retrying a batch sends the same payload
        # again (shards taking turns), and parsing is the largest part of answering an invocation.
        self._parsed: dict[bytes, list[Any]] = {}

    # ---- world side ---------------------------------------------------------------------------

    def register(self, record: StreamRecord) -> None:
        """Tell the function how a scenario record was realised in the stream."""
        key = int(record.sequence_number)
        self._by_shard_seq[(record.shard_id, key)] = record.ref
        # A sequence number used by two shards (moto numbers each Kinesis shard from 1) is only
        # recognised together with the shard named in the event's eventID.
        self._by_seq[key] = record.ref if key not in self._by_seq else None

    def deliveries(self, ref: tuple[int, int]) -> int:
        """How many times the function has run with this scenario record in its batch."""
        return self._states[ref].deliveries

    def throttles_left(self, ref: tuple[int, int]) -> int:
        return self._states[ref].throttles_left

    def retire(self) -> None:
        """Called when the world closes: later invocations are refused, as in a closed world."""
        self._retired = True

    @property
    def invocations(self) -> int:
        """Invoke calls answered so far, throttled ones included."""
        return self._invocations

    # ---- the lambda client ----------------------------------------------------------------------

    def can_paginate(self, operation_name: str) -> bool:
        return False

    def close(self) -> None:
        """Nothing to release; boto3 clients have close() too, and pollers may call it."""

    def invoke(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if args:
            raise TypeError("invoke() only accepts keyword arguments.")
        if self._retired:
            raise RuntimeError("this world is closed: its function no longer answers; build a new world")
        support = self._support
        support.validate("Invoke", kwargs)
        with self._lock:
            self._invocations += 1
            request_id = counter_uuid("invoke", self._invocations)
        self._check_function(kwargs.get("FunctionName", ""), kwargs.get("Qualifier"), request_id)
        invocation_type = kwargs.get("InvocationType", "RequestResponse")
        if invocation_type not in _INVOCATION_TYPES:
            raise support.error(
                "Invoke",
                "ValidationException",
                f"1 validation error detected: Value '{invocation_type}' at 'invocationType' failed to "
                "satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]",
                request_id=request_id,
            )
        sent = kwargs.get("Payload")
        if not isinstance(sent, bytes) and not (isinstance(sent, str) and sent.isascii()):
            sent = _payload_bytes(sent)  # a stream is read once; other text is encoded to count it
        # Measured before it is copied (ASCII text has one UTF-8 byte per character): LocalStack
        # retries a refused 7 MiB payload hundreds of times in one poll.
        if len(sent) > MAX_SYNC_PAYLOAD_BYTES:
            raise support.error(
                "Invoke",
                "RequestEntityTooLargeException",
                f"Request must be smaller than {MAX_SYNC_PAYLOAD_BYTES} bytes "
                "for the InvokeFunction operation",
                413,
                request_id=request_id,
            )
        payload = _payload_bytes(sent)
        records = self._event_records(payload, request_id)
        if invocation_type == "DryRun":
            return self._response(request_id, b"", 204, None, kwargs)
        batch = self._recognise(records)
        with self._lock:
            if invocation_type == "RequestResponse":
                throttled = [s for _, s in batch if s.throttles_left > 0]
                if throttled:
                    for state in throttled:  # RETRY-6: the function does not run
                        state.throttles_left -= 1
                    raise support.error(
                        "Invoke", "TooManyRequestsException", "Rate Exceeded.", 429, request_id=request_id
                    )
            for _, state in batch:
                state.deliveries += 1
            failing = self._failing(batch)
            body = self._answer(batch) if failing is None else None
        if invocation_type == "Event":
            # Asynchronous invocation: Lambda only acknowledges receipt; the result is not returned.
            return self._response(request_id, b"", 202, None, kwargs)
        if failing is not None:
            identifier, state = failing
            kind = state.spec.behaviour
            error_type = "PoisonRecordError" if kind is Behaviour.POISON else "TransientRecordError"
            message = (
                f"record {abbreviate(str(identifier))} is poison: "
                "the function fails whenever it is in the batch"
                if kind is Behaviour.POISON
                else f"record {abbreviate(str(identifier))} fails its first {state.spec.times} deliveries "
                f"(this was delivery {state.deliveries})"
            )
            error = {
                "errorMessage": message,
                "errorType": error_type,
                "requestId": request_id,
                "stackTrace": [],
            }
            return self._response(request_id, _encode(error), 200, "Unhandled", kwargs)
        assert body is not None
        return self._response(request_id, body, 200, None, kwargs)

    # ---- helpers ------------------------------------------------------------------------------

    def _check_function(self, name: str, qualifier: str | None, request_id: str) -> None:
        base = name[: -len(":$LATEST")] if name.endswith(":$LATEST") else name
        known = base in (self._function_arn, self._function_name, self._partial_arn)
        if known and qualifier in (None, "$LATEST"):
            return
        shown = (
            name
            if name.startswith("arn:")
            else f"arn:aws:lambda:{names.REGION}:{names.ACCOUNT_ID}:function:{name}"
        )
        if qualifier:
            shown = f"{shown}:{qualifier}"
        raise self._support.error(
            "Invoke", "ResourceNotFoundException", f"Function not found: {shown}", 404, request_id=request_id
        )

    def _event_records(self, payload: bytes, request_id: str) -> list[Any]:
        records = self._parsed.get(payload)
        if records is not None:
            return records  # only read, never changed (see _recognise)
        records = self._parse_event_records(payload, request_id)
        if len(self._parsed) >= _KEPT_PAYLOADS:
            self._parsed.clear()
        self._parsed[payload] = records
        return records

    def _parse_event_records(self, payload: bytes, request_id: str) -> list[Any]:
        try:
            event = json.loads(payload) if payload else None
        except ValueError as exc:
            raise self._support.error(
                "Invoke",
                "InvalidRequestContentException",
                f"Could not parse request body into json: Could not parse payload into json: {exc}",
                request_id=request_id,
            ) from None
        records = event.get("Records") if isinstance(event, dict) else None
        if not isinstance(records, list):
            found = "an empty payload" if event is None and not payload else f"a JSON {type(event).__name__}"
            raise self._support.error(
                "Invoke",
                "InvalidRequestContentException",
                'the scripted stream function expects an event {"Records": [...]} '
                f"(EVT-K-1, EVT-D-1), but the payload was {found}",
                request_id=request_id,
            )
        return records

    def _recognise(self, records: Iterable[Any]) -> list[tuple[Any, _RecordState]]:
        """(identifier as sent, state) per distinct recognised record, in event order."""
        batch: list[tuple[Any, _RecordState]] = []
        seen: set[tuple[int, int]] = set()
        kinesis = self._source is Source.KINESIS
        for record in records:
            if not isinstance(record, Mapping):
                continue
            inner = record.get("kinesis" if kinesis else "dynamodb")
            if not isinstance(inner, Mapping):
                continue
            identifier = inner.get("sequenceNumber" if kinesis else "SequenceNumber")
            ref = self._lookup(identifier, record.get("eventID") if kinesis else None)
            if ref is not None and ref not in seen:
                seen.add(ref)
                batch.append((identifier, self._states[ref]))
        return batch

    def _lookup(self, identifier: Any, event_id: Any) -> tuple[int, int] | None:
        if isinstance(identifier, bool) or not isinstance(identifier, (str, int)):
            return None
        try:
            key = int(identifier)
        except ValueError:
            return None
        if isinstance(event_id, str) and ":" in event_id:
            ref = self._by_shard_seq.get((event_id.rsplit(":", 1)[0], key))
            if ref is not None:
                return ref
        return self._by_seq.get(key)

    def _failing(self, batch: list[tuple[Any, _RecordState]]) -> tuple[Any, _RecordState] | None:
        for identifier, state in batch:
            kind = state.spec.behaviour
            if kind is Behaviour.POISON or (
                kind is Behaviour.TRANSIENT and state.deliveries <= state.spec.times
            ):
                return identifier, state
        return None

    def _answer(self, batch: list[tuple[Any, _RecordState]]) -> bytes:
        # Whatever ReportBatchItemFailures says (step 5 of the module docstring; PBF-1).
        for _, state in batch:
            if state.spec.behaviour is Behaviour.INVALID:
                return _encode(INVALID_FORMS[state.spec.form or ""])
        reported = [{"itemIdentifier": i} for i, s in batch if s.spec.behaviour is Behaviour.REPORTED]
        if reported:
            return _encode({"batchItemFailures": reported})  # PBF-2
        return self._success

    def _response(
        self, request_id: str, body: bytes, status: int, function_error: str | None, kwargs: Mapping[str, Any]
    ) -> dict[str, Any]:
        headers = {
            "content-type": "application/json",
            "content-length": str(len(body)),
            "x-amz-executed-version": "$LATEST",
        }
        if function_error is not None:
            headers["x-amz-function-error"] = function_error
        response: dict[str, Any] = {
            "ResponseMetadata": response_metadata(request_id, status, **headers),
            "StatusCode": status,
        }
        if function_error is not None:
            response["FunctionError"] = function_error
        if kwargs.get("LogType") == "Tail":
            log = f"START RequestId: {request_id} Version: $LATEST\nEND RequestId: {request_id}\n"
            response["LogResult"] = base64.b64encode(log.encode()).decode("ascii")
        if status != 204:
            response["ExecutedVersion"] = "$LATEST"
        response["Payload"] = StreamingBody(io.BytesIO(body), len(body))
        return response


def _encode(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8")


def _payload_bytes(payload: Any) -> bytes:
    if payload is None:
        return b""
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, (bytearray, memoryview)):
        return bytes(payload)
    data = payload.read()
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)
