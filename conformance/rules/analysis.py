"""Facts derived from one observation, shared by every checker and computed once.

An :class:`Analysis` resolves each invocation's event records to the realised stream records
(by shard and sequence number, or eventID), classifies each invocation's outcome from the raw
response (``responses.classify``), splits invocations into per-shard *attempts*, groups
consecutive attempts of the same record set into *runs* (the unit retries are counted in),
parses the destination documents, and works out each record's *fate*: acknowledged, discarded
(in a document, skipped over, or left at the end of a settled run) or still pending.

Checkers read these facts and judge them; nothing here decides whether a rule holds.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import cached_property
from typing import Any

from conformance.observation import Observation, RunStatus
from conformance.rules.responses import Outcome, OutcomeKind, classify
from conformance.scenario import Source
from conformance.trace import DestinationWrite, Invocation, StreamRecord, abbreviate

__all__ = [
    "PAYLOAD_LIMIT",
    "Analysis",
    "Attempt",
    "Discard",
    "Doc",
    "Fate",
    "InvocationView",
    "Run",
    "Scope",
    "Sent",
    "Settings",
    "analyse",
]

PAYLOAD_LIMIT = 6_291_456
"""BATCH-6: the synchronous invocation payload limit, 6 MiB."""

_DEFAULT_BATCH_SIZE = 100  # BATCH-1

# Calls whose failure may keep a shard waiting for a later poll (see Analysis.slack).
_HOLDING_OPERATIONS = frozenset({"get_records", "send_message", "publish", "put_object"})


class Scope(Enum):
    """Whether the starting position puts a record in the stream the mapping reads (START-2..4)."""

    IN = "in"
    OUT = "out"
    OPTIONAL = "optional"
    """Written at the very instant the mapping started (START-3): it may or may not be read."""


@dataclass(frozen=True)
class Settings:
    """The mapping parameters with their defaults applied."""

    batch_size: int
    window: float
    max_retries: int
    max_age: float | None
    bisect: bool
    rbif: bool
    parallelization: int
    starting_position: str
    starting_timestamp: float | None
    destination_kind: str | None
    destination_arn: str | None

    @classmethod
    def of(cls, parameters: Mapping[str, Any], rbif: bool, destination_arn: str | None) -> Settings:
        age = _number(parameters.get("MaximumRecordAgeInSeconds"), -1)
        timestamp = parameters.get("StartingPositionTimestamp")
        return cls(
            batch_size=int(_number(parameters.get("BatchSize"), _DEFAULT_BATCH_SIZE)),
            window=float(_number(parameters.get("MaximumBatchingWindowInSeconds"), 0)),
            max_retries=int(_number(parameters.get("MaximumRetryAttempts"), -1)),
            max_age=None if age < 0 else float(age),
            bisect=parameters.get("BisectBatchOnFunctionError") is True,
            rbif=rbif,
            parallelization=int(_number(parameters.get("ParallelizationFactor"), 1)),
            starting_position=str(parameters.get("StartingPosition") or "TRIM_HORIZON"),
            starting_timestamp=_timestamp(timestamp),
            destination_kind=destination_arn.split(":")[2] if destination_arn else None,
            destination_arn=destination_arn,
        )

    @property
    def quota(self) -> int | None:
        """Invocations a batch gets before it is discarded (RETRY-3), or None when unlimited."""
        return None if self.max_retries < 0 else self.max_retries + 1


def _number(value: Any, default: float) -> float:
    if value is None or isinstance(value, bool):
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _timestamp(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Sent:
    """One element of an invocation's ``Records`` list."""

    index: int
    raw: Any
    sequence_number: str | None
    """``kinesis.sequenceNumber`` / ``dynamodb.SequenceNumber`` as sent, if a string."""
    record: StreamRecord | None
    """The realised stream record it names, if any."""
    position: int | None
    """The record's index in its shard (shard order)."""


