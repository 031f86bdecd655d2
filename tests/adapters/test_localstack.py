"""The LocalStack adapter wires LocalStack's own stream pollers to the world, and only wires them.

These tests check the wiring: records reach LocalStack's poller from the world and the scripted
function is invoked through LocalStack's sender; a discarded batch reaches the world's destination;
LocalStack's retry back-off advances virtual time instead of blocking; ``close()`` puts back the
names it redirected; and the parameter mapping is the one LocalStack's own factory builds.

Skipped, with the reason, where ``localstack-core`` is not importable (it is the optional
``localstack`` extra, and needs Python 3.11+).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from conformance.clock import VirtualClock, VirtualTimeExhausted

_REASON = (
    "localstack-core is not importable here; install the 'localstack' extra on Python 3.11+ "
    "(pip install 'stream-conformance[localstack]') to run the LocalStack adapter tests"
)

START = datetime(2024, 2, 29, 23, 59, 30, 250000, tzinfo=timezone.utc)


def _localstack() -> Any:
    pytest.importorskip(
        "localstack.services.lambda_.event_source_mapping.pollers.stream_poller",
        reason=_REASON,
        exc_type=ImportError,
    )
    from conformance.adapters import localstack

    return localstack


# LocalStack's own destination lookups, remembered before any test redirects them.
_ORIGINALS: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def _remember_localstacks_names() -> None:
    try:
        from localstack.services.lambda_.event_source_mapping.pollers import stream_poller
    except ImportError:
        return
    _ORIGINALS.setdefault("get_internal_client", stream_poller.get_internal_client)
    _ORIGINALS.setdefault("get_queue_url", stream_poller.get_queue_url)


# ---- import without the extra -------------------------------------------------------------------


def test_import_without_localstack_names_the_extra_to_install() -> None:
    # Runs in a child interpreter where importing "localstack" is made impossible, whatever is
    # installed here, so this test never needs (or skips for) the extra.
    program = textwrap.dedent(
        """
        import importlib.abc, sys

        class Hide(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "localstack" or name.startswith("localstack."):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None

        sys.meta_path.insert(0, Hide())
        try:
            import conformance.adapters.localstack
        except ImportError as exc:
            print(str(exc))
        else:
            print("imported")
        """
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == (
        "LocalStack adapter needs the 'localstack' extra: pip install 'stream-conformance[localstack]'"
    )


# ---- parameters, as LocalStack's factory maps them ----------------------------------------------


def test_defaults_are_localstacks_and_bisect_is_dropped() -> None:
    ls = _localstack()
    params = ls.localstack_source_parameters(
        "kinesis",
        {"StartingPosition": "LATEST", "BisectBatchOnFunctionError": True, "ParallelizationFactor": 3},
    )
    assert params == {
        "FilterCriteria": {"Filters": []},
        "KinesisStreamParameters": {
            "StartingPosition": "LATEST",
            "BatchSize": 100,
            "MaximumBatchingWindowInSeconds": 0,
            "MaximumRetryAttempts": -1,
            "MaximumRecordAgeInSeconds": -1,
        },
    }


def test_destination_becomes_dead_letter_config_and_filters_pass_through() -> None:
    ls = _localstack()
    filters = {"Filters": [{"Pattern": '{"data": {"k": ["v"]}}'}]}
    params = ls.localstack_source_parameters(
        "dynamodb",
        {
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 7,
            "MaximumRetryAttempts": 2,
            "MaximumRecordAgeInSeconds": 60,
            "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:123456789012:q"}},
            "FilterCriteria": filters,
        },
    )
    assert params["FilterCriteria"] == filters
    assert params["DynamoDBStreamParameters"] == {
        "StartingPosition": "TRIM_HORIZON",
        "BatchSize": 7,
        "MaximumBatchingWindowInSeconds": 0,
        "MaximumRetryAttempts": 2,
        "MaximumRecordAgeInSeconds": 60,
        "DeadLetterConfig": {"Arn": "arn:aws:sqs:us-east-1:123456789012:q"},
    }


def test_starting_position_localstack_rejects_is_a_clear_error() -> None:
    ls = _localstack()
    with pytest.raises(
        ls.LocalStackAdapterError, match=r"'AT_TIMESTAMP' is not accepted by LocalStack for a dynamodb"
    ):
        ls.localstack_source_parameters("dynamodb", {"StartingPosition": "AT_TIMESTAMP"})


_FACTORY_CASES: list[dict[str, Any]] = [
    {"StartingPosition": "TRIM_HORIZON"},
    {
        "StartingPosition": "LATEST",
        "BatchSize": 3,
        "MaximumRetryAttempts": 0,
        "MaximumRecordAgeInSeconds": 120,
        "MaximumBatchingWindowInSeconds": 5,
        "BisectBatchOnFunctionError": True,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sns:us-east-1:123456789012:t"}},
    },
    {
        "StartingPosition": "TRIM_HORIZON",
        "FilterCriteria": {"Filters": [{"Pattern": '{"eventName": ["INSERT"]}'}]},
        "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:s3:::b"}},
        "TumblingWindowInSeconds": 0,
    },
]


@pytest.mark.parametrize("source", ["kinesis", "dynamodb"])
@pytest.mark.parametrize("parameters", _FACTORY_CASES)
def test_mapping_equals_localstacks_own_factory(
    source: str, parameters: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where LocalStack's EsmWorkerFactory imports (Python 3.13+), build the poller with it and
    compare: the adapter's transcription must give the same source parameters and sender."""
    ls = _localstack()
    try:
        from localstack.aws.api import RequestContext
        from localstack.services.lambda_.event_source_mapping import esm_config_factory, esm_worker_factory
    except (SyntaxError, ImportError) as exc:
        # Its store and tagging modules use PEP 695 syntax and warnings.deprecated.
        pytest.skip(f"LocalStack's EsmWorkerFactory does not import on this Python ({exc}); it needs 3.13+")
    from conformance.world import names

    table_arn = f"arn:aws:dynamodb:{names.REGION}:{names.ACCOUNT_ID}:table/{names.TABLE_NAME}"
    source_arn = (
        names.KINESIS_STREAM_ARN if source == "kinesis" else f"{table_arn}/stream/2024-02-29T00:00:00.000"
    )
    context = RequestContext(None)
    context.account_id, context.region = names.ACCOUNT_ID, names.REGION
    request = {
        "FunctionName": names.FUNCTION_ARN,
        "EventSourceArn": source_arn,
        **json.loads(json.dumps(parameters)),
    }
    config = esm_config_factory.EsmConfigFactory(request, context, names.FUNCTION_ARN).get_esm_config()
    # Only the poller the factory builds is compared: its client lookups and the worker that would
    # run it in a thread (and needs the function in LocalStack's stores) are stood in for.
    monkeypatch.setattr(esm_worker_factory, "get_internal_client", lambda arn, **kwargs: object())
    monkeypatch.setattr(
        esm_worker_factory, "EsmWorker", lambda config, poller, **kwargs: SimpleNamespace(poller=poller)
    )
    worker = esm_worker_factory.EsmWorkerFactory(config, names.EXECUTION_ROLE_ARN, True).get_esm_worker()
    theirs = worker.poller
    assert ls.localstack_source_parameters(source, parameters) == theirs.source_parameters
    assert ls._reports_batch_item_failures(parameters) is theirs.processor.sender.report_batch_item_failures
    if source == "kinesis":
        assert theirs.invoke_identity_arn == names.EXECUTION_ROLE_ARN and theirs.kinesis_namespace is True


# ---- the back-off event -------------------------------------------------------------------------


def test_backoff_wait_advances_virtual_time_and_returns_false() -> None:
    ls = _localstack()
    clock = VirtualClock(START)
    event = ls._VirtualShutdownEvent(clock)
    assert event.wait(2.5) is False
    assert clock.elapsed == 2.5
    event.set()
    assert event.is_set()
    assert event.wait(10.0) is True
    assert clock.elapsed == 2.5, "a closed poller's back-off must not move time"


def test_backoff_past_the_budget_escapes_localstacks_except_exception() -> None:
    ls = _localstack()
    event = ls._VirtualShutdownEvent(VirtualClock(START, budget_seconds=1.0))
    with pytest.raises(BaseException) as raised:
        try:
            event.wait(5.0)
        except Exception:  # what LocalStack's retry loop does around the wait
            pytest.fail("the budget signal was swallowed by an `except Exception`")
    assert isinstance(raised.value, ls._BudgetSpent)
    assert isinstance(raised.value.original, VirtualTimeExhausted)


# ---- wired to the world, driven by the harness ---------------------------------------------------

KINESIS_SHARD = "shardId-000000000000"
DYNAMODB_SHARD = "shardId-00000001709251200000-0a1b2c3d"


def _scenario(
    source: str,
    behaviours: tuple[Any, ...] = (),
    count: int = 3,
    **parameters: Any,
) -> Any:
    from conformance.scenario import Behaviour, ClockPlan, RecordSpec, Scenario, ShardSpec, Source

    kinesis = source == "kinesis"
    base = 49590338271490256608559692538361571095921575989136588898 if kinesis else 100000000000000000001
    records = tuple(
        RecordSpec(
            sequence_number=str(base + 11 * i),
            partition_key=f"pk-{i}",
            data=f'{{"n": {i}}}'.encode(),
            arrival=-5.0 + i,
            behaviour=behaviours[i] if i < len(behaviours) else Behaviour.OK,
        )
        for i in range(count)
    )
    return Scenario(
        source=Source(source),
        shards=(ShardSpec(KINESIS_SHARD if kinesis else DYNAMODB_SHARD, records),),
        parameters={"StartingPosition": "TRIM_HORIZON", **parameters},
        clock=ClockPlan(start=START, poll_gaps=(1.0,)),
    )


def _adapter(ls: Any, source: str) -> Any:
    return ls.KINESIS if source == "kinesis" else ls.DYNAMODB


def _sequence_number(source: str, record: Any) -> str:
    return str(
        record["kinesis"]["sequenceNumber"] if source == "kinesis" else record["dynamodb"]["SequenceNumber"]
    )


@pytest.mark.parametrize("source", ["kinesis", "dynamodb"])
def test_poller_reads_the_world_and_invokes_the_scripted_function(source: str) -> None:
    ls = _localstack()
    from conformance.harness import run_scenario
    from conformance.observation import RunStatus

    observation = run_scenario(_adapter(ls, source), _scenario(source, BatchSize=10))

    assert observation.status is RunStatus.COMPLETED, observation.reason
    (invocation,) = observation.trace.invocations()
    assert invocation.call.params["FunctionName"] == observation.function_arn
    assert invocation.function_error is None and invocation.status_code == 200
    delivered = [_sequence_number(source, record) for record in invocation.records]
    assert delivered == [record.sequence_number for record in observation.records]
    assert {record["eventSourceARN"] for record in invocation.records} == {observation.event_source_arn}
    reads = [call for call in observation.trace.calls if call.operation == "get_records"]
    assert reads and {call.service for call in reads} == {
        "kinesis" if source == "kinesis" else "dynamodbstreams"
    }


@pytest.mark.parametrize(
    ("source", "kind"),
    # DynamoDB to S3 is left out: LocalStack cannot write that document (see the next test).
    [("kinesis", "sqs"), ("kinesis", "sns"), ("kinesis", "s3"), ("dynamodb", "sqs"), ("dynamodb", "sns")],
)
def test_discarded_batch_is_written_to_the_worlds_destination(source: str, kind: str) -> None:
    ls = _localstack()
    from conformance.harness import run_scenario
    from conformance.observation import RunStatus
    from conformance.scenario import Behaviour
    from conformance.world import names

    scenario = _scenario(
        source,
        (Behaviour.OK, Behaviour.POISON),
        count=2,
        BatchSize=2,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": names.DESTINATION_ARNS[kind]}},
    )
    observation = run_scenario(_adapter(ls, source), scenario)

    assert observation.status is RunStatus.COMPLETED, observation.reason
    assert [inv.function_error for inv in observation.trace.invocations()] == ["Unhandled", "Unhandled"]
    (write,) = observation.trace.destination_writes()
    assert write.kind == kind
    document = write.document()
    assert document["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert document["requestContext"]["approximateInvokeCount"] == 2
    info = document["KinesisBatchInfo" if source == "kinesis" else "DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (
        observation.records[0].sequence_number,
        observation.records[1].sequence_number,
    )
    if kind == "s3":
        assert write.s3_key is not None
        assert write.s3_key.startswith(f"aws/lambda/{observation.mapping_uuid}/{info['shardId']}/")
    # The discard happened at the virtual time of the write, which LocalStack read through freezegun.
    assert document["timestamp"] == write.at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    # LocalStack's own destination lookup is back in place once the run is over.
    assert ls.stream_poller.get_internal_client is _ORIGINALS["get_internal_client"]
    assert ls.stream_poller.get_queue_url is _ORIGINALS["get_queue_url"]


def test_localstacks_own_errors_are_logged_and_polling_goes_on_as_in_its_worker_loop() -> None:
    """LocalStack writes the S3 document with a plain json.dumps, which cannot encode the bytes of a
    DynamoDB binary attribute (boto3 returns B values as bytes, and so does the world). The error
    is LocalStack's own, so the adapter does what LocalStack's EsmWorker does: log it and poll on.
    The discarded batch then reaches no destination."""
    ls = _localstack()
    from conformance.contract import Adapter
    from conformance.harness import run_scenario
    from conformance.observation import RunStatus
    from conformance.scenario import Behaviour
    from conformance.world import names

    made: list[Any] = []

    def make(context: Any) -> Any:
        made.append(ls.make_dynamodb_poller(context))
        return made[-1]

    adapter = Adapter(
        "capturing-localstack-dynamodb", make, ls.DYNAMODB.capabilities, patches_system_clock=True
    )
    scenario = _scenario(
        "dynamodb",
        (Behaviour.POISON,),
        count=1,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": names.DESTINATION_ARNS["s3"]}},
    )
    observation = run_scenario(adapter, scenario)

    assert observation.status is RunStatus.COMPLETED, observation.reason
    assert len(observation.trace.invocations()) == 1
    assert observation.trace.destination_writes() == []
    (error,) = made[0].errors
    assert isinstance(error, TypeError) and "bytes is not JSON serializable" in str(error)
    assert not ls._involves_the_kit(error)


def test_errors_the_world_took_part_in_are_raised_not_swallowed() -> None:
    """An error raised inside the world's clients is not LocalStack's own: the run is inconclusive
    instead of being judged."""
    ls = _localstack()
    from conformance.contract import Adapter
    from conformance.harness import run_scenario
    from conformance.observation import RunStatus

    def make(context: Any) -> Any:
        # A stream the world does not have: its describe_stream raises ResourceNotFoundException,
        # which LocalStack's initialize_shards lets through.
        elsewhere = dataclasses.replace(
            context, event_source_arn=context.event_source_arn.replace("stream/", "stream/x")
        )
        return ls.make_dynamodb_poller(elsewhere)

    adapter = Adapter("elsewhere", make, ls.DYNAMODB.capabilities, patches_system_clock=True)
    observation = run_scenario(adapter, _scenario("dynamodb"))
    assert observation.status is RunStatus.INCONCLUSIVE, observation.reason
    assert "ResourceNotFoundException" in observation.reason


def test_a_destination_write_the_world_conditions_refuse_is_localstacks_to_handle() -> None:
    """A refused destination write is an AWS answer the scenario planned (its world conditions),
    not a fault of the kit: it escapes LocalStack's poll_events(), so the adapter does what
    EsmWorker.poller_loop does with it (log it, poll on) and the run is judged. LocalStack has
    already moved its shard iterator past the batch, so the document is never written."""
    ls = _localstack()
    from botocore.exceptions import ClientError

    from conformance.harness import run_scenario
    from conformance.observation import RunStatus
    from conformance.scenario import Behaviour, WorldConditions
    from conformance.world import names

    made: list[Any] = []

    def make(context: Any) -> Any:
        made.append(ls.make_kinesis_poller(context))
        return made[-1]

    adapter = dataclasses.replace(ls.KINESIS, name="capturing-localstack-kinesis", make_poller=make)
    scenario = dataclasses.replace(
        _scenario(
            "kinesis",
            (Behaviour.POISON,),
            count=1,
            MaximumRetryAttempts=0,
            DestinationConfig={"OnFailure": {"Destination": names.DESTINATION_ARNS["sqs"]}},
        ),
        world=WorldConditions(destination_failures=1),
    )
    observation = run_scenario(adapter, scenario)

    assert observation.status is RunStatus.COMPLETED, observation.reason
    (send,) = [call for call in observation.trace.calls if call.operation == "send_message"]
    assert send.error_code == "RequestThrottled"
    (error,) = made[0].errors
    assert isinstance(error, ClientError) and error.response["Error"]["Code"] == "RequestThrottled"
    assert ls._involves_the_kit(error) and ls._injected_by_world_conditions(error)


def test_retry_backoff_advances_virtual_time_inside_one_poll() -> None:
    ls = _localstack()
    from conformance.harness import run_scenario
    from conformance.observation import RunStatus
    from conformance.scenario import Behaviour

    scenario = _scenario("kinesis", (Behaviour.POISON,), count=1, MaximumRetryAttempts=2)
    observation = run_scenario(ls.KINESIS, scenario)

    assert observation.status is RunStatus.COMPLETED, observation.reason
    calls = observation.trace.calls
    invokes = [i for i, call in enumerate(calls) if call.operation == "invoke"]
    assert len(invokes) == 3
    # The three attempts come from one poll_events() call: no read between them ...
    assert all(calls[i].operation != "get_records" for i in range(invokes[0], invokes[-1]))
    # ... yet virtual time moved between them by LocalStack's own back-off: its first interval is
    # 0.5 s with ±50 % jitter, the second 0.75 s with ±50 %.
    gaps = [(calls[b].at - calls[a].at).total_seconds() for a, b in itertools.pairwise(invokes)]
    assert 0.25 <= gaps[0] <= 0.75 and 0.375 <= gaps[1] <= 1.125, gaps


def test_endless_retries_stop_at_the_virtual_time_budget_as_a_liveness_verdict() -> None:
    ls = _localstack()
    from conformance.harness import Budget, run_scenario
    from conformance.observation import RunStatus
    from conformance.scenario import Behaviour

    # MaximumRetryAttempts -1 and no age limit: LocalStack retries inside one poll_events() for ever.
    scenario = _scenario("kinesis", (Behaviour.POISON,), count=1)
    observation = run_scenario(ls.KINESIS, scenario, budget=Budget(max_virtual_seconds=600))

    assert observation.status is RunStatus.LIVENESS, observation.reason
    assert "slept past the virtual-time budget" in observation.reason
    assert len(observation.trace.invocations()) > 10
    assert ls.stream_poller.get_internal_client is _ORIGINALS["get_internal_client"]


# ---- lifecycle ---------------------------------------------------------------------------------


def test_close_restores_the_names_it_redirected_and_frees_them_for_the_next_poller() -> None:
    ls = _localstack()
    from conformance.world import build_world

    with build_world(_scenario("kinesis")) as world:
        first = ls.make_kinesis_poller(world.context())
        assert ls.stream_poller.get_internal_client is not _ORIGINALS["get_internal_client"]
        assert ls.stream_poller.get_queue_url is not _ORIGINALS["get_queue_url"]
        with pytest.raises(ls.LocalStackAdapterError, match="another LocalStack poller is still open"):
            ls.make_kinesis_poller(world.context())
        first.close()
        assert ls.stream_poller.get_internal_client is _ORIGINALS["get_internal_client"]
        assert ls.stream_poller.get_queue_url is _ORIGINALS["get_queue_url"]
        assert first.shutdown.is_set(), "LocalStack's own close() sets its shutdown event"
        second = ls.make_kinesis_poller(world.context())
        second.close()
        second.close()  # idempotent
        assert ls.stream_poller.get_internal_client is _ORIGINALS["get_internal_client"]
        with pytest.raises(ls.LocalStackAdapterError, match=r"poll\(\) was called after close\(\)"):
            second.poll()


def test_adapter_for_the_other_source_is_a_clear_error() -> None:
    ls = _localstack()
    from conformance.world import build_world

    with (
        build_world(_scenario("dynamodb")) as world,
        pytest.raises(ls.LocalStackAdapterError, match="use the localstack-dynamodb adapter"),
    ):
        ls.make_kinesis_poller(world.context())
    assert ls.stream_poller.get_internal_client is _ORIGINALS["get_internal_client"]


def test_capabilities_are_what_localstack_claims() -> None:
    ls = _localstack()
    assert ls.KINESIS.capabilities.sources == frozenset({"kinesis"})
    assert ls.DYNAMODB.capabilities.sources == frozenset({"dynamodb"})
    for adapter in (ls.KINESIS, ls.DYNAMODB):
        assert adapter.patches_system_clock is True
        # Documented as not implemented by LocalStack for streams: skipped with the reason.
        assert adapter.capabilities.lacks(frozenset({"bisect"})) == {"bisect"}
        assert "not implemented" in adapter.capabilities.notes["bisect"]
        assert adapter.capabilities.lacks(frozenset({"batching_window"})) == {"batching_window"}
    assert not ls.KINESIS.capabilities.lacks(frozenset({"starting_position_at_timestamp", "destination_s3"}))
    assert ls.DYNAMODB.capabilities.lacks(frozenset({"starting_position_at_timestamp"}))
