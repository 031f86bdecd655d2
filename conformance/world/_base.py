"""What both world backends share: checking that a scenario can be realised, the order in which
records are written, the release of records as virtual time reaches them, the recording proxies
and the poller's context. A backend only says how to create its resources and how to write a
batch of records."""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

from conformance.clock import VirtualClock
from conformance.contract import PollerContext
from conformance.items import item_id
from conformance.scenario import INVALID_FORMS, SUCCESS_FORMS, Behaviour, RecordSpec, Scenario, Source
from conformance.trace import StreamRecord, Trace
from conformance.world import names
from conformance.world.faults import WorldFaults
from conformance.world.function import ScriptedFunction
from conformance.world.recording import CallCounter, RecordingClient

__all__ = [
    "WORLD_SERVICES",
    "UnrealisableScenario",
    "WorldBase",
    "arrival_instant",
    "destination_resource",
    "dynamodb_stream_arn",
    "item_id",
    "stream_created_at",
]

WORLD_SERVICES: tuple[str, ...] = ("kinesis", "dynamodbstreams", "lambda", "sqs", "sns", "s3")
"""The clients a poller can ask its context for."""

KINESIS_MAX_RECORD_BYTES = 1_048_576  # data + partition key of one Kinesis record
DYNAMODB_MAX_ITEM_BYTES = 409_600  # one DynamoDB item (400 KB)
_KINESIS_SHARD_ID = re.compile(r"[a-zA-Z0-9_.\-]{1,128}")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class UnrealisableScenario(ValueError):
    """The scenario cannot be realised by this world backend. The message says why and what to
    change."""


# ---- facts derived from a scenario, identical in both backends ------------------------------


def arrival_instant(scenario: Scenario, spec: RecordSpec) -> datetime:
    """When the record is stamped in the stream: Kinesis keeps milliseconds; DynamoDB Streams
    rounds ApproximateCreationDateTime down to the second (EVT-D-2)."""
    instant = scenario.instant(spec.arrival)
    if scenario.source is Source.DYNAMODB:
        return instant.replace(microsecond=0)
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)


def stream_created_at(scenario: Scenario) -> datetime:
    """When the stream (and table) were created: a whole second, an hour before anything in the
    scenario, so every record is younger than its stream."""
    earliest = scenario.clock.start
    for shard in scenario.shards:
        if shard.records:
            earliest = min(earliest, scenario.instant(shard.records[0].arrival))
    return earliest.replace(microsecond=0) - timedelta(hours=1)


def dynamodb_stream_arn(created_at: datetime) -> str:
    """The stream ARN, with the label DynamoDB derives from the stream's creation time."""
    label = created_at.astimezone(timezone.utc).replace(tzinfo=None).isoformat()
    return f"arn:aws:dynamodb:{names.REGION}:{names.ACCOUNT_ID}:table/{names.TABLE_NAME}/stream/{label}"


def unix_seconds(instant: datetime) -> float:
    """Epoch seconds computed the way moto does, so both backends compare identical floats."""
    delta = instant - _EPOCH
    return (delta.days * 86400) + (delta.seconds + (delta.microseconds / 1e6))


def destination_resource(scenario: Scenario) -> tuple[str, str] | None:
    """``(kind, name)`` of the on-failure destination the scenario names, when it is a queue,
    topic or bucket this world can host; ``None`` otherwise (a poller writing there then gets the
    service's not-found error, as it would in AWS)."""
    arn = scenario.destination_arn
    if not arn:
        return None
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        return None
    service, region, account, resource = parts[2], parts[3], parts[4], ":".join(parts[5:])
    if service == "s3" and not region and not account and resource and "/" not in resource:
        return ("s3", resource)
    if service in ("sqs", "sns") and region == names.REGION and account == names.ACCOUNT_ID and resource:
        return (service, resource)
    return None


