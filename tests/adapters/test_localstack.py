"""The LocalStack adapter wires LocalStack's own stream pollers to the world, and only wires them.

These tests check the wiring: records reach LocalStack's poller from the world and the scripted
function is invoked through LocalStack's sender; a discarded batch reaches the world's destination;
LocalStack's retry back-off advances virtual time instead of blocking; ``close()`` puts back the
names it redirected; and the parameter mapping is the one LocalStack's own factory builds.

Skipped, with the reason, where ``localstack-core`` is not importable (it is the optional
``localstack`` extra, and needs Python 3.11+).
"""

from __future__ import annotations

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