@dataclass(frozen=True)
class InvocationView:
    """An invocation with its records resolved and its outcome classified."""

    number: int
    invocation: Invocation
    at: float
    sent: tuple[Sent, ...]
    outcome: Outcome

    @cached_property  # cached (the instance dict, which frozen allows): read in checkers' loops
    def index(self) -> int:
        return self.invocation.call.index

    @property
    def name(self) -> str:
        return f"invocation #{self.number} at {seconds(self.at)}"


@dataclass(frozen=True)
class Attempt:
    """One invocation as seen by one shard: the positions of that shard's records in it."""

    view: InvocationView
    shard_id: str
    positions: tuple[int, ...]
    """Sorted, without duplicates."""
    acked: tuple[int, ...]
    """Positions the outcome acknowledges (all of them on success; those before the lowest
    reported record on a partial failure, PBF-3)."""
    retry: tuple[int, ...]
    """Positions still to be processed after this attempt."""

    # The properties below are read in the checkers' nested loops: each is computed once.

    @property
    def number(self) -> int:
        return self.view.number

    @cached_property
    def index(self) -> int:
        return self.view.index

    @cached_property
    def at(self) -> float:
        return self.view.at

    @property
    def outcome(self) -> Outcome:
        return self.view.outcome

    @cached_property
    def kind(self) -> OutcomeKind:
        return self.view.outcome.kind

    @cached_property
    def first(self) -> int:
        return self.positions[0]

    @cached_property
    def last(self) -> int:
        return self.positions[-1]

    @cached_property
    def reached(self) -> bool:
        return self.view.outcome.reached_function

    @property
    def name(self) -> str:
        return self.view.name


@dataclass(frozen=True)
class Doc:
    """A document written to the on-failure destination, parsed."""

    number: int
    write: DestinationWrite
    at: float
    document: Mapping[str, Any] | None
    info_key: str | None
    info: Mapping[str, Any] | None
    shard_id: str | None
    positions: tuple[int, ...]
    """The records the batch info describes (start to end, inclusive), if it resolves."""

    @property
    def index(self) -> int:
        return self.write.call.index

    @property
    def kind(self) -> str:
        return self.write.kind

    @property
    def request_context(self) -> Mapping[str, Any] | None:
        value = self.document.get("requestContext") if self.document is not None else None
        return value if isinstance(value, Mapping) else None

    @property
    def condition(self) -> Any:
        context = self.request_context
        return context.get("condition") if context is not None else None

    @property
    def name(self) -> str:
        return f"destination document #{self.number} ({self.kind}, at {seconds(self.at)})"


@dataclass(frozen=True)
class Discard:
    """How and when a record was discarded."""

    index: int
    """Trace position: the document's call, the call that skipped past the record, or one past
    the end of the trace for a record left unprocessed when the run settled."""
    at: float
    doc: Doc | None
    how: str
    """``"document"``, ``"skipped"`` (a later record was processed) or ``"end"``."""


@dataclass(frozen=True)
class Fate:
    """What became of one realised record."""

    record: StreamRecord
    position: int
    scope: Scope
    sends: tuple[Attempt, ...]
    """Every attempt that carried the record, throttled ones included."""
    acked_by: Attempt | None
    docs: tuple[Doc, ...]
    discard: Discard | None
    label: str
    """How messages name the record (``Analysis.label``)."""

    @property
    def in_scope(self) -> bool:
        """In the part of the stream the mapping reads; a record at the edge counts when it was
        processed at all."""
        if self.scope is Scope.OPTIONAL:
            return bool(self.sends or self.docs)
        return self.scope is Scope.IN

    @property
    def reached(self) -> tuple[Attempt, ...]:
        """The attempts that reached the function with this record."""
        return tuple(a for a in self.sends if a.reached)

    @property
    def failed_deliveries(self) -> int:
        return sum(1 for a in self.sends if a.reached and self.position not in a.acked)

    @property
    def resolved_at(self) -> float | None:
        times = [a.at for a in (self.acked_by,) if a is not None]
        if self.discard is not None and self.discard.how != "end":
            times.append(self.discard.at)
        return min(times) if times else None