def validate_scenario(scenario: Scenario) -> None:
    """Raise UnrealisableScenario if no stream could hold the scenario as written."""

    def fail(message: str) -> None:
        raise UnrealisableScenario(message)

    if not scenario.shards:
        fail("the scenario has no shards; a stream needs at least one shard")
    if scenario.success_form not in SUCCESS_FORMS:
        fail(f"success_form {scenario.success_form!r} is not one of {sorted(SUCCESS_FORMS)}")
    ids = [s.shard_id for s in scenario.shards]
    if len(set(ids)) != len(ids):
        fail(f"shard ids must be distinct, found {ids}")
    kinesis = scenario.source is Source.KINESIS
    seen_sequences: dict[int, str] = {}
    for shard in scenario.shards:
        if kinesis and not _KINESIS_SHARD_ID.fullmatch(shard.shard_id):
            fail(
                f"Kinesis shard id {shard.shard_id!r} is not valid: use 1-128 characters from "
                "[a-zA-Z0-9_.-], such as 'shardId-000000000000'"
            )
        if not kinesis and not 28 <= len(shard.shard_id) <= 65:
            fail(
                f"DynamoDB Streams shard id {shard.shard_id!r} has {len(shard.shard_id)} characters; "
                "the API requires 28 to 65, such as 'shardId-00000001541626099285-f35f62ef'"
            )
        previous_sequence = -1
        previous_arrival = -math.inf
        for ri, spec in enumerate(shard.records):
            where = f"record {ri} of shard {shard.shard_id}"
            if not spec.sequence_number.isdigit():
                fail(f"{where}: sequence number {spec.sequence_number!r} must be a decimal string")
            if spec.sequence_number != "0" and spec.sequence_number.startswith("0"):
                fail(f"{where}: sequence number {spec.sequence_number!r} has a leading zero; AWS issues none")
            if not kinesis and not 21 <= len(spec.sequence_number) <= 40:
                fail(
                    f"{where}: DynamoDB Streams sequence numbers have 21 to 40 digits "
                    "(the API rejects others), "
                    f"found {len(spec.sequence_number)}"
                )
            sequence = int(spec.sequence_number)
            if sequence <= previous_sequence:
                fail(
                    f"{where}: sequence number {spec.sequence_number} is not greater than the previous "
                    "record's; sequence numbers increase (as integers) in shard order (ORD-2)"
                )
            previous_sequence = sequence
            if not math.isfinite(spec.arrival):
                fail(f"{where}: arrival {spec.arrival!r} must be a finite number of seconds")
            if spec.arrival < previous_arrival:
                fail(
                    f"{where}: arrival {spec.arrival:g} s is earlier than the previous record's "
                    f"{previous_arrival:g} s; a stream stamps arrivals in shard order"
                )
            previous_arrival = spec.arrival
            if spec.behaviour is Behaviour.INVALID and spec.form not in INVALID_FORMS:
                fail(
                    f"{where}: an INVALID record needs a form from {sorted(INVALID_FORMS)}, "
                    f"found {spec.form!r}"
                )
            if spec.times < 0:
                fail(f"{where}: times must be a non-negative integer, found {spec.times}")
            if kinesis:
                key_length = len(spec.partition_key)
                if not 1 <= key_length <= 256:
                    fail(f"{where}: a Kinesis partition key has 1 to 256 characters, found {key_length}")
                size = len(spec.data) + len(spec.partition_key.encode("utf-8"))
                if size > KINESIS_MAX_RECORD_BYTES:
                    fail(
                        f"{where}: data plus partition key is {size} bytes; "
                        f"Kinesis allows {KINESIS_MAX_RECORD_BYTES}"
                    )
            else:
                size = len(spec.data) + len(spec.partition_key.encode("utf-8")) + 64
                if size > DYNAMODB_MAX_ITEM_BYTES:
                    fail(
                        f"{where}: the item would be about {size} bytes; "
                        f"DynamoDB allows {DYNAMODB_MAX_ITEM_BYTES}"
                    )
                other = seen_sequences.get(sequence)
                if other is not None:
                    fail(
                        f"{where}: sequence number {spec.sequence_number} is also used on shard {other}; "
                        "a DynamoDB stream never repeats a sequence number across its shards"
                    )
                seen_sequences[sequence] = shard.shard_id


# ---- the shared world -----------------------------------------------------------------------


