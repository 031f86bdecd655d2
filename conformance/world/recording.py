"""The recording proxy: wraps any boto3-compatible client and writes every call into the trace.

What the poller under test does at the AWS boundary is the only evidence the rule checkers get,
so every method call becomes a :class:`conformance.trace.Call` with the virtual time it started,
its parameters, and either the response or the error. Nothing is changed on the way through,
with two exceptions that keep the trace readable after the fact:

* streamed request bodies (``lambda.invoke`` ``Payload``, ``s3.put_object`` ``Body``) given as
  file-like objects are read once and passed on as bytes, so the trace holds the bytes sent;
* the ``Payload`` stream of a ``lambda.invoke`` response is read, its bytes are stored in the
  recorded response, and the poller receives a fresh ``botocore.response.StreamingBody`` over the
  same bytes;
* an invoke ``Payload`` equal to one sent lately is replaced by that earlier object, equal in
  type and value (:class:`SharedPayloads`): a poller retrying a batch serialises it afresh for
  every attempt, and LocalStack retries a refused 7 MiB batch hundreds of times in one poll, so
  the trace would otherwise hold a copy per attempt.

``started``/``finished`` come from one counter shared by a whole world, so calls that overlap
(a poller with threads) show up as overlapping intervals (ORD-3 is checked from them).

This sits on the hot path of every scenario: wrappers are built once per method name and cached
on the proxy, and no response is copied except an invoke's (whose stream must be replaced).
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError
from botocore.response import StreamingBody

from conformance.clock import VirtualClock
from conformance.trace import Call, Trace

__all__ = ["CallCounter", "RecordingClient", "SharedPayloads"]

# Client helpers that are not AWS calls: passed through unrecorded. ``get_paginator`` is
# re-wired so that the pages it fetches *are* recorded.
_UNRECORDED = frozenset(
    {"can_paginate", "get_waiter", "close", "generate_presigned_url", "generate_presigned_post"}
)


class SharedPayloads:
    """One object per distinct invoke payload among the last few sent in a world.

    Equal payloads are found by comparing contents (a ``memcmp``) with the few kept payloads of the
    same type and length, most recent first: no hashing, so a retried 7 MiB payload costs a
    fraction of a millisecond, and payloads of other lengths cost nothing. Retries of one batch
    come one after another, or alternate with a few other shards' batches: a handful of kept
    payloads finds them.
    """

    KEPT = 8

    def __init__(self) -> None:
        self._recent: list[str | bytes] = []  # most recent first
        self._lock = threading.Lock()

    def share(self, payload: Any) -> Any:
        """``payload``, or the kept object equal to it (same type, same value)."""
        if not isinstance(payload, (str, bytes)):
            return payload
        kind, size = type(payload), len(payload)
        with self._lock:
            recent = self._recent
            for i, kept in enumerate(recent):
                if type(kept) is kind and len(kept) == size and (kept is payload or kept == payload):
                    if i:
                        recent.insert(0, recent.pop(i))
                    return kept
            recent.insert(0, payload)
            del recent[self.KEPT :]
        return payload


class CallCounter:
    """Ticks shared by every recording proxy of one world, the lock that orders the trace, and the
    world's shared invoke payloads."""

    def __init__(self) -> None:
        self._ticks = itertools.count(1)
        self.lock = threading.Lock()
        self._instant: tuple[float, datetime] | None = None
        self.payloads = SharedPayloads()

    def tick(self) -> int:
        # next() on itertools.count is atomic under the GIL: no lock needed for the ticks.
        return next(self._ticks)

    def now(self, clock: VirtualClock) -> datetime:
        """``clock.now()``, remembered while virtual time stands still (the calls of one poll
        share their instant, and building a datetime is a good part of recording a call)."""
        elapsed = clock.elapsed
        kept = self._instant
        if kept is not None and kept[0] == elapsed:
            return kept[1]
        instant = clock.now()
        if clock.elapsed == elapsed:  # another thread did not move the clock in between
            self._instant = (elapsed, instant)
        return instant


