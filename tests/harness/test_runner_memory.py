"""The runner does not hold on to observations: a search keeps no earlier observation alive
while it runs the next scenario, and none once it is done (a trace can carry megabytes of
invocation payloads, and a shrinking search runs hundreds of scenarios)."""

from __future__ import annotations

import gc
import json
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import conformance.runner
from conformance.contract import Adapter, PollerContext
from conformance.observation import Observation
from conformance.runner import ObservationCache, RunOptions, Verdict, run_rule, run_rules, select_rules
from conformance.scenario import Scenario


class Deliverer:
    """Invokes one record per poll (the fake world's ``n``), in shard order or reversed."""

    reverse = False

    def __init__(self, context: PollerContext) -> None:
        self.context = context
        self.kinesis = context.client("kinesis")
        self.sent = 0

    def poll(self) -> None:
        self.kinesis.get_records(ShardIterator="it")
        count = len(self.kinesis.released)
        if len(self.kinesis.released) >= 3 and type(self) is Raiser:
            raise ConnectionError("stream endpoint refused the connection")
        order = list(reversed(range(count))) if self.reverse else list(range(count))
        if self.sent < len(order):
            payload = json.dumps({"Records": [{"n": order[self.sent]}]}).encode()
            self.sent += 1
            self.context.client("lambda").invoke(FunctionName=self.context.function_arn, Payload=payload)

    def close(self) -> None:
        return None


class Reverser(Deliverer):
    reverse = True  # breaks FAKE-1 as soon as a shard holds two records


class Raiser(Deliverer):
    """Raises once three records have arrived: inconclusive runs, shrunk."""


GOOD = Adapter("good", Deliverer)
BROKEN = Adapter("broken", Reverser)


class Observations:
    """Weak references to every observation the runner made; at each new run, how many earlier
    ones were still alive (after a full collection, so only real references count)."""

    def __init__(self) -> None:
        self.made: list[weakref.ref[Observation]] = []
        self.alive_at_each_run: list[int] = []

    def alive(self) -> int:
        gc.collect()
        return sum(1 for ref in self.made if ref() is not None)

    def wrap(self, run: Callable[..., Observation]) -> Callable[..., Observation]:
        def recorded(*args: Any, **kwargs: Any) -> Observation:
            self.alive_at_each_run.append(self.alive())
            observation = run(*args, **kwargs)
            self.made.append(weakref.ref(observation))
            return observation

        return recorded


@pytest.fixture
def observations(fake_kit: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Observations]:
    seen = Observations()
    monkeypatch.setattr("conformance.runner.run_scenario", seen.wrap(conformance.runner.run_scenario))
    yield seen


def options(results: Path, **kwargs: Any) -> RunOptions:
    return RunOptions(poller_spec="tests.pollers:make", results_dir=results, profile="runner-test", **kwargs)


def test_a_shrinking_search_keeps_no_earlier_observation(fake_kit: Path, observations: Observations) -> None:
    [rule] = select_rules(["FAKE-1"])
    result = run_rule(rule, BROKEN, options(fake_kit))

    assert result.verdict is Verdict.FAIL  # Hypothesis found and shrank a violation ...
    assert len(observations.made) > result.examples // 2 > 5
    assert max(observations.alive_at_each_run) == 0  # ... without the violations' tracebacks keeping runs
    assert observations.alive() == 0


def test_an_inconclusive_search_keeps_no_earlier_observation(
    fake_kit: Path, observations: Observations
) -> None:
    [rule] = select_rules(["FAKE-1"])
    result = run_rule(rule, Adapter("raises", Raiser), options(fake_kit))

    assert result.verdict is Verdict.INCONCLUSIVE
    assert len(observations.made) > 5
    assert max(observations.alive_at_each_run) == 0
    assert observations.alive() == 0


def test_a_shared_search_releases_its_observations_when_the_run_ends(
    fake_kit: Path, observations: Observations
) -> None:
    results = run_rules(select_rules(["FAKE-1", "FAKE-2"]), GOOD, options(fake_kit))

    assert [r.verdict for r in results] == [Verdict.PASS, Verdict.PASS]
    assert observations.made and observations.alive() == 0


class LargeInvoker(Deliverer):
    """Invokes one 300 KiB payload per poll, whatever the records."""

    def __init__(self, context: PollerContext) -> None:
        super().__init__(context)
        self.invoked = False

    def poll(self) -> None:
        if not self.invoked:
            self.invoked = True
            payload = json.dumps({"Records": [], "padding": "x" * (300 * 1024)}).encode()
            self.context.client("lambda").invoke(FunctionName=self.context.function_arn, Payload=payload)


def test_the_observation_cache_does_not_keep_observations_that_carried_much(
    fake_kit: Path, scenario_of: Callable[..., Scenario]
) -> None:
    cache = ObservationCache()
    scenario: Scenario = scenario_of(arrivals=(-1.0,))
    small = cache.observe(GOOD, scenario, "memory", None)
    assert cache.observe(GOOD, scenario, "memory", None) is small  # kept
    large = Adapter("large", LargeInvoker)
    first = cache.observe(large, scenario, "memory", None)
    assert cache.observe(large, scenario, "memory", None) is not first  # run again: not kept
    assert cache.hits == 1
