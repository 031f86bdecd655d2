"""The moto world: real boto3 clients talking to moto's in-process AWS under ``moto.mock_aws``.

The same scenario as the in-memory world, but every stream, queue, topic and bucket call a poller
makes goes through botocore's real machinery, which is what this backend exists to exercise:

* request serialisation by botocore for each protocol (``json`` for Kinesis, DynamoDB Streams and
  SQS, ``query`` for SNS, ``rest-xml`` for S3): parameter validation, blob base64 encoding, the
  truncation of Kinesis ``Timestamp`` parameters to whole epoch seconds, S3 bucket addressing;
* moto's HTTP-level responses parsed back by botocore: epoch timestamps into ``datetime`` objects,
  base64 blobs (Kinesis ``Data``, DynamoDB ``{"B": ...}``) into ``bytes``, XML into dicts,
  ``ResponseMetadata``;
* error responses turned into the same ``ClientError`` subclasses a real client raises, with the
  wire error codes (``AWS.SimpleQueueService.NonExistentQueue`` mapped to ``QueueDoesNotExist``
  through the query-compatible error header, for instance);
* SNS delivering the notification envelope to a subscribed SQS queue.

The ``lambda`` client is the scripted function (``function.py``) behind the Invoke shape, as in
the in-memory world; moto's own Lambda is never used (it would need Docker).

Records are written when their arrival comes, with freezegun pinned to their arrival instant
(moto stamps arrivals with the current time): Kinesis keeps milliseconds, DynamoDB writes happen
at the arrival rounded down to the second, as DynamoDB Streams reports it. moto assigns its own
sequence numbers ("1", "2", ... per Kinesis shard; 22 digits for DynamoDB) and the realised
``StreamRecord``s carry them. Scenario shard *i* in shard-id order is moto's shard *i*: records
are put with an ``ExplicitHashKey`` inside that shard's range.

Known differences from AWS that show through (moto's, not this kit's):

* DynamoDB GetRecords says ``eventVersion`` "1.0" (AWS: "1.1") and computes ``SizeBytes``
  differently; DynamoDB Streams accepts an ``AT_TIMESTAMP`` iterator, which AWS rejects;
* a malformed shard iterator or a missing ``StartingSequenceNumber`` crashes moto instead of
  raising ``InvalidArgumentException``; iterators never expire (the scenario's
  ``world.iterator_lifetime`` is applied by the fault layer, ``faults.py``, exactly as the
  in-memory world applies it);
* a Kinesis iterator obtained with only ``StreamARN`` would name stream "None" (worked around
  here by adding the matching StreamName to such GetShardIterator requests);
* a ListShards ``NextToken`` is only accepted together with the parameters of the first call
  (AWS rejects exactly that combination);
* timestamps moto makes during a poller's calls (S3 ``LastModified``, SQS ``SentTimestamp``, SNS
  ``Timestamp``) come from the real clock.

One moto world at a time per process (moto's state is global); build another after ``close()``.
Clients are created with explicit region, credentials and endpoints, never from the user's
environment or AWS config files, and they refuse to send anything once the world is closed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, ClassVar

import boto3
import botocore.session
from botocore.config import Config
from botocore.configprovider import BOTOCORE_DEFAUT_SESSION_VARIABLES
from freezegun import freeze_time
from moto import mock_aws
from moto.core.models import MockAWS
from moto.moto_api._internal import mock_random

from conformance.clock import VirtualClock
from conformance.items import item_image
from conformance.scenario import Scenario, Source
from conformance.trace import StreamRecord
from conformance.world import names
from conformance.world._base import (
    UnrealisableScenario,
    WorldBase,
    arrival_instant,
    destination_resource,
    dynamodb_stream_arn,
    item_id,
)

__all__ = ["MotoWorld"]

_CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "aws_session_token": "testing",
}
_ENDPOINTS = {
    "kinesis": f"https://kinesis.{names.REGION}.amazonaws.com",
    "dynamodb": f"https://dynamodb.{names.REGION}.amazonaws.com",
    "dynamodbstreams": f"https://streams.dynamodb.{names.REGION}.amazonaws.com",
    "sqs": f"https://sqs.{names.REGION}.amazonaws.com",
    "sns": f"https://sns.{names.REGION}.amazonaws.com",
    "s3": f"https://s3.{names.REGION}.amazonaws.com",
}
# Every botocore setting with its built-in default only: no environment variable and no AWS
# config or credentials file is consulted, so the world neither depends on nor touches the
# user's AWS setup (AWS_PROFILE, AWS_ENDPOINT_URL, ~/.aws/config ...).
_ISOLATED = {
    name: (None, None, os.devnull if name in ("config_file", "credentials_file") else default, conversion)
    for name, (_, _, default, conversion) in BOTOCORE_DEFAUT_SESSION_VARIABLES.items()
}
_SEED = 20240229  # moto's random source, seeded so eventIDs and message ids replay identically

_active: MotoWorld | None = None
_clients: dict[str, Any] = {}


def _refuse_when_closed(**_: Any) -> None:
    # A 'before-send' handler on every client of this module: after the world closes, moto no
    # longer intercepts, and the request would otherwise leave for the real AWS endpoint.
    if _active is None:
        raise RuntimeError(
            "this moto world is closed: its clients no longer reach moto and will not call AWS; "
            "build a new world with build_world(scenario, 'moto')"
        )


def _client(service: str) -> Any:
    """A boto3 client insulated from the user's environment, created once per process (client
    creation is the slow part of a moto world; moto's state is reset per world instead)."""
    client = _clients.get(service)
    if client is None:
        session = boto3.session.Session(botocore_session=botocore.session.Session(session_vars=_ISOLATED))
        config = Config(
            retries={"total_max_attempts": 1},  # errors reach the poller as they happen
            account_id_endpoint_mode="disabled",  # moto cannot serve account-based endpoints
        )
        client = session.client(
            service,  # type: ignore[call-overload]
            region_name=names.REGION,
            endpoint_url=_ENDPOINTS[service],
            config=config,
            **_CREDENTIALS,
        )
        client.meta.events.register("before-send", _refuse_when_closed)
        if service == "kinesis":
            client.meta.events.register("before-parameter-build.kinesis.GetShardIterator", _name_the_stream)
        _clients[service] = client
    return client


