"""The reference poller takes the world's misbehaviour (``Scenario.world``) in its stride in both
backends: throttled reads are retried later, expired iterators resume where reading stopped, an
undelivered document holds its shard, and every rule still holds."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from typing import Any

import pytest

import reference
from conformance.harness import run_scenario
from conformance.observation import Observation, RunStatus
from conformance.rules import CATALOGUE, check
from conformance.scenario import (
    Behaviour,
    ClockPlan,
    ReadThrottles,
    RecordSpec,
    Scenario,
    ShardSpec,
    Source,
    WorldConditions,
)
from conformance.world import WORLD_BACKENDS, names

START = datetime(2024, 12, 31, 23, 59, 50, 250000, tzinfo=timezone.utc)
_PROBE_FAMILIES = {"PARAM"}  # judged on parameter probes, not on one observation


def _scenario(source: Source, starting_position: str, world: WorldConditions, **parameters: Any) -> Scenario:
    kinesis = source is Source.KINESIS
    shard_id = "shardId-000000000000" if kinesis else "shardId-00000001700000000000-0a1b2c3d"
    base = 49590000000000000000000000 if kinesis else 100000000000000000000
    arrivals = (-4.0, -1.5, 0.5, 12.0, 40.0, 41.0)
    records = tuple(
        RecordSpec(
            str(base + 10 * (i + 1)),
            f"pk-{i}",
            bytes([i, 0xFF, 0x10]) * (i + 1),
            arrival,
            Behaviour.POISON if i == 3 else Behaviour.OK,
        )
        for i, arrival in enumerate(arrivals)
    )
    return Scenario(
        source=source,
        shards=(ShardSpec(shard_id, records),),
        parameters={
            "StartingPosition": starting_position,
            "BatchSize": 2,
            "MaximumRetryAttempts": 1,
            "DestinationConfig": {"OnFailure": {"Destination": names.QUEUE_ARN}},
            **parameters,
        },
        clock=ClockPlan(start=START, poll_gaps=(1.0, 25.0)),
        world=world,
    )


def _violations(observation: Observation) -> list[str]:
    found = []
    for rule_id, rule in CATALOGUE.items():
        if rule.family in _PROBE_FAMILIES:
            continue
        found += [v.message for v in check(rule_id, observation).violations]
    return found


EVERYTHING = WorldConditions(
    get_records_throttles=ReadThrottles(first_call=2, count=3),
    iterator_lifetime=10.0,
    destination_failures=2,
    wide_items=True,
    arrival_utc_offset_minutes=-210,
)


@pytest.mark.parametrize("backend", WORLD_BACKENDS)
@pytest.mark.parametrize("source", [Source.KINESIS, Source.DYNAMODB])
@pytest.mark.parametrize("starting_position", ["TRIM_HORIZON", "LATEST"])
def test_every_rule_holds_with_every_condition(backend: str, source: Source, starting_position: str) -> None:
    scenario = _scenario(source, starting_position, EVERYTHING)
    observation = run_scenario(reference.ADAPTER, scenario, world=backend)
    assert observation.status is RunStatus.COMPLETED, observation.reason
    assert _violations(observation) == []
    calls = observation.trace.calls
    codes = {c.error_code for c in calls if c.error_code}
    kinesis = source is Source.KINESIS
    throttle = "ProvisionedThroughputExceededException" if kinesis else "LimitExceededException"
    assert {throttle, "ExpiredIteratorException", "RequestThrottled"} <= codes
    # The document whose writes failed went out in the end, once.
    assert len(observation.trace.destination_writes()) == 1


def test_dynamodb_latest_resumes_after_an_iterator_that_expired_before_any_record() -> None:
    """DynamoDB Streams has no AT_TIMESTAMP iterator: the reference notes the newest record at
    start-up, so an expired LATEST iterator resumes after it rather than at LATEST again."""
    world = WorldConditions(iterator_lifetime=5.0)
    scenario = dataclasses.replace(
        _scenario(Source.DYNAMODB, "LATEST", world), clock=ClockPlan(start=START, poll_gaps=(20.0,))
    )
    observation = run_scenario(reference.ADAPTER, scenario)
    assert _violations(observation) == []
    sent = {r["dynamodb"]["SequenceNumber"] for inv in observation.trace.invocations() for r in inv.records}
    later = {r.sequence_number for r in scenario.shards[0].records if r.arrival > 0}
    assert sent == later  # the records after the start, none before, none lost
    assert any(c.error_code == "ExpiredIteratorException" for c in observation.trace.calls)


def test_a_document_that_cannot_be_written_holds_its_shard() -> None:
    scenario = _scenario(Source.KINESIS, "TRIM_HORIZON", WorldConditions(destination_failures=3))
    observation = run_scenario(reference.ADAPTER, scenario)
    assert _violations(observation) == []
    calls = observation.trace.calls
    failed = [c.index for c in calls if c.operation == "send_message" and c.error_code]
    delivered = [c.index for c in calls if c.operation == "send_message" and not c.error_code]
    assert len(failed) == 3 and len(delivered) == 1
    # Nothing after the discarded batch is read or invoked until its document is delivered.
    between = [c for c in calls if failed[0] < c.index < delivered[0]]
    assert {c.operation for c in between} <= {"send_message", "get_queue_url"}
