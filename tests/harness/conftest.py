"""A small in-test world for harness tests: it records every client call, releases records at
their arrival offsets, and knows nothing of Kinesis beyond the names of operations."""

from __future__ import annotations

import itertools
import sys
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import settings
from hypothesis import strategies as st

from conformance.clock import VirtualClock
from conformance.contract import PollerContext
from conformance.harness import run_in_world
from conformance.scenario import ClockPlan, RecordSpec, Scenario, ShardSpec, Source
from conformance.trace import Call, StreamRecord, Trace

START = datetime(2024, 2, 29, 23, 59, 59, 500000, tzinfo=timezone.utc)


def make_scenario(
    arrivals: tuple[float, ...] = (-5.0,),
    gaps: tuple[float, ...] = (1.0,),
    **parameters: Any,
) -> Scenario:
    records = tuple(
        RecordSpec(
            sequence_number=str(49590000000000000000000000000000000000000000000000000001 + i),
            partition_key=f"pk{i}",
            data=b"{}",
            arrival=arrival,
        )
        for i, arrival in enumerate(arrivals)
    )
    return Scenario(
        source=Source.KINESIS,
        shards=(ShardSpec("shardId-000000000000", records),),
        parameters={"StartingPosition": "TRIM_HORIZON", **parameters},
        clock=ClockPlan(start=START, poll_gaps=gaps),
    )


class FakeClient:
    def __init__(self, service: str, world: FakeWorld) -> None:
        self._service = service
        self._world = world

    @property
    def released(self) -> tuple[StreamRecord, ...]:
        return self._world.released_records()

    def __getattr__(self, operation: str) -> Callable[..., Any]:
        def call(**params: Any) -> Any:
            world = self._world
            refused = (
                world.refused_reads.pop(0) if operation == "get_records" and world.refused_reads else None
            )
            world.trace.calls.append(
                Call(
                    index=len(world.trace.calls),
                    at=world.clock.now(),
                    service=self._service,
                    operation=operation,
                    params=params,
                    response={},
                    error_code=refused,
                )
            )
            if refused is not None:
                raise ClientError({"Error": {"Code": refused, "Message": "refused"}}, operation)
            return {}

        return call


class FakeWorld:
    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.clock = VirtualClock(scenario.clock.start)
        self.trace = Trace()
        self.closed = False
        self.refused_reads: list[str] = []
        """Error codes the next ``get_records`` calls fail with, one each."""
        self._released: list[StreamRecord] = []
        self._due = [((0, j), r) for j, r in enumerate(scenario.shards[0].records)]
        self.release_due_records()

    def context(self) -> PollerContext:
        return PollerContext(
            mapping_uuid="uuid",
            function_arn="arn:function",
            event_source_arn="arn:stream",
            parameters=self.scenario.parameters,
            clock=self.clock,
            region="us-east-1",
            account_id="123456789012",
            execution_role_arn="arn:role",
            clients=lambda service: FakeClient(service, self),
        )

    def release_due_records(self) -> None:
        while self._due and self._due[0][1].arrival <= self.clock.elapsed:
            ref, spec = self._due.pop(0)
            self._released.append(
                StreamRecord(
                    ref=ref,
                    shard_id="shardId-000000000000",
                    sequence_number=spec.sequence_number,
                    arrival=self.scenario.instant(spec.arrival),
                    partition_key=spec.partition_key,
                    data=spec.data,
                )
            )

    def released_records(self) -> tuple[StreamRecord, ...]:
        return tuple(self._released)

    def pending_arrivals(self) -> float | None:
        return self._due[0][1].arrival if self._due else None

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def scenario_of() -> Callable[..., Scenario]:
    """``scenario_of(arrivals=(...), gaps=(...), **mapping_parameters)``."""
    return make_scenario


@pytest.fixture
def world_of() -> Callable[[Scenario], FakeWorld]:
    return FakeWorld


# ---- a miniature kit: rules, strategies and world, standing in for the real ones -------------------
#
# The runner's logic (search, verdicts, shrinking, failure files, replay) is tested against these so
# the tests stay small, fast and independent of the real catalogue.


class FakeLevel(str, Enum):
    MUST = "must"
    SHOULD = "should"


@dataclass(frozen=True)
class FakeRule:
    id: str
    family: str
    level: FakeLevel
    title: str
    spec: str = "SPEC §0"
    needs: frozenset[str] = frozenset()
    focus: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FakeViolation:
    rule_id: str
    message: str


