"""The scripted function behind ``lambda.invoke`` (SEMANTICS.md "Function behaviour")."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError
from worldkit import answer, dynamodb_scenario, event_for, invoke, kinesis_scenario, kinesis_sequence, record

from conformance.scenario import INVALID_FORMS, SUCCESS_FORMS, Behaviour, Source
from conformance.trace import StreamRecord
from conformance.world import World, build_world, names
from conformance.world.function import MAX_SYNC_PAYLOAD_BYTES, ScriptedFunction


def one_shard(*behaviours: tuple[Behaviour, int, str | None], rbif: bool = True, **kw: Any) -> Any:
    specs = [
        record(kinesis_sequence(0, i), -10.0 + i, behaviour, times=times, form=form)
        for i, (behaviour, times, form) in enumerate(behaviours)
    ]
    return kinesis_scenario((specs,), rbif=rbif, **kw)


def released(world: World, *indexes: int) -> list[StreamRecord]:
    records = world.released_records()
    return [records[i] for i in indexes]


OK = (Behaviour.OK, 0, None)
POISON = (Behaviour.POISON, 0, None)
REPORTED = (Behaviour.REPORTED, 0, None)


# ---- success ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", sorted(SUCCESS_FORMS))
def test_an_ok_batch_returns_the_scenarios_success_form(form: str, open_world: Any) -> None:
    world = open_world(one_shard(OK, OK, success_form=form))
    response = invoke(world, world.released_records())
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    assert answer(response) == SUCCESS_FORMS[form]
    assert [world.function.deliveries(r.ref) for r in world.released_records()] == [1, 1]


def test_request_ids_are_deterministic_uuids_distinct_per_invocation() -> None:
    ids = []
    for _ in range(2):
        with build_world(one_shard(OK)) as world:
            ids.append(
                [invoke(world, world.released_records())["ResponseMetadata"]["RequestId"] for _ in range(3)]
            )
    assert ids[0] == ids[1], "the same scenario replays with the same request ids"
    assert len(set(ids[0])) == 3
    assert all(len(i) == 36 and i.count("-") == 4 for i in ids[0])


# ---- failures ----------------------------------------------------------------------------------------


def test_a_poison_record_makes_every_batch_it_is_in_raise(open_world: Any) -> None:
    world = open_world(one_shard(OK, POISON, OK))
    for attempt in range(1, 4):
        response = invoke(world, world.released_records())
        assert response["FunctionError"] == "Unhandled"
        assert response["StatusCode"] == 200
        error = answer(response)
        assert error["errorType"] == "PoisonRecordError"
        assert "is poison" in error["errorMessage"]
        assert error["requestId"] == response["ResponseMetadata"]["RequestId"]
        assert world.function.deliveries(world.released_records()[1].ref) == attempt
    # Without the poison record the rest succeeds.
    assert "FunctionError" not in invoke(world, released(world, 0, 2))


def test_a_transient_record_fails_its_first_times_deliveries(open_world: Any) -> None:
    world = open_world(one_shard(OK, (Behaviour.TRANSIENT, 2, None)))
    results = [invoke(world, world.released_records()).get("FunctionError") for _ in range(4)]
    assert results == ["Unhandled", "Unhandled", None, None]
    assert world.function.deliveries(world.released_records()[1].ref) == 4


def test_transient_counts_deliveries_of_the_record_not_invocations(open_world: Any) -> None:
    world = open_world(one_shard(OK, (Behaviour.TRANSIENT, 1, None)))
    assert "FunctionError" not in invoke(world, released(world, 0))  # the transient record is absent
    assert invoke(world, released(world, 1)).get("FunctionError") == "Unhandled"
    assert "FunctionError" not in invoke(world, released(world, 1))


def test_throttles_come_before_the_function_runs_and_count_down(open_world: Any) -> None:
    world = open_world(one_shard(OK, (Behaviour.THROTTLE, 2, None), POISON))
    lam = world.context().client("lambda")
    throttle_ref = world.released_records()[1].ref
    for left in (1, 0):
        with pytest.raises(lam.exceptions.TooManyRequestsException) as caught:
            invoke(world, world.released_records())
        error = caught.value.response
        assert error["Error"] == {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert world.function.throttles_left(throttle_ref) == left
        # RETRY-6: a throttled call is not a delivery, even for the poison record in the batch.
        assert [world.function.deliveries(r.ref) for r in world.released_records()] == [0, 0, 0]
    assert invoke(world, world.released_records())["FunctionError"] == "Unhandled"  # now it runs
    assert world.function.deliveries(throttle_ref) == 1
    assert world.function.invocations == 3
    assert [c.error_code for c in world.trace.calls] == ["TooManyRequestsException"] * 2 + [None]


def test_a_throttle_record_throttles_only_batches_it_is_in(open_world: Any) -> None:
    world = open_world(one_shard(OK, (Behaviour.THROTTLE, 1, None)))
    assert "FunctionError" not in invoke(world, released(world, 0))
    with pytest.raises(ClientError):
        invoke(world, released(world, 1))
    assert "FunctionError" not in invoke(world, released(world, 1))


# ---- ReportBatchItemFailures ---------------------------------------------------------------------------


def test_reported_records_come_back_with_their_sequence_numbers_as_sent(open_world: Any) -> None:
    world = open_world(one_shard(OK, REPORTED, OK, REPORTED))
    records = world.released_records()
    assert answer(invoke(world, records)) == {
        "batchItemFailures": [
            {"itemIdentifier": records[1].sequence_number},
            {"itemIdentifier": records[3].sequence_number},
        ]
    }


def test_dynamodb_reported_records_use_dynamodb_sequence_numbers(open_world: Any) -> None:
    specs = [
        record("100000000017454423009", -3.0),
        record("100000000017454423019", -2.0, Behaviour.REPORTED),
    ]
    world = open_world(dynamodb_scenario(specs, rbif=True))
    assert answer(invoke(world, world.released_records())) == {
        "batchItemFailures": [{"itemIdentifier": "100000000017454423019"}]
    }


@pytest.mark.parametrize("form", sorted(INVALID_FORMS))
def test_an_invalid_record_returns_its_pbf5_form(form: str, open_world: Any) -> None:
    world = open_world(
        one_shard(REPORTED, (Behaviour.INVALID, 0, form), (Behaviour.INVALID, 0, "empty_identifier"))
    )
    response = invoke(world, world.released_records())
    assert "FunctionError" not in response
    assert answer(response) == INVALID_FORMS[form], "the first INVALID record's form wins over REPORTED"


def test_a_failure_beats_an_invalid_or_reported_answer(open_world: Any) -> None:
    world = open_world(one_shard(REPORTED, (Behaviour.INVALID, 0, "missing_key"), POISON))
    assert invoke(world, world.released_records())["FunctionError"] == "Unhandled"


@pytest.mark.parametrize(
    "behaviour", [REPORTED, (Behaviour.INVALID, 0, "null_identifier")], ids=["reported", "invalid"]
)
def test_without_report_batch_item_failures_the_answer_still_looks_like_a_failure(
    behaviour: tuple[Behaviour, int, str | None], open_world: Any
) -> None:
    """The function does not know how it is mapped: it answers as with the setting on, and a
    correct poller ignores the answer (PBF-1)."""
    world = open_world(one_shard(OK, behaviour, rbif=False, success_form="null"))
    released = world.released_records()
    response = invoke(world, released)
    assert "FunctionError" not in response
    if behaviour[0] is Behaviour.REPORTED:
        assert answer(response) == {"batchItemFailures": [{"itemIdentifier": released[1].sequence_number}]}
    else:
        assert answer(response) == INVALID_FORMS["null_identifier"]


def test_without_failing_records_the_answer_is_the_success_form(open_world: Any) -> None:
    world = open_world(one_shard(OK, OK, rbif=False, success_form="null"))
    response = invoke(world, world.released_records())
    assert "FunctionError" not in response
    assert answer(response) is None


# ---- recognising records ----------------------------------------------------------------------------------


def test_records_the_function_cannot_recognise_behave_as_ok(open_world: Any) -> None:
    world = open_world(one_shard(POISON))
    lam = world.context().client("lambda")
    strangers = {
        "Records": [
            {"kinesis": {"sequenceNumber": "42"}, "eventID": "shardId-000000000000:42"},
            {"kinesis": {"sequenceNumber": "not-a-number"}},
            {"kinesis": "nope"},
            "not a record",
        ]
    }
    response = lam.invoke(FunctionName=names.FUNCTION_ARN, Payload=json.dumps(strangers))
    assert "FunctionError" not in response
    assert world.function.deliveries(world.released_records()[0].ref) == 0


def test_an_identifier_sent_as_a_number_is_recognised_and_echoed_as_sent(open_world: Any) -> None:
    world = open_world(one_shard(REPORTED))
    sequence = world.released_records()[0].sequence_number
    event = {"Records": [{"kinesis": {"sequenceNumber": int(sequence)}}]}
    response = (
        world.context().client("lambda").invoke(FunctionName=names.FUNCTION_ARN, Payload=json.dumps(event))
    )
    assert answer(response) == {"batchItemFailures": [{"itemIdentifier": int(sequence)}]}


def test_kinesis_records_sharing_a_sequence_number_are_told_apart_by_the_event_id() -> None:
    # moto numbers every Kinesis shard from 1, so "1" exists on both shards.
    scenario = kinesis_scenario(
        (
            [record(kinesis_sequence(0, 0), -1.0, Behaviour.POISON)],
            [record(kinesis_sequence(1, 0), -1.0)],
        )
    )
    function = ScriptedFunction(scenario)
    arrival = scenario.instant(-1.0)
    for si, shard_id in enumerate(("shardId-000000000000", "shardId-000000000001")):
        function.register(StreamRecord((si, 0), shard_id, "1", arrival, "pk", b""))

    def call(shard_id: str) -> dict[str, Any]:
        event = {"Records": [{"kinesis": {"sequenceNumber": "1"}, "eventID": f"{shard_id}:1"}]}
        return function.invoke(FunctionName=names.FUNCTION_ARN, Payload=json.dumps(event))

    assert call("shardId-000000000000").get("FunctionError") == "Unhandled"
    assert call("shardId-000000000001").get("FunctionError") is None
    assert (function.deliveries((0, 0)), function.deliveries((1, 0))) == (1, 1)


def test_a_record_twice_in_one_batch_is_one_delivery(open_world: Any) -> None:
    world = open_world(one_shard(OK))
    record_ = world.released_records()[0]
    invoke(world, [record_, record_])
    assert world.function.deliveries(record_.ref) == 1


# ---- the Invoke API ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        names.FUNCTION_ARN,
        names.FUNCTION_NAME,
        f"{names.FUNCTION_ARN}:$LATEST",
        f"{names.ACCOUNT_ID}:function:{names.FUNCTION_NAME}",
    ],
)
def test_the_function_answers_to_its_name_arn_and_latest_qualifier(name: str, open_world: Any) -> None:
    world = open_world(one_shard(OK))
    event = json.dumps(event_for(world.released_records(), Source.KINESIS))
    assert world.context().client("lambda").invoke(FunctionName=name, Payload=event)["StatusCode"] == 200


def test_an_unknown_function_is_resource_not_found(open_world: Any) -> None:
    world = open_world(one_shard(OK))
    lam = world.context().client("lambda")
    with pytest.raises(
        lam.exceptions.ResourceNotFoundException,
        match=r"Function not found: arn:aws:lambda:.*:function:other",
    ):
        lam.invoke(FunctionName="other", Payload=b"{}")
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName=names.FUNCTION_ARN, Qualifier="7", Payload=b"{}")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


@pytest.mark.parametrize(
    ("payload", "found"),
    [
        (b"not json", "Could not parse payload into json"),
        (b"[1, 2]", "a JSON list"),
        (b"{}", "a JSON dict"),
        (b"", "an empty payload"),
    ],
)
def test_a_payload_that_is_not_a_stream_event_is_invalid_request_content(
    payload: bytes, found: str, open_world: Any
) -> None:
    world = open_world(one_shard(OK))
    lam = world.context().client("lambda")
    with pytest.raises(lam.exceptions.InvalidRequestContentException, match=found) as caught:
        lam.invoke(FunctionName=names.FUNCTION_ARN, Payload=payload)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert world.function.deliveries(world.released_records()[0].ref) == 0


def test_a_payload_over_six_mib_is_request_entity_too_large(open_world: Any) -> None:
    world = open_world(one_shard(OK))
    event = event_for(world.released_records(), Source.KINESIS)
    text = json.dumps(event)
    padding = MAX_SYNC_PAYLOAD_BYTES - len(text) + 1
    event["Records"][0]["kinesis"]["data"] += "A" * (padding - padding % 4 + 4)
    big = json.dumps(event).encode()
    assert len(big) > MAX_SYNC_PAYLOAD_BYTES
    lam = world.context().client("lambda")
    with pytest.raises(ClientError, match=r"Request must be smaller than 6291456 bytes") as caught:
        lam.invoke(FunctionName=names.FUNCTION_ARN, Payload=big)
    assert caught.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    exact = json.dumps(event_for(world.released_records(), Source.KINESIS)).encode()
    exact = exact[:-1] + b" " * (MAX_SYNC_PAYLOAD_BYTES - len(exact)) + b"}"
    assert len(exact) == MAX_SYNC_PAYLOAD_BYTES
    assert lam.invoke(FunctionName=names.FUNCTION_ARN, Payload=exact)["StatusCode"] == 200, "6 MiB is allowed"


def test_invocation_types(open_world: Any) -> None:
    world = open_world(one_shard(POISON))
    lam = world.context().client("lambda")
    ref = world.released_records()[0].ref
    event = json.dumps(event_for(world.released_records(), Source.KINESIS))
    dry = lam.invoke(FunctionName=names.FUNCTION_ARN, InvocationType="DryRun", Payload=event)
    assert (dry["StatusCode"], world.function.deliveries(ref)) == (204, 0)
    queued = lam.invoke(FunctionName=names.FUNCTION_ARN, InvocationType="Event", Payload=event)
    assert queued["StatusCode"] == 202 and "FunctionError" not in queued, "async callers never see the error"
    assert world.function.deliveries(ref) == 1
    with pytest.raises(
        ClientError, match="Member must satisfy enum value set: \\[Event, RequestResponse, DryRun\\]"
    ):
        lam.invoke(FunctionName=names.FUNCTION_ARN, InvocationType="Sync", Payload=event)


def test_invoke_parameters_are_validated_like_boto3(open_world: Any) -> None:
    lam = open_world(one_shard(OK)).context().client("lambda")
    with pytest.raises(ParamValidationError, match='Missing required parameter in input: "FunctionName"'):
        lam.invoke(Payload=b"{}")
    with pytest.raises(ParamValidationError, match='Unknown parameter in input: "Body"'):
        lam.invoke(FunctionName=names.FUNCTION_ARN, Body=b"{}")
    with pytest.raises(TypeError, match="only accepts keyword arguments"):
        lam.wrapped.invoke(names.FUNCTION_ARN)


def test_a_file_like_payload_and_log_tail_are_accepted(open_world: Any) -> None:
    world = open_world(one_shard(OK))
    event = json.dumps(event_for(world.released_records(), Source.KINESIS)).encode()
    response = (
        world.context()
        .client("lambda")
        .invoke(FunctionName=names.FUNCTION_ARN, Payload=io.BytesIO(event), LogType="Tail")
    )
    assert "START RequestId:" in base64.b64decode(response["LogResult"]).decode()
    assert world.trace.calls[-1].params["Payload"] == event, "the trace holds the bytes sent"
    assert world.function.deliveries(world.released_records()[0].ref) == 1


def test_the_moto_world_uses_the_same_scripted_function() -> None:
    with build_world(one_shard(OK, REPORTED), "moto") as world:
        records = world.released_records()
        assert [r.sequence_number for r in records] == ["1", "2"]
        assert answer(invoke(world, records)) == {"batchItemFailures": [{"itemIdentifier": "2"}]}
        assert isinstance(world.client("lambda"), ScriptedFunction)
