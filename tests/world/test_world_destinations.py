"""On-failure destinations in both backends: SQS, SNS (read back through its subscriber queue)
and S3, with the errors pollers meet when the destination does not exist."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from worldkit import kinesis_scenario

from conformance.world import names

DOCUMENT = json.dumps({"requestContext": {"condition": "RetryAttemptsExhausted"}, "version": "1.0"})


def test_sqs_destination_round_trip(backend: str, open_world: Any) -> None:
    world = open_world(kinesis_scenario(destination="sqs"), backend)
    sqs = world.context().client("sqs")
    url = sqs.get_queue_url(QueueName=names.QUEUE_NAME, QueueOwnerAWSAccountId=names.ACCOUNT_ID)["QueueUrl"]
    assert url == names.QUEUE_URL
    sent = sqs.send_message(QueueUrl=url, MessageBody=DOCUMENT)
    assert sent["MD5OfMessageBody"] == hashlib.md5(DOCUMENT.encode()).hexdigest()
    assert len(sent["MessageId"]) == 36
    (message,) = world.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert message["Body"] == DOCUMENT
    assert message["MessageId"] == sent["MessageId"]
    assert "Messages" not in world.client("sqs").receive_message(QueueUrl=url), "received: invisible for now"
    (write,) = world.trace.destination_writes()
    assert (write.kind, write.target, write.document()) == ("sqs", url, json.loads(DOCUMENT))


def test_a_missing_queue_is_queue_does_not_exist(backend: str, open_world: Any) -> None:
    world = open_world(kinesis_scenario(), backend)  # no destination configured: no queue
    sqs = world.context().client("sqs")
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as caught:
        sqs.get_queue_url(QueueName=names.QUEUE_NAME)
    error = caught.value.response["Error"]
    assert (error["Code"], error["QueryErrorCode"]) == (
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
    )
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=names.QUEUE_URL, MessageBody=DOCUMENT)
    assert world.trace.destination_writes() == [], "a failed send is not a destination write"
    assert world.trace.calls[-1].error_code == "AWS.SimpleQueueService.NonExistentQueue"


def test_sns_destination_delivers_the_notification_envelope(backend: str, open_world: Any) -> None:
    world = open_world(kinesis_scenario(destination="sns"), backend)
    published = world.context().client("sns").publish(TopicArn=names.TOPIC_ARN, Message=DOCUMENT)
    (message,) = world.client("sqs").receive_message(QueueUrl=names.SNS_SUBSCRIBER_QUEUE_URL)["Messages"]
    envelope = json.loads(message["Body"])
    assert envelope["Type"] == "Notification"
    assert envelope["TopicArn"] == names.TOPIC_ARN
    assert envelope["Message"] == DOCUMENT
    assert envelope["MessageId"] == published["MessageId"]
    (write,) = world.trace.destination_writes()
    assert (write.kind, write.target, write.text) == ("sns", names.TOPIC_ARN, DOCUMENT)


def test_a_missing_topic_is_not_found(backend: str, open_world: Any) -> None:
    world = open_world(kinesis_scenario(destination="sqs"), backend)
    sns = world.context().client("sns")
    with pytest.raises(sns.exceptions.NotFoundException) as caught:
        sns.publish(TopicArn=names.TOPIC_ARN, Message=DOCUMENT)
    assert caught.value.response["Error"]["Code"] == "NotFound"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_s3_destination_round_trip_and_listing(backend: str, open_world: Any) -> None:
    world = open_world(kinesis_scenario(destination="s3"), backend)
    s3 = world.context().client("s3")
    key = f"aws/lambda/{names.MAPPING_UUID}/shardId-000000000000/2024/02/29/2024-02-29T23.59.59-abc"
    put = s3.put_object(
        Bucket=names.BUCKET_NAME, Key=key, Body=DOCUMENT.encode(), ContentType="application/json"
    )
    assert put["ETag"] == f'"{hashlib.md5(DOCUMENT.encode()).hexdigest()}"'
    s3.put_object(Bucket=names.BUCKET_NAME, Key="other/key", Body=DOCUMENT)
    got = world.client("s3").get_object(Bucket=names.BUCKET_NAME, Key=key)
    assert got["Body"].read() == DOCUMENT.encode()
    assert got["ContentType"] == "application/json"
    assert got["ContentLength"] == len(DOCUMENT)
    listing = world.client("s3").list_objects_v2(Bucket=names.BUCKET_NAME, Prefix="aws/lambda/")
    assert [o["Key"] for o in listing["Contents"]] == [key]
    assert listing["KeyCount"] == 1 and listing["IsTruncated"] is False
    everything = world.client("s3").list_objects_v2(Bucket=names.BUCKET_NAME)
    assert [o["Key"] for o in everything["Contents"]] == [key, "other/key"]
    writes = world.trace.destination_writes()
    assert [(w.kind, w.s3_key, w.document()) for w in writes] == [
        ("s3", key, json.loads(DOCUMENT)),
        ("s3", "other/key", json.loads(DOCUMENT)),
    ]


def test_s3_pages_are_recorded_through_the_paginator(backend: str, open_world: Any) -> None:
    world = open_world(kinesis_scenario(destination="s3"), backend)
    s3 = world.context().client("s3")
    for i in range(3):
        s3.put_object(Bucket=names.BUCKET_NAME, Key=f"k{i}", Body=b"{}")
    before = len(world.trace.calls)
    pages = list(
        s3.get_paginator("list_objects_v2").paginate(
            Bucket=names.BUCKET_NAME, PaginationConfig={"PageSize": 2}
        )
    )
    assert [[o["Key"] for o in p["Contents"]] for p in pages] == [["k0", "k1"], ["k2"]]
    assert [c.operation for c in world.trace.calls[before:]] == ["list_objects_v2", "list_objects_v2"]


def test_missing_buckets_and_keys(backend: str, open_world: Any) -> None:
    world = open_world(kinesis_scenario(destination="s3"), backend)
    s3 = world.context().client("s3")
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.put_object(Bucket="no-such-bucket", Key="k", Body=b"{}")
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=names.BUCKET_NAME, Key="absent")
    assert caught.value.response["Error"]["Code"] == "NoSuchKey"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_only_the_configured_destination_exists(backend: str, open_world: Any) -> None:
    world = open_world(kinesis_scenario(destination="sns"), backend)
    with pytest.raises(ClientError, match="NoSuchBucket"):
        world.client("s3").put_object(Bucket=names.BUCKET_NAME, Key="k", Body=b"{}")
    with pytest.raises(ClientError, match="NonExistentQueue"):
        world.client("sqs").get_queue_url(QueueName=names.QUEUE_NAME)
