"""The trace: everything that crossed the boundary between the poller and the world, in order,
with virtual times. Rule checkers read only the scenario, the realised stream and this."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["Call", "DestinationWrite", "Invocation", "StreamRecord", "Trace"]


@dataclass(frozen=True)
class StreamRecord:
    """A record as it was realised in the world's stream. ``ref`` is ``(shard index, record
    index)`` into the scenario; ``sequence_number`` is the one the stream assigned."""

    ref: tuple[int, int]
    shard_id: str
    sequence_number: str
    arrival: datetime
    partition_key: str
    data: bytes

    @property
    def label(self) -> str:
        """How messages name the record: ``49590…0007 on shardId-000000000001``."""
        return f"{abbreviate(self.sequence_number)} on {self.shard_id}"


def abbreviate(sequence_number: str) -> str:
    return sequence_number if len(sequence_number) <= 12 else f"{sequence_number[:5]}…{sequence_number[-4:]}"


@dataclass(frozen=True)
class Call:
    """One client call made by the poller. ``started``/``finished`` are ticks of a counter shared by
    all calls, so overlapping calls (a poller with threads) can be seen."""

    index: int
    at: datetime
    service: str
    operation: str
    params: Mapping[str, Any]
    response: Any = None
    error_code: str | None = None
    error_message: str | None = None
    started: int = 0
    finished: int = 0


@dataclass(frozen=True)
class Invocation:
    """A Lambda Invoke made by the poller, with what the function answered."""

    call: Call
    payload: bytes
    event: Any
    """The parsed request payload, or None if it was not JSON."""
    throttled: bool
    status_code: int | None
    function_error: str | None
    response_payload: bytes
    request_id: str | None

    @property
    def at(self) -> datetime:
        return self.call.at

    @property
    def records(self) -> list[Any]:
        if isinstance(self.event, Mapping) and isinstance(self.event.get("Records"), list):
            return list(self.event["Records"])
        return []


@dataclass(frozen=True)
class DestinationWrite:
    """A document sent to the on-failure destination."""

    call: Call
    kind: str  # "sqs" | "sns" | "s3"
    target: str
    text: str
    """The SQS body, the SNS Message, or the S3 object body decoded as UTF-8."""
    s3_key: str | None = None

    @property
    def at(self) -> datetime:
        return self.call.at

    def document(self) -> Any:
        """The parsed JSON document, or None if it was not JSON."""
        try:
            return json.loads(self.text)
        except ValueError:
            return None


@dataclass
class Trace:
    calls: list[Call] = field(default_factory=list)

    def __iter__(self) -> Iterator[Call]:
        return iter(self.calls)

    def invocations(self) -> list[Invocation]:
        """The Lambda invokes in call order. A retried batch is usually sent as the very same
        payload: equal payloads are converted and parsed once and share their (read-only)
        ``payload`` bytes and ``event``. The recording proxy gives equal payloads one object
        (``conformance.world.recording.SharedPayloads``), which is then read only once."""
        payloads = _Payloads()
        return [
            inv
            for c in self.calls
            if c.service == "lambda" and (inv := _as_invocation(c, payloads)) is not None
        ]

    def destination_writes(self) -> list[DestinationWrite]:
        """The documents written: destination writes the service accepted."""
        return self._destination_writes(refused=False)

    def refused_destination_writes(self) -> list[DestinationWrite]:
        """Destination writes the service refused (their ``call.error_code`` says why): no
        document, but where the poller meant one to go."""
        return self._destination_writes(refused=True)

    def _destination_writes(self, *, refused: bool) -> list[DestinationWrite]:
        return [
            w
            for c in self.calls
            if c.service in _DESTINATION_SERVICES
            and (c.error_code is not None) is refused
            and (w := _as_destination_write(c)) is not None
        ]

    def to_json(self) -> list[dict[str, Any]]:
        return [_call_to_json(c) for c in self.calls]


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if value is None:
        return b""
    read = getattr(value, "read", None)
    if callable(read):  # a file-like body
        data = read()
        return _as_bytes(data)
    return bytes(str(value), "utf-8")


class _Payloads:
    """Invoke payloads as bytes with their parsed events, one pair per distinct payload.

    A payload object seen before is found by identity, without converting or hashing it again
    (a 7 MiB text payload costs milliseconds to encode, and a trace can hold hundreds of calls
    sharing it); an equal payload in another object is found by value and given the same pair.
    """

    def __init__(self) -> None:
        self._by_value: dict[bytes, tuple[bytes, Any]] = {}
        # id -> (the object itself, kept so that its id stays its own; bytes; event)
        self._by_object: dict[int, tuple[Any, bytes, Any]] = {}

    def get(self, sent: Any) -> tuple[bytes, Any]:
        seen = self._by_object.get(id(sent))
        if seen is not None and seen[0] is sent:
            return seen[1], seen[2]
        payload = _as_bytes(sent)
        pair = self._by_value.get(payload)
        if pair is None:
            pair = self._by_value[payload] = (payload, _parse(payload))
        if isinstance(sent, (str, bytes)):  # immutable: the same object is the same payload
            self._by_object[id(sent)] = (sent, *pair)
        return pair


def _parse(payload: bytes) -> Any:
    try:
        return json.loads(payload) if payload else None
    except ValueError:
        return None


def _as_invocation(call: Call, payloads: _Payloads | None = None) -> Invocation | None:
    if call.service != "lambda" or call.operation not in ("invoke", "Invoke"):
        return None
    payload, event = (payloads or _Payloads()).get(call.params.get("Payload"))
    response = call.response if isinstance(call.response, Mapping) else {}
    throttled = call.error_code in ("TooManyRequestsException", "ThrottlingException")
    metadata = response.get("ResponseMetadata") or {}
    return Invocation(
        call=call,
        payload=payload,
        event=event,
        throttled=throttled,
        status_code=response.get("StatusCode"),
        function_error=response.get("FunctionError"),
        response_payload=_as_bytes(response.get("Payload")),
        request_id=metadata.get("RequestId"),
    )


_DESTINATION_SERVICES = frozenset({"sqs", "sns", "s3"})  # the services _as_destination_write reads


def _as_destination_write(call: Call) -> DestinationWrite | None:
    p = call.params
    if call.service == "sqs" and call.operation == "send_message":
        return DestinationWrite(call, "sqs", str(p.get("QueueUrl")), str(p.get("MessageBody")))
    if call.service == "sns" and call.operation == "publish":
        return DestinationWrite(call, "sns", str(p.get("TopicArn")), str(p.get("Message")))
    if call.service == "s3" and call.operation == "put_object":
        body = _as_bytes(p.get("Body"))
        return DestinationWrite(
            call, "s3", str(p.get("Bucket")), body.decode("utf-8", "replace"), s3_key=str(p.get("Key"))
        )
    return None


def _call_to_json(call: Call) -> dict[str, Any]:
    def safe(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k): safe(v) for k, v in value.items()}
        if isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray)):
            return [safe(v) for v in value]
        if isinstance(value, (bytes, bytearray)):
            return bytes(value).decode("utf-8", "replace")
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        if isinstance(value, datetime):
            return value.isoformat()
        return repr(value)

    return {
        "index": call.index,
        "at": call.at.isoformat(),
        "service": call.service,
        "operation": call.operation,
        "params": safe(call.params),
        "response": safe(call.response),
        "error": call.error_code,
    }
