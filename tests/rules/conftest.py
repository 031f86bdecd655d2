"""Hand-built observations for the rule checkers.

``History`` writes a stream and a trace by hand, the way a poller's calls would appear: the
helpers build *correct* event records and destination documents (as SPEC.md describes them), and
tests change one detail to break one rule.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from conformance.observation import Observation, RunStatus
from conformance.rules import check
from conformance.scenario import (
    INVALID_FORMS,
    SUCCESS_FORMS,
    ClockPlan,
    RecordSpec,
    Scenario,
    ShardSpec,
    Source,
)
from conformance.trace import Call, StreamRecord, Trace
from conformance.world import names

START = datetime(2024, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
DDB_TABLE_ARN = f"arn:aws:dynamodb:{names.REGION}:{names.ACCOUNT_ID}:table/{names.TABLE_NAME}"
DDB_STREAM_ARN = f"{DDB_TABLE_ARN}/stream/2024-03-01T00:00:00.000"
KINESIS_BASE = 49590338271490256608559692538361571095921575989136588800
DDB_BASE = 4421584500000000017450439091


def iso_millis(instant: datetime) -> str:
    return instant.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_seconds(instant: datetime) -> str:
    return instant.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class History:
    """A stream and a trace written by hand. Times are offsets in seconds from ``START``."""

    START = START

    def __init__(
        self,
        source: str = "kinesis",
        shards: int = 1,
        *,
        batch_size: int | None = None,
        retries: int | None = None,
        max_age: int | None = None,
        window: int | None = None,
        bisect: bool | None = None,
        rbif: bool = False,
        destination: str | None = None,
        starting_position: str = "TRIM_HORIZON",
        starting_timestamp: float | None = None,
        parallelization: int | None = None,
        poll_gaps: tuple[float, ...] = (1.0,),
        success_form: str = "empty_failures",
    ) -> None:
        self.source = Source(source)
        self.kinesis = self.source is Source.KINESIS
        self.shard_ids = [
            f"shardId-00000000000{i}" if self.kinesis else f"shardId-00000001709251200000-864758b{i}"
            for i in range(shards)
        ]
        self.stream_arn = names.KINESIS_STREAM_ARN if self.kinesis else DDB_STREAM_ARN
        parameters: dict[str, Any] = {"StartingPosition": starting_position}
        optional = {
            "BatchSize": batch_size,
            "MaximumRetryAttempts": retries,
            "MaximumRecordAgeInSeconds": max_age,
            "MaximumBatchingWindowInSeconds": window,
            "BisectBatchOnFunctionError": bisect,
            "ParallelizationFactor": parallelization,
            "StartingPositionTimestamp": starting_timestamp,
        }
        parameters.update({k: v for k, v in optional.items() if v is not None})
        if rbif:
            parameters["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
        if destination is not None:
            parameters["DestinationConfig"] = {
                "OnFailure": {"Destination": names.DESTINATION_ARNS[destination]}
            }
        self.parameters = parameters
        self.poll_gaps = poll_gaps
        self.success_form = success_form
        self.specs: list[list[RecordSpec]] = [[] for _ in range(shards)]
        self.records: list[StreamRecord] = []
        self.calls: list[Call] = []
        self._tick = 0
        self._ids = 0
        self.last_request_id: str | None = None

    # ---- the stream --------------------------------------------------------------------------

    def at(self, offset: float) -> datetime:
        return START + timedelta(seconds=offset)

    def put(
        self,
        shard: int = 0,
        arrival: float = -10.0,
        *,
        data: bytes = b'{"n": 1}',
        key: str | None = None,
        sequence_number: str | None = None,
    ) -> StreamRecord:
        index = len(self.specs[shard])
        base = KINESIS_BASE if self.kinesis else DDB_BASE
        number = sequence_number or str(base + shard * 10**12 + (index + 1) * 1000 + shard)
        spec = RecordSpec(number, key or f"key-{shard}-{index}", data, arrival)
        self.specs[shard].append(spec)
        instant = self.at(arrival)
        instant = instant.replace(microsecond=(instant.microsecond // 1000) * 1000)
        if not self.kinesis:
            instant = instant.replace(microsecond=0)  # DynamoDB rounds down to the second
        record = StreamRecord(
            (shard, index), self.shard_ids[shard], number, instant, spec.partition_key, data
        )
        self.records.append(record)
        return record

    def put_many(
        self, count: int, shard: int = 0, arrival: float = -10.0, step: float = 0.0
    ) -> list[StreamRecord]:
        return [self.put(shard, arrival + i * step) for i in range(count)]

    # ---- events --------------------------------------------------------------------------------

    def event_record(self, record: StreamRecord) -> dict[str, Any]:
        data = base64.b64encode(record.data).decode("ascii")
        if self.kinesis:
            return {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": record.partition_key,
                    "sequenceNumber": record.sequence_number,
                    "data": data,
                    "approximateArrivalTimestamp": round(record.arrival.timestamp(), 3),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{record.shard_id}:{record.sequence_number}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": names.EXECUTION_ROLE_ARN,
                "awsRegion": names.REGION,
                "eventSourceARN": self.stream_arn,
            }
        item_id = {"S": f"item-{record.ref[0]}-{record.ref[1]}"}
        return {
            "eventID": hashlib.md5(f"{record.shard_id}:{record.sequence_number}".encode()).hexdigest(),
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": names.REGION,
            "dynamodb": {
                "ApproximateCreationDateTime": float(int(record.arrival.timestamp())),
                "Keys": {"id": item_id},
                "NewImage": {"id": item_id, "pk": {"S": record.partition_key}, "data": {"B": data}},
                "SequenceNumber": record.sequence_number,
                "SizeBytes": 64,
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            },
            "eventSourceARN": self.stream_arn,
        }

    # ---- calls ---------------------------------------------------------------------------------

    def call(
        self,
        service: str,
        operation: str,
        at: float,
        params: Mapping[str, Any],
        response: Any = None,
        error_code: str | None = None,
        ticks: tuple[int, int] | None = None,
    ) -> Call:
        if self.calls and self.at(at) < self.calls[-1].at:
            raise ValueError(f"calls must be written in time order: {at} s comes after {self.calls[-1].at}")
        if ticks is None:
            self._tick += 2
            ticks = (self._tick - 1, self._tick)
        call = Call(
            index=len(self.calls),
            at=self.at(at),
            service=service,
            operation=operation,
            params=dict(params),
            response=response,
            error_code=error_code,
            error_message="Rate Exceeded." if error_code else None,
            started=ticks[0],
            finished=ticks[1],
        )
        self.calls.append(call)
        return call

    def new_uuid(self) -> str:
        self._ids += 1
        return str(uuid.UUID(int=self._ids, version=4))

    def invoke(
        self,
        records: Sequence[StreamRecord],
        at: float,
        *,
        response: Any = None,
        function_error: str | None = None,
        throttle: bool = False,
        tweak: Callable[[list[dict[str, Any]]], None] | None = None,
        event: Any = None,
        invocation_type: str = "RequestResponse",
        ticks: tuple[int, int] | None = None,
        raw_response: bytes | None = None,
    ) -> Call:
        """An Invoke call carrying ``records`` (as a correct poller builds them; ``tweak`` may
        change the event records, ``event`` replaces the whole event)."""
        event_records = [self.event_record(r) for r in records]
        if tweak is not None:
            tweak(event_records)
        payload = json.dumps({"Records": event_records} if event is None else event).encode()
        params = {"FunctionName": names.FUNCTION_ARN, "InvocationType": invocation_type, "Payload": payload}
        request_id = self.new_uuid()
        self.last_request_id = request_id
        metadata = {"RequestId": request_id, "HTTPStatusCode": 429 if throttle else 200}
        if throttle:
            error = {"Error": {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}}
            return self.call(
                "lambda",
                "invoke",
                at,
                params,
                {**error, "ResponseMetadata": metadata},
                "TooManyRequestsException",
                ticks,
            )
        body = raw_response if raw_response is not None else json.dumps(response).encode()
        reply: dict[str, Any] = {
            "StatusCode": 200,
            "Payload": body,
            "ExecutedVersion": "$LATEST",
            "ResponseMetadata": metadata,
        }
        if function_error is not None:
            reply["FunctionError"] = function_error
        return self.call("lambda", "invoke", at, params, reply, ticks=ticks)

    def ok(self, records: Sequence[StreamRecord], at: float, **kwargs: Any) -> Call:
        kwargs.setdefault("response", SUCCESS_FORMS[self.success_form])
        return self.invoke(records, at, **kwargs)

    def fail(self, records: Sequence[StreamRecord], at: float, **kwargs: Any) -> Call:
        error = {"errorMessage": "poison", "errorType": "PoisonRecordError"}
        return self.invoke(records, at, response=error, function_error="Unhandled", **kwargs)

    def throttle(self, records: Sequence[StreamRecord], at: float) -> Call:
        return self.invoke(records, at, throttle=True)

    def partial(self, records: Sequence[StreamRecord], at: float, reported: Sequence[StreamRecord]) -> Call:
        failures = [{"itemIdentifier": r.sequence_number} for r in reported]
        return self.invoke(records, at, response={"batchItemFailures": failures})

    def invalid(self, records: Sequence[StreamRecord], at: float, form: str = "unknown_identifier") -> Call:
        return self.invoke(records, at, response=INVALID_FORMS[form])

    def get_records(self, records: Sequence[StreamRecord], at: float) -> Call:
        out: list[dict[str, Any]] = []
        for r in records:
            if self.kinesis:
                out.append(
                    {
                        "SequenceNumber": r.sequence_number,
                        "ApproximateArrivalTimestamp": r.arrival,
                        "Data": r.data,
                    }
                )
            else:
                out.append({"eventID": "x", "dynamodb": {"SequenceNumber": r.sequence_number}})
        return self.call(
            "kinesis" if self.kinesis else "dynamodbstreams", "get_records", at, {}, {"Records": out}
        )

    # ---- destination documents -----------------------------------------------------------------

    def document(
        self,
        records: Sequence[StreamRecord],
        at: float,
        *,
        condition: str = "RetryAttemptsExhausted",
        count: int = 1,
        function_error: str | None = "Unhandled",
        request_id: str | None = None,
        s3: bool = False,
    ) -> dict[str, Any]:
        """A correct on-failure document for the discarded ``records`` (in shard order)."""
        first, last = records[0], records[-1]
        stamp = iso_millis if self.kinesis else iso_seconds
        info = {
            "shardId": first.shard_id,
            "startSequenceNumber": first.sequence_number,
            "endSequenceNumber": last.sequence_number,
            "approximateArrivalOfFirstRecord": stamp(first.arrival),
            "approximateArrivalOfLastRecord": stamp(last.arrival),
            "batchSize": len(records),
            "streamArn": self.stream_arn,
        }
        doc: dict[str, Any] = {
            "requestContext": {
                "requestId": request_id or self.last_request_id or self.new_uuid(),
                "functionArn": names.FUNCTION_ARN,
                "condition": condition,
                "approximateInvokeCount": count,
            }
        }
        if condition == "RetryAttemptsExhausted":
            doc["responseContext"] = {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": function_error,
            }
        doc["version"] = "1.0"
        doc["timestamp"] = iso_millis(self.at(at))
        doc["KinesisBatchInfo" if self.kinesis else "DDBStreamBatchInfo"] = info
        if s3:
            doc["payload"] = {"Records": [self.event_record(r) for r in records]}
            doc = dict(sorted(doc.items()))
        return doc

    def s3_key(self, shard_id: str, at: float, suffix: str | None = None) -> str:
        instant = self.at(at)
        return (
            f"aws/lambda/{names.MAPPING_UUID}/{shard_id}/{instant:%Y/%m/%d}/{instant:%Y-%m-%dT%H.%M.%S}-"
            f"{suffix or self.new_uuid()}"
        )

    def write(
        self,
        document: Any,
        at: float,
        *,
        kind: str | None = None,
        key: str | None = None,
        error_code: str | None = None,
    ) -> Call:
        """Write ``document`` (a dict, or text as is) to the destination of ``kind`` (by default
        the configured one); ``error_code``: the service refused the write with it."""
        configured = self.parameters.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination", "")
        kind = kind or (configured.split(":")[2] if configured else "sqs")
        text = document if isinstance(document, str) else json.dumps(document)
        if kind == "sqs":
            params: dict[str, Any] = {"QueueUrl": names.QUEUE_URL, "MessageBody": text}
            return self.call("sqs", "send_message", at, params, error_code=error_code)
        if kind == "sns":
            params = {"TopicArn": names.TOPIC_ARN, "Message": text}
            return self.call("sns", "publish", at, params, error_code=error_code)
        shard = (
            document.get(("KinesisBatchInfo" if self.kinesis else "DDBStreamBatchInfo"), {}).get(
                "shardId", "x"
            )
            if isinstance(document, dict)
            else "x"
        )
        params = {"Bucket": names.BUCKET_NAME, "Key": key or self.s3_key(shard, at), "Body": text.encode()}
        return self.call("s3", "put_object", at, params, error_code=error_code)

    def discard(self, records: Sequence[StreamRecord], at: float, **kwargs: Any) -> Call:
        """Write the correct document for ``records`` to the configured destination."""
        configured = self.parameters["DestinationConfig"]["OnFailure"]["Destination"]
        s3 = configured.startswith("arn:aws:s3")
        return self.write(self.document(records, at, s3=s3, **kwargs), at)

    # ---- the observation -------------------------------------------------------------------------

    def build(
        self, status: RunStatus = RunStatus.COMPLETED, reason: str = "settled", ended_at: float | None = None
    ) -> Observation:
        scenario = Scenario(
            source=self.source,
            shards=tuple(
                ShardSpec(sid, tuple(specs)) for sid, specs in zip(self.shard_ids, self.specs, strict=True)
            ),
            parameters=self.parameters,
            clock=ClockPlan(start=START, poll_gaps=self.poll_gaps),
            success_form=self.success_form,
        )
        last = (self.calls[-1].at - START).total_seconds() if self.calls else 0.0
        return Observation(
            scenario=scenario,
            records=tuple(self.records),
            trace=Trace(calls=list(self.calls)),
            status=status,
            reason=reason,
            mapping_uuid=names.MAPPING_UUID,
            function_arn=names.FUNCTION_ARN,
            event_source_arn=self.stream_arn,
            execution_role_arn=names.EXECUTION_ROLE_ARN,
            region=names.REGION,
            started_at_offset=0.0,
            ended_at_offset=ended_at if ended_at is not None else last + 30.0,
            polls=10,
        )

    def violations(self, rule_id: str, **build: Any) -> list[str]:
        """Build the observation, check ``rule_id`` on it, insist the rule was exercised, and
        return the violation messages."""
        result = check(rule_id, self.build(**build))
        assert result.exercised > 0, f"{rule_id} was not exercised by this history"
        assert all(message.endswith(f"({rule_id})") for message in (v.message for v in result.violations))
        return [v.message for v in result.violations]


@pytest.fixture(scope="session")
def history() -> type[History]:
    """The ``History`` class: ``history(source="kinesis", shards=2, retries=2, ...)``."""
    return History
