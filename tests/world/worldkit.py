"""Hand-built scenarios and event builders shared by the world's tests (imported as
``worldkit``: conftest.py puts this directory on ``sys.path``)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from conformance.scenario import Behaviour, ClockPlan, RecordSpec, Scenario, ShardSpec, Source
from conformance.trace import StreamRecord
from conformance.world import World, names

START = datetime(2024, 2, 29, 23, 59, 59, 500000, tzinfo=timezone.utc)
"""A leap day, half a second before midnight: record arrivals straddle the date change."""

KINESIS_SHARDS = ("shardId-000000000000", "shardId-000000000001")
DYNAMODB_SHARD = "shardId-00000001700000000000-0a1b2c3d"


def kinesis_sequence(shard: int, index: int) -> str:
    """56-digit Kinesis-like numbers, distinct across shards."""
    return f"4959{shard:03d}" + str(10**40 + 1000 * (index + 1)).zfill(49)


def dynamodb_sequence(shard: int, index: int) -> str:
    """21-digit DynamoDB-like numbers (the API's minimum length), distinct across shards."""
    return f"{shard + 1}000000000{17454423009 + 10 * index}"


def record(
    sequence_number: str,
    arrival: float,
    behaviour: Behaviour = Behaviour.OK,
    *,
    times: int = 0,
    form: str | None = None,
    data: bytes | None = None,
    key: str | None = None,
) -> RecordSpec:
    return RecordSpec(
        sequence_number=sequence_number,
        partition_key=key if key is not None else f"pk-{sequence_number[-4:]}",
        data=data if data is not None else json.dumps({"n": sequence_number[-4:]}).encode(),
        arrival=arrival,
        behaviour=behaviour,
        times=times,
        form=form,
    )


def kinesis_scenario(
    shards: Sequence[Sequence[float | RecordSpec]] = ((-5.0, -2.25, 0.0, 3.5),),
    *,
    rbif: bool = False,
    destination: str | None = None,
    success_form: str = "empty_failures",
    **parameters: Any,
) -> Scenario:
    """Shards given as arrival offsets (OK records) or ready RecordSpecs."""
    specs = tuple(
        ShardSpec(
            f"shardId-{si:012d}",
            tuple(
                r if isinstance(r, RecordSpec) else record(kinesis_sequence(si, ri), r)
                for ri, r in enumerate(records)
            ),
        )
        for si, records in enumerate(shards)
    )
    return _scenario(Source.KINESIS, specs, rbif, destination, success_form, parameters)


def dynamodb_scenario(
    records: Sequence[float | RecordSpec] = (-5.0, -2.25, 0.0, 3.5),
    *,
    extra_shards: Sequence[Sequence[float | RecordSpec]] = (),
    rbif: bool = False,
    destination: str | None = None,
    success_form: str = "empty_failures",
    **parameters: Any,
) -> Scenario:
    shards = [records, *extra_shards]
    specs = tuple(
        ShardSpec(
            DYNAMODB_SHARD if si == 0 else f"shardId-0000000170000000000{si}-0a1b2c3d",
            tuple(
                r if isinstance(r, RecordSpec) else record(dynamodb_sequence(si, ri), r)
                for ri, r in enumerate(rs)
            ),
        )
        for si, rs in enumerate(shards)
    )
    return _scenario(Source.DYNAMODB, specs, rbif, destination, success_form, parameters)


def _scenario(
    source: Source,
    shards: tuple[ShardSpec, ...],
    rbif: bool,
    destination: str | None,
    success_form: str,
    parameters: dict[str, Any],
) -> Scenario:
    params: dict[str, Any] = {"StartingPosition": "TRIM_HORIZON", **parameters}
    if rbif:
        params["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
    if destination is not None:
        params["DestinationConfig"] = {"OnFailure": {"Destination": names.DESTINATION_ARNS[destination]}}
    return Scenario(
        source=source,
        shards=shards,
        parameters=params,
        clock=ClockPlan(start=START),
        success_form=success_form,
    )


def event_for(records: Sequence[StreamRecord], source: Source) -> dict[str, Any]:
    """An invocation event as a correct poller would send it (EVT-K / EVT-D)."""
    out = []
    for r in records:
        if source is Source.KINESIS:
            out.append(
                {
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": r.partition_key,
                        "sequenceNumber": r.sequence_number,
                        "data": base64.b64encode(r.data).decode(),
                        "approximateArrivalTimestamp": r.arrival.timestamp(),
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": f"{r.shard_id}:{r.sequence_number}",
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": names.EXECUTION_ROLE_ARN,
                    "awsRegion": names.REGION,
                    "eventSourceARN": names.KINESIS_STREAM_ARN,
                }
            )
        else:
            out.append(
                {
                    "eventID": "0" * 32,
                    "eventName": "INSERT",
                    "eventVersion": "1.1",
                    "eventSource": "aws:dynamodb",
                    "awsRegion": names.REGION,
                    "dynamodb": {"SequenceNumber": r.sequence_number, "SizeBytes": 10},
                }
            )
    return {"Records": out}


def invoke(world: World, records: Sequence[StreamRecord]) -> dict[str, Any]:
    """Invoke the world's function through the poller's (recorded) lambda client."""
    kinesis = world.context().event_source_arn.startswith("arn:aws:kinesis")
    source = Source.KINESIS if kinesis else Source.DYNAMODB
    return dict(
        world.context()
        .client("lambda")
        .invoke(
            FunctionName=names.FUNCTION_ARN,
            InvocationType="RequestResponse",
            Payload=json.dumps(event_for(records, source)).encode(),
        )
    )


def answer(response: dict[str, Any]) -> Any:
    """The function's return value (the parsed response payload)."""
    return json.loads(response["Payload"].read())
