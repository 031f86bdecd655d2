"""LocalStack's stream pollers (``localstack-core``), plugged in through the kit's contract.

``KINESIS`` and ``DYNAMODB`` wrap LocalStack's own ``KinesisPoller`` and ``DynamoDBPoller``, built
in-process (no Docker, no running LocalStack) and wired exactly the way LocalStack's
``EsmWorkerFactory`` wires them, except that every input and output goes to the kit's world:

* source client: ``context.client("kinesis")`` / ``context.client("dynamodbstreams")``;
* Lambda calls: LocalStack's ``EsmEventProcessor`` and ``LambdaSender`` (so its real error mapping
  and failure-context code run) over ``context.client("lambda")``;
* on-failure destinations: ``stream_poller`` creates its clients through ``get_internal_client`` and
  looks SQS queue URLs up through ``get_queue_url``, names it imported into its own module
  namespace; they are redirected there to the world's clients while a poller is open and restored
  by ``close()``;
* time: LocalStack reads ``datetime.now`` and ``time.monotonic`` itself, so the adapter declares
  ``patches_system_clock=True`` and the harness runs it under freezegun pinned to the virtual
  clock; its retry back-off, a real ``threading.Event.wait``, is replaced by an object whose
  ``wait`` advances the virtual clock.

Nothing here changes a decision LocalStack makes: which records form a batch, when to retry, what
to discard and what to write are all LocalStack's code. Back-off jitter (``random``) and the S3 key's
UUID are left to LocalStack too.

The mapping from CreateEventSourceMapping parameters to LocalStack's ``source_parameters`` copies
``esm_config_factory.EsmConfigFactory`` (defaults) and ``esm_worker_factory.EsmWorkerFactory``
(what is passed on) of localstack-core 2026.3.0. Those two modules import LocalStack's stores,
which need Python 3.13 (PEP 695 syntax, ``warnings.deprecated``) while the pollers themselves run
on 3.11; that is why they are transcribed rather than called. ``tests/adapters/test_localstack.py``
compares this transcription with LocalStack's own factory wherever that imports.

Passed on: ``StartingPosition``, ``BatchSize``, ``MaximumBatchingWindowInSeconds``,
``MaximumRetryAttempts``, ``MaximumRecordAgeInSeconds``,
``DestinationConfig.OnFailure.Destination`` (as ``DeadLetterConfig.Arn``), ``FilterCriteria`` and
``FunctionResponseTypes`` (to the sender). Dropped by LocalStack: ``BisectBatchOnFunctionError``,
``ParallelizationFactor``, ``TumblingWindowInSeconds`` and ``StartingPositionTimestamp``.
"""

from __future__ import annotations

import copy
import logging
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from conformance.clock import VirtualTimeExhausted
from conformance.contract import Adapter, Capabilities, Clock, PollerContext
from conformance.world import faults as world_faults

LOCALSTACK_VERSION = "2026.3.0"
_EXTRA_HINT = "LocalStack adapter needs the 'localstack' extra: pip install 'stream-conformance[localstack]'"

