"""The recording proxy's shortcuts on the hot path change nothing a reader of the trace sees:
calls built without ``Call.__init__`` are ordinary calls, remembered instants follow the clock,
and the parameters kept are the ones sent."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from worldkit import START

from conformance.clock import VirtualClock
from conformance.trace import Call, Trace
from conformance.world.recording import CallCounter, RecordingClient


class Echo:
    def describe(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"Args": list(args), "Kwargs": dict(kwargs)}


def recorder() -> tuple[RecordingClient, Trace, VirtualClock]:
    trace = Trace()
    clock = VirtualClock(START)
    return RecordingClient(Echo(), "kinesis", trace, clock, CallCounter()), trace, clock


def test_a_recorded_call_is_an_ordinary_call() -> None:
    proxy, trace, _ = recorder()
    proxy.describe(StreamName="s")
    [call] = trace.calls

    fields = {f.name: getattr(call, f.name) for f in dataclasses.fields(Call)}
    assert set(vars(call)) == set(fields)  # every field set, nothing else
    assert call == Call(**fields)
    assert repr(call) == repr(Call(**fields))
    assert dataclasses.replace(call, index=7).index == 7
    assert dataclasses.asdict(call)["params"] == {"StreamName": "s"}


def test_calls_share_an_instant_while_the_clock_stands_and_see_it_move() -> None:
    proxy, trace, clock = recorder()
    proxy.describe()
    proxy.describe()
    clock.advance(0.001)
    proxy.describe()
    clock.advance(0.0)
    proxy.describe()
    clock.advance(60)
    proxy.describe()

    moved = START + timedelta(seconds=0.001)
    assert [c.at for c in trace.calls] == [START, START, moved, moved, moved + timedelta(seconds=60)]
    assert [c.at for c in trace.calls] == [START + timedelta(seconds=e) for e in (0, 0, 0.001, 0.001, 60.001)]


def test_positional_arguments_are_recorded_beside_the_keywords_and_not_passed_twice() -> None:
    proxy, trace, _ = recorder()
    answer = proxy.describe("a", 1, Limit=5)

    assert answer == {"Args": ["a", 1], "Kwargs": {"Limit": 5}}  # "*args" is not sent as a keyword
    assert trace.calls[0].params == {"Limit": 5, "*args": ("a", 1)}