@dataclass(frozen=True)
class FakeCheckResult:
    exercised: int
    violations: tuple[FakeViolation, ...]


class FakeRuleViolation(AssertionError):
    def __init__(self, rule_id: str, message: str) -> None:
        super().__init__(message)
        self.rule_id = rule_id
        self.message = message


def delivered(observation: Any) -> list[int]:
    """Record numbers in the order the poller delivered them (the fake event carries ``n``)."""
    return [r["n"] for inv in observation.trace.invocations() for r in inv.records]


def check_order(observation: Any) -> FakeCheckResult:
    order = delivered(observation)
    for earlier, later in itertools.pairwise(order):
        if later < earlier:
            return FakeCheckResult(
                len(order), (FakeViolation("FAKE-1", f"record {later} was delivered after record {earlier}"),)
            )
    return FakeCheckResult(len(order), ())


def never_exercised(observation: Any) -> FakeCheckResult:
    return FakeCheckResult(0, ())


def broken_checker(observation: Any) -> FakeCheckResult:
    raise KeyError("Records")


FAKE_CHECKERS: dict[str, Callable[[Any], FakeCheckResult]] = {
    "FAKE-1": check_order,
    "FAKE-2": never_exercised,
    "OTHER-1": broken_checker,
    "NEEDY-1": check_order,
}

FAKE_CATALOGUE = {
    "FAKE-1": FakeRule("FAKE-1", "FAKE", FakeLevel.MUST, "records are delivered in order"),
    "FAKE-2": FakeRule("FAKE-2", "FAKE", FakeLevel.MUST, "a rule no scenario exercises"),
    "OTHER-1": FakeRule("OTHER-1", "OTHER", FakeLevel.SHOULD, "a checker with a bug"),
    "NEEDY-1": FakeRule(
        "NEEDY-1",
        "NEEDY",
        FakeLevel.SHOULD,
        "needs bisection",
        needs=frozenset({"bisect"}),
        focus={"bisect": True},
    ),
}

STRATEGY_CALLS: list[dict[str, Any]] = []


def fake_scenarios(**focus: Any) -> st.SearchStrategy[Scenario]:
    STRATEGY_CALLS.append(focus)
    source = Source(focus.get("source", "kinesis"))

    def build(count: int, bisect: bool) -> Scenario:
        scenario = make_scenario(arrivals=tuple(-1.0 for _ in range(count)))
        parameters = dict(scenario.parameters, BisectBatchOnFunctionError=bisect)
        return Scenario(source=source, shards=scenario.shards, parameters=parameters, clock=scenario.clock)

    return st.builds(build, st.integers(0, 6), st.just(True) if focus.get("bisect") else st.booleans())


def fake_run_scenario(adapter: Any, scenario: Scenario, *, world: str = "memory", budget: Any = None) -> Any:
    return run_in_world(adapter, scenario, FakeWorld(scenario), budget=budget)


@pytest.fixture
def fake_kit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Installs the miniature kit in place of conformance.rules / conformance.strategies and the
    world; returns a results directory. Registers the Hypothesis profile ``runner-test``."""
    rules = types.ModuleType("conformance.rules")
    rules.CATALOGUE = FAKE_CATALOGUE  # type: ignore[attr-defined]
    rules.check = lambda rule_id, observation: FAKE_CHECKERS[rule_id](observation)  # type: ignore[attr-defined]
    rules.violation_error = lambda v: FakeRuleViolation(v.rule_id, v.message)  # type: ignore[attr-defined]
    strategies = types.ModuleType("conformance.strategies")
    strategies.scenarios = fake_scenarios  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "conformance.rules", rules)
    monkeypatch.setitem(sys.modules, "conformance.strategies", strategies)
    monkeypatch.setattr("conformance.runner.run_scenario", fake_run_scenario)
    STRATEGY_CALLS.clear()
    settings.register_profile("runner-test", max_examples=25, derandomize=True, database=None)
    settings.register_profile("runner-test-random", max_examples=10, derandomize=False, database=None)
    return tmp_path / "results"


@pytest.fixture
def strategy_calls(fake_kit: Path) -> list[dict[str, Any]]:
    """The focus arguments the runner passed to the fake ``scenarios``."""
    return STRATEGY_CALLS