class RecordingClient:
    """A transparent proxy around ``client`` that records each method call into ``trace``.

    Non-callable attributes (``meta``, ``exceptions``) and private names pass straight through.
    Exceptions raised by the client are recorded (a ``ClientError``'s code and message; for any
    other exception its class name and text) and then re-raised unchanged.
    """

    def __init__(
        self, client: Any, service: str, trace: Trace, clock: VirtualClock, counter: CallCounter
    ) -> None:
        self.__dict__["_client"] = client
        self.__dict__["_service"] = service
        self.__dict__["_trace"] = trace
        self.__dict__["_clock"] = clock
        self.__dict__["_counter"] = counter

    @property
    def wrapped(self) -> Any:
        """The client behind the proxy (calls made on it are not recorded)."""
        return self._client

    def __repr__(self) -> str:
        return f"<RecordingClient {self._service} around {type(self._client).__name__}>"

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name.startswith("_") or name in _UNRECORDED or not callable(attr) or isinstance(attr, type):
            return attr
        wrapper = self._paginator_factory(attr) if name == "get_paginator" else self._record(name, attr)
        self.__dict__[name] = wrapper  # built once per method name
        return wrapper

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._client, name, value)

    def __dir__(self) -> list[str]:
        return sorted(set(dir(self._client)) | {"wrapped"})

    # ---- wrappers ---------------------------------------------------------------------------

    def _record(self, operation: str, method: Callable[..., Any]) -> Callable[..., Any]:
        service = self._service
        trace = self._trace
        clock = self._clock
        counter = self._counter
        is_invoke = service == "lambda" and operation == "invoke"
        body_param = (
            "Payload" if is_invoke else ("Body" if service == "s3" and operation == "put_object" else None)
        )

        payloads = counter.payloads

        def recorded(*args: Any, **kwargs: Any) -> Any:
            if body_param is not None:
                _read_stream_param(kwargs, body_param)
            if is_invoke and "Payload" in kwargs:
                # Equal in type and value: the client receives what the poller sent.
                kwargs["Payload"] = payloads.share(kwargs["Payload"])
            # ``kwargs`` is a fresh dict of this call: the trace may keep it as it is.
            params: dict[str, Any] = {**kwargs, "*args": args} if args else kwargs
            at = counter.now(clock)
            started = counter.tick()
            try:
                response = method(*args, **kwargs)
            except ClientError as exc:
                error = exc.response.get("Error") or {}
                _append(
                    trace,
                    counter,
                    at,
                    service,
                    operation,
                    params,
                    exc.response,
                    started,
                    str(error.get("Code") or "ClientError"),
                    str(error.get("Message") or exc),
                )
                raise
            except Exception as exc:
                _append(
                    trace,
                    counter,
                    at,
                    service,
                    operation,
                    params,
                    None,
                    started,
                    type(exc).__name__,
                    str(exc),
                )
                raise
            recorded_response = response
            if is_invoke and isinstance(response, dict):
                recorded_response, response = _split_invoke_payload(response)
            _append(trace, counter, at, service, operation, params, recorded_response, started, None, None)
            return response

        recorded.__name__ = operation
        recorded.__qualname__ = f"RecordingClient.{operation}"
        recorded.__doc__ = getattr(method, "__doc__", None)
        return recorded

    def _paginator_factory(self, get_paginator: Callable[..., Any]) -> Callable[..., Any]:
        """``get_paginator`` whose pages go through the recorded method of the same operation.

        botocore's ``Paginator`` calls the bound method it was built with; swapping it for the
        recorded wrapper keeps every page request in the trace.
        """

        def recorded_get_paginator(operation_name: str) -> Any:
            paginator = get_paginator(operation_name)
            method = getattr(self, operation_name)
            if hasattr(paginator, "_method"):
                paginator._method = method
            return paginator

        return recorded_get_paginator


def _append(
    trace: Trace,
    counter: CallCounter,
    at: Any,
    service: str,
    operation: str,
    params: dict[str, Any],
    response: Any,
    started: int,
    error_code: str | None,
    error_message: str | None,
) -> None:
    with counter.lock:
        calls = trace.calls
        calls.append(
            _new_call(
                {
                    "index": len(calls),
                    "at": at,
                    "service": service,
                    "operation": operation,
                    "params": params,
                    "response": response,
                    "error_code": error_code,
                    "error_message": error_message,
                    "started": started,
                    "finished": counter.tick(),
                }
            )
        )


# The fields _append gives _new_call: every field of Call, or the trace would hold broken calls.
_RECORDED_FIELDS = frozenset(
    {
        "index",
        "at",
        "service",
        "operation",
        "params",
        "response",
        "error_code",
        "error_message",
        "started",
        "finished",
    }
)
if {field.name for field in dataclasses.fields(Call)} != _RECORDED_FIELDS:  # pragma: no cover
    raise RuntimeError("conformance.trace.Call changed its fields: update _append in the recording proxy")


def _new_call(values: dict[str, Any]) -> Call:
    """``Call(**values)`` without the frozen dataclass's ``__init__``, which sets each field with
    ``object.__setattr__`` and is the largest cost of recording a call. ``values`` names every
    field (see ``_RECORDED_FIELDS``), so the result equals ``Call(**values)`` in every respect."""
    call = object.__new__(Call)
    call.__dict__.update(values)
    return call


def _read_stream_param(kwargs: dict[str, Any], key: str) -> None:
    value = kwargs.get(key)
    if value is None or isinstance(value, (bytes, str)):
        return
    if isinstance(value, (bytearray, memoryview)):
        kwargs[key] = bytes(value)
        return
    read = getattr(value, "read", None)
    if callable(read):
        data = read()
        kwargs[key] = data.encode("utf-8") if isinstance(data, str) else bytes(data)


def _split_invoke_payload(response: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what the trace keeps, what the poller gets): bytes for the trace, a fresh stream for
    the poller."""
    payload = response.get("Payload")
    read = getattr(payload, "read", None)
    if not callable(read):
        return response, response
    data = read()
    data = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    recorded = dict(response)
    recorded["Payload"] = data
    returned = dict(response)
    returned["Payload"] = StreamingBody(io.BytesIO(data), len(data))
    return recorded, returned
