"""On-failure destinations: the document describing discarded records (DLQ-*), the S3 object and
key (S3-*, S3KEY-*), and delivery through the SQS, SNS and S3 clients."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from conformance.contract import PollerContext
from reference.events import PolledRecord
from reference.times import iso_millis, iso_seconds, to_utc

__all__ = [
    "RECORD_AGE_EXCEEDED",
    "RETRY_ATTEMPTS_EXHAUSTED",
    "Destination",
    "Discard",
    "InvocationResult",
    "failure_document",
    "open_destination",
    "s3_key",
    "s3_object",
]

# DLQ-4: the exact condition strings ("MaximumRecordAgeExceeded" is wrong according to AWS).
RETRY_ATTEMPTS_EXHAUSTED = "RetryAttemptsExhausted"
RECORD_AGE_EXCEEDED = "RecordAgeExceeded"


@dataclass(frozen=True)
class InvocationResult:
    """What the last failed invocation answered, for ``responseContext`` (DLQ-5)."""

    status_code: int
    executed_version: str
    function_error: str | None


@dataclass(frozen=True)
class Discard:
    """Records given up on: one destination document (DLQ-2).

    ``records`` are contiguous, in shard order. ``response`` is present only for
    ``RetryAttemptsExhausted`` (DLQ-5). ``at`` is the discard instant (DLQ-6)."""

    condition: str
    records: tuple[PolledRecord, ...]
    request_id: str
    invoke_count: int
    response: InvocationResult | None
    at: datetime

    @property
    def shard_id(self) -> str:
        return self.records[0].shard_id


def failure_document(discard: Discard, *, source: str, function_arn: str, stream_arn: str) -> dict[str, Any]:
    """The SQS/SNS document (DLQ-3..12), keys in AWS's order (DLQ-12, informational)."""
    document: dict[str, Any] = {
        "requestContext": {  # DLQ-4
            "requestId": discard.request_id,
            "functionArn": function_arn,
            "condition": discard.condition,
            "approximateInvokeCount": discard.invoke_count,
        }
    }
    if discard.response is not None:  # DLQ-5: only when the batch was invoked and failed
        document["responseContext"] = {
            "statusCode": discard.response.status_code,
            "executedVersion": discard.response.executed_version,
            "functionError": discard.response.function_error,
        }
    document["version"] = "1.0"  # DLQ-6
    document["timestamp"] = iso_millis(discard.at)  # DLQ-6: always with milliseconds
    document[_batch_info_key(source)] = _batch_info(discard.records, source, stream_arn)
    return document


def s3_object(discard: Discard, *, source: str, function_arn: str, stream_arn: str) -> dict[str, Any]:
    """The S3 object (S3-1): the same metadata plus ``payload``, the invocation event.

    S3-2 (uncertain): the payload is embedded as a JSON object, not a string (the SHOULD).
    Top-level keys and the metadata sub-keys are written in alphabetical order as in the AWS
    object, while the records inside ``payload`` keep their invocation key order."""
    document = failure_document(discard, source=source, function_arn=function_arn, stream_arn=stream_arn)
    document = {
        key: dict(sorted(value.items())) if isinstance(value, dict) else value
        for key, value in document.items()
    }
    document["payload"] = {"Records": [dict(r.event_record) for r in discard.records]}
    return dict(sorted(document.items()))


def s3_key(mapping_uuid: str, shard_id: str, timestamp: datetime, suffix: UUID) -> str:
    """S3KEY-1..4: ``aws/lambda/<ESM-UUID>/<shardId>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>``, the
    date and time being the document's ``timestamp`` in UTC truncated to the second."""
    at = to_utc(timestamp)
    return f"aws/lambda/{mapping_uuid}/{shard_id}/{at:%Y/%m/%d}/{at:%Y-%m-%dT%H.%M.%S}-{suffix}"


def _batch_info_key(source: str) -> str:
    return "KinesisBatchInfo" if source == "kinesis" else "DDBStreamBatchInfo"