class WorldBase(ABC):
    """A world: virtual clock, trace, scripted function, and the stream as released so far."""

    backend: ClassVar[str] = ""
    expires_iterators: ClassVar[bool] = False
    """Whether the backend's own iterators honour ``Scenario.world.iterator_lifetime``; when not,
    the fault layer (``faults.py``) expires them."""

    def __init__(self, scenario: Scenario, clock: VirtualClock | None = None) -> None:
        validate_scenario(scenario)
        if clock is None:
            clock = VirtualClock(scenario.clock.start)
        elif clock.now() != scenario.clock.start:
            raise ValueError(
                f"the clock given to the world reads {clock.now().isoformat()}, but the scenario starts at "
                f"{scenario.clock.start.isoformat()}; pass VirtualClock(scenario.clock.start, ...)"
            )
        self.scenario = scenario
        self.clock = clock
        self.trace = Trace()
        self.function = ScriptedFunction(scenario)
        self.faults = WorldFaults(scenario.world, clock, expire_iterators=not self.expires_iterators)
        self.created_at = stream_created_at(scenario)
        self._counter = CallCounter()
        # Write order: by arrival, then shard, then shard order (stable for equal arrivals).
        self._pending: list[tuple[float, int, int]] = sorted(
            (spec.arrival, si, ri)
            for si, shard in enumerate(scenario.shards)
            for ri, spec in enumerate(shard.records)
        )
        self._next_pending = 0
        self._released: list[list[StreamRecord]] = [[] for _ in scenario.shards]
        self._released_view: tuple[StreamRecord, ...] | None = ()
        self._proxies: dict[str, RecordingClient] = {}
        self._context: PollerContext | None = None
        self._closed = False

    # ---- backend hooks ------------------------------------------------------------------------

    @property
    @abstractmethod
    def event_source_arn(self) -> str:
        """The stream ARN the poller is given."""

    @abstractmethod
    def _raw_client(self, service: str) -> Any:
        """The unrecorded client for one of WORLD_SERVICES."""

    @abstractmethod
    def _write(self, refs: list[tuple[int, int]]) -> list[StreamRecord]:
        """Write these scenario records (in this order) and return them as realised."""

    def _shutdown(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release backend resources (called once by close())."""

    # ---- the World protocol -------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """The world's own client for ``service``: not recorded, for harness and test use (for
        example reading the SNS subscriber queue)."""
        if service not in WORLD_SERVICES:
            raise ValueError(f"the world has no {service!r} client; it offers {', '.join(WORLD_SERVICES)}")
        return self._raw_client(service)

    def context(self) -> PollerContext:
        if self._context is None:
            self._context = PollerContext(
                mapping_uuid=names.MAPPING_UUID,
                function_arn=names.FUNCTION_ARN,
                event_source_arn=self.event_source_arn,
                parameters=self.scenario.parameters,
                clock=self.clock,
                region=names.REGION,
                account_id=names.ACCOUNT_ID,
                execution_role_arn=names.EXECUTION_ROLE_ARN,
                clients=self._recording_client,
            )
        return self._context

    def release_due_records(self) -> None:
        """Write every record whose arrival offset is at or before the clock's elapsed time."""
        pending = self._pending
        start = end = self._next_pending
        now = self.clock.elapsed
        while end < len(pending) and pending[end][0] <= now:
            end += 1
        if end == start:
            return
        self._check_open()
        self._next_pending = end
        for record in self._write([(si, ri) for _, si, ri in pending[start:end]]):
            self._released[record.ref[0]].append(record)
            self.function.register(record)
        self._released_view = None

    def released_records(self) -> tuple[StreamRecord, ...]:
        if self._released_view is None:
            self._released_view = tuple(r for shard in self._released for r in shard)
        return self._released_view

    def pending_arrivals(self) -> float | None:
        if self._next_pending < len(self._pending):
            return self._pending[self._next_pending][0]
        return None

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.function.retire()
            self._shutdown()

    def __enter__(self) -> WorldBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- helpers ------------------------------------------------------------------------------

    def _recording_client(self, service: str) -> RecordingClient:
        proxy = self._proxies.get(service)
        if proxy is None:
            # The world's conditions sit under the recording, so injected errors are recorded.
            client = self.faults.wrap(service, self.client(service))
            proxy = self._proxies[service] = RecordingClient(
                client, service, self.trace, self.clock, self._counter
            )
        return proxy

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"this {self.backend} world is closed; build a new one with build_world()")

    def _spec(self, ref: tuple[int, int]) -> RecordSpec:
        return self.scenario.shards[ref[0]].records[ref[1]]

    def _realised(self, ref: tuple[int, int], shard_id: str, sequence_number: str) -> StreamRecord:
        spec = self._spec(ref)
        return StreamRecord(
            ref=ref,
            shard_id=shard_id,
            sequence_number=sequence_number,
            arrival=arrival_instant(self.scenario, spec),
            partition_key=spec.partition_key,
            data=spec.data,
        )
