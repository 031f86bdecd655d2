"""Building worlds: the context a poller gets, bad input, the moto backend's lifecycle."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from worldkit import START, dynamodb_scenario, dynamodb_sequence, kinesis_scenario, kinesis_sequence, record

from conformance.clock import VirtualClock
from conformance.scenario import RecordSpec, ShardSpec
from conformance.world import WORLD_BACKENDS, WORLD_SERVICES, UnrealisableScenario, World, build_world, names
from conformance.world.recording import RecordingClient


def test_unknown_backend_names_the_valid_ones() -> None:
    expected = r"unknown world backend 'localstack'; the valid backends are 'memory', 'moto'"
    with pytest.raises(ValueError, match=expected):
        build_world(kinesis_scenario(), "localstack")


def test_world_backends_are_memory_and_moto() -> None:
    assert WORLD_BACKENDS == ("memory", "moto")


@pytest.mark.parametrize("source", ["kinesis", "dynamodb"])
def test_context_carries_the_names_parameters_clock_and_recording_clients(
    backend: str, source: str, open_world: Any
) -> None:
    build = kinesis_scenario if source == "kinesis" else dynamodb_scenario
    scenario = build(destination="sqs")
    world = open_world(scenario, backend)
    assert isinstance(world, World)
    context = world.context()
    assert context.mapping_uuid == names.MAPPING_UUID
    assert context.function_arn == names.FUNCTION_ARN
    assert context.execution_role_arn == names.EXECUTION_ROLE_ARN
    assert (context.region, context.account_id) == (names.REGION, names.ACCOUNT_ID)
    assert context.parameters == scenario.parameters
    assert context.clock is world.clock
    assert world.clock.now() == START
    if source == "kinesis":
        assert context.event_source_arn == names.KINESIS_STREAM_ARN
    else:
        # The stream label is the (deterministic) creation time: an hour before the first record.
        assert context.event_source_arn == (
            f"arn:aws:dynamodb:{names.REGION}:{names.ACCOUNT_ID}:table/{names.TABLE_NAME}/stream/2024-02-29T22:59:54"
        )
    for service in WORLD_SERVICES:
        client = context.client(service)
        assert isinstance(client, RecordingClient)
        assert context.client(service) is client, "one proxy per service"
        assert world.client(service) is client.wrapped, "world.client() is the unrecorded client"


def test_a_service_the_world_does_not_offer_is_a_clear_error(open_world: Any) -> None:
    context = open_world(kinesis_scenario()).context()
    expected = r"the world has no 'dynamodb' client; it offers kinesis, dynamodbstreams"
    with pytest.raises(ValueError, match=expected):
        context.client("dynamodb")


def test_records_at_or_before_the_start_are_written_at_build_and_later_ones_wait(
    backend: str, open_world: Any
) -> None:
    world = open_world(kinesis_scenario(((-5.0, -2.25, 0.0, 3.5, 3.5, 10.0),)), backend)
    assert len(world.released_records()) == 3
    assert world.pending_arrivals() == 3.5
    world.clock.advance(3.4)
    world.release_due_records()
    assert len(world.released_records()) == 3
    world.clock.advance(0.1)
    world.release_due_records()
    assert len(world.released_records()) == 5, "both records arriving at 3.5 s"
    assert world.pending_arrivals() == 10.0
    world.clock.advance(100)
    world.release_due_records()
    assert world.pending_arrivals() is None
    assert [r.ref for r in world.released_records()] == [(0, i) for i in range(6)]


def test_released_records_are_in_scenario_shard_order(backend: str, open_world: Any) -> None:
    world = open_world(kinesis_scenario(((-1.0, 2.0), (-3.0, 1.0, 4.0))), backend)
    world.clock.advance(5)
    world.release_due_records()
    assert [r.ref for r in world.released_records()] == [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2)]


def test_a_closed_memory_world_refuses_calls_like_a_closed_moto_world() -> None:
    world = build_world(kinesis_scenario())
    context = world.context()
    world.close()
    with pytest.raises(
        RuntimeError, match="this memory world is closed: its kinesis client no longer answers"
    ):
        context.client("kinesis").list_shards(StreamName=names.STREAM_NAME)
    with pytest.raises(RuntimeError, match="this world is closed: its function no longer answers"):
        context.client("lambda").invoke(FunctionName=names.FUNCTION_ARN, Payload=b"{}")
    context.client("lambda").close()  # boto3 clients have close(); it is not an AWS call
    assert [c.error_code for c in world.trace.calls] == ["RuntimeError", "RuntimeError"]


def test_a_clock_passed_in_is_used_and_must_read_the_scenario_start() -> None:
    scenario = kinesis_scenario()
    clock = VirtualClock(START, budget_seconds=60)
    with build_world(scenario, clock=clock) as world:
        assert world.clock is clock
    expected = r"the clock given to the world reads 2024-03-01T00:00:00.500000\+00:00"
    with pytest.raises(ValueError, match=expected):
        build_world(scenario, clock=VirtualClock(START + timedelta(seconds=1)))


def _with_records(*records: RecordSpec) -> Any:
    return dataclasses.replace(kinesis_scenario(), shards=(ShardSpec("shardId-000000000000", records),))


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        (
            _with_records(record(kinesis_sequence(0, 1), 0.0), record(kinesis_sequence(0, 0), 1.0)),
            r"record 1 of shard shardId-000000000000: sequence number 4959.* is not greater than the",
        ),
        (
            _with_records(record(kinesis_sequence(0, 0), 2.0), record(kinesis_sequence(0, 1), 1.0)),
            r"arrival 1 s is earlier than the previous record's 2 s",
        ),
        (
            _with_records(record("12a", 0.0)),
            r"sequence number '12a' must be a decimal string",
        ),
        (
            _with_records(record(kinesis_sequence(0, 0), 0.0, key="")),
            r"a Kinesis partition key has 1 to 256 characters, found 0",
        ),
        (
            _with_records(record(kinesis_sequence(0, 0), 0.0, data=b"x" * 1_048_576, key="k")),
            r"data plus partition key is 1048577 bytes; Kinesis allows 1048576",
        ),
        (
            dataclasses.replace(kinesis_scenario(), shards=(ShardSpec("shard 0"),)),
            r"Kinesis shard id 'shard 0' is not valid",
        ),
        (
            dataclasses.replace(kinesis_scenario(), shards=(ShardSpec("a"), ShardSpec("a"))),
            r"shard ids must be distinct",
        ),
        (
            dataclasses.replace(dynamodb_scenario(), shards=(ShardSpec("shardId-1"),)),
            r"DynamoDB Streams shard id 'shardId-1' has 9 characters; the API requires 28 to 65",
        ),
        (
            dynamodb_scenario(extra_shards=[[record(dynamodb_sequence(0, 0), 0.0)]]),
            r"sequence number 100000000017454423009 is also used on shard shardId-00000001700000000000-0a1b",
        ),
        (
            dataclasses.replace(kinesis_scenario(), shards=()),
            r"the scenario has no shards",
        ),
    ],
    ids=[
        "sequence-not-increasing",
        "arrival-backwards",
        "sequence-not-decimal",
        "empty-partition-key",
        "record-too-large",
        "kinesis-shard-id",
        "duplicate-shard-ids",
        "dynamodb-shard-id",
        "dynamodb-sequence-reused",
        "no-shards",
    ],
)
def test_unrealisable_scenarios_are_clear_errors(scenario: Any, message: str) -> None:
    with pytest.raises(UnrealisableScenario, match=message):
        build_world(scenario)


def test_moto_supports_one_dynamodb_shard() -> None:
    scenario = dynamodb_scenario(extra_shards=[[1.0]])
    with build_world(scenario) as world:  # the memory world has no such limit
        world.clock.advance(5)
        world.release_due_records()
        assert {r.shard_id for r in world.released_records()} == {s.shard_id for s in scenario.shards}
    expected = r"the moto backend supports one DynamoDB shard .* this scenario has 2"
    with pytest.raises(UnrealisableScenario, match=expected):
        build_world(scenario, "moto")


def test_one_moto_world_at_a_time_and_closed_clients_refuse_to_send() -> None:
    world = build_world(kinesis_scenario(), "moto")
    try:
        with pytest.raises(RuntimeError, match="another moto mock is active in this process"):
            build_world(kinesis_scenario(), "moto")
        kinesis = world.context().client("kinesis")
        assert kinesis.list_shards(StreamName=names.STREAM_NAME)["Shards"]
    finally:
        world.close()
    world.close()  # idempotent
    with pytest.raises(RuntimeError, match="this moto world is closed: its clients no longer reach moto"):
        kinesis.list_shards(StreamName=names.STREAM_NAME)
    with pytest.raises(RuntimeError, match="this moto world is closed"):
        world.clock.advance(10)
        world.release_due_records()
    with build_world(kinesis_scenario(), "moto") as again:  # a fresh moto state
        assert len(again.released_records()) == 3
        assert [r.sequence_number for r in again.released_records()] == ["1", "2", "3"]


def test_the_moto_world_ignores_the_users_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from conformance.world import moto_backend

    monkeypatch.setattr(moto_backend, "_clients", {})  # force fresh clients under this environment
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    with build_world(kinesis_scenario(), "moto") as world:
        kinesis = world.client("kinesis")
        assert kinesis.meta.region_name == names.REGION
        assert kinesis.meta.endpoint_url == f"https://kinesis.{names.REGION}.amazonaws.com"
        assert len(kinesis.list_shards(StreamName=names.STREAM_NAME)["Shards"]) == 1