def _batch_info(records: Sequence[PolledRecord], source: str, stream_arn: str) -> dict[str, Any]:
    # DLQ-7/8: Kinesis arrivals with milliseconds, DynamoDB arrivals without a fraction.
    # DLQ-9: they come from the records, not from the discard time.
    arrival = iso_millis if source == "kinesis" else iso_seconds
    first, last = records[0], records[-1]
    return {
        "shardId": first.shard_id,
        "startSequenceNumber": first.sequence_number,
        "endSequenceNumber": last.sequence_number,
        "approximateArrivalOfFirstRecord": arrival(first.arrival),
        "approximateArrivalOfLastRecord": arrival(last.arrival),
        "batchSize": len(records),  # DLQ-10: exactly the discarded records
        "streamArn": stream_arn,
    }


# ---- delivery ------------------------------------------------------------------------------


class Destination(Protocol):
    """Sends one discard's document. Raises the client's error if the write failed."""

    def deliver(self, discard: Discard) -> None: ...


class _Documents:
    def __init__(self, context: PollerContext, source: str) -> None:
        self.source = source
        self.function_arn = context.function_arn
        self.stream_arn = context.event_source_arn

    def text(self, discard: Discard) -> str:
        return json.dumps(
            failure_document(
                discard, source=self.source, function_arn=self.function_arn, stream_arn=self.stream_arn
            )
        )

    def s3_body(self, discard: Discard) -> bytes:
        document = s3_object(
            discard, source=self.source, function_arn=self.function_arn, stream_arn=self.stream_arn
        )
        return json.dumps(document).encode("utf-8")


class SqsDestination:
    """DLQ-2: the message body is the document as JSON text."""

    def __init__(self, arn: str, context: PollerContext, documents: _Documents) -> None:
        _, _, _, _, self._account, self._queue_name = arn.split(":", 5)
        self._client = context.client("sqs")
        self._documents = documents
        self._queue_url: str | None = None

    def deliver(self, discard: Discard) -> None:
        if self._queue_url is None:
            found = self._client.get_queue_url(
                QueueName=self._queue_name, QueueOwnerAWSAccountId=self._account
            )
            self._queue_url = str(found["QueueUrl"])
        self._client.send_message(QueueUrl=self._queue_url, MessageBody=self._documents.text(discard))


class SnsDestination:
    """DLQ-2: the notification's ``Message`` is the document as JSON text."""

    def __init__(self, arn: str, context: PollerContext, documents: _Documents) -> None:
        self._arn = arn
        self._client = context.client("sns")
        self._documents = documents

    def deliver(self, discard: Discard) -> None:
        self._client.publish(TopicArn=self._arn, Message=self._documents.text(discard))


class S3Destination:
    """S3-1: one object per discard, under the S3KEY-1 key."""

    def __init__(
        self, arn: str, context: PollerContext, documents: _Documents, new_uuid: Callable[[], UUID]
    ) -> None:
        self._bucket = arn.split(":::", 1)[1]
        self._client = context.client("s3")
        self._documents = documents
        self._mapping_uuid = context.mapping_uuid
        self._new_uuid = new_uuid

    def deliver(self, discard: Discard) -> None:
        key = s3_key(self._mapping_uuid, discard.shard_id, discard.at, self._new_uuid())
        self._client.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=self._documents.s3_body(discard),
            ContentType="application/json",
        )


def open_destination(
    arn: str | None, context: PollerContext, source: str, new_uuid: Callable[[], UUID]
) -> Destination | None:
    """The destination for a validated ``DestinationConfig.OnFailure.Destination`` ARN, or
    ``None`` when there is none (RETRY-11: discarded records are then skipped silently)."""
    if arn is None:
        return None
    documents = _Documents(context, source)
    kind = arn.split(":")[2]
    if kind == "sqs":
        return SqsDestination(arn, context, documents)
    if kind == "sns":
        return SnsDestination(arn, context, documents)
    if kind == "s3":
        return S3Destination(arn, context, documents, new_uuid)
    raise ValueError(f"unsupported on-failure destination {arn!r}: expected an SQS, SNS or S3 ARN")