@dataclass(frozen=True)
class Run:
    """Consecutive attempts of one shard with the same record set: the unit retries are counted
    in (SEMANTICS: the attempt count belongs to the exact record set)."""

    shard_id: str
    attempts: tuple[Attempt, ...]
    previous: Attempt | None
    following: Attempt | None
    origin: str
    """``"fresh"``; ``"shrink"`` (the suffix left by a partial failure, PBF-8); ``"age"`` (what
    was left after expired records were split off, RETRY-7); ``"split"`` (part of a failed batch,
    as bisection makes)."""
    inherited: int
    """Attempts of the batch this one was derived from (shrink or age origin), so lenient
    checks may credit them."""

    @property
    def positions(self) -> tuple[int, ...]:
        return self.attempts[0].positions

    @property
    def first(self) -> Attempt:
        return self.attempts[0]

    @property
    def last(self) -> Attempt:
        return self.attempts[-1]

    @property
    def real(self) -> int:
        """Attempts that reached the function."""
        return sum(1 for a in self.attempts if a.reached)

    @property
    def throttles(self) -> int:
        return sum(1 for a in self.attempts if not a.reached)


def seconds(offset: float) -> str:
    """A virtual time offset for messages: ``+12.5 s``."""
    text = f"{offset:.3f}".rstrip("0").rstrip(".")
    return f"+{text} s" if offset >= 0 else f"{text} s"


