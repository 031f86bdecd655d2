"""Reading the streams through the poller's clients, in both backends: iterator types, release of
future records, arrival stamps, record shapes and errors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError
from worldkit import START, dynamodb_scenario, kinesis_scenario

from conformance.scenario import Source
from conformance.world import World, names

# ---- helpers ------------------------------------------------------------------------------------


class Reader:
    """Reads one shard the way a poller does, through the recorded client."""

    def __init__(self, world: World, shard_index: int = 0) -> None:
        self.world = world
        context = world.context()
        self.kinesis = context.event_source_arn.startswith("arn:aws:kinesis")
        self.client = context.client("kinesis" if self.kinesis else "dynamodbstreams")
        self.arn = context.event_source_arn
        self.shard_id = self.shard_ids()[shard_index]

    def shard_ids(self) -> list[str]:
        if self.kinesis:
            shards = self.client.list_shards(StreamARN=self.arn)["Shards"]
        else:
            shards = self.client.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        return [s["ShardId"] for s in shards]

    def iterator(self, kind: str, **extra: Any) -> str:
        if self.kinesis:
            response = self.client.get_shard_iterator(
                StreamARN=self.arn, ShardId=self.shard_id, ShardIteratorType=kind, **extra
            )
        else:
            response = self.client.get_shard_iterator(
                StreamArn=self.arn, ShardId=self.shard_id, ShardIteratorType=kind, **extra
            )
        return str(response["ShardIterator"])

    def read(
        self, iterator: str, limit: int | None = None
    ) -> tuple[list[dict[str, Any]], str, dict[str, Any]]:
        response = self.client.get_records(ShardIterator=iterator, **({"Limit": limit} if limit else {}))
        return response["Records"], response["NextShardIterator"], response

    def sequence(self, record: dict[str, Any]) -> str:
        return str(record["SequenceNumber"] if self.kinesis else record["dynamodb"]["SequenceNumber"])

    def refs(self, records: list[dict[str, Any]]) -> list[tuple[int, int]]:
        """Scenario refs of records read from the stream (via the realised sequence numbers)."""
        by_sequence = {(r.shard_id, r.sequence_number): r.ref for r in self.world.released_records()}
        return [by_sequence[(self.shard_id, self.sequence(r))] for r in records]

    def drain(self, iterator: str, limit: int | None = None) -> tuple[list[tuple[int, int]], str]:
        refs: list[tuple[int, int]] = []
        while True:
            records, iterator, _ = self.read(iterator, limit)
            if not records:
                return refs, iterator
            refs.extend(self.refs(records))


def advance(world: World, seconds: float) -> None:
    world.clock.advance(seconds)
    world.release_due_records()


SOURCES = ["kinesis", "dynamodb"]


def scenario_for(source: str, arrivals: tuple[float, ...] = (-5.0, -2.25, 0.0, 3.5)) -> Any:
    return kinesis_scenario((arrivals,)) if source == "kinesis" else dynamodb_scenario(arrivals)


# ---- iterator types ------------------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
def test_trim_horizon_reads_every_released_record_in_shard_order(
    backend: str, source: str, open_world: Any
) -> None:
    world = open_world(scenario_for(source), backend)
    reader = Reader(world)
    refs, iterator = reader.drain(reader.iterator("TRIM_HORIZON"))
    assert refs == [(0, 0), (0, 1), (0, 2)]
    advance(world, 3.5)
    more, _ = reader.drain(iterator)
    assert more == [(0, 3)], "the old NextShardIterator sees the record released later"


@pytest.mark.parametrize("source", SOURCES)
def test_limit_pages_through_the_shard(backend: str, source: str, open_world: Any) -> None:
    world = open_world(scenario_for(source, (-9.0, -8.0, -7.0, -6.0, -5.0)), backend)
    reader = Reader(world)
    iterator = reader.iterator("TRIM_HORIZON")
    pages = []
    while True:
        records, iterator, _ = reader.read(iterator, limit=2)
        if not records:
            break
        pages.append(reader.refs(records))
    assert pages == [[(0, 0), (0, 1)], [(0, 2), (0, 3)], [(0, 4)]]


@pytest.mark.parametrize("source", SOURCES)
def test_latest_at_the_start_sees_only_records_arriving_afterwards(
    backend: str, source: str, open_world: Any
) -> None:
    world = open_world(scenario_for(source, (-5.0, 0.0, 0.5, 7.0)), backend)
    reader = Reader(world)
    iterator = reader.iterator("LATEST")  # START-3: the first poll happens at virtual time 0
    refs, iterator = reader.drain(iterator)
    assert refs == []
    advance(world, 1)
    refs, iterator = reader.drain(iterator)
    assert refs == [(0, 2)], "the record at 0 s was already in the stream when LATEST was taken"
    advance(world, 10)
    assert reader.drain(iterator)[0] == [(0, 3)]


@pytest.mark.parametrize("source", SOURCES)
def test_at_and_after_sequence_number(backend: str, source: str, open_world: Any) -> None:
    world = open_world(scenario_for(source, (-5.0, -4.0, -3.0)), backend)
    reader = Reader(world)
    middle = world.released_records()[1].sequence_number
    parameter = "StartingSequenceNumber" if source == "kinesis" else "SequenceNumber"
    at = reader.iterator("AT_SEQUENCE_NUMBER", **{parameter: middle})
    after = reader.iterator("AFTER_SEQUENCE_NUMBER", **{parameter: middle})
    assert reader.drain(at)[0] == [(0, 1), (0, 2)]
    assert reader.drain(after)[0] == [(0, 2)]


@pytest.mark.parametrize("as_number", [False, True], ids=["datetime", "epoch-float"])
def test_at_timestamp_starts_at_the_first_record_after_the_timestamp(
    backend: str, as_number: bool, open_world: Any
) -> None:
    # START is N+0.5 s. Arrivals: -3.0 → N-2.5, -1.25 → N-0.75, -0.25 → N+0.25, 2.0 → N+2.5.
    # botocore releases differ in how they send a Kinesis Timestamp (older ones truncate it to
    # whole epoch seconds, newer ones keep milliseconds), and moto's comparison at the exact
    # arrival instant differs with them, so each timestamp here sits inside a gap between two
    # arrivals on both readings: the answer is the same whichever botocore is installed.
    world = open_world(kinesis_scenario(((-3.0, -1.25, -0.25, 2.0),)), backend)
    reader = Reader(world)
    between_first_and_second = START + timedelta(seconds=-1.5)  # N-1.0: whole second, in the gap
    value: Any = between_first_and_second.timestamp() if as_number else between_first_and_second
    assert reader.drain(reader.iterator("AT_TIMESTAMP", Timestamp=value))[0] == [(0, 1), (0, 2)]
    between_second_and_third = START + timedelta(seconds=-0.4)  # N+0.1, truncated N: both in (N-0.75, N+0.25)
    value = between_second_and_third.timestamp() if as_number else between_second_and_third
    iterator = reader.iterator("AT_TIMESTAMP", Timestamp=value)
    assert reader.drain(iterator)[0] == [(0, 2)]
    # A timestamp after every arrival: reading starts with records written later.
    future = reader.iterator("AT_TIMESTAMP", Timestamp=START + timedelta(seconds=1))
    advance(world, 2.0)
    assert reader.drain(future)[0] == [(0, 3)]


# ---- release and arrival stamps --------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
def test_future_records_are_invisible_until_released(backend: str, source: str, open_world: Any) -> None:
    world = open_world(scenario_for(source, (1.0, 2.0)), backend)
    reader = Reader(world)
    iterator = reader.iterator("TRIM_HORIZON")
    assert world.released_records() == ()
    assert reader.drain(iterator)[0] == []
    world.clock.advance(5)  # time passes, but nothing is written until the world is told
    assert reader.drain(iterator)[0] == []
    world.release_due_records()
    assert reader.drain(iterator)[0] == [(0, 0), (0, 1)]


def test_kinesis_arrivals_are_the_scenario_instants_to_the_millisecond(backend: str, open_world: Any) -> None:
    world = open_world(kinesis_scenario(((-2.0004, -0.5, 0.0),)), backend)
    reader = Reader(world)
    records, _, _ = reader.read(reader.iterator("TRIM_HORIZON"))
    stamps = [r["ApproximateArrivalTimestamp"] for r in records]
    assert stamps == [START - timedelta(seconds=2.001), START - timedelta(seconds=0.5), START]
    assert [r.arrival for r in world.released_records()] == stamps
    assert all(s.utcoffset() == timedelta(0) for s in stamps), "tz-aware UTC"
    # Crossing midnight of a leap day: the record at -0.5 s is on 29 Feb, the one at 0 s too,
    # START itself being 23:59:59.5.
    assert stamps[2].day == 29


def test_dynamodb_creation_times_are_rounded_down_to_the_second(backend: str, open_world: Any) -> None:
    world = open_world(dynamodb_scenario((-2.0004, -0.25, 0.6)), backend)
    advance(world, 1)
    reader = Reader(world)
    records, _, _ = reader.read(reader.iterator("TRIM_HORIZON"))
    stamps = [r["dynamodb"]["ApproximateCreationDateTime"] for r in records]
    assert stamps == [
        START.replace(microsecond=0) - timedelta(seconds=2),
        START.replace(microsecond=0),
        START.replace(microsecond=0) + timedelta(seconds=1),
    ]
    assert [r.arrival for r in world.released_records()] == stamps


def test_millis_behind_latest_is_the_gap_to_the_newest_record(backend: str, open_world: Any) -> None:
    world = open_world(kinesis_scenario(((-10.0, -4.0, -1.5),)), backend)
    reader = Reader(world)
    _, iterator, first = reader.read(reader.iterator("TRIM_HORIZON"), limit=1)
    assert first["MillisBehindLatest"] == 8500
    _, iterator, rest = reader.read(iterator)
    assert rest["MillisBehindLatest"] == 0
    assert reader.read(iterator)[2]["MillisBehindLatest"] == 0


# ---- record shapes -----------------------------------------------------------------------------------


def test_kinesis_records_have_the_boto3_shape(backend: str, open_world: Any) -> None:
    scenario = kinesis_scenario(((-1.0,),))
    world = open_world(scenario, backend)
    reader = Reader(world)
    (got,), _, response = reader.read(reader.iterator("TRIM_HORIZON"))
    spec = scenario.shards[0].records[0]
    assert set(got) == {"SequenceNumber", "ApproximateArrivalTimestamp", "Data", "PartitionKey"}
    assert got["Data"] == spec.data and isinstance(got["Data"], bytes)
    assert got["PartitionKey"] == spec.partition_key
    assert got["SequenceNumber"] == world.released_records()[0].sequence_number
    assert set(response) == {"Records", "NextShardIterator", "MillisBehindLatest", "ResponseMetadata"}
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_dynamodb_records_have_the_boto3_shape(backend: str, open_world: Any) -> None:
    scenario = dynamodb_scenario((-1.0,))
    world = open_world(scenario, backend)
    reader = Reader(world)
    (got,), _, _ = reader.read(reader.iterator("TRIM_HORIZON"))
    spec = scenario.shards[0].records[0]
    assert got["eventName"] == "INSERT"
    assert got["eventSource"] == "aws:dynamodb"
    assert got["awsRegion"] == names.REGION
    assert len(got["eventID"]) == 32 and int(got["eventID"], 16) >= 0
    change = got["dynamodb"]
    assert change["Keys"] == {"id": {"S": "item-0-0"}}
    assert change["NewImage"] == {
        "id": {"S": "item-0-0"},
        "pk": {"S": spec.partition_key},
        "data": {"B": spec.data},
    }
    assert isinstance(change["NewImage"]["data"]["B"], bytes), "botocore decodes binary attributes"
    assert change["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert change["SequenceNumber"] == world.released_records()[0].sequence_number
    assert isinstance(change["SizeBytes"], int) and change["SizeBytes"] > 0
    description = reader.client.describe_stream(StreamArn=reader.arn)["StreamDescription"]
    assert description["StreamStatus"] == "ENABLED"
    assert description["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert description["TableName"] == names.TABLE_NAME
    assert description["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]


def test_the_memory_world_answers_dynamodb_event_version_1_1(open_world: Any) -> None:
    world = open_world(dynamodb_scenario((-1.0,)))
    reader = Reader(world)
    (got,), _, _ = reader.read(reader.iterator("TRIM_HORIZON"))
    assert got["eventVersion"] == "1.1"


def test_kinesis_shards_list_in_shard_id_order_with_the_scenarios_ids_in_memory(open_world: Any) -> None:
    world = open_world(kinesis_scenario(((-1.0,), (-1.0,), (-1.0,))))
    reader = Reader(world)
    assert reader.shard_ids() == ["shardId-000000000000", "shardId-000000000001", "shardId-000000000002"]
    summary = reader.client.describe_stream_summary(StreamName=names.STREAM_NAME)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 3
    assert summary["StreamStatus"] == "ACTIVE"


# ---- errors ---------------------------------------------------------------------------------------------


def test_unknown_stream_and_shard_are_resource_not_found(backend: str, open_world: Any) -> None:
    world = open_world(kinesis_scenario(), backend)
    kinesis = world.context().client("kinesis")
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException, match="Stream nope under account"):
        kinesis.list_shards(StreamName="nope")
    with pytest.raises(ClientError) as caught:
        kinesis.get_shard_iterator(
            StreamName=names.STREAM_NAME, ShardId="shardId-000000000009", ShardIteratorType="TRIM_HORIZON"
        )
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert "shardId-000000000009" in caught.value.response["Error"]["Message"]


def test_bad_parameters_fail_botocore_validation_in_both_backends(backend: str, open_world: Any) -> None:
    world = open_world(kinesis_scenario(), backend)
    kinesis = world.context().client("kinesis")
    with pytest.raises(ParamValidationError, match='Unknown parameter in input: "Limitt"'):
        kinesis.get_records(ShardIterator="x" * 10, Limitt=5)
    with pytest.raises(
        ParamValidationError, match='Missing required parameter in input: "ShardIteratorType"'
    ):
        kinesis.get_shard_iterator(StreamName=names.STREAM_NAME, ShardId="shardId-000000000000")
    with pytest.raises(ParamValidationError, match="Invalid value for parameter Limit, value: 0"):
        kinesis.get_records(ShardIterator="x" * 10, Limit=0)


def test_memory_errors_for_what_moto_gets_wrong(open_world: Any) -> None:
    """Cases where moto crashes or accepts what AWS rejects; the memory world answers as AWS."""
    world = open_world(kinesis_scenario())
    kinesis = world.context().client("kinesis")
    with pytest.raises(kinesis.exceptions.InvalidArgumentException, match="Invalid ShardIterator"):
        kinesis.get_records(ShardIterator="garbage-iterator")
    with pytest.raises(
        kinesis.exceptions.InvalidArgumentException, match="StartingSequenceNumber is required"
    ):
        kinesis.get_shard_iterator(
            StreamName=names.STREAM_NAME,
            ShardId="shardId-000000000000",
            ShardIteratorType="AT_SEQUENCE_NUMBER",
        )
    with pytest.raises(ClientError, match="Member must satisfy enum value set"):
        kinesis.get_shard_iterator(
            StreamName=names.STREAM_NAME, ShardId="shardId-000000000000", ShardIteratorType="X"
        )
    with pytest.raises(ClientError, match="Member must have value less than or equal to 10000"):
        iterator = kinesis.get_shard_iterator(
            StreamName=names.STREAM_NAME, ShardId="shardId-000000000000", ShardIteratorType="LATEST"
        )["ShardIterator"]
        kinesis.get_records(ShardIterator=iterator, Limit=10_001)
    ddb_world = open_world(dynamodb_scenario())
    streams = ddb_world.context().client("dynamodbstreams")
    arn = ddb_world.context().event_source_arn
    with pytest.raises(ClientError, match=r"Value 'AT_TIMESTAMP' at 'shardIteratorType'") as caught:
        streams.get_shard_iterator(
            StreamArn=arn, ShardId=ddb_world.released_records()[0].shard_id, ShardIteratorType="AT_TIMESTAMP"
        )
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(
        streams.exceptions.ResourceNotFoundException, match=r"Stream: arn:aws:dynamodb:\S*x not found"
    ):
        streams.describe_stream(StreamArn=arn + "x")


def test_iterators_expire_when_the_memory_world_is_given_a_lifetime() -> None:
    from conformance.world.memory import MemoryWorld

    with MemoryWorld(kinesis_scenario(), iterator_lifetime=300) as world:
        reader = Reader(world)
        iterator = reader.iterator("TRIM_HORIZON")
        world.clock.advance(300)
        _, fresh, _ = reader.read(iterator)  # exactly 300 s old: still valid
        world.clock.advance(300.001)
        with pytest.raises(reader.client.exceptions.ExpiredIteratorException, match="Iterator expired"):
            reader.read(fresh)
        assert world.trace.calls[-1].error_code == "ExpiredIteratorException"


def test_records_are_fresh_on_every_read_so_a_poller_cannot_corrupt_the_stream(open_world: Any) -> None:
    world = open_world(dynamodb_scenario((-1.0,)))
    reader = Reader(world)
    iterator = reader.iterator("TRIM_HORIZON")
    (first,), _, _ = reader.read(iterator)
    first["dynamodb"]["NewImage"]["data"]["B"] = "base64 text now"
    first["dynamodb"]["SequenceNumber"] = "0"
    (again,), _, _ = reader.read(iterator)
    assert again["dynamodb"]["NewImage"]["data"]["B"] == dynamodb_scenario((-1.0,)).shards[0].records[0].data
    assert again["dynamodb"]["SequenceNumber"] == world.released_records()[0].sequence_number


def test_list_shards_pages_with_next_token(open_world: Any) -> None:
    # Memory only: moto insists that a NextToken call repeat the first call's parameters, which
    # AWS rejects ("NextToken and StreamName cannot be provided together").
    world = open_world(kinesis_scenario(((-1.0,), (-1.0,), (-1.0,))))
    kinesis = world.context().client("kinesis")
    first = kinesis.list_shards(StreamName=names.STREAM_NAME, MaxResults=2)
    assert [s["ShardId"] for s in first["Shards"]] == ["shardId-000000000000", "shardId-000000000001"]
    rest = kinesis.list_shards(NextToken=first["NextToken"])
    assert [s["ShardId"] for s in rest["Shards"]] == ["shardId-000000000002"]
    assert "NextToken" not in rest
    with pytest.raises(kinesis.exceptions.InvalidArgumentException, match="cannot be provided together"):
        kinesis.list_shards(StreamName=names.STREAM_NAME, NextToken=first["NextToken"])


def test_source_clients_of_the_other_kind_find_no_stream(open_world: Any) -> None:
    world = open_world(dynamodb_scenario())
    kinesis = world.context().client("kinesis")
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
        kinesis.describe_stream(StreamName=names.STREAM_NAME)
    assert Source.DYNAMODB.value in world.context().event_source_arn
