"""The scenario model: plain, frozen, JSON-serialisable data describing one test case.

A scenario says what is in the stream, how the mapping is configured, how the function behaves
per record, and how the clock moves. Function behaviour is keyed by *record*, not by invocation,
so it keeps its meaning whatever batches the poller under test forms.

The JSON form carries ``"format"``: 1 for scenarios of the first model, 2 for scenarios that set
any of the optional :class:`WorldConditions` (the ``"world"`` object). A scenario is written in
the lowest format that can hold it, so files without world conditions still read in older kits;
loading a format this kit does not know is an error that says which formats are understood.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any

__all__ = [
    "FORMAT_VERSION",
    "INVALID_FORMS",
    "READABLE_FORMATS",
    "SUCCESS_FORMS",
    "Behaviour",
    "ClockPlan",
    "ReadThrottles",
    "RecordSpec",
    "Scenario",
    "ScenarioFormatError",
    "ShardSpec",
    "Source",
    "WorldConditions",
]

FORMAT_VERSION = 2
"""The newest scenario format this kit reads and writes."""

READABLE_FORMATS = (1, 2)
_WORLD_FORMAT = 2  # the first format with the "world" object
_MAX_UTC_OFFSET_MINUTES = 24 * 60 - 1  # datetime.timezone accepts offsets strictly inside a day

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
    # A function that reports the record's Kinesis eventID instead of its sequence number: a
    # string, but no sequence number of any batch (it is not a decimal string). Its entry is
    # longer than 80 characters, as a poller's error text must be ready for.
    "event_id_identifier": {
        "batchItemFailures": [
            {
                "itemIdentifier": "shardId-000000000000:"
                "49590338271490256608559692538361571095921575989136588898"
            }
        ]
    },
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
class ReadThrottles:
    """GetRecords calls ``first_call`` .. ``first_call + count - 1`` (numbered from 1 over every
    shard of the world, in call order) fail with the stream's throughput error before reading
    anything: Kinesis ``ProvisionedThroughputExceededException``, DynamoDB Streams
    ``LimitExceededException``."""

    first_call: int
    count: int

    def covers(self, call_number: int) -> bool:
        return self.first_call <= call_number < self.first_call + self.count


@dataclass(frozen=True)
class WorldConditions:
    """How the world misbehaves or varies the way AWS does, so pollers' error paths run. Every
    field is optional; the defaults are a world that never fails (format 1 scenarios).

    * ``get_records_throttles``: GetRecords calls that are throttled (RETRY-6, LOSS-1, ORD-*).
    * ``iterator_lifetime``: seconds of virtual time a shard iterator lives (AWS: 300 for
      Kinesis, 900 for DynamoDB Streams); an older one makes GetRecords raise
      ``ExpiredIteratorException``. ``None``: iterators never expire.
    * ``destination_failures``: the first this many SendMessage / Publish / PutObject calls to
      the on-failure destination fail with a throttling error (RETRY-10, LOSS-1, DLQ-2).
    * ``wide_items``: DynamoDB item images carry every attribute type (N, BOOL, NULL, SS, NS, BS,
      L, M, with binaries nested in L and M), not only S and B (EVT-D-2, S3-1).
    * ``arrival_utc_offset_minutes``: arrival times come back as aware datetimes in this fixed
      offset from UTC (the same instant), as botocore returns them in ``tzlocal()`` (EVT-K-3,
      DLQ-7, START-4). 0: UTC.
    """

    get_records_throttles: ReadThrottles | None = None
    iterator_lifetime: float | None = None
    destination_failures: int = 0
    wide_items: bool = False
    arrival_utc_offset_minutes: int = 0

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ScenarioFormatError(f"world conditions: {problems[0]}")

    def problems(self) -> list[str]:
        """What is wrong with these values, each naming the field and the allowed values."""
        out: list[str] = []
        throttles = self.get_records_throttles
        if throttles is not None and not (_is_int(throttles.first_call) and throttles.first_call >= 1):
            out.append(
                f"'get_records_throttles.first_call' must be an integer >= 1 (GetRecords calls are "
                f"numbered from 1), found {throttles.first_call!r}"
            )
        if throttles is not None and not (_is_int(throttles.count) and throttles.count >= 1):
            out.append(f"'get_records_throttles.count' must be an integer >= 1, found {throttles.count!r}")
        lifetime = self.iterator_lifetime
        if lifetime is not None and not (
            isinstance(lifetime, (int, float))
            and not isinstance(lifetime, bool)
            and math.isfinite(lifetime)
            and lifetime > 0
        ):
            out.append(
                f"'iterator_lifetime' must be a positive number of seconds (AWS: 300), or absent for "
                f"iterators that never expire, found {lifetime!r}"
            )
        if not (_is_int(self.destination_failures) and self.destination_failures >= 0):
            out.append(
                f"'destination_failures' must be a non-negative integer, found {self.destination_failures!r}"
            )
        wide: Any = self.wide_items  # JSON may hold anything here
        if not isinstance(wide, bool):
            out.append(f"'wide_items' must be true or false, found {self.wide_items!r}")
        offset = self.arrival_utc_offset_minutes
        if not (_is_int(offset) and abs(offset) <= _MAX_UTC_OFFSET_MINUTES):
            out.append(
                f"'arrival_utc_offset_minutes' must be an integer from {-_MAX_UTC_OFFSET_MINUTES} to "
                f"{_MAX_UTC_OFFSET_MINUTES} (330 is UTC+05:30), found {offset!r}"
            )
        return out

    @property
    def is_default(self) -> bool:
        return self == _NO_CONDITIONS

    @property
    def arrival_zone(self) -> timezone:
        """The tzinfo arrival datetimes carry."""
        if not self.arrival_utc_offset_minutes:
            return timezone.utc
        return timezone(timedelta(minutes=self.arrival_utc_offset_minutes))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.get_records_throttles is not None:
            out["get_records_throttles"] = {
                "first_call": self.get_records_throttles.first_call,
                "count": self.get_records_throttles.count,
            }
        if self.iterator_lifetime is not None:
            out["iterator_lifetime"] = self.iterator_lifetime
        if self.destination_failures:
            out["destination_failures"] = self.destination_failures
        if self.wide_items:
            out["wide_items"] = True
        if self.arrival_utc_offset_minutes:
            out["arrival_utc_offset_minutes"] = self.arrival_utc_offset_minutes
        return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_NO_CONDITIONS = WorldConditions()


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
    world: WorldConditions = _NO_CONDITIONS
    """Optional misbehaviour of the world (format 2); the default never fails."""

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
        conditions = self.world.to_json()
        return {
            # The lowest format that holds the scenario: older kits still read format 1 files.
            "format": _WORLD_FORMAT if conditions else 1,
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
            **({"world": conditions} if conditions else {}),
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
    if version not in READABLE_FORMATS:
        raise ScenarioFormatError(
            f"scenario format {version} is not understood by this version of stream-conformance, "
            f"which reads format {FORMAT_VERSION} (and older: {', '.join(map(str, READABLE_FORMATS))}); "
            "re-create the scenario or upgrade the kit"
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
        world=_parse_world(doc.get("world"), version),
    )


_WORLD_KEYS = (
    "get_records_throttles",
    "iterator_lifetime",
    "destination_failures",
    "wide_items",
    "arrival_utc_offset_minutes",
)


def _parse_world(doc: Any, version: int) -> WorldConditions:
    where = "scenario.world"
    if doc is None:
        return _NO_CONDITIONS
    if version < _WORLD_FORMAT:
        raise ScenarioFormatError(
            f"{where}: world conditions need scenario format {_WORLD_FORMAT}, but the file says format "
            f'{version}; set "format": {_WORLD_FORMAT}'
        )
    if not isinstance(doc, Mapping):
        raise ScenarioFormatError(f"{where} must be a JSON object, found {doc!r}")
    unknown = sorted(set(doc) - set(_WORLD_KEYS))
    if unknown:
        raise ScenarioFormatError(
            f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; the known fields are "
            f"{', '.join(_WORLD_KEYS)}"
        )
    throttles_doc = doc.get("get_records_throttles")
    throttles = None
    if throttles_doc is not None:
        inner = f"{where}.get_records_throttles"
        if not isinstance(throttles_doc, Mapping):
            raise ScenarioFormatError(
                f'{inner} must be an object like {{"first_call": 3, "count": 2}}, found {throttles_doc!r}'
            )
        throttles = ReadThrottles(
            first_call=_require(throttles_doc, "first_call", int, inner),
            count=_require(throttles_doc, "count", int, inner),
        )
    lifetime = doc.get("iterator_lifetime")
    conditions = {
        "get_records_throttles": throttles,
        "iterator_lifetime": float(lifetime)
        if isinstance(lifetime, int) and not isinstance(lifetime, bool)
        else lifetime,
        "destination_failures": doc.get("destination_failures", 0),
        "wide_items": doc.get("wide_items", False),
        "arrival_utc_offset_minutes": doc.get("arrival_utc_offset_minutes", 0),
    }
    try:
        return WorldConditions(**conditions)
    except ScenarioFormatError as error:
        raise ScenarioFormatError(f"{where}: {str(error).removeprefix('world conditions: ')}") from None


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
