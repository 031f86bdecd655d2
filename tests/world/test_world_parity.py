"""The two backends behave the same: the same scenario, read and invoked the same way, gives the
same observable results once the backend's own sequence numbers, shard ids and opaque tokens are
translated back to scenario records."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from worldkit import dynamodb_scenario, event_for, kinesis_scenario, kinesis_sequence, record

from conformance.harness import Budget, run_scenario
from conformance.scenario import Behaviour, Scenario, Source
from conformance.strategies import scenarios
from conformance.trace import StreamRecord
from conformance.world import World, build_world, names

# Fields that legitimately differ between backends: tokens, request metadata, and what the
# backend invents itself (moto's DynamoDB eventID/eventVersion/SizeBytes, starting numbers).
_OPAQUE = {"ResponseMetadata", "NextShardIterator", "ShardIterator", "eventID", "eventVersion", "SizeBytes"}


class Observer:
    """Drives a world through a fixed script of client calls and keeps what came back, with
    backend-specific identifiers replaced by scenario references."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.context = world.context()
        self.kinesis = self.context.event_source_arn.startswith("arn:aws:kinesis")
        self.client = self.context.client("kinesis" if self.kinesis else "dynamodbstreams")
        self.seen: list[Any] = []

    # ---- translation back to the scenario ----------------------------------------------------------

    def _realised(self) -> dict[tuple[str, str], StreamRecord]:
        return {(r.shard_id, r.sequence_number): r for r in self.world.released_records()}

    def normalise(self, value: Any, shard_id: str) -> Any:
        realised = self._realised()
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if key in _OPAQUE:
                    continue
                if key in ("SequenceNumber", "sequenceNumber", "itemIdentifier") and isinstance(item, str):
                    found = realised.get((shard_id, item))
                    out[key] = ("ref", found.ref) if found else ("unknown", item)
                else:
                    out[key] = self.normalise(item, shard_id)
            return out
        if isinstance(value, list):
            return [self.normalise(v, shard_id) for v in value]
        return value

    # ---- the script -----------------------------------------------------------------------------------

    def shard_ids(self) -> list[str]:
        if self.kinesis:
            shards = self.client.list_shards(StreamARN=self.context.event_source_arn)["Shards"]
        else:
            arn = self.context.event_source_arn
            shards = self.client.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        return [s["ShardId"] for s in shards]

    def iterator(self, shard_id: str, kind: str, **extra: Any) -> str:
        arn_key = "StreamARN" if self.kinesis else "StreamArn"
        params = {arn_key: self.context.event_source_arn, "ShardId": shard_id, "ShardIteratorType": kind}
        return str(self.client.get_shard_iterator(**params, **extra)["ShardIterator"])

    def read(self, label: str, shard_id: str, iterator: str, limit: int = 2) -> str:
        """Read to the end of what is released, recording each page; return the next iterator."""
        while True:
            try:
                page = self.client.get_records(ShardIterator=iterator, Limit=limit)
            except ClientError as error:  # the scenario's world conditions: the same in both
                self.seen.append((label, "error", error.response["Error"]["Code"]))
                return iterator
            iterator = page["NextShardIterator"]
            self.seen.append((label, "page", self.normalise(page, shard_id)))
            if page["Records"]:
                self.invoke(label, shard_id, page["Records"])
            else:
                return iterator

    def invoke(self, label: str, shard_id: str, records: list[dict[str, Any]]) -> None:
        realised = self._realised()
        sequence_key = "SequenceNumber"
        batch = [
            realised[(shard_id, r[sequence_key] if self.kinesis else r["dynamodb"][sequence_key])]
            for r in records
        ]
        source = Source.KINESIS if self.kinesis else Source.DYNAMODB
        payload = json.dumps(event_for(batch, source))
        lam = self.context.client("lambda")
        try:
            response = lam.invoke(FunctionName=names.FUNCTION_ARN, Payload=payload)
        except lam.exceptions.TooManyRequestsException:
            self.seen.append((label, "throttled", [r.ref for r in batch]))
            return
        body = json.loads(response["Payload"].read())
        if isinstance(body, dict) and "requestId" in body:
            body = {k: v for k, v in body.items() if k not in ("requestId", "errorMessage")}
        self.seen.append(
            (
                label,
                "invoke",
                [r.ref for r in batch],
                response["StatusCode"],
                response.get("FunctionError"),
                self.normalise(body, shard_id),
            )
        )

    def run(self) -> list[Any]:
        ids = self.shard_ids()
        self.seen.append(("shards", len(ids)))
        start = self.world.clock.now()
        pending = {}
        for shard_id in ids:
            pending[shard_id] = [
                ("trim", self.iterator(shard_id, "TRIM_HORIZON")),
                ("latest", self.iterator(shard_id, "LATEST")),
            ]
            if self.kinesis:
                stamp = start - timedelta(seconds=1.5)
                pending[shard_id].append(
                    ("at-timestamp", self.iterator(shard_id, "AT_TIMESTAMP", Timestamp=stamp))
                )
        for step in range(4):
            for shard_id in ids:
                pending[shard_id] = [
                    (label, self.read(f"{label}@{step}", shard_id, it)) for label, it in pending[shard_id]
                ]
            self.world.clock.advance(2.0)
            self.world.release_due_records()
        return self.seen


