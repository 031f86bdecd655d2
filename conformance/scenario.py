"""The scenario model: plain, frozen, JSON-serialisable data describing one test case.

A scenario says what is in the stream, how the mapping is configured, how the function behaves
per record, and how the clock moves. Function behaviour is keyed by *record*, not by invocation,
so it keeps its meaning whatever batches the poller under test forms.

The JSON form carries ``"format": FORMAT_VERSION``; loading any other version is an error that
says which versions are understood.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any

__all__ = [
    "FORMAT_VERSION",
    "INVALID_FORMS",
    "SUCCESS_FORMS",
    "Behaviour",
    "ClockPlan",
    "RecordSpec",
    "Scenario",
    "ScenarioFormatError",
    "ShardSpec",
    "Source",
]

FORMAT_VERSION = 1

# PBF-4: responses that count as complete success. Names are stable (they appear in scenario files).
SUCCESS_FORMS: Mapping[str, Any] = {
    "null": None,
    "empty_object": {},
    "empty_list": [],
    "empty_string": "",
    "empty_failures": {"batchItemFailures": []},
    "null_failures": {"batchItemFailures": None},
}

# PBF-5: responses that count as complete failure (only meaningful with ReportBatchItemFailures).
INVALID_FORMS: Mapping[str, Any] = {
    "empty_identifier": {"batchItemFailures": [{"itemIdentifier": ""}]},
    "null_identifier": {"batchItemFailures": [{"itemIdentifier": None}]},
    "missing_key": {"batchItemFailures": [{"foo": 123}]},
    "missing_key_null": {"batchItemFailures": [{"foo": None}]},
    "unknown_identifier": {"batchItemFailures": [{"itemIdentifier": 123}]},
}


class ScenarioFormatError(ValueError):
    """A scenario file could not be read. The message says what was wrong and how to fix it."""


class Source(str, Enum):
    KINESIS = "kinesis"
    DYNAMODB = "dynamodb"


class Behaviour(str, Enum):
    """What the scripted function does when a record is in the batch it receives."""

    OK = "ok"
    POISON = "poison"
    """The function raises (``FunctionError: Unhandled``) whenever this record is in the batch."""
    REPORTED = "reported"
    """The record is always returned in ``batchItemFailures``. With ReportBatchItemFailures off
    the return value is ignored (PBF-1), so the record succeeds."""
    TRANSIENT = "transient"
    """The function raises on the first ``times`` deliveries of this record, then is fine."""
    THROTTLE = "throttle"
    """The first ``times`` Invoke calls carrying this record are throttled (HTTP 429
    ``TooManyRequestsException``) before the function runs."""
    INVALID = "invalid"
    """The function returns the PBF-5 form ``form`` while this record is in the batch. With
    ReportBatchItemFailures off the return value is ignored (PBF-1)."""


@dataclass(frozen=True)
class RecordSpec:
    """One record of a shard, in shard order.

    ``arrival`` is seconds relative to the scenario start (negative: already in the stream when
    the poller starts). ``sequence_number`` is what the in-memory world assigns; a real backend
    assigns its own and the world maps between them.
    """

    sequence_number: str
    partition_key: str
    data: bytes
    arrival: float
    behaviour: Behaviour = Behaviour.OK
    times: int = 0
    form: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sequence_number": self.sequence_number,
            "partition_key": self.partition_key,
            "data": base64.b64encode(self.data).decode("ascii"),
            "arrival": self.arrival,
            "behaviour": self.behaviour.value,
        }
        if self.times:
            out["times"] = self.times
        if self.form is not None:
            out["form"] = self.form
        return out


@dataclass(frozen=True)
class ShardSpec:
    shard_id: str
    records: tuple[RecordSpec, ...] = ()


@dataclass(frozen=True)
class ClockPlan:
    """Virtual time: where it starts, and how far it moves between two polls (cycled)."""

    start: datetime
    poll_gaps: tuple[float, ...] = (1.0,)

    def gap(self, step: int) -> float:
        return self.poll_gaps[step % len(self.poll_gaps)]


@dataclass(frozen=True)
class Scenario:
    """One complete test case. ``parameters`` are CreateEventSourceMapping fields as a user
    passes them (``StartingPosition``, ``BatchSize``, ``DestinationConfig`` ...)."""

    source: Source
    shards: tuple[ShardSpec, ...]
    parameters: Mapping[str, Any]
    clock: ClockPlan
    success_form: str = "empty_failures"
    version: int = FORMAT_VERSION
    note: str = field(default="", compare=False)

    # ---- derived views -------------------------------------------------------------------

    @property
    def record_count(self) -> int:
        return sum(len(s.records) for s in self.shards)

    @property
    def report_batch_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in (self.parameters.get("FunctionResponseTypes") or [])

    @property
    def destination_arn(self) -> str | None:
        config = self.parameters.get("DestinationConfig") or {}
        arn = (config.get("OnFailure") or {}).get("Destination")
        return str(arn) if arn else None

    @property
    def destination_kind(self) -> str | None:
        """``"sqs"``, ``"sns"``, ``"s3"`` or ``None``, from the destination ARN's service."""
        arn = self.destination_arn
        return arn.split(":")[2] if arn else None

    def instant(self, offset: float) -> datetime:
        return self.clock.start + timedelta(seconds=offset)

    # ---- serialisation -------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.version,
            "source": self.source.value,
            "parameters": _thaw(self.parameters),
            "success_form": self.success_form,
            "clock": {
                "start": _format_instant(self.clock.start),
                "poll_gaps": list(self.clock.poll_gaps),
            },
            "shards": [
                {"shard_id": s.shard_id, "records": [r.to_json() for r in s.records]} for s in self.shards
            ],
            **({"note": self.note} if self.note else {}),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=False)

    @classmethod
    def from_json(cls, doc: Any) -> Scenario:
        """Build a scenario from its JSON form, raising ScenarioFormatError with a precise
        message (which field, what was found, what is expected) on any problem."""
        return _parse_scenario(doc)

    @classmethod
    def loads(cls, text: str) -> Scenario:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScenarioFormatError(
                f"the scenario is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
                "a scenario file is the JSON object written by `stream-conformance run` or `scenario.dumps()`"
            ) from exc
        return cls.from_json(doc)