class Analysis:
    """Everything the checkers need about one observation."""

    def __init__(self, observation: Observation) -> None:
        # Held weakly: the analysis cache must not keep an observation (its trace may carry
        # megabytes of payloads) alive after its user dropped it. Checkers run while the
        # observation they were given is alive.
        self._observation = weakref.ref(observation)
        scenario = observation.scenario
        self.scenario = scenario
        self.source = scenario.source
        self.kinesis = scenario.source is Source.KINESIS
        self.settings = Settings.of(
            scenario.parameters, scenario.report_batch_item_failures, scenario.destination_arn
        )
        self.start = scenario.clock.start
        self.started_at = observation.started_at_offset
        self.completed = observation.status is RunStatus.COMPLETED
        # DynamoDB arrival times are rounded down to the second: age judgements allow 1 s.
        self.age_tolerance = 0.002 if self.kinesis else 1.0

        self.shards: dict[str, tuple[StreamRecord, ...]] = {}
        self._index_records(observation.records)
        self._sent_by_event: dict[int, tuple[Sent, ...]] = {}
        self.views: tuple[InvocationView, ...] = tuple(
            self._view(number, inv) for number, inv in enumerate(observation.trace.invocations(), start=1)
        )
        self.docs: tuple[Doc, ...] = tuple(
            self.document_of(write, number)
            for number, write in enumerate(observation.trace.destination_writes(), start=1)
        )
        calls = observation.trace.calls
        last_call_at = self.offset(calls[-1].at) if calls else self.started_at
        self.end_at = max(observation.ended_at_offset, last_call_at)
        self._end_index = len(calls) + 1

        self.attempts: dict[str, tuple[Attempt, ...]] = {shard: () for shard in self.shards}
        for shard, attempts in self._attempts().items():
            self.attempts[shard] = attempts
        self._attempt_index = {
            (shard, a.number): i for shard, attempts in self.attempts.items() for i, a in enumerate(attempts)
        }
        self.fates: dict[tuple[str, int], Fate] = {}
        for shard in self.shards:
            self._fates(shard)
        self.runs: dict[str, tuple[Run, ...]] = {shard: self._runs(shard) for shard in self.shards}
        self._run_of: dict[tuple[str, int], Run] = {
            (run.shard_id, a.number): run for runs in self.runs.values() for run in runs for a in run.attempts
        }

    @property
    def observation(self) -> Observation:
        observation = self._observation()
        if observation is None:
            raise ReferenceError("the observation of this analysis no longer exists; keep it while checking")
        return observation

    # ---- time -------------------------------------------------------------------------------

    def offset(self, instant: datetime) -> float:
        return (instant - self.start).total_seconds()

    def arrival(self, record: StreamRecord) -> float:
        """The record's arrival as the stream reports it (what record age is measured from)."""
        return self.offset(record.arrival)

    def written(self, record: StreamRecord) -> float:
        """When the record was written to the stream (the scenario's arrival offset)."""
        shard_index, record_index = record.ref
        shards = self.scenario.shards
        if 0 <= shard_index < len(shards) and 0 <= record_index < len(shards[shard_index].records):
            return shards[shard_index].records[record_index].arrival
        return self.arrival(record)

    def age(self, record: StreamRecord, at: float) -> float:
        return at - self.arrival(record)

    def possibly_expired(self, record: StreamRecord, at: float) -> bool:
        """A poller may treat the record as older than MaximumRecordAgeInSeconds at ``at``."""
        limit = self.settings.max_age
        return limit is not None and self.age(record, at) > limit - self.age_tolerance

    def surely_expired(self, record: StreamRecord, at: float) -> bool:
        """The record is older than MaximumRecordAgeInSeconds at ``at`` beyond any rounding."""
        limit = self.settings.max_age
        return limit is not None and self.age(record, at) > limit + self.age_tolerance

    @property
    def slack(self) -> float:
        """How long a poller may take to get to an idle shard: a poll of every shard plus one
        more gap, and a second (BATCH-4, BATCH-5, ORD-6); plus one more gap for every read or
        destination write the world refused (a throttled GetRecords, an expired iterator, a
        failed document: each may hold a shard back until a later poll)."""
        gap = max(self.scenario.clock.poll_gaps, default=1.0)
        return (len(self.scenario.shards) + 1 + self.refused_calls) * gap + 1.0

    @functools.cached_property
    def refused_calls(self) -> int:
        """GetRecords calls and destination writes that failed with a service error."""
        return sum(
            1
            for call in self.observation.trace.calls
            if call.error_code is not None and call.operation in _HOLDING_OPERATIONS
        )

    # ---- lookups ----------------------------------------------------------------------------

    def record(self, shard_id: str, position: int) -> StreamRecord:
        return self.shards[shard_id][position]

    def fate(self, shard_id: str, position: int) -> Fate:
        return self.fates[(shard_id, position)]

    def shard_fates(self, shard_id: str) -> list[Fate]:
        return [self.fates[(shard_id, p)] for p in range(len(self.shards[shard_id]))]

    def all_fates(self) -> Iterable[Fate]:
        return self.fates.values()

    def label(self, record: StreamRecord) -> str:
        """How messages name a record: ``StreamRecord.label`` (``49590…0007 on shardId-…``), or
        the full sequence number when the abbreviation would not tell two records apart."""
        if abbreviate(record.sequence_number) in self._ambiguous:
            return f"{record.sequence_number} on {record.shard_id}"
        return record.label

    def labels(self, shard_id: str, positions: Sequence[int]) -> str:
        """``"49590…0003 to 49590…0007 on shardId-…"`` or one record's label."""
        if not positions:
            return f"no records on {shard_id}"
        first = self.label(self.record(shard_id, positions[0]))
        if len(positions) == 1:
            return first
        last = self.label(self.record(shard_id, positions[-1]))
        return f"{first.rsplit(' on ', 1)[0]} to {last} ({len(positions)} records)"

    def run_of(self, attempt: Attempt) -> Run:
        return self._run_of[(attempt.shard_id, attempt.number)]

    def next_attempt(self, attempt: Attempt) -> Attempt | None:
        """The shard's attempt after ``attempt``."""
        attempts = self.attempts[attempt.shard_id]
        i = self._attempt_index[(attempt.shard_id, attempt.number)]
        return attempts[i + 1] if i + 1 < len(attempts) else None

    def previous_attempt(self, attempt: Attempt) -> Attempt | None:
        """The shard's attempt before ``attempt``."""
        attempts = self.attempts[attempt.shard_id]
        i = self._attempt_index[(attempt.shard_id, attempt.number)]
        return attempts[i - 1] if i > 0 else None

    def docs_between(self, shard_id: str, after: int, before: int) -> list[Doc]:
        """Documents about ``shard_id`` written strictly between two trace positions."""
        return [d for d in self.docs if d.shard_id == shard_id and after < d.index < before]

    def discarded_after(self, run: Run) -> list[Fate]:
        """Records the run was still responsible for that were discarded right after it (never
        carried by a later attempt)."""
        last = run.last
        out = []
        for position in last.retry:
            fate = self.fate(run.shard_id, position)
            if fate.discard is not None and fate.sends and fate.sends[-1].number == last.number:
                out.append(fate)
        return out

    def age_justified(self, fates: Sequence[Fate]) -> bool:
        """Whether every one of these discarded records may have been too old when discarded."""
        return bool(fates) and all(
            f.discard is not None and self.possibly_expired(f.record, f.discard.at) for f in fates
        )

    def last_reaching_attempt(self, shard_id: str, position: int, before: int) -> Attempt | None:
        """The last attempt before trace position ``before`` that carried the record to the
        function (or, failing that, the last one that carried it at all)."""
        carried = [a for a in self.attempts[shard_id] if a.index < before and position in a.positions]
        reaching = [a for a in carried if a.reached]
        if reaching:
            return reaching[-1]
        return carried[-1] if carried else None

    # ---- building ---------------------------------------------------------------------------

    def _index_records(self, records: Sequence[StreamRecord]) -> None:
        grouped: dict[str, list[StreamRecord]] = {}
        for record in records:
            grouped.setdefault(record.shard_id, []).append(record)
        self._position: dict[tuple[str, int], int] = {}
        self._by_number: dict[int, list[StreamRecord]] = {}
        spellings: dict[str, set[str]] = {}
        for record in records:
            spellings.setdefault(abbreviate(record.sequence_number), set()).add(record.sequence_number)
        self._ambiguous = {short for short, full in spellings.items() if len(full) > 1}
        for shard_id, shard_records in grouped.items():
            ordered = tuple(sorted(shard_records, key=lambda r: _as_int(r.sequence_number)))
            self.shards[shard_id] = ordered
            for position, record in enumerate(ordered):
                number = _as_int(record.sequence_number)
                self._position[(shard_id, number)] = position
                self._by_number.setdefault(number, []).append(record)

    def position_of(self, record: StreamRecord) -> int:
        return self._position[(record.shard_id, _as_int(record.sequence_number))]

    def find(self, shard_id: str | None, sequence_number: Any) -> StreamRecord | None:
        """The realised record with this sequence number (compared as an integer), on
        ``shard_id`` when it is given."""
        if isinstance(sequence_number, bool) or not isinstance(sequence_number, (str, int)):
            return None
        try:
            number = int(sequence_number)
        except ValueError:
            return None
        if shard_id is not None:
            position = self._position.get((shard_id, number))
            return self.shards[shard_id][position] if position is not None else None
        candidates = self._by_number.get(number, [])
        return candidates[0] if len(candidates) == 1 else None

    def _view(self, number: int, invocation: Invocation) -> InvocationView:
        # A retried batch's invocations share one parsed event (Trace.invocations): its records
        # are resolved once, and the views share the very same Sent objects.
        event = invocation.event
        sent = self._sent_by_event.get(id(event)) if event is not None else None
        if sent is None:
            sent = self._resolve(invocation.records)
            if event is not None:
                self._sent_by_event[id(event)] = sent
        batch_numbers = [s.sequence_number for s in sent if s.sequence_number is not None]
        outcome = classify(invocation, self.settings.rbif, batch_numbers)
        return InvocationView(number, invocation, self.offset(invocation.at), sent, outcome)

    def _resolve(self, raw_records: Sequence[Any]) -> tuple[Sent, ...]:
        sequence_numbers: list[str | None] = []
        hints: list[str | None] = []
        for raw in raw_records:
            inner = raw.get("kinesis" if self.kinesis else "dynamodb") if isinstance(raw, Mapping) else None
            value = (
                inner.get("sequenceNumber" if self.kinesis else "SequenceNumber")
                if isinstance(inner, Mapping)
                else None
            )
            sequence_numbers.append(value if isinstance(value, str) else None)
            hint = None
            if self.kinesis and isinstance(raw, Mapping) and isinstance(raw.get("eventID"), str):
                prefix = raw["eventID"].rsplit(":", 1)[0]
                hint = prefix if prefix in self.shards else None
            hints.append(hint)
        resolved: list[StreamRecord | None] = []
        for value, hint in zip(sequence_numbers, hints, strict=True):
            found = self.find(hint, value) if hint is not None else None
            resolved.append(found if found is not None else self.find(None, value))
        # A sequence number several shards use (moto numbers each shard from 1) is resolved to
        # the shard the rest of the batch comes from.
        majority = _most_common([r.shard_id for r in resolved if r is not None])
        for i, value in enumerate(sequence_numbers):
            if resolved[i] is None and value is not None:
                for shard_id in ([majority] if majority else []) + list(self.shards):
                    candidate = self.find(shard_id, value)
                    if candidate is not None:
                        resolved[i] = candidate
                        break
        return tuple(
            Sent(
                i, raw, sequence_numbers[i], record, self.position_of(record) if record is not None else None
            )
            for i, (raw, record) in enumerate(zip(raw_records, resolved, strict=True))
        )

    def _attempts(self) -> dict[str, tuple[Attempt, ...]]:
        out: dict[str, list[Attempt]] = {}
        for view in self.views:
            by_shard: dict[str, list[Sent]] = {}
            for sent in view.sent:
                if sent.record is not None:
                    by_shard.setdefault(sent.record.shard_id, []).append(sent)
            for shard_id, sents in by_shard.items():
                positions = tuple(sorted({s.position for s in sents if s.position is not None}))
                acked, retry = _split(view, sents, positions)
                out.setdefault(shard_id, []).append(Attempt(view, shard_id, positions, acked, retry))
        return {shard: tuple(attempts) for shard, attempts in out.items()}

    def document_of(self, write: DestinationWrite, number: int = 0) -> Doc:
        """``write`` parsed: the document, its batch info and the records it describes
        (``number``: its place among the documents, 0 for a write that is none)."""
        document = write.document()
        mapping = document if isinstance(document, Mapping) else None
        info_key = None
        info = None
        if mapping is not None:
            for key in ("KinesisBatchInfo", "DDBStreamBatchInfo"):
                if isinstance(mapping.get(key), Mapping):
                    info_key, info = key, mapping[key]
                    break
        shard_id = None
        positions: tuple[int, ...] = ()
        if info is not None and isinstance(info.get("shardId"), str) and info["shardId"] in self.shards:
            shard_id = info["shardId"]
            start = self.find(shard_id, info.get("startSequenceNumber"))
            end = self.find(shard_id, info.get("endSequenceNumber"))
            if start is not None and end is not None:
                positions = tuple(range(self.position_of(start), self.position_of(end) + 1))
        return Doc(number, write, self.offset(write.at), mapping, info_key, info, shard_id, positions)

    def _scope(self, record: StreamRecord) -> Scope:
        settings = self.settings
        if settings.starting_position == "LATEST":
            # START-3: only records written after the iterator was set up; one written at that
            # very instant may go either way.
            written = self.written(record)
            if written > self.started_at:
                return Scope.IN
            return Scope.OPTIONAL if written == self.started_at else Scope.OUT
        if settings.starting_position == "AT_TIMESTAMP" and settings.starting_timestamp is not None:
            # START-4: from the first record whose arrival is at or after the timestamp.
            arrival = record.arrival.timestamp()
            return Scope.OUT if arrival < settings.starting_timestamp - 1e-4 else Scope.IN
        return Scope.IN

    def _fates(self, shard_id: str) -> None:
        attempts = self.attempts[shard_id]
        docs = [d for d in self.docs if d.shard_id == shard_id and d.positions]
        # Everything that touched the shard, in trace order, with the highest position touched.
        touches = sorted(
            [(a.index, a.last, a.at) for a in attempts] + [(d.index, d.positions[-1], d.at) for d in docs]
        )
        for position, record in enumerate(self.shards[shard_id]):
            sends = tuple(a for a in attempts if position in a.positions)
            acked_by = next((a for a in sends if position in a.acked), None)
            described = tuple(d for d in docs if position in d.positions)
            scope = self._scope(record)
            last_send = sends[-1].index if sends else -1
            discard: Discard | None = None
            if described:
                discard = Discard(described[0].index, described[0].at, described[0], "document")
            elif acked_by is None:
                passed = next(((i, at) for i, top, at in touches if i > last_send and top > position), None)
                if passed is not None:
                    discard = Discard(passed[0], passed[1], None, "skipped")
                elif self.completed and (scope is Scope.IN or sends):
                    discard = Discard(self._end_index, self.end_at, None, "end")
            self.fates[(shard_id, position)] = Fate(
                record, position, scope, sends, acked_by, described, discard, self.label(record)
            )

    def _runs(self, shard_id: str) -> tuple[Run, ...]:
        attempts = self.attempts[shard_id]
        groups: list[list[Attempt]] = []
        for attempt in attempts:
            if groups and groups[-1][0].positions == attempt.positions:
                groups[-1].append(attempt)
            else:
                groups.append([attempt])
        runs: list[Run] = []
        consumed = 0
        for group in groups:
            previous = attempts[consumed - 1] if consumed else None
            consumed += len(group)
            following = attempts[consumed] if consumed < len(attempts) else None
            origin, inherited = self._origin(group, runs[-1] if runs else None)
            runs.append(Run(shard_id, tuple(group), previous, following, origin, inherited))
        return tuple(runs)

    def _origin(self, group: list[Attempt], before: Run | None) -> tuple[str, int]:
        if before is None:
            return "fresh", 0
        last = before.last
        positions = group[0].positions
        if last.kind is OutcomeKind.SUCCESS:
            return "fresh", 0
        carried = len(before.attempts) + before.inherited
        retry = last.retry
        if last.kind is OutcomeKind.PARTIAL and retry == positions and retry != last.positions:
            return "shrink", carried
        cut = len(retry) - len(positions)
        if cut > 0 and retry[cut:] == positions:
            dropped = [self.fate(last.shard_id, p) for p in retry[:cut]]
            if all(f.discard is not None and self.possibly_expired(f.record, group[0].at) for f in dropped):
                return "age", carried
        if set(positions) < set(retry):
            return "split", 0
        return "fresh", 0


