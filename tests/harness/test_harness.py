"""The harness's verdicts on well-behaved, raising, hanging, sleeping and never-quiet pollers."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conformance.contract import Adapter, PollerContext
from conformance.harness import Budget, is_read, run_in_world
from conformance.observation import RunStatus
from conformance.scenario import Scenario
from conformance.trace import Call

ScenarioOf = Callable[..., Scenario]


class Reader:
    """Reads the stream on every poll and does nothing else."""

    def __init__(self, context: PollerContext) -> None:
        self.context = context
        self.kinesis = context.client("kinesis")
        self.closed = False
        self.polls = 0

    def poll(self) -> None:
        self.polls += 1
        self.kinesis.get_records(ShardIterator="it")

    def close(self) -> None:
        self.closed = True


class Invoker(Reader):
    """Invokes the function on every poll: never quiet."""

    def poll(self) -> None:
        super().poll()
        self.context.client("lambda").invoke(FunctionName=self.context.function_arn, Payload=b"{}")


def adapter_for(factory: Callable[[PollerContext], Any], **kwargs: Any) -> tuple[Adapter, list[Any]]:
    """An adapter whose pollers are remembered, so tests can look at them afterwards."""
    made: list[Any] = []

    def make(context: PollerContext) -> Any:
        poller = factory(context)
        made.append(poller)
        return poller

    return Adapter(name="test", make_poller=make, **kwargs), made


def test_a_quiet_poller_completes_after_the_quiet_period(scenario_of: ScenarioOf, world_of: Any) -> None:
    scenario = scenario_of(gaps=(1.0,))
    world = world_of(scenario)
    adapter, made = adapter_for(Reader)

    obs = run_in_world(adapter, scenario, world, budget=Budget(quiet_seconds=30))

    assert obs.status is RunStatus.COMPLETED
    assert obs.polls == 31  # polls at +0 … +30 s; quiet for 30 s at the last one
    assert obs.ended_at_offset == 30.0
    assert made[0].polls == 31
    assert made[0].closed and world.closed
    assert "settled after 31 polls" in obs.reason
    assert [r.sequence_number for r in obs.records] == [scenario.shards[0].records[0].sequence_number]
    assert obs.mapping_uuid == "uuid" and obs.function_arn == "arn:function"


def test_the_quiet_period_starts_only_when_every_record_has_arrived(
    scenario_of: ScenarioOf, world_of: Any
) -> None:
    scenario = scenario_of(arrivals=(-5.0, 100.0), gaps=(7.0,))
    obs = run_in_world(adapter_for(Reader)[0], scenario, world_of(scenario), budget=Budget(quiet_seconds=30))

    assert obs.status is RunStatus.COMPLETED
    assert len(obs.records) == 2
    # the record is released at the poll at +105 s; quiet from there, the run ends at the poll at +140 s
    assert obs.ended_at_offset == 140.0


def test_the_quiet_period_is_at_least_the_batching_window_plus_ten_seconds(
    scenario_of: ScenarioOf, world_of: Any
) -> None:
    scenario = scenario_of(gaps=(1.0,), MaximumBatchingWindowInSeconds=60)
    obs = run_in_world(adapter_for(Reader)[0], scenario, world_of(scenario), budget=Budget(quiet_seconds=30))

    assert obs.status is RunStatus.COMPLETED
    assert obs.ended_at_offset == 70.0


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ExpiredIteratorException"])
def test_reads_the_stream_refused_are_not_quiet(scenario_of: ScenarioOf, world_of: Any, code: str) -> None:
    """A poller throttled (or handed an expired iterator) through a whole quiet period has not
    settled: it has not read the stream yet."""

    class Persistent(Reader):
        def poll(self) -> None:
            with contextlib.suppress(ClientError):
                super().poll()

    scenario = scenario_of(gaps=(40.0,))
    world = world_of(scenario)
    world.refused_reads = [code, code]
    obs = run_in_world(adapter_for(Persistent)[0], scenario, world, budget=Budget(quiet_seconds=30))

    assert obs.status is RunStatus.COMPLETED
    # Refused at +0 and +40 s: quiet from +40 s, so the run ends at the poll at +80 s, the first
    # read the stream answered (counted as quiet from +0 s, it ended at +40 s, unread).
    assert obs.ended_at_offset == 80.0
    assert [call.error_code for call in obs.trace.calls] == [code, code, None]


def test_an_expired_iterator_renewed_and_read_in_the_same_poll_is_quiet(
    scenario_of: ScenarioOf, world_of: Any
) -> None:
    class Renewer(Reader):
        def poll(self) -> None:
            try:
                super().poll()
            except ClientError:
                self.kinesis.get_shard_iterator(ShardId="shardId-000000000000", ShardIteratorType="LATEST")
                super().poll()

    scenario = scenario_of(gaps=(40.0,))
    world = world_of(scenario)
    world.refused_reads = ["ExpiredIteratorException"]
    obs = run_in_world(adapter_for(Renewer)[0], scenario, world, budget=Budget(quiet_seconds=30))

    # The poll at +0 s ended with a read the stream answered: quiet from +0 s.
    assert obs.ended_at_offset == 40.0
    assert [call.error_code for call in obs.trace.calls[:3]] == ["ExpiredIteratorException", None, None]


def test_the_quiet_period_lasts_a_round_of_polls_one_per_shard(
    scenario_of: ScenarioOf, world_of: Any
) -> None:
    """A poller serving one shard per poll has read every shard only after a round of polls."""
    one_shard = scenario_of(gaps=(40.0,))
    scenario = dataclasses.replace(one_shard, shards=one_shard.shards * 3)
    obs = run_in_world(adapter_for(Reader)[0], scenario, world_of(scenario), budget=Budget(quiet_seconds=30))

    # Quiet for 30 s by the poll at +40 s, but the round of 3 polls ends at +80 s.
    assert obs.status is RunStatus.COMPLETED
    assert (obs.polls, obs.ended_at_offset) == (3, 80.0)


def test_the_poll_gaps_are_cycled(scenario_of: ScenarioOf, world_of: Any) -> None:
    scenario = scenario_of(gaps=(0.0, 3.0))
    world = world_of(scenario)
    obs = run_in_world(adapter_for(Reader)[0], scenario, world, budget=Budget(quiet_seconds=12))

    offsets = [(call.at - scenario.clock.start).total_seconds() for call in obs.trace]
    assert offsets == [0.0, 0.0, 3.0, 3.0, 6.0, 6.0, 9.0, 9.0, 12.0]
    assert obs.status is RunStatus.COMPLETED


def test_a_never_quiet_poller_is_a_liveness_verdict(scenario_of: ScenarioOf, world_of: Any) -> None:
    scenario = scenario_of()
    world = world_of(scenario)
    adapter, made = adapter_for(Invoker)

    obs = run_in_world(adapter, scenario, world, budget=Budget(max_polls=50))

    assert obs.status is RunStatus.LIVENESS
    assert obs.polls == 50
    assert obs.reason == (
        "the run did not settle within its budget of 50 polls (after 50 polls, 49 s of virtual time): "
        "the poller never stayed quiet for 30 s: it was still making calls other than reads "
        "(last: lambda.invoke at +49 s)"
    )
    assert made[0].closed and world.closed


def test_running_out_of_virtual_time_is_a_liveness_verdict(scenario_of: ScenarioOf, world_of: Any) -> None:
    scenario = scenario_of(gaps=(60.0,))
    obs = run_in_world(
        adapter_for(Invoker)[0], scenario, world_of(scenario), budget=Budget(max_virtual_seconds=600)
    )

    assert obs.status is RunStatus.LIVENESS
    assert obs.reason.startswith("the run did not settle within its budget of 600 s of virtual time")


def test_records_still_to_arrive_are_named_in_the_liveness_reason(
    scenario_of: ScenarioOf, world_of: Any
) -> None:
    scenario = scenario_of(arrivals=(-1.0, 5000.0))
    obs = run_in_world(adapter_for(Reader)[0], scenario, world_of(scenario), budget=Budget(max_polls=10))

    assert obs.status is RunStatus.LIVENESS
    assert obs.reason.endswith("records were still due to arrive (next at +5000 s)")


def test_a_poller_sleeping_past_the_virtual_budget_is_a_liveness_verdict(
    scenario_of: ScenarioOf, world_of: Any
) -> None:
    class Sleeper(Invoker):
        def poll(self) -> None:
            super().poll()
            self.context.clock.sleep(3600)

    scenario = scenario_of()
    world = world_of(scenario)
    adapter, made = adapter_for(Sleeper)

    obs = run_in_world(adapter, scenario, world, budget=Budget(max_virtual_seconds=7200))

    assert obs.status is RunStatus.LIVENESS
    assert obs.reason.startswith("poll() slept past the virtual-time budget of 7200 s (after 2 polls)")
    assert made[0].closed and world.closed


def test_a_poller_whose_poll_raises_is_inconclusive_with_the_traceback(
    scenario_of: ScenarioOf, world_of: Any
) -> None:
    class Raiser(Reader):
        def poll(self) -> None:
            self.fail_deep_inside()

        def fail_deep_inside(self) -> None:
            raise ValueError("shard iterator lost")

    scenario = scenario_of()
    world = world_of(scenario)
    adapter, made = adapter_for(Raiser)

    obs = run_in_world(adapter, scenario, world)

    assert obs.status is RunStatus.INCONCLUSIVE
    assert obs.reason.startswith("poll() raised ValueError: shard iterator lost\n")
    assert "in fail_deep_inside" in obs.reason
    assert made[0].closed and world.closed


def test_a_factory_that_rejects_the_parameters_is_inconclusive_with_its_message(
    scenario_of: ScenarioOf, world_of: Any
) -> None:
    def factory(context: PollerContext) -> Reader:
        raise ValueError(f"BatchSize must be 1..10000, got {context.parameters['BatchSize']}")

    scenario = scenario_of(BatchSize=0)
    world = world_of(scenario)
    obs = run_in_world(Adapter("test", factory), scenario, world)

    assert obs.status is RunStatus.INCONCLUSIVE
    assert obs.reason.startswith("the poller factory raised ValueError: BatchSize must be 1..10000, got 0\n")
    assert obs.polls == 0 and world.closed


def test_a_factory_that_returns_something_else_is_inconclusive(
    scenario_of: ScenarioOf, world_of: Any
) -> None:
    scenario = scenario_of()
    obs = run_in_world(Adapter("test", lambda context: None), scenario, world_of(scenario))  # type: ignore[arg-type,return-value]

    assert obs.status is RunStatus.INCONCLUSIVE
    assert obs.reason == (
        "the poller factory returned None, which is not a poller; it must return an object with "
        "poll() and close() methods"
    )


def test_close_raising_after_a_settled_run_is_inconclusive(scenario_of: ScenarioOf, world_of: Any) -> None:
    class BadClose(Reader):
        def close(self) -> None:
            raise RuntimeError("connection pool already closed")

    scenario = scenario_of()
    world = world_of(scenario)
    obs = run_in_world(adapter_for(BadClose)[0], scenario, world, budget=Budget(quiet_seconds=3))

    assert obs.status is RunStatus.INCONCLUSIVE
    assert obs.reason.startswith("close() raised RuntimeError: connection pool already closed")
    assert world.closed


def test_a_clock_plan_that_never_moves_is_inconclusive(scenario_of: ScenarioOf, world_of: Any) -> None:
    scenario = scenario_of(gaps=(0.0, 0.0))
    world = world_of(scenario)
    obs = run_in_world(adapter_for(Reader)[0], scenario, world)

    assert obs.status is RunStatus.INCONCLUSIVE
    assert "every poll gap is 0 s" in obs.reason
    assert world.closed


# ---- hanging pollers ----------------------------------------------------------------------------

HANG_MESSAGE = (
    "poll() did not return within 0.2 s; the poller may be waiting on real time (use "
    "context.clock.sleep) or doing too much work in one call (return from poll() sooner; a poll "
    "is one unit of work)"
)


class Hanger(Reader):
    """Blocks on an event nobody sets during the run (as a poller waiting on real time would)."""

    release = threading.Event()

    def poll(self) -> None:
        super().poll()
        if self.polls == 2:
            self.release.wait()


@pytest.fixture
def hanger() -> Any:
    Hanger.release = threading.Event()
    yield Hanger
    Hanger.release.set()


def test_a_hanging_poll_is_inconclusive_within_the_timeout(
    scenario_of: ScenarioOf, world_of: Any, hanger: type[Hanger]
) -> None:
    scenario = scenario_of()
    world = world_of(scenario)
    adapter, made = adapter_for(hanger)
    threads_before = threading.active_count()

    obs = run_in_world(adapter, scenario, world, budget=Budget(poll_timeout=0.2))

    assert obs.status is RunStatus.INCONCLUSIVE
    assert obs.reason == HANG_MESSAGE
    assert obs.polls == 2
    assert made[0].closed and world.closed
    # In the main thread the alarm interrupts the wait itself: no thread is left behind.
    assert threading.active_count() == threads_before


def test_a_poller_that_swallows_the_interrupt_is_still_reported_as_hanging(
    scenario_of: ScenarioOf, world_of: Any, hanger: type[Hanger]
) -> None:
    class Swallower(Reader):
        def poll(self) -> None:
            with contextlib.suppress(BaseException):
                hanger.release.wait()

    scenario = scenario_of()
    obs = run_in_world(
        adapter_for(Swallower)[0], scenario, world_of(scenario), budget=Budget(poll_timeout=0.2)
    )

    assert obs.status is RunStatus.INCONCLUSIVE
    assert obs.reason == HANG_MESSAGE


def test_off_the_main_thread_a_hanging_poll_is_bounded_by_a_helper_thread(
    scenario_of: ScenarioOf, world_of: Any, hanger: type[Hanger]
) -> None:
    scenario = scenario_of()
    world = world_of(scenario)
    adapter, made = adapter_for(hanger)
    results: list[Any] = []

    runner = threading.Thread(
        target=lambda: results.append(run_in_world(adapter, scenario, world, budget=Budget(poll_timeout=0.2)))
    )
    runner.start()
    runner.join()

    [obs] = results
    assert obs.status is RunStatus.INCONCLUSIVE
    assert obs.reason == HANG_MESSAGE
    assert made[0].closed and world.closed
    abandoned = [t for t in threading.enumerate() if t.name == "stream-conformance-poll"]
    assert len(abandoned) == 1  # the hung poll cannot be stopped, only abandoned …
    hanger.release.set()
    abandoned[0].join()  # … and it finishes once released
    assert not abandoned[0].is_alive()


def test_off_the_main_thread_normal_runs_complete(scenario_of: ScenarioOf, world_of: Any) -> None:
    scenario = scenario_of()
    results: list[Any] = []
    runner = threading.Thread(
        target=lambda: results.append(
            run_in_world(adapter_for(Reader)[0], scenario, world_of(scenario), budget=Budget(quiet_seconds=5))
        )
    )
    runner.start()
    runner.join()

    assert results[0].status is RunStatus.COMPLETED
    assert results[0].polls == 11  # the quiet period is never shorter than 10 s


# ---- the system clock --------------------------------------------------------------------------


class ClockReader(Reader):
    seen: list[tuple[float, datetime, float, float]] = []

    def poll(self) -> None:
        super().poll()
        self.seen.append(
            (time.time(), datetime.now(timezone.utc), time.monotonic(), self.context.clock.monotonic())
        )
        self.context.clock.sleep(0.5)
        self.seen.append(
            (time.time(), datetime.now(timezone.utc), time.monotonic(), self.context.clock.monotonic())
        )


def test_system_clock_readers_see_the_virtual_clock(scenario_of: ScenarioOf, world_of: Any) -> None:
    ClockReader.seen = []
    real_time = time.time
    scenario = scenario_of(gaps=(2.0,))
    adapter = Adapter("test", ClockReader, patches_system_clock=True)

    obs = run_in_world(adapter, scenario, world_of(scenario), budget=Budget(quiet_seconds=5))

    assert obs.status is RunStatus.COMPLETED
    start = scenario.clock.start
    for wall, now, mono, virtual in ClockReader.seen:
        assert wall == pytest.approx(start.timestamp() + virtual)
        assert now == start + timedelta(seconds=virtual)
        assert mono - ClockReader.seen[0][2] == pytest.approx(virtual)
    virtual_times = [entry[3] for entry in ClockReader.seen]
    assert virtual_times[:4] == [0.0, 0.5, 2.5, 3.0]  # moved by clock.sleep and by the harness
    assert time.time is real_time  # unpatched once the run is over


def test_without_the_flag_the_system_clock_is_left_alone(scenario_of: ScenarioOf, world_of: Any) -> None:
    seen: list[str] = []

    class Probe(Reader):
        def poll(self) -> None:
            seen.append(time.time.__module__)

    scenario = scenario_of()
    run_in_world(adapter_for(Probe)[0], scenario, world_of(scenario), budget=Budget(quiet_seconds=2))

    assert seen and set(seen) == {"time"}


# ---- small parts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "operation", "read"),
    [
        ("kinesis", "get_records", True),
        ("kinesis", "GetShardIterator", True),
        ("kinesis", "list_shards", True),
        ("dynamodbstreams", "describe_stream", True),
        ("kinesis", "put_record", False),
        ("lambda", "invoke", False),
        ("sqs", "get_queue_url", False),
        ("s3", "list_buckets", False),
    ],
)
def test_reads_are_stream_reads_only(service: str, operation: str, read: bool) -> None:
    call = Call(
        index=0, at=datetime(2024, 1, 1, tzinfo=timezone.utc), service=service, operation=operation, params={}
    )
    assert is_read(call) is read


@pytest.mark.parametrize("field", ["max_polls", "max_virtual_seconds", "poll_timeout", "quiet_seconds"])
def test_budget_limits_must_be_positive(field: str) -> None:
    with pytest.raises(ValueError, match=f"Budget.{field} must be positive, got 0"):
        Budget(**{field: 0})


def test_a_hang_under_the_frozen_system_clock_is_still_bounded(
    scenario_of: ScenarioOf, world_of: Any, hanger: type[Hanger]
) -> None:
    real_time = time.time
    scenario = scenario_of()
    adapter = Adapter("test", hanger, patches_system_clock=True)

    obs = run_in_world(adapter, scenario, world_of(scenario), budget=Budget(poll_timeout=0.2))

    assert obs.status is RunStatus.INCONCLUSIVE
    assert obs.reason == HANG_MESSAGE
    assert time.time is real_time


def test_run_scenario_builds_the_world_and_drives_the_reference(scenario_of: ScenarioOf) -> None:
    from conformance.harness import run_scenario
    from reference import ADAPTER

    scenario = scenario_of(arrivals=(-5.0, 3.0))
    obs = run_scenario(ADAPTER, scenario)

    assert obs.status is RunStatus.COMPLETED
    assert [r.sequence_number for r in obs.records] == [r.sequence_number for r in scenario.shards[0].records]
    delivered = [r["kinesis"]["sequenceNumber"] for inv in obs.trace.invocations() for r in inv.records]
    assert delivered == [r.sequence_number for r in scenario.shards[0].records]
    assert obs.event_source_arn.startswith("arn:aws:kinesis:")