try:
    from localstack.aws.api.pipes import (
        DynamoDBStreamStartPosition,
        KinesisStreamStartPosition,
        PipeTargetInvocationType,
        PipeTargetLambdaFunctionParameters,
        PipeTargetParameters,
    )
    from localstack.services.lambda_.event_source_mapping.esm_event_processor import EsmEventProcessor
    from localstack.services.lambda_.event_source_mapping.pipe_loggers.noops_pipe_logger import (
        NoOpsPipeLogger,
    )
    from localstack.services.lambda_.event_source_mapping.pipe_utils import get_standardized_service_name
    from localstack.services.lambda_.event_source_mapping.pollers import stream_poller
    from localstack.services.lambda_.event_source_mapping.pollers.dynamodb_poller import DynamoDBPoller
    from localstack.services.lambda_.event_source_mapping.pollers.kinesis_poller import KinesisPoller
    from localstack.services.lambda_.event_source_mapping.pollers.poller import EmptyPollResultsException
    from localstack.services.lambda_.event_source_mapping.senders.lambda_sender import LambdaSender
    from localstack.utils.aws.arns import parse_arn
    from localstack.utils.collections import merge_recursive
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
    if (exc.name or "").split(".")[0] == "localstack":
        raise ImportError(_EXTRA_HINT) from exc
    # localstack-core is there but one of the packages the extra adds (rolo, pydantic, jsonpatch) is not.
    raise ImportError(f"{_EXTRA_HINT} (missing: {exc.name})") from exc
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"{_EXTRA_HINT} (localstack-core is installed but its stream pollers could not be imported on "
        f"Python {sys.version_info.major}.{sys.version_info.minor}: {exc}; localstack-core "
        f"{LOCALSTACK_VERSION} needs Python 3.11 or later)"
    ) from exc

# localstack-core ships py.typed but leaves these untyped; seen through Any, the module type-checks
# the same with and without the extra installed.
_LambdaSender: Any = LambdaSender
_EsmEventProcessor: Any = EsmEventProcessor
_NoOpsPipeLogger: Any = NoOpsPipeLogger
_PipeTargetParameters: Any = PipeTargetParameters
_PipeTargetLambdaFunctionParameters: Any = PipeTargetLambdaFunctionParameters
_merge_recursive: Any = merge_recursive

__all__ = [
    "DYNAMODB",
    "KINESIS",
    "LocalStackAdapterError",
    "LocalStackPoller",
    "localstack_source_parameters",
    "make_dynamodb_poller",
    "make_kinesis_poller",
]


# EsmConfigFactory.get_esm_config: the defaults LocalStack fills in for Kinesis and DynamoDB Streams
# before a request's own fields are merged over them (merge_recursive keeps the request's values).
_LOCALSTACK_DEFAULTS: Mapping[str, Any] = {
    "BatchSize": 100,
    "DestinationConfig": {"OnFailure": {}},
    "BisectBatchOnFunctionError": False,
    "MaximumBatchingWindowInSeconds": 0,
    "MaximumRecordAgeInSeconds": -1,
    "MaximumRetryAttempts": -1,
    "ParallelizationFactor": 1,
    "StartingPosition": "TRIM_HORIZON",
    "TumblingWindowInSeconds": 0,
}

# Fields LocalStack's EsmWorkerFactory does not hand to the stream pollers: setting them changes
# nothing in LocalStack. Listed so the report can say so.
DROPPED_PARAMETERS: frozenset[str] = frozenset(
    {
        "BisectBatchOnFunctionError",
        "ParallelizationFactor",
        "TumblingWindowInSeconds",
        "StartingPositionTimestamp",
    }
)

_SOURCES: Mapping[str, tuple[str, str]] = {
    # source kind -> (world client, service in the event source ARN)
    "kinesis": ("kinesis", "kinesis"),
    "dynamodb": ("dynamodbstreams", "dynamodb"),
}


class LocalStackAdapterError(RuntimeError):
    """The adapter was used in a way it cannot wire up; the message says how to fix it."""


# ---- parameters ---------------------------------------------------------------------------------


