"""The scenario's world conditions (``Scenario.world``) behave the same in both backends: throttled
GetRecords calls, expiring shard iterators, failing destination writes, wide DynamoDB items and
arrival times in a non-UTC offset, each with the error shapes botocore gives."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from worldkit import dynamodb_scenario, kinesis_scenario

from conformance.items import encoded_image, item_image, same_attribute
from conformance.scenario import ReadThrottles, Scenario, WorldConditions
from conformance.world import World, names


def _with(scenario: Scenario, **conditions: Any) -> Scenario:
    return dataclasses.replace(scenario, world=WorldConditions(**conditions))


def _scenario(source: str, **conditions: Any) -> Scenario:
    base = kinesis_scenario() if source == "kinesis" else dynamodb_scenario()
    return _with(base, **conditions)


def _stream(world: World) -> tuple[Any, dict[str, Any]]:
    """The poller's stream client and the parameters naming the stream."""
    context = world.context()
    if context.event_source_arn.startswith("arn:aws:kinesis"):
        return context.client("kinesis"), {"StreamName": names.STREAM_NAME}
    return context.client("dynamodbstreams"), {"StreamArn": context.event_source_arn}


def _first_shard(world: World) -> str:
    return world.released_records()[0].shard_id


def _iterator(world: World, kind: str = "TRIM_HORIZON") -> str:
    client, stream = _stream(world)
    response = client.get_shard_iterator(**stream, ShardId=_first_shard(world), ShardIteratorType=kind)
    return str(response["ShardIterator"])