def observe(scenario: Scenario, backend: str) -> list[Any]:
    with build_world(scenario, backend) as world:
        observed = Observer(world).run()
        refs = [r.ref for r in world.released_records()]
        arrivals = [r.arrival for r in world.released_records()]
    return [*observed, ("released", refs, arrivals)]


def assert_same(scenario: Scenario) -> None:
    memory = observe(scenario, "memory")
    moto = observe(scenario, "moto")
    assert len(memory) == len(moto)
    for left, right in zip(memory, moto, strict=True):
        assert left == right


MIXED = [
    record(kinesis_sequence(0, 0), -6.0),
    record(kinesis_sequence(0, 1), -2.25, Behaviour.REPORTED),
    record(kinesis_sequence(0, 2), -0.999, Behaviour.TRANSIENT, times=1),
    record(kinesis_sequence(0, 3), 0.0, Behaviour.INVALID, form="null_identifier"),
    record(kinesis_sequence(0, 4), 1.5, Behaviour.THROTTLE, times=1),
    record(kinesis_sequence(0, 5), 3.25, Behaviour.POISON),
]


@pytest.mark.parametrize("rbif", [True, False], ids=["rbif", "no-rbif"])
def test_a_kinesis_scenario_reads_and_invokes_the_same_in_both_backends(rbif: bool) -> None:
    second_shard = [record(kinesis_sequence(1, i), t) for i, t in enumerate((-3.0, 0.5, 5.0))]
    assert_same(kinesis_scenario((MIXED, second_shard, []), rbif=rbif))


@pytest.mark.parametrize("rbif", [True, False], ids=["rbif", "no-rbif"])
def test_a_dynamodb_scenario_reads_and_invokes_the_same_in_both_backends(rbif: bool) -> None:
    specs = [
        record(
            f"10000000001745442{3000 + 10 * i}",
            spec.arrival,
            spec.behaviour,
            times=spec.times,
            form=spec.form,
        )
        for i, spec in enumerate(MIXED)
    ]
    assert_same(dynamodb_scenario(specs, rbif=rbif))


def test_the_observer_sees_what_it_should() -> None:
    """Guard against a parity test that compares two empty lists."""
    seen = observe(kinesis_scenario((MIXED,), rbif=True), "memory")
    invocations = [s for s in seen if s[1] == "invoke"]
    throttles = [s for s in seen if s[1] == "throttled"]
    assert invocations and throttles
    assert any(s[4] == "Unhandled" for s in invocations)
    assert any(isinstance(s[5], dict) and s[5].get("batchItemFailures") for s in invocations)
    assert seen[-1][1] == [(0, i) for i in range(6)]


@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    scenarios(max_shards=3, max_records=8).filter(lambda s: s.source is Source.KINESIS or len(s.shards) == 1)
)
def test_generated_scenarios_behave_the_same_in_both_backends(scenario: Scenario) -> None:
    assert_same(scenario)


@pytest.mark.parametrize("source", ["kinesis", "dynamodb"])
def test_the_reference_poller_sees_the_same_world_in_both_backends(source: str) -> None:
    """End to end: the reference poller driven by the harness makes the same invocations, with
    the same answers, against either backend."""
    from reference import ADAPTER

    if source == "kinesis":
        scenario = kinesis_scenario(
            (MIXED, [record(kinesis_sequence(1, 0), 1.0)]), rbif=True, destination="sqs"
        )
    else:
        specs = [
            record(
                f"10000000001745442{3000 + 10 * i}",
                spec.arrival,
                spec.behaviour,
                times=spec.times,
                form=spec.form,
            )
            for i, spec in enumerate(MIXED)
        ]
        scenario = dynamodb_scenario(specs, rbif=True, destination="sqs")
    scenario = _with_parameters(scenario, MaximumRetryAttempts=2, BatchSize=3)
    outcomes = []
    for backend in ("memory", "moto"):
        observation = run_scenario(ADAPTER, scenario, world=backend, budget=Budget(max_polls=300))
        by_sequence = {(r.shard_id, r.sequence_number): r.ref for r in observation.records}
        by_number = {r.sequence_number: r.ref for r in observation.records}
        invocations = []
        for invocation in observation.trace.invocations():
            refs = []
            for item in invocation.records:
                if source == "kinesis":
                    shard_id = item["eventID"].rsplit(":", 1)[0]
                    refs.append(by_sequence[(shard_id, item["kinesis"]["sequenceNumber"])])
                else:
                    refs.append(by_number[item["dynamodb"]["SequenceNumber"]])
            invocations.append((invocation.at, refs, invocation.throttled, invocation.function_error))
        writes = [
            (w.kind, w.at, (w.document() or {}).get("requestContext", {}).get("condition"))
            for w in observation.trace.destination_writes()
        ]
        outcomes.append((observation.status, invocations, writes))
    assert outcomes[0][0].value == "completed"
    assert outcomes[0][1], "the reference invoked the function"
    assert outcomes[0] == outcomes[1]


def _with_parameters(scenario: Scenario, **parameters: Any) -> Scenario:
    return dataclasses.replace(scenario, parameters={**scenario.parameters, **parameters})