def _esm_config(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """EsmConfigFactory.get_esm_config for a stream source: LocalStack's defaults under the
    request's own fields."""
    if not isinstance(parameters, Mapping):
        raise LocalStackAdapterError(
            f"the mapping parameters must be a mapping of CreateEventSourceMapping fields, "
            f"found {type(parameters).__name__}"
        )
    request = copy.deepcopy(dict(parameters))
    config: dict[str, Any] = _merge_recursive(copy.deepcopy(dict(_LOCALSTACK_DEFAULTS)), request)
    config["FunctionResponseTypes"] = config.get("FunctionResponseTypes", [])
    if not config.get("FilterCriteria", {}).get("Filters", []):
        config.pop("FilterCriteria", None)
    return config


def localstack_source_parameters(source: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The ``source_parameters`` LocalStack's EsmWorkerFactory builds for a Kinesis or DynamoDB
    mapping created with ``parameters`` (CreateEventSourceMapping field names)."""
    if source not in _SOURCES:
        raise LocalStackAdapterError(f"source must be 'kinesis' or 'dynamodb', found {source!r}")
    config = _esm_config(parameters)
    position_enum: Any = KinesisStreamStartPosition if source == "kinesis" else DynamoDBStreamStartPosition
    starting_position = config["StartingPosition"]
    if starting_position not in position_enum.__members__:
        # EsmWorkerFactory indexes the enum (KeyError); LocalStack's API validation rejects the
        # request before it gets there. Say so plainly instead.
        raise LocalStackAdapterError(
            f"StartingPosition {starting_position!r} is not accepted by LocalStack for a {source} source; "
            f"use one of {sorted(position_enum.__members__)}"
        )
    optional: dict[str, Any] = {}
    destination = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    if destination:
        optional["DeadLetterConfig"] = {"Arn": destination}
    stream_parameters = {
        "StartingPosition": position_enum[starting_position],
        "BatchSize": config["BatchSize"],
        "MaximumBatchingWindowInSeconds": config["MaximumBatchingWindowInSeconds"],
        "MaximumRetryAttempts": config["MaximumRetryAttempts"],
        "MaximumRecordAgeInSeconds": config["MaximumRecordAgeInSeconds"],
        **optional,
    }
    key = "KinesisStreamParameters" if source == "kinesis" else "DynamoDBStreamParameters"
    return {
        "FilterCriteria": config.get("FilterCriteria", {"Filters": []}),
        key: stream_parameters,
    }


def _reports_batch_item_failures(parameters: Mapping[str, Any]) -> bool:
    # EsmWorkerFactory: report_batch_item_failures=FunctionResponseTypes == [ReportBatchItemFailures]
    return bool(_esm_config(parameters).get("FunctionResponseTypes") == ["ReportBatchItemFailures"])


# ---- time ---------------------------------------------------------------------------------------


class _BudgetSpent(BaseException):
    """Carries VirtualTimeExhausted out of LocalStack's retry loop.

    The back-off wait sits inside a ``try: ... except Exception`` in
    ``StreamPoller.forward_events_to_target``, which would swallow the budget signal and loop on
    without end. A BaseException passes through it; ``LocalStackPoller.poll`` turns it back into
    the VirtualTimeExhausted the harness understands. No LocalStack decision is skipped: the run's
    budget is simply over.
    """

    def __init__(self, original: VirtualTimeExhausted) -> None:
        super().__init__(str(original))
        self.original = original


class _VirtualShutdownEvent:
    """Stands in for ``StreamPoller._is_shutdown`` (a ``threading.Event``).

    LocalStack uses that event twice: ``wait(seconds)`` is its retry back-off, and ``is_set()``
    ends the retry loop once ``close()`` has set it. Here ``wait`` advances the virtual clock by
    the back-off LocalStack chose and returns at once: False while open, True once closed,
    as ``Event.wait`` would.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._set = False
        self.waits: list[float] = []
        """Every back-off LocalStack asked for, in seconds (for tests and diagnostics)."""

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True

    def clear(self) -> None:
        self._set = False

    def wait(self, timeout: float | None = None) -> bool:
        if self._set:
            return True
        if timeout is None:
            raise LocalStackAdapterError(
                "LocalStack waited on its shutdown event without a timeout; in virtual time nothing "
                "would ever set it, so this wait could never end"
            )
        self.waits.append(timeout)
        try:
            self._clock.sleep(timeout)
        except VirtualTimeExhausted as exc:
            raise _BudgetSpent(exc) from exc
        return self._set


# ---- destination routing ------------------------------------------------------------------------

_ROUTING_LOCK = threading.Lock()
_ROUTED_BY: LocalStackPoller | None = None


class _WorldRouting:
    """Redirects ``get_internal_client`` and ``get_queue_url`` in ``stream_poller``'s namespace
    to one world's clients. They are module globals, so one LocalStack poller at a time may hold
    them; ``undo`` puts LocalStack's own functions back."""

    def __init__(self, context: PollerContext) -> None:
        self._context = context
        self._queue_urls: dict[str, str] = {}
        self._saved: dict[str, Any] = {}

    def get_internal_client(self, arn: str, *args: Any, **kwargs: Any) -> Any:
        # Same service resolution as pipe_utils.get_internal_client; the client is the world's.
        service = get_standardized_service_name(parse_arn(arn)["service"])
        return self._context.client(service)

    def get_queue_url(self, queue_arn: str) -> str:
        # Same lookup as sqs_poller.get_queue_url (cached per ARN there too), against the world.
        if queue_arn not in self._queue_urls:
            parsed = parse_arn(queue_arn)
            response = self._context.client("sqs").get_queue_url(
                QueueName=parsed["resource"], QueueOwnerAWSAccountId=parsed["account"]
            )
            self._queue_urls[queue_arn] = str(response["QueueUrl"])
        return self._queue_urls[queue_arn]

    def apply(self) -> None:
        replacements: dict[str, Callable[..., Any]] = {
            "get_internal_client": self.get_internal_client,
            "get_queue_url": self.get_queue_url,
        }
        for name, replacement in replacements.items():
            self._saved[name] = getattr(stream_poller, name)
            setattr(stream_poller, name, replacement)

    def undo(self) -> None:
        for name, original in self._saved.items():
            setattr(stream_poller, name, original)
        self._saved.clear()


# ---- the poller ---------------------------------------------------------------------------------

_LOG = logging.getLogger(__name__)

# LocalStack logs every failed attempt at ERROR with the whole batch. Without a handler of its own,
# Python's last-resort handler would print all of it to stderr in the middle of the kit's report.
# A NullHandler (what a library is expected to install) keeps it off stderr; records still
# propagate to any handler the user configured (pytest's log capture, for one).
if not logging.getLogger("localstack").handlers:
    logging.getLogger("localstack").addHandler(logging.NullHandler())


# The module that raises the errors a scenario's world conditions inject.
_WORLD_CONDITIONS = world_faults.__name__


def _involves_the_kit(error: BaseException) -> bool:
    """Whether a frame of the kit (the world's clients, the recording proxy, the clock) is on the
    way from ``poll()`` to where ``error`` (or an exception it was raised from) was raised."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        tb = current.__traceback__
        while tb is not None:
            module = str(tb.tb_frame.f_globals.get("__name__", ""))
            if module.split(".")[0] == "conformance" and module != __name__:
                return True
            tb = tb.tb_next
        pending += [current.__cause__, current.__context__]
    return False


def _injected_by_world_conditions(error: BaseException) -> bool:
    """Whether ``error`` is an AWS error answer that the scenario's world conditions
    (``conformance.world.faults``: a throttled GetRecords, an expired iterator, a refused
    destination write) injected, and that reached ``poll()`` as it was raised.

    Such an error is the scenario, not a fault of the kit: AWS answers that way, and how
    LocalStack copes with it is what the rules judge. LocalStack handles read errors itself
    (``StreamPoller.get_records`` turns them into a ``PipeInternalError`` that ``poll_events``
    ignores); a refused destination write leaves ``StreamPoller.send_events_to_dlq`` and
    ``poll_events`` uncaught, and ``EsmWorker.poller_loop`` logs it and polls on, as ``poll()``
    then does. Any other error a world client raised still makes the run inconclusive.
    """
    if not isinstance(error, ClientError):
        return False
    innermost = error.__traceback__
    while innermost is not None and innermost.tb_next is not None:
        innermost = innermost.tb_next
    return innermost is not None and innermost.tb_frame.f_globals.get("__name__") == _WORLD_CONDITIONS


class LocalStackPoller:
    """One LocalStack stream poller serving the world of ``context``.

    ``poll()`` is one iteration of LocalStack's ``EsmWorker.poller_loop``: one ``poll_events()``
    call (one shard, round-robin, including any retries LocalStack performs inside it), with the
    worker's handling of what it raises: ``EmptyPollResultsException`` means nothing to do, and
    any other error LocalStack raises on its own is logged and polling goes on (see ``errors``).
    So is an AWS error the scenario's world conditions injected (a refused destination write
    escapes LocalStack's poller). Other errors in which the world took part are raised, so the
    harness calls the run inconclusive rather than blaming LocalStack for them.
    """

    def __init__(self, source: str, context: PollerContext) -> None:
        if source not in _SOURCES:
            raise LocalStackAdapterError(f"source must be 'kinesis' or 'dynamodb', found {source!r}")
        client_name, arn_service = _SOURCES[source]
        arn_parts = context.event_source_arn.split(":")
        if len(arn_parts) < 6 or arn_parts[2] != arn_service:
            raise LocalStackAdapterError(
                f"the LocalStack {source} adapter serves {arn_service} event sources, but the mapping's "
                f"event source is {context.event_source_arn!r}; use the localstack-"
                f"{'dynamodb' if source == 'kinesis' else 'kinesis'} adapter for it"
            )
        self.source = source
        self.context = context
        self.source_parameters = localstack_source_parameters(source, context.parameters)

        # EsmWorkerFactory.get_esm_worker: the sender and processor LocalStack wires for an ESM.
        sender = _LambdaSender(
            target_arn=context.function_arn,
            target_parameters=_PipeTargetParameters(
                LambdaFunctionParameters=_PipeTargetLambdaFunctionParameters(
                    InvocationType=PipeTargetInvocationType.REQUEST_RESPONSE
                )
            ),
            target_client=context.client("lambda"),
            payload_dict=True,
            report_batch_item_failures=_reports_batch_item_failures(context.parameters),
        )
        processor = _EsmEventProcessor(sender=sender, logger=_NoOpsPipeLogger())
        source_client = context.client(client_name)
        if source == "kinesis":
            self.poller: Any = KinesisPoller(
                esm_uuid=context.mapping_uuid,
                source_arn=context.event_source_arn,
                source_parameters=self.source_parameters,
                source_client=source_client,
                processor=processor,
                invoke_identity_arn=context.execution_role_arn,
                kinesis_namespace=True,
            )
        else:
            self.poller = DynamoDBPoller(
                esm_uuid=context.mapping_uuid,
                source_arn=context.event_source_arn,
                source_parameters=self.source_parameters,
                source_client=source_client,
                processor=processor,
            )
        self.shutdown = _VirtualShutdownEvent(context.clock)
        self.poller._is_shutdown = self.shutdown
        self._routing = _WorldRouting(context)
        self._closed = False
        self.errors: list[Exception] = []
        """Errors LocalStack's ``poll_events()`` raised and its worker loop would have logged."""
        self._take_routing()

    def _take_routing(self) -> None:
        global _ROUTED_BY
        with _ROUTING_LOCK:
            if _ROUTED_BY is not None:
                raise LocalStackAdapterError(
                    "another LocalStack poller is still open in this process; LocalStack looks its "
                    "destination clients up through module globals, so close() the first poller "
                    "before making the next"
                )
            self._routing.apply()
            _ROUTED_BY = self

    def _release_routing(self) -> None:
        global _ROUTED_BY
        with _ROUTING_LOCK:
            if _ROUTED_BY is self:
                self._routing.undo()
                _ROUTED_BY = None

    def poll(self) -> None:
        if self._closed:
            raise LocalStackAdapterError("poll() was called after close()")
        try:
            self.poller.poll_events()
        except EmptyPollResultsException:
            # LocalStack's worker loop treats this as "nothing to do" and backs off; so do we.
            return
        except _BudgetSpent as spent:
            raise spent.original from None
        except Exception as error:
            if _involves_the_kit(error) and not _injected_by_world_conditions(error):
                # A world client (or the kit) took part: not LocalStack's own failure, so it is not
                # ours to swallow. The harness reports it as INCONCLUSIVE.
                raise
            # EsmWorker.poller_loop logs any other error and polls again after a back-off: the
            # mapping keeps running, whatever LocalStack had taken from the shard is not retried.
            # That is LocalStack's decision and its consequences are what the rules judge.
            self.errors.append(error)
            _LOG.info("LocalStack's poll_events() raised (its worker logs this and polls on): %r", error)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.poller.close()  # LocalStack's own close: sets the shutdown event
        finally:
            self._release_routing()


def make_kinesis_poller(context: PollerContext) -> LocalStackPoller:
    """Factory for LocalStack's ``KinesisPoller`` (``--poller localstack-kinesis``)."""
    return LocalStackPoller("kinesis", context)


def make_dynamodb_poller(context: PollerContext) -> LocalStackPoller:
    """Factory for LocalStack's ``DynamoDBPoller`` (``--poller localstack-dynamodb``)."""
    return LocalStackPoller("dynamodb", context)


# ---- capabilities: what LocalStack claims --------------------------------------------------------

# LocalStack's Lambda documentation ("Behaviour Coverage" table for event source mappings) marks
# these as implemented for Kinesis and DynamoDB Streams. Everything it marks "not implemented" is
# left out, with the reason, so the rules that need it are SKIPPED rather than failed.
_CLAIMED_BOTH = frozenset(
    {
        "report_batch_item_failures",  # FunctionResponseTypes
        "record_age",  # MaximumRecordAgeInSeconds
        "destination_sqs",
        "destination_sns",
        "destination_s3",
        "starting_position_latest",
    }
)
_NOT_CLAIMED_NOTES: Mapping[str, str] = {
    "bisect": "LocalStack documents BisectBatchOnFunctionError as not implemented for streams "
    "(EsmWorkerFactory does not pass it to the poller)",
    "batching_window": "LocalStack documents MaximumBatchingWindowInSeconds as not implemented for streams",
    "parallelization": "LocalStack documents ParallelizationFactor as not implemented",
    "tumbling_window": "LocalStack documents TumblingWindowInSeconds as not implemented",
    "resharding": "LocalStack's StreamPoller does not follow resharding (a TODO in stream_poller.py)",
}

KINESIS = Adapter(
    name="localstack-kinesis",
    make_poller=make_kinesis_poller,
    capabilities=Capabilities(
        sources=frozenset({"kinesis"}),
        # StartingPositionTimestamp is documented as implemented for Kinesis.
        features=_CLAIMED_BOTH | {"starting_position_at_timestamp"},
        notes={
            **_NOT_CLAIMED_NOTES,
            "dynamodb": "this adapter wraps LocalStack's KinesisPoller; use localstack-dynamodb",
        },
    ),
    patches_system_clock=True,
)

DYNAMODB = Adapter(
    name="localstack-dynamodb",
    make_poller=make_dynamodb_poller,
    capabilities=Capabilities(
        sources=frozenset({"dynamodb"}),
        features=_CLAIMED_BOTH,
        notes={
            **_NOT_CLAIMED_NOTES,
            "starting_position_at_timestamp": "AT_TIMESTAMP does not exist for DynamoDB Streams",
            "kinesis": "this adapter wraps LocalStack's DynamoDBPoller; use localstack-kinesis",
        },
    ),
    patches_system_clock=True,
)