def _split(
    view: InvocationView, sents: Sequence[Sent], positions: tuple[int, ...]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    outcome = view.outcome
    if outcome.kind is OutcomeKind.SUCCESS:
        return positions, ()
    if outcome.kind is OutcomeKind.PARTIAL:
        lowest = next((s.position for s in sents if s.sequence_number == outcome.lowest), None)
        if lowest is None:  # the lowest reported record is on another shard of a mixed batch
            return positions, ()
        return tuple(p for p in positions if p < lowest), tuple(p for p in positions if p >= lowest)
    return (), positions


def _as_int(sequence_number: str) -> int:
    try:
        return int(sequence_number)
    except ValueError:
        return -1


def _most_common(values: list[str]) -> str | None:
    if not values:
        return None
    return max(set(values), key=values.count)


# Analyses of live observations, most recently used last. An entry holds its observation only
# weakly and is dropped as soon as the observation is freed, so the cache never retains a trace;
# the bound keeps the derived views (parsed payloads, several times the trace's size) of at most
# two observations kept alive elsewhere (the runner checks every rule on one observation in turn).
_CACHE: OrderedDict[int, tuple[weakref.ref[Observation], Analysis]] = OrderedDict()
_CACHE_SIZE = 2
_CACHE_LOCK = threading.RLock()  # the drop callback may run while the lock is held


def analyse(observation: Observation) -> Analysis:
    """The analysis of ``observation``, computed on first use and reused by every checker (the
    runner checks many rules against one observation) while the observation lives."""
    key = id(observation)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None and hit[0]() is observation:
            _CACHE.move_to_end(key)
            return hit[1]
    analysis = Analysis(observation)

    def drop(ref: weakref.ref[Observation]) -> None:
        with _CACHE_LOCK:
            entry = _CACHE.get(key)
            if entry is not None and entry[0] is ref:
                del _CACHE[key]

    with _CACHE_LOCK:
        _CACHE[key] = (weakref.ref(observation, drop), analysis)
        _CACHE.move_to_end(key)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return analysis