def _name_the_stream(params: dict[str, Any], **_: Any) -> None:
    # moto writes the request's StreamName into the shard iterator it returns, and a
    # GetShardIterator made with only StreamARN yields an iterator naming stream "None" that its
    # own GetRecords then rejects. Adding the matching StreamName to the request (the recorded
    # call keeps the poller's own parameters) lets ARN-only pollers work as they do in AWS.
    arn = params.get("StreamARN")
    if isinstance(arn, str) and "StreamName" not in params and arn.startswith("arn:aws:kinesis:"):
        params["StreamName"] = arn.rsplit("/", 1)[-1]


@contextmanager
def _frozen_at(instant: datetime) -> Iterator[Any]:
    with freeze_time(instant) as frozen:
        yield frozen


class MotoWorld(WorldBase):
    """The scenario realised in moto, reached through real boto3 clients."""

    backend: ClassVar[str] = "moto"

    def __init__(self, scenario: Scenario, clock: VirtualClock | None = None) -> None:
        global _active
        if scenario.source is Source.DYNAMODB and len(scenario.shards) != 1:
            raise UnrealisableScenario(
                f"the moto backend supports one DynamoDB shard (moto's DynamoDB Streams have exactly one); "
                f"this scenario has {len(scenario.shards)}: use the memory backend, or a single shard"
            )
        super().__init__(scenario, clock)
        if _active is not None or MockAWS._nested_count > 0:
            raise RuntimeError(
                "another moto mock is active in this process; a moto world needs moto to itself "
                "(close the other world, or leave the enclosing mock_aws, before building this one)"
            )
        self._mock = mock_aws()
        self._mock.start()
        _active = self
        try:
            mock_random.seed(_SEED)
            self._kinesis = scenario.source is Source.KINESIS
            self._stream_arn = self._create_resources()
            self.release_due_records()
        except BaseException:
            self._shutdown()
            raise

    # ---- setup --------------------------------------------------------------------------------

    def _create_resources(self) -> str:
        scenario = self.scenario
        with _frozen_at(self.created_at):
            if self._kinesis:
                kinesis = _client("kinesis")
                kinesis.create_stream(StreamName=names.STREAM_NAME, ShardCount=len(scenario.shards))
                moto_shards = sorted(
                    kinesis.list_shards(StreamName=names.STREAM_NAME)["Shards"], key=lambda s: s["ShardId"]
                )
                ordered = sorted(range(len(scenario.shards)), key=lambda i: scenario.shards[i].shard_id)
                # scenario shard si → (moto shard id, a hash key that lands in it)
                self._targets = {
                    si: (shard["ShardId"], shard["HashKeyRange"]["StartingHashKey"])
                    for si, shard in zip(ordered, moto_shards, strict=True)
                }
                arn = names.KINESIS_STREAM_ARN
            else:
                table = _client("dynamodb").create_table(
                    TableName=names.TABLE_NAME,
                    KeySchema=[{"AttributeName": names.TABLE_HASH_KEY, "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": names.TABLE_HASH_KEY, "AttributeType": "S"}],
                    BillingMode="PAY_PER_REQUEST",
                    StreamSpecification={"StreamEnabled": True, "StreamViewType": names.STREAM_VIEW_TYPE},
                )
                arn = table["TableDescription"]["LatestStreamArn"]
                if arn != dynamodb_stream_arn(self.created_at):
                    raise RuntimeError(
                        f"moto named the stream {arn}, expected {dynamodb_stream_arn(self.created_at)}"
                    )
                description = _client("dynamodbstreams").describe_stream(StreamArn=arn)["StreamDescription"]
                self._ddb_shard_id = description["Shards"][0]["ShardId"]
                self._ddb_last_sequence: str | None = None
            self._create_destination()
        return str(arn)

    def _create_destination(self) -> None:
        resource = destination_resource(self.scenario)
        if resource is None:
            return
        kind, name = resource
        if kind == "sqs":
            _client("sqs").create_queue(QueueName=name)
        elif kind == "sns":
            sqs = _client("sqs")
            url = sqs.create_queue(QueueName=names.SNS_SUBSCRIBER_QUEUE_NAME)["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            topic_arn = _client("sns").create_topic(Name=name)["TopicArn"]
            _client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        else:
            _client("s3").create_bucket(Bucket=name)

    # ---- WorldBase hooks ------------------------------------------------------------------------

    @property
    def event_source_arn(self) -> str:
        return self._stream_arn

    def _raw_client(self, service: str) -> Any:
        return self.function if service == "lambda" else _client(service)

    def _write(self, refs: list[tuple[int, int]]) -> list[StreamRecord]:
        scenario = self.scenario
        instants = [arrival_instant(scenario, self._spec(ref)) for ref in refs]
        written: list[StreamRecord] = []
        with _frozen_at(instants[0]) as frozen:
            for ref, instant in zip(refs, instants, strict=True):
                frozen.move_to(instant)
                spec = self._spec(ref)
                if self._kinesis:
                    shard_id, hash_key = self._targets[ref[0]]
                    put = _client("kinesis").put_record(
                        StreamName=names.STREAM_NAME,
                        Data=spec.data,
                        PartitionKey=spec.partition_key,
                        ExplicitHashKey=hash_key,
                    )
                    if put["ShardId"] != shard_id:
                        raise RuntimeError(f"moto put record {ref} on {put['ShardId']}, expected {shard_id}")
                    written.append(self._realised(ref, shard_id, put["SequenceNumber"]))
                else:
                    _client("dynamodb").put_item(
                        TableName=names.TABLE_NAME,
                        Item=item_image(ref, spec.partition_key, spec.data, wide=scenario.world.wide_items),
                    )
        if not self._kinesis:
            written = self._read_back_dynamodb(refs)
        return written

    def _read_back_dynamodb(self, refs: list[tuple[int, int]]) -> list[StreamRecord]:
        """put_item does not say what the stream assigned: read the new stream records back."""
        streams = _client("dynamodbstreams")
        if self._ddb_last_sequence is None:
            position: dict[str, str] = {"ShardIteratorType": "TRIM_HORIZON"}
        else:
            position = {
                "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                "SequenceNumber": self._ddb_last_sequence,
            }
        iterator = streams.get_shard_iterator(
            StreamArn=self._stream_arn, ShardId=self._ddb_shard_id, **position
        )["ShardIterator"]
        found: list[dict[str, Any]] = []
        while len(found) < len(refs):
            page = streams.get_records(ShardIterator=iterator)
            if not page["Records"]:
                break
            found.extend(page["Records"])
            iterator = page["NextShardIterator"]
        if len(found) != len(refs):
            raise RuntimeError(f"moto's stream shows {len(found)} new records after {len(refs)} writes")
        written = []
        for ref, record in zip(refs, found, strict=True):
            change = record["dynamodb"]
            key = change["Keys"][names.TABLE_HASH_KEY]["S"]
            if key != item_id(ref):
                raise RuntimeError(
                    f"moto's stream record for item {key} came where {item_id(ref)} was expected"
                )
            realised = self._realised(ref, self._ddb_shard_id, change["SequenceNumber"])
            if change["ApproximateCreationDateTime"] != realised.arrival:
                raise RuntimeError(
                    f"moto stamped item {key} at {change['ApproximateCreationDateTime']}, "
                    f"expected {realised.arrival}"
                )
            written.append(realised)
        self._ddb_last_sequence = written[-1].sequence_number
        return written

    def _shutdown(self) -> None:
        global _active
        if _active is self:
            _active = None
            self._mock.stop()
