"""The recording proxy: every call into the trace, errors recorded then re-raised, invoke payload
streams replaced, overlapping calls visible."""

from __future__ import annotations

import io
import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError
from botocore.response import StreamingBody
from worldkit import START, answer, invoke, kinesis_scenario, kinesis_sequence, record

from conformance.clock import VirtualClock
from conformance.scenario import Behaviour
from conformance.trace import Trace
from conformance.world import names
from conformance.world.recording import CallCounter, RecordingClient


class FakeClient:
    """A boto3-like client with one of everything the proxy must handle."""

    meta = "the meta object"
    exceptions = "the exceptions object"

    def __init__(self) -> None:
        self._private = "private"
        self.entered = threading.Event()
        self.release = threading.Event()

    def describe(self, **kwargs: Any) -> dict[str, Any]:
        return {"Echo": kwargs}

    def fail(self, **kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "SomethingWrong", "Message": "it went wrong"}}, "Fail")

    def crash(self, **kwargs: Any) -> None:
        raise KeyError("boom")

    def blocking(self, **kwargs: Any) -> str:
        self.entered.set()
        assert self.release.wait(timeout=30), "test did not release the blocking call"
        return "done"

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        data = b'{"answer": 42}'
        return {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(data), len(data))}


def proxy(service: str = "kinesis") -> tuple[RecordingClient, FakeClient, Trace, VirtualClock]:
    client = FakeClient()
    trace = Trace()
    clock = VirtualClock(START)
    return RecordingClient(client, service, trace, clock, CallCounter()), client, trace, clock


def test_each_call_is_recorded_with_its_virtual_time_params_and_response() -> None:
    recorder, _, trace, clock = proxy()
    first = recorder.describe(StreamName="a")
    clock.advance(2.5)
    params = {"StreamName": "b"}
    recorder.describe(**params)
    params["StreamName"] = "changed after the call"
    assert first == {"Echo": {"StreamName": "a"}}
    calls = trace.calls
    assert [(c.index, c.service, c.operation) for c in calls] == [
        (0, "kinesis", "describe"),
        (1, "kinesis", "describe"),
    ]
    assert [c.at for c in calls] == [START, START + timedelta(seconds=2.5)]
    assert calls[1].params == {"StreamName": "b"}, "the trace keeps the parameters as they were sent"
    assert calls[1].response == {"Echo": {"StreamName": "b"}}
    assert [(c.started, c.finished) for c in calls] == [(1, 2), (3, 4)]
    assert all(c.error_code is None for c in calls)


def test_client_errors_are_recorded_and_re_raised_unchanged() -> None:
    recorder, _, trace, _ = proxy()
    with pytest.raises(ClientError) as caught:
        recorder.fail(Key="k")
    (call,) = trace.calls
    assert (call.error_code, call.error_message) == ("SomethingWrong", "it went wrong")
    assert call.response is caught.value.response
    assert call.params == {"Key": "k"}


def test_other_exceptions_are_recorded_by_class_name() -> None:
    recorder, _, trace, _ = proxy()
    with pytest.raises(KeyError):
        recorder.crash()
    assert (trace.calls[0].error_code, trace.calls[0].error_message) == ("KeyError", "'boom'")


def test_non_callable_and_private_attributes_pass_through_unrecorded() -> None:
    recorder, client, trace, _ = proxy()
    assert recorder.meta == "the meta object"
    assert recorder.exceptions == "the exceptions object"
    assert recorder._private == "private"
    assert recorder.wrapped is client
    with pytest.raises(AttributeError):
        recorder.no_such_method  # noqa: B018
    assert trace.calls == []


def test_invoke_payload_bytes_go_to_the_trace_and_a_fresh_stream_to_the_caller() -> None:
    recorder, _, trace, _ = proxy("lambda")
    response = recorder.invoke(FunctionName="f", Payload=io.BytesIO(b'{"Records": []}'))
    assert isinstance(response["Payload"], StreamingBody)
    assert response["Payload"].read() == b'{"answer": 42}'
    (call,) = trace.calls
    assert call.response["Payload"] == b'{"answer": 42}'
    assert call.params["Payload"] == b'{"Records": []}', "a file-like request payload is recorded as bytes"
    (invocation,) = trace.invocations()
    assert invocation.response_payload == b'{"answer": 42}'
    assert invocation.event == {"Records": []}


def test_overlapping_calls_from_two_threads_have_overlapping_ticks() -> None:
    recorder, client, trace, _ = proxy()
    worker = threading.Thread(target=recorder.blocking)
    worker.start()
    assert client.entered.wait(timeout=30)
    recorder.describe(StreamName="meanwhile")
    client.release.set()
    worker.join(timeout=30)
    by_operation = {c.operation: c for c in trace.calls}
    blocking, describe = by_operation["blocking"], by_operation["describe"]
    assert blocking.started < describe.started < describe.finished < blocking.finished
    assert [c.operation for c in trace.calls] == ["describe", "blocking"], "the trace is in finishing order"


def test_the_world_records_the_invoke_as_an_invocation_with_its_answer(open_world: Any) -> None:
    world = open_world(kinesis_scenario(rbif=True))
    response = invoke(world, world.released_records())
    assert answer(response) == {"batchItemFailures": []}
    (invocation,) = world.trace.invocations()
    assert invocation.request_id == response["ResponseMetadata"]["RequestId"]
    assert invocation.status_code == 200
    assert invocation.function_error is None
    assert json.loads(invocation.response_payload) == {"batchItemFailures": []}
    assert [r["kinesis"]["sequenceNumber"] for r in invocation.records] == [
        r.sequence_number for r in world.released_records()
    ]


def test_a_throttle_is_recorded_as_a_throttled_invocation(open_world: Any) -> None:
    world = open_world(
        kinesis_scenario(([record(kinesis_sequence(0, 0), -1.0, Behaviour.THROTTLE, times=1)],))
    )
    with pytest.raises(ClientError):
        invoke(world, world.released_records())
    (invocation,) = world.trace.invocations()
    assert invocation.throttled
    assert invocation.request_id is not None


def test_parameter_validation_errors_are_recorded(backend: str, open_world: Any) -> None:
    world = open_world(kinesis_scenario(), backend)
    kinesis = world.context().client("kinesis")
    with pytest.raises(ParamValidationError):
        kinesis.list_shards(StreamNam=names.STREAM_NAME)
    assert world.trace.calls[-1].error_code == "ParamValidationError"
    assert "StreamNam" in (world.trace.calls[-1].error_message or "")


def test_calls_of_all_proxies_of_a_world_share_one_tick_counter(open_world: Any) -> None:
    world = open_world(kinesis_scenario(rbif=True))
    context = world.context()
    context.client("kinesis").list_shards(StreamName=names.STREAM_NAME)
    invoke(world, world.released_records())
    ticks = [(c.service, c.started, c.finished) for c in world.trace.calls]
    assert ticks == [("kinesis", 1, 2), ("lambda", 3, 4)]
