"""A small in-test world for harness tests: it records every client call, releases records at
their arrival offsets, and knows nothing of Kinesis beyond the names of operations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest

from conformance.clock import VirtualClock
from conformance.contract import PollerContext
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

    def __getattr__(self, operation: str) -> Callable[..., Any]:
        def call(**params: Any) -> Any:
            world = self._world
            world.trace.calls.append(
                Call(
                    index=len(world.trace.calls),
                    at=world.clock.now(),
                    service=self._service,
                    operation=operation,
                    params=params,
                    response={},
                )
            )
            return {}

        return call


class FakeWorld:
    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.clock = VirtualClock(scenario.clock.start)
        self.trace = Trace()
        self.closed = False
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