def _code(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


@pytest.mark.parametrize(
    ("source", "code"),
    [("kinesis", "ProvisionedThroughputExceededException"), ("dynamodb", "LimitExceededException")],
)
def test_get_records_calls_in_the_window_are_throttled(
    open_world: Any, backend: str, source: str, code: str
) -> None:
    world = open_world(_scenario(source, get_records_throttles=ReadThrottles(2, 2)), backend)
    client, _ = _stream(world)
    iterator = _iterator(world)
    first = client.get_records(ShardIterator=iterator)
    assert len(first["Records"]) == 3  # the records with arrival <= 0
    for _ in range(2):
        with pytest.raises(client.exceptions.from_code(code)) as raised:
            client.get_records(ShardIterator=first["NextShardIterator"])
        assert _code(raised.value) == code
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # The throttled calls read nothing: the iterator still stands where it was.
    assert client.get_records(ShardIterator=iterator)["Records"] == first["Records"]
    recorded = [c.error_code for c in world.trace.calls if c.operation == "get_records"]
    assert recorded == [None, code, code, None]


@pytest.mark.parametrize("source", ["kinesis", "dynamodb"])
def test_iterators_expire_after_their_lifetime(open_world: Any, backend: str, source: str) -> None:
    world = open_world(_scenario(source, iterator_lifetime=30.0), backend)
    client, _ = _stream(world)
    old = _iterator(world)
    world.clock.advance(30.0)
    renewed = client.get_records(ShardIterator=old)["NextShardIterator"]  # exactly 30 s: still valid
    world.clock.advance(30.5)
    with pytest.raises(client.exceptions.ExpiredIteratorException) as raised:
        client.get_records(ShardIterator=renewed)
    assert _code(raised.value) == "ExpiredIteratorException"
    fresh = _iterator(world, "LATEST")
    assert client.get_records(ShardIterator=fresh)["Records"] == []


@pytest.mark.parametrize("source", ["kinesis", "dynamodb"])
def test_iterators_never_expire_without_a_lifetime(open_world: Any, backend: str, source: str) -> None:
    world = open_world(_scenario(source), backend)
    client, _ = _stream(world)
    iterator = _iterator(world)
    world.clock.advance(3600.0)
    assert len(client.get_records(ShardIterator=iterator)["Records"]) == 3


@pytest.mark.parametrize(
    ("destination", "operation", "code", "status"),
    [
        ("sqs", "send_message", "RequestThrottled", 400),
        ("sns", "publish", "Throttled", 429),
        ("s3", "put_object", "SlowDown", 503),
    ],
)
def test_the_first_destination_writes_fail(
    open_world: Any, backend: str, destination: str, operation: str, code: str, status: int
) -> None:
    scenario = _with(kinesis_scenario(destination=destination), destination_failures=2)
    world = open_world(scenario, backend)
    client = world.context().client(destination)
    if destination == "sqs":
        url = client.get_queue_url(QueueName=names.QUEUE_NAME)["QueueUrl"]
        params: dict[str, Any] = {"QueueUrl": url, "MessageBody": "{}"}
    elif destination == "sns":
        params = {"TopicArn": names.TOPIC_ARN, "Message": "{}"}
    else:
        params = {"Bucket": names.BUCKET_NAME, "Key": "aws/lambda/x", "Body": b"{}"}
    for _ in range(2):
        with pytest.raises(ClientError) as raised:
            getattr(client, operation)(**params)
        assert _code(raised.value) == code
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    getattr(client, operation)(**params)
    assert len(world.trace.destination_writes()) == 1  # failed writes are not documents
    refused = world.trace.refused_destination_writes()
    assert [(w.kind, w.call.error_code, w.text) for w in refused] == [(destination, code, "{}")] * 2


def test_wide_items_carry_every_attribute_type(open_world: Any, backend: str) -> None:
    world = open_world(_scenario("dynamodb", wide_items=True), backend)
    client, _ = _stream(world)
    records = client.get_records(ShardIterator=_iterator(world))["Records"]
    assert records
    for raw, realised in zip(records, world.released_records(), strict=False):
        image = raw["dynamodb"]["NewImage"]
        expected = item_image(realised.ref, realised.partition_key, realised.data, wide=True)
        tags = {next(iter(v)) for v in image.values()}
        assert tags >= {"S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", "L", "M"}
        assert set(image) == set(expected)
        for name, value in expected.items():
            assert same_attribute(image[name], value), (name, image[name], value)
        assert isinstance(image["map"]["M"]["blob"]["B"], bytes)  # botocore decodes nested binaries
        assert raw["dynamodb"]["Keys"] == {names.TABLE_HASH_KEY: expected[names.TABLE_HASH_KEY]}


def test_narrow_items_by_default(open_world: Any, backend: str) -> None:
    world = open_world(_scenario("dynamodb"), backend)
    client, _ = _stream(world)
    image = client.get_records(ShardIterator=_iterator(world))["Records"][0]["dynamodb"]["NewImage"]
    assert set(image) == {names.TABLE_HASH_KEY, "pk", "data"}


def test_encoded_image_base64s_every_binary() -> None:
    encoded = encoded_image(item_image((0, 1), "key", b"\x00\xffabc", wide=True))
    assert encoded["data"] == {"B": "AP9hYmM="}
    assert encoded["blobs"]["BS"] == ["AAD/YWJj", "/wD/YWJj"]
    assert encoded["list"]["L"][2]["L"][0] == {"B": "AgD/YWJj"}
    assert encoded["map"]["M"]["inner"]["M"]["blobs"] == {"BS": ["BAD/YWJj"]}


@pytest.mark.parametrize("source", ["kinesis", "dynamodb"])
def test_arrivals_in_a_non_utc_offset_are_the_same_instants(
    open_world: Any, backend: str, source: str
) -> None:
    world = open_world(_scenario(source, arrival_utc_offset_minutes=-210), backend)
    client, _ = _stream(world)
    records = client.get_records(ShardIterator=_iterator(world))["Records"]
    assert records
    for raw, realised in zip(records, world.released_records(), strict=False):
        arrival = (
            raw["ApproximateArrivalTimestamp"]
            if source == "kinesis"
            else raw["dynamodb"]["ApproximateCreationDateTime"]
        )
        assert arrival.utcoffset() == timedelta(hours=-3, minutes=-30)
        assert arrival == realised.arrival  # the same instant
        assert arrival.replace(tzinfo=None) != realised.arrival.replace(tzinfo=None)
    # The stream's own records (what the checkers compare against) stay in UTC.
    assert all(r.arrival.utcoffset() == timedelta(0) for r in world.released_records())
