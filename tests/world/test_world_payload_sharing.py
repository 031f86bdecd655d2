"""Retried invoke payloads cost one copy, not one per attempt (BATCH-6).

A poller serialises a batch afresh for every attempt, so retries arrive as equal payloads in
distinct objects. LocalStack retries a refused 7 MiB batch hundreds of times within one poll:
the trace must keep one copy of such a payload, the function must refuse it without copying it,
and reading the trace must not convert or parse it once per call. None of this may change what
a reader of the trace sees: the payloads and events stay equal to the ones sent.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from worldkit import START, event_for, kinesis_scenario

from conformance.clock import VirtualClock
from conformance.scenario import Source
from conformance.trace import Call, Trace
from conformance.world import names
from conformance.world.function import MAX_SYNC_PAYLOAD_BYTES
from conformance.world.recording import CallCounter, RecordingClient, SharedPayloads

ATTEMPTS = 5


def oversized_event(world: Any) -> dict[str, Any]:
    """An event of the world's released records, padded past the 6 MiB synchronous limit."""
    event = event_for(world.released_records(), Source.KINESIS)
    padding = MAX_SYNC_PAYLOAD_BYTES - len(json.dumps(event)) + 1
    event["Records"][0]["kinesis"]["data"] += "A" * (padding - padding % 4 + 4)
    return event


def test_equal_oversized_invocations_keep_one_payload_copy(open_world: Any, backend: str) -> None:
    world = open_world(kinesis_scenario(((-1.0, -0.5),)), backend)
    event = oversized_event(world)
    lam = world.context().client("lambda")
    sent = []
    for _ in range(ATTEMPTS):
        payload = json.dumps(event)  # serialised afresh for every attempt, as a retrying poller does
        assert all(payload is not earlier for earlier in sent)
        sent.append(payload)
        with pytest.raises(ClientError) as refused:
            lam.invoke(FunctionName=names.FUNCTION_ARN, Payload=payload)
        assert refused.value.response["Error"]["Code"] == "RequestEntityTooLargeException"

    calls = [c for c in world.trace.calls if c.operation == "invoke"]
    assert [c.error_code for c in calls] == ["RequestEntityTooLargeException"] * ATTEMPTS
    assert len({id(c.params["Payload"]) for c in calls}) == 1, "the trace keeps one copy of the payload"
    assert calls[0].params["Payload"] == sent[0]

    invocations = world.trace.invocations()
    assert len({id(i.payload) for i in invocations}) == 1, "the invocations share one bytes object"
    assert len({id(i.event) for i in invocations}) == 1, "and one parsed event"
    assert invocations[0].payload == sent[0].encode()
    assert len(invocations[0].payload) > MAX_SYNC_PAYLOAD_BYTES
    assert invocations[0].event == event


class _UnencodableText(str):
    """Text that refuses to be encoded: the function must measure it, not copy it."""

    def encode(self, *args: Any, **kwargs: Any) -> bytes:
        raise AssertionError("a refused payload was encoded to measure it")


def test_the_function_refuses_oversized_text_without_encoding_it(open_world: Any) -> None:
    world = open_world(kinesis_scenario(((-1.0,),)))
    payload = _UnencodableText(json.dumps(oversized_event(world)))
    with pytest.raises(ClientError, match="Request must be smaller than 6291456 bytes"):
        world.function.invoke(FunctionName=names.FUNCTION_ARN, Payload=payload)


def test_non_ascii_text_is_measured_in_utf8_bytes(open_world: Any) -> None:
    # 3 MiB characters of two UTF-8 bytes each: 6 MiB of text, over the limit once encoded.
    world = open_world(kinesis_scenario(((-1.0,),)))
    event = event_for(world.released_records(), Source.KINESIS)
    event["note"] = "é" * (MAX_SYNC_PAYLOAD_BYTES // 2)
    payload = json.dumps(event, ensure_ascii=False)
    assert len(payload) < MAX_SYNC_PAYLOAD_BYTES < len(payload.encode())
    with pytest.raises(ClientError, match="Request must be smaller than 6291456 bytes"):
        world.function.invoke(FunctionName=names.FUNCTION_ARN, Payload=payload)


# ---- the recording proxy's shared payloads ---------------------------------------------------------


def test_shared_payloads_merge_equal_values_only() -> None:
    shared = SharedPayloads()
    first = "x" * 1000 + "a"
    assert shared.share(first) is first
    assert shared.share("x" * 1000 + "a") is first, "equal text: the kept object"
    other = "x" * 1000 + "b"
    assert shared.share(other) is other, "same length, other content: its own object"
    as_bytes = first.encode()
    assert shared.share(as_bytes) is as_bytes, "equal content of another type stays what it is"
    assert shared.share(None) is None


def test_shared_payloads_follow_alternating_batches_within_their_bound() -> None:
    shared = SharedPayloads()
    batches = [f"batch {i} " * 100 for i in range(SharedPayloads.KEPT)]
    kept = [shared.share(b) for b in batches]
    again = [shared.share("".join(list(b))) for b in batches]  # equal text in new objects
    assert all(a is k for a, k in zip(again, kept, strict=True)), "shards taking turns share too"
    for i in range(SharedPayloads.KEPT):
        shared.share(f"later {i} " * 100)
    late = "".join(list(batches[0]))
    assert shared.share(late) is late, "only the last few distinct payloads are kept"


class _Refusing:
    """A lambda client refusing every call, as Lambda refuses a payload over 6 MiB."""

    def __init__(self) -> None:
        self.received: list[Any] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.received.append(kwargs["Payload"])
        error = {"Code": "RequestEntityTooLargeException", "Message": "too large"}
        raise ClientError({"Error": error}, "Invoke")


def test_the_client_receives_what_the_poller_sent() -> None:
    client = _Refusing()
    trace = Trace()
    proxy = RecordingClient(client, "lambda", trace, VirtualClock(START), CallCounter())
    for payload in ('{"Records": [1]}', "".join(['{"Records": ', "[1]}"]), b'{"Records": [2]}'):
        with pytest.raises(ClientError):
            proxy.invoke(FunctionName="f", Payload=payload)
    assert client.received == ['{"Records": [1]}', '{"Records": [1]}', b'{"Records": [2]}']
    assert [type(p) for p in client.received] == [str, str, bytes]
    assert client.received[0] is client.received[1]


# ---- reading the trace --------------------------------------------------------------------------------


def invoke_call(index: int, payload: Any) -> Call:
    return Call(
        index=index,
        at=START + timedelta(seconds=index),
        service="lambda",
        operation="invoke",
        params={"FunctionName": "f", "Payload": payload},
        error_code="RequestEntityTooLargeException",
    )


def test_invocations_share_equal_payloads_sent_as_distinct_objects() -> None:
    event = {"Records": [{"n": 1}], "pad": "A" * 100_000}
    texts = [json.dumps(event) for _ in range(ATTEMPTS)]
    assert len({id(t) for t in texts}) == ATTEMPTS
    trace = Trace(calls=[invoke_call(i, t) for i, t in enumerate(texts)] + [invoke_call(9, b"not json")])

    *retried, broken = trace.invocations()
    assert len({id(i.payload) for i in retried}) == 1
    assert len({id(i.event) for i in retried}) == 1
    assert all(i.payload == texts[0].encode() and i.event == event for i in retried)
    assert [i.records for i in retried] == [[{"n": 1}]] * ATTEMPTS
    assert (broken.payload, broken.event) == (b"not json", None)
