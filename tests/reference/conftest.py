"""Fixtures for the reference poller's tests: real boto3 clients against moto (Kinesis, DynamoDB
Streams, SQS, SNS, S3), a scripted function behind the Invoke API shape, and a virtual clock.

moto cannot run functions, so ``ScriptedFunction`` answers Invoke itself: a test gives it a
``script`` that looks at the records of each invocation and returns a value (the function's
return value), ``RAISE`` (the function raised) or ``THROTTLE`` (HTTP 429 before it ran).
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from freezegun import freeze_time
from moto import mock_aws

from conformance.clock import VirtualClock
from conformance.contract import PollerContext
from conformance.world import names
from reference import ReferencePoller

REGION = names.REGION
START = datetime(2024, 6, 1, 12, 0, 0, tzinfo=timezone.utc)

RAISE = object()
"""Script answer: the function raises (``FunctionError: Unhandled``)."""
THROTTLE = object()
"""Script answer: Invoke is throttled before the function runs."""

Script = Callable[[list[dict[str, Any]]], Any]


def sequence_number(record: dict[str, Any]) -> str:
    """The sequence number of an event record, Kinesis or DynamoDB."""
    if "kinesis" in record:
        return str(record["kinesis"]["sequenceNumber"])
    return str(record["dynamodb"]["SequenceNumber"])


@dataclass
class InvokeCall:
    at: datetime
    event: dict[str, Any]
    throttled: bool
    request_id: str
    raised: bool

    @property
    def records(self) -> list[dict[str, Any]]:
        return list(self.event["Records"])

    @property
    def sequence_numbers(self) -> list[str]:
        return [sequence_number(r) for r in self.records]


@dataclass
class ScriptedFunction:
    """A lambda client whose function is ``script``. Request ids are uuids from a counter."""

    clock: VirtualClock
    script: Script = field(default=lambda records: None)
    calls: list[InvokeCall] = field(default_factory=list)
    payloads: list[bytes] = field(default_factory=list)

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        assert FunctionName == names.FUNCTION_ARN
        assert InvocationType == "RequestResponse"
        self.payloads.append(Payload)
        event = json.loads(Payload)
        request_id = str(uuid.UUID(int=len(self.calls) + 1, version=4))
        answer = self.script(list(event["Records"]))
        self.calls.append(
            InvokeCall(self.clock.now(), event, answer is THROTTLE, request_id, answer is RAISE)
        )
        if answer is THROTTLE:
            error: Any = {
                "Error": {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."},
                "ResponseMetadata": {"HTTPStatusCode": 429, "RequestId": request_id},
            }
            raise ClientError(
                error,
                "Invoke",
            )
        response: dict[str, Any] = {
            "StatusCode": 200,
            "ExecutedVersion": "$LATEST",
            "ResponseMetadata": {"RequestId": request_id, "HTTPStatusCode": 200},
        }
        if answer is RAISE:
            body = json.dumps({"errorMessage": "boom", "errorType": "Exception"}).encode()
            response["FunctionError"] = "Unhandled"
        else:
            body = json.dumps(answer).encode()
        response["Payload"] = StreamingBody(io.BytesIO(body), len(body))
        return response

    @property
    def delivered(self) -> list[InvokeCall]:
        """Invocations that reached the function (not throttled)."""
        return [c for c in self.calls if not c.throttled]

    def deliveries_of(self, seq: str) -> int:
        return sum(seq in c.sequence_numbers for c in self.delivered)


class Rig:
    """One stream (Kinesis or DynamoDB) in moto, its destinations, the function and the clock.

    Test modules reach the script answers as ``rig.RAISE`` / ``rig.THROTTLE`` (conftest is not
    importable under pytest's importlib mode)."""

    RAISE = RAISE
    THROTTLE = THROTTLE

    def __init__(self, source: str, shards: int, start: datetime, clients: MotoClients) -> None:
        self.source = source
        self.clock = VirtualClock(start)
        self.function = ScriptedFunction(self.clock)
        self.kinesis = clients.kinesis
        self.dynamodb = clients.dynamodb
        self.streams = clients.streams
        self.sqs = clients.sqs
        self.sns = clients.sns
        self.s3 = clients.s3
        self._items = 0
        if source == "kinesis":
            self.kinesis.create_stream(StreamName=names.STREAM_NAME, ShardCount=shards)
            description = self.kinesis.describe_stream(StreamName=names.STREAM_NAME)["StreamDescription"]
            self.stream_arn = str(description["StreamARN"])
            listed = self.kinesis.list_shards(StreamName=names.STREAM_NAME)["Shards"]
            self.shard_ids = [str(s["ShardId"]) for s in listed]
            self._hash_keys = [str(s["HashKeyRange"]["StartingHashKey"]) for s in listed]
        else:
            assert shards == 1, "a DynamoDB table in moto has one stream shard"
            table = self.dynamodb.create_table(
                TableName=names.TABLE_NAME,
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            )
            self.stream_arn = str(table["TableDescription"]["LatestStreamArn"])
            described = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
            self.shard_ids = [str(s["ShardId"]) for s in described["Shards"]]
        self.sqs.create_queue(QueueName=names.QUEUE_NAME)
        self.queue_url = self.sqs.get_queue_url(QueueName=names.QUEUE_NAME)["QueueUrl"]
        topic = self.sns.create_topic(Name=names.TOPIC_NAME)["TopicArn"]
        assert topic == names.TOPIC_ARN
        self.sqs.create_queue(QueueName="topic-sink")
        self.topic_sink_url = self.sqs.get_queue_url(QueueName="topic-sink")["QueueUrl"]
        self.sns.subscribe(
            TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:{REGION}:{names.ACCOUNT_ID}:topic-sink"
        )
        self.s3.create_bucket(Bucket=names.BUCKET_NAME)

    # ---- the stream -----------------------------------------------------------------------

    def ago(self, seconds: float) -> datetime:
        """The instant ``seconds`` before the clock's now."""
        return self.clock.now() - timedelta(seconds=seconds)

    def put(self, data: bytes = b"{}", *, at: datetime | None = None, shard: int = 0, key: str = "pk") -> str:
        """Write one record whose arrival is ``at`` (default: the clock's now); its sequence
        number."""
        [written] = self._write([data], at=at, shard=shard, key=key)
        return written

    def put_many(self, count: int, *, at: datetime | None = None, shard: int = 0) -> list[str]:
        """Write ``count`` small JSON records arriving at the same instant."""
        return self._write([f'{{"n": {i}}}'.encode() for i in range(count)], at=at, shard=shard, key="pk")

    def _write(self, payloads: list[bytes], *, at: datetime | None, shard: int, key: str) -> list[str]:
        # One freezegun window per write: starting freezegun is the slow part.
        with freeze_time(at or self.clock.now()):
            if self.source == "kinesis":
                numbers = []
                for data in payloads:
                    written = self.kinesis.put_record(
                        StreamName=names.STREAM_NAME,
                        Data=data,
                        PartitionKey=key,
                        ExplicitHashKey=self._hash_keys[shard],
                    )
                    assert written["ShardId"] == self.shard_ids[shard]
                    numbers.append(str(written["SequenceNumber"]))
                return numbers
            for data in payloads:
                self._items += 1
                self.dynamodb.put_item(
                    TableName=names.TABLE_NAME,
                    Item={"id": {"S": f"item-{self._items}"}, "pk": {"S": key}, "data": {"B": data}},
                )
        return self._last_ddb_sequences(len(payloads))

    def _last_ddb_sequences(self, count: int) -> list[str]:
        shard_id = self.shard_ids[0]
        iterator = self.streams.get_shard_iterator(
            StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = self.streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
        return [str(r["dynamodb"]["SequenceNumber"]) for r in records[len(records) - count :]]

    # ---- the poller -----------------------------------------------------------------------

    def context(self, parameters: dict[str, Any]) -> PollerContext:
        clients: dict[str, Any] = {
            "kinesis": self.kinesis,
            "dynamodbstreams": self.streams,
            "lambda": self.function,
            "sqs": self.sqs,
            "sns": self.sns,
            "s3": self.s3,
        }
        return PollerContext(
            mapping_uuid=names.MAPPING_UUID,
            function_arn=names.FUNCTION_ARN,
            event_source_arn=self.stream_arn,
            parameters=parameters,
            clock=self.clock,
            region=REGION,
            account_id=names.ACCOUNT_ID,
            execution_role_arn=names.EXECUTION_ROLE_ARN,
            clients=clients.__getitem__,
        )

    def poller(self, destination: str | None = None, **parameters: Any) -> ReferencePoller:
        """A reference poller; ``destination`` is "sqs", "sns" or "s3". StartingPosition defaults
        to TRIM_HORIZON."""
        parameters.setdefault("StartingPosition", "TRIM_HORIZON")
        if destination is not None:
            parameters["DestinationConfig"] = {
                "OnFailure": {"Destination": names.DESTINATION_ARNS[destination]}
            }
        counter = iter(range(1, 1_000_000))
        return ReferencePoller(
            self.context(parameters), new_uuid=lambda: uuid.UUID(int=0xABC000 + next(counter), version=4)
        )

    def run(self, poller: ReferencePoller, polls: int = 1, gap: float = 1.0) -> None:
        """``polls`` polls, advancing the clock by ``gap`` seconds after each."""
        for _ in range(polls):
            poller.poll()
            self.clock.advance(gap)

    # ---- destinations ---------------------------------------------------------------------

    def sqs_documents(self) -> list[dict[str, Any]]:
        return [json.loads(body) for body in self._drain(self.queue_url)]

    def sns_documents(self) -> list[dict[str, Any]]:
        envelopes = [json.loads(body) for body in self._drain(self.topic_sink_url)]
        assert all(e["Type"] == "Notification" and e["TopicArn"] == names.TOPIC_ARN for e in envelopes)
        return [json.loads(e["Message"]) for e in envelopes]

    def s3_objects(self) -> list[tuple[str, dict[str, Any]]]:
        listed = self.s3.list_objects_v2(Bucket=names.BUCKET_NAME).get("Contents", [])
        out = []
        for item in listed:
            body = self.s3.get_object(Bucket=names.BUCKET_NAME, Key=item["Key"])["Body"].read()
            out.append((str(item["Key"]), json.loads(body)))
        return out

    def documents(self, kind: str) -> list[dict[str, Any]]:
        if kind == "sqs":
            return self.sqs_documents()
        if kind == "sns":
            return self.sns_documents()
        return [doc for _, doc in self.s3_objects()]

    def _drain(self, url: str) -> list[str]:
        bodies: list[str] = []
        while True:
            got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return bodies
            for message in got:
                bodies.append(message["Body"])
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


class MotoClients:
    """Real boto3 clients for moto. Creating clients and loading their service models is the
    slow part of a moto test, so one set serves the whole session; they carry fixed fake
    credentials and are used only while a mock is active (``moto_mock``)."""

    def __init__(self) -> None:
        session = boto3.session.Session(
            region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        self.kinesis: Any = session.client("kinesis")
        self.dynamodb: Any = session.client("dynamodb")
        # integration-facts.md: StreamArn calls need the account-id endpoint mode off under moto.
        self.streams: Any = session.client(
            "dynamodbstreams", config=Config(account_id_endpoint_mode="disabled")
        )
        self.sqs: Any = session.client("sqs")
        self.sns: Any = session.client("sns")
        self.s3: Any = session.client("s3")


@pytest.fixture(scope="session")
def moto_clients() -> MotoClients:
    return MotoClients()


@pytest.fixture(scope="module")
def moto_mock() -> Iterator[Any]:
    # Module scope: pytest finalises it before a test of another module runs (also under
    # xdist), so no other test ever sees this mock or its state.
    mock = mock_aws()
    mock.start()
    try:
        yield mock
    finally:
        mock.stop()


RigFactory = Callable[..., Rig]


@pytest.fixture
def make_rig(moto_mock: Any, moto_clients: MotoClients) -> RigFactory:
    moto_mock.reset()  # every test starts from empty backends

    def make(source: str = "kinesis", shards: int = 1, start: datetime = START) -> Rig:
        return Rig(source, shards, start, moto_clients)

    return make


@pytest.fixture
def kinesis(make_rig: RigFactory) -> Rig:
    return make_rig("kinesis")


@pytest.fixture
def ddb(make_rig: RigFactory) -> Rig:
    return make_rig("dynamodb")