# ---- helpers ------------------------------------------------------------------------------


def _format_instant(instant: datetime) -> str:
    return instant.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_thaw(v) for v in value]
    return value


def _require(doc: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in doc:
        raise ScenarioFormatError(f"{where}: the field {key!r} is missing")
    value = doc[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        names = " or ".join(k.__name__ for k in _as_tuple(kind))
        raise ScenarioFormatError(f"{where}: {key!r} must be {names}, found {value!r}")
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _parse_scenario(doc: Any) -> Scenario:
    if not isinstance(doc, Mapping):
        raise ScenarioFormatError(
            f"a scenario must be a JSON object, found {type(doc).__name__}; "
            "a failure file from `stream-conformance run` holds it under the key 'scenario'"
        )
    if "scenario" in doc and "format" not in doc:
        doc = doc["scenario"]  # a failure file: {"rule": ..., "scenario": {...}}
        if not isinstance(doc, Mapping):
            raise ScenarioFormatError("the 'scenario' field of the failure file must be a JSON object")
    version = _require(doc, "format", int, "scenario")
    if version != FORMAT_VERSION:
        raise ScenarioFormatError(
            f"scenario format {version} is not understood by this version of stream-conformance, "
            f"which reads format {FORMAT_VERSION}; re-create the scenario or upgrade the kit"
        )
    source_text = _require(doc, "source", str, "scenario")
    try:
        source = Source(source_text)
    except ValueError:
        raise ScenarioFormatError(
            f"scenario: 'source' must be 'kinesis' or 'dynamodb', found {source_text!r}"
        ) from None
    parameters = _require(doc, "parameters", Mapping, "scenario")
    success_form = doc.get("success_form", "empty_failures")
    if success_form not in SUCCESS_FORMS:
        raise ScenarioFormatError(
            f"scenario: 'success_form' must be one of {sorted(SUCCESS_FORMS)}, found {success_form!r}"
        )
    clock_doc = _require(doc, "clock", Mapping, "scenario")
    start_text = _require(clock_doc, "start", str, "scenario.clock")
    try:
        start = datetime.fromisoformat(start_text.replace("Z", "+00:00"))
    except ValueError:
        raise ScenarioFormatError(
            f"scenario.clock: 'start' must be an ISO-8601 instant such as '2024-02-29T23:59:59.500Z', "
            f"found {start_text!r}"
        ) from None
    if start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    gaps = _require(clock_doc, "poll_gaps", list, "scenario.clock")
    if not gaps or not all(isinstance(g, (int, float)) and not isinstance(g, bool) and g >= 0 for g in gaps):
        raise ScenarioFormatError(
            f"scenario.clock: 'poll_gaps' must be a non-empty list of non-negative seconds, found {gaps!r}"
        )
    shards_doc = _require(doc, "shards", list, "scenario")
    if not shards_doc:
        raise ScenarioFormatError("scenario: 'shards' must list at least one shard")
    shards = tuple(_parse_shard(s, i) for i, s in enumerate(shards_doc))
    return Scenario(
        source=source,
        shards=shards,
        parameters=dict(parameters),
        clock=ClockPlan(start=start.astimezone(timezone.utc), poll_gaps=tuple(float(g) for g in gaps)),
        success_form=success_form,
        note=str(doc.get("note", "")),
    )


def _parse_shard(doc: Any, index: int) -> ShardSpec:
    where = f"scenario.shards[{index}]"
    if not isinstance(doc, Mapping):
        raise ScenarioFormatError(f"{where} must be a JSON object with 'shard_id' and 'records'")
    shard_id = _require(doc, "shard_id", str, where)
    records = _require(doc, "records", list, where)
    return ShardSpec(
        shard_id=shard_id,
        records=tuple(_parse_record(r, f"{where}.records[{j}]") for j, r in enumerate(records)),
    )


def _parse_record(doc: Any, where: str) -> RecordSpec:
    if not isinstance(doc, Mapping):
        raise ScenarioFormatError(f"{where} must be a JSON object")
    sequence_number = _require(doc, "sequence_number", str, where)
    if not sequence_number.isdigit():
        raise ScenarioFormatError(
            f"{where}: 'sequence_number' must be a decimal string, found {sequence_number!r}"
        )
    behaviour_text = doc.get("behaviour", "ok")
    try:
        behaviour = Behaviour(behaviour_text)
    except ValueError:
        raise ScenarioFormatError(
            f"{where}: 'behaviour' must be one of {[b.value for b in Behaviour]}, found {behaviour_text!r}"
        ) from None
    form = doc.get("form")
    if behaviour is Behaviour.INVALID and form not in INVALID_FORMS:
        raise ScenarioFormatError(f"{where}: 'form' must be one of {sorted(INVALID_FORMS)}, found {form!r}")
    try:
        data = base64.b64decode(_require(doc, "data", str, where), validate=True)
    except ValueError:
        raise ScenarioFormatError(f"{where}: 'data' must be standard base64") from None
    arrival = _require(doc, "arrival", (int, float), where)
    times = doc.get("times", 0)
    if not isinstance(times, int) or times < 0:
        raise ScenarioFormatError(f"{where}: 'times' must be a non-negative integer, found {times!r}")
    return RecordSpec(
        sequence_number=sequence_number,
        partition_key=_require(doc, "partition_key", str, where),
        data=data,
        arrival=float(arrival),
        behaviour=behaviour,
        times=times,
        form=form,
    )
