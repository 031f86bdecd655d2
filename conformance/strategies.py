"""Public Hypothesis strategies for scenarios and their parts.

``scenarios(**focus)`` draws complete, JSON-serialisable :class:`~conformance.scenario.Scenario`
values; the other public functions are its building blocks, usable on their own.

Three promises hold for every scenario drawn:

* **Valid**: every mapping parameter is inside the range CreateEventSourceMapping accepts
  (BATCH-1, BATCH-3, RETRY-1, RETRY-2, PBF-1, START-1), sequence numbers increase as integers in
  shard order and are unique across shards, arrivals never decrease in shard order.
* **Terminating**: a record that fails forever (POISON; REPORTED or INVALID with
  ReportBatchItemFailures on) only appears when the retry policy ends it: a small
  ``MaximumRetryAttempts`` (0..5) or a short ``MaximumRecordAgeInSeconds`` (60..600). Transient
  failures and throttles last at most three deliveries. The poll gaps are stretched when the
  scenario needs a long virtual time (age limits, batching windows), so a run needs a bounded
  number of polls (about ``_POLL_TARGET``).
* **Shrinkable**: draws are ordered and shaped so Hypothesis shrinks toward one shard, fewer
  records, OK behaviour, omitted (default) parameters and small numbers.

Focus flags narrow the search for one rule: ``None`` means "either", a value forces it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import random
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from functools import cache, lru_cache
from typing import Any, NamedTuple, TypeVar

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from conformance.scenario import (
    INVALID_FORMS,
    SUCCESS_FORMS,
    Behaviour,
    ClockPlan,
    ReadThrottles,
    RecordSpec,
    Scenario,
    ShardSpec,
    Source,
    WorldConditions,
)
from conformance.world import names

__all__ = [
    "DESTINATION_CHOICES",
    "PAYLOAD_CAP_BYTES",
    "STARTING_POSITIONS",
    "RecordBehaviour",
    "behaviours",
    "clock_plans",
    "invalid_forms",
    "mapping_parameters",
    "partition_keys",
    "payloads",
    "poll_gaps",
    "records",
    "scenarios",
    "sequence_numbers",
    "shard_ids",
    "start_instants",
    "success_forms",
    "with_world_conditions",
    "world_conditions",
]

T = TypeVar("T")

# ---- public constants ---------------------------------------------------------------------

PAYLOAD_CAP_BYTES = 6_291_456
"""BATCH-6: the synchronous-invocation payload limit (6 MiB), as SEMANTICS.md counts it."""

STARTING_POSITIONS: tuple[str, ...] = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
DESTINATION_CHOICES: tuple[str, ...] = ("sqs", "sns", "s3", "none")

# ---- private limits -------------------------------------------------------------------------

_KINESIS_RECORD_LIMIT = 1_048_576
"""Kinesis: data blob plus partition key of one record."""
_MAX_PARTITION_KEY = 256
_DYNAMODB_LARGE_DATA = (300_000, 350_000)
"""DynamoDB items are capped at 400 KB including attribute names; stay well below."""
_KINESIS_LARGE_DATA = (786_432, _KINESIS_RECORD_LIMIT - _MAX_PARTITION_KEY)
_LARGE_RUN_MIN_BATCH = 16
"""With large_records on, BatchSize is at least this, so the 6 MiB cap (not BatchSize) cuts the
batch: the longest run of large records needed to pass the cap is 16 DynamoDB items."""

_DYNAMODB_RETENTION = 86_400
_OLD_MARGIN_MS = 600_000
"""Records older than the age limit are older by 1 ms .. 10 minutes."""
_PRESENT_WINDOW_S = 600
"""Records already in the stream at the start arrived at most this long ago (unless 'old')."""
_LATER_WINDOW_MS = 60_000
"""Records arriving during the run arrive within the first minute."""

_PERMANENT_RETRY_MAX = 5
_PERMANENT_AGE_MAX = 600
_POLL_TARGET = 800
"""Poll gaps are stretched so the estimated virtual runtime needs about this many polls at most
(the harness budget allows 2000)."""
_QUIET_ALLOWANCE_S = 30.0

_SEQUENCE_LENGTHS = {Source.KINESIS: (55, 57), Source.DYNAMODB: (21, 28)}
"""Shortest and longest sequence-number length. Within a shard the numbers use two adjacent
lengths, so comparing them as strings gives the wrong order (ORD-2)."""
_MAX_SHARDS = 999
"""Sequence numbers embed the shard index in three digits, which keeps them unique across shards."""


# ---- small helpers --------------------------------------------------------------------------


def _weighted(*branches: tuple[int, SearchStrategy[T]]) -> SearchStrategy[T]:
    """Pick a branch with the given relative weights. Shrinks toward the first branch."""
    indices = [i for i, (weight, _) in enumerate(branches) for _ in range(weight)]
    return st.sampled_from(indices).flatmap(lambda i: branches[i][1])


def _pick(*branches: tuple[int, T]) -> SearchStrategy[T]:
    """A constant, with relative weights; one choice, shrinking toward the first. Mutable
    constants are copied so no two scenarios share them."""
    table = [value for weight, value in branches for _ in range(weight)]
    if any(isinstance(value, (dict, list)) for value in table):
        return st.integers(0, len(table) - 1).map(lambda i: copy.deepcopy(table[i]))
    return st.integers(0, len(table) - 1).map(table.__getitem__)


@dataclass(frozen=True)
class _Span:
    """An inclusive integer range, as a branch of ``_pick_int``."""

    low: int
    high: int


_PICK_OFFSET = st.integers(0, 2**20 - 1)


def _pick_int(*branches: tuple[int, int | _Span | None]) -> SearchStrategy[int | None]:
    """A weighted choice among constants and ranges. Every branch consumes the same two choices
    (branch, offset), so when the shrinker moves to an earlier branch the draws after it stay
    aligned; nested strategies of different shapes would shift them."""
    table = [value for weight, value in branches for _ in range(weight)]

    def resolve(choice: tuple[int, int]) -> int | None:
        branch = table[choice[0]]
        if isinstance(branch, _Span):
            return branch.low + choice[1] % (branch.high - branch.low + 1)
        return branch

    return st.tuples(st.integers(0, len(table) - 1), _PICK_OFFSET).map(resolve)


def _required(value: int | None) -> int:
    if value is None:
        raise AssertionError("a branch without None gave None")
    return value


def _as_source(source: Source | str) -> Source:
    if isinstance(source, Source):
        return source
    try:
        return Source(source)
    except ValueError:
        raise ValueError(f"source must be 'kinesis' or 'dynamodb', found {source!r}") from None


# ---- behaviours ---------------------------------------------------------------------------


class RecordBehaviour(NamedTuple):
    """What the scripted function does with one record (the RecordSpec fields of that name)."""

    behaviour: Behaviour
    times: int = 0
    form: str | None = None


def invalid_forms() -> SearchStrategy[str]:
    """Names of PBF-5 responses (keys of ``INVALID_FORMS``)."""
    return st.sampled_from(list(INVALID_FORMS))


def success_forms() -> SearchStrategy[str]:
    """Names of PBF-4 responses (keys of ``SUCCESS_FORMS``); shrinks toward the scenario default."""
    default = "empty_failures"
    return st.sampled_from([default, *(name for name in SUCCESS_FORMS if name != default)])


def _variants(kind: Behaviour) -> list[tuple[int, RecordBehaviour]]:
    """Every RecordBehaviour of one kind with its share of ``_VARIANT_WEIGHT``: TRANSIENT/THROTTLE
    last 1..3 times (so they always end), INVALID returns one of the PBF-5 forms."""
    if kind in (Behaviour.TRANSIENT, Behaviour.THROTTLE):
        return [(_VARIANT_WEIGHT // 3, RecordBehaviour(kind, times)) for times in (1, 2, 3)]
    if kind is Behaviour.INVALID:
        return [(_INVALID_FORM_SHARES[form], RecordBehaviour(kind, 0, form)) for form in INVALID_FORMS]
    return [(_VARIANT_WEIGHT, RecordBehaviour(kind))]


_VARIANT_WEIGHT = 15
"""The weight of one kind, shared among its variants (1, 3 or 6 of them)."""

_INVALID_FORM_SHARES = {
    "empty_identifier": 3,
    "null_identifier": 3,
    "missing_key": 3,
    "missing_key_null": 3,
    # Both report an identifier that is no sequence number of the batch (PBF-5), so they share
    # one form's weight: the table keeps its size and every other draw its meaning.
    "unknown_identifier": 1,
    "event_id_identifier": 2,
}
assert sum(_INVALID_FORM_SHARES.values()) == _VARIANT_WEIGHT and set(_INVALID_FORM_SHARES) == set(
    INVALID_FORMS
)


def _behaviour_choice(kinds: Sequence[tuple[int, Behaviour]]) -> SearchStrategy[RecordBehaviour]:
    """One choice per record (Hypothesis deletes list elements of at most five choices, so
    records must stay small); OK first, so records shrink to OK."""
    table: list[tuple[int, RecordBehaviour]] = []
    for weight, kind in kinds:
        table += [(weight * share, v) for share, v in _variants(kind)]
    return _pick(*table)


def _failing_kinds(*, report_batch_item_failures: bool, permanent: bool) -> list[Behaviour]:
    """Behaviours that make an invocation fail (PBF-3/5, RETRY-3). REPORTED and INVALID only fail
    with ReportBatchItemFailures on; with it off the return value is ignored (PBF-1)."""
    kinds = [Behaviour.TRANSIENT]
    if permanent:
        kinds.insert(0, Behaviour.POISON)
        if report_batch_item_failures:
            kinds += [Behaviour.REPORTED, Behaviour.INVALID]
    return kinds


def _behaviour_kinds(
    *, report_batch_item_failures: bool, permanent: bool, failures: bool, throttles: bool
) -> list[tuple[int, Behaviour]]:
    kinds: list[tuple[int, Behaviour]] = [(8, Behaviour.OK)]
    if failures:
        kinds += [
            (1, k)
            for k in _failing_kinds(
                report_batch_item_failures=report_batch_item_failures, permanent=permanent
            )
        ]
        if not report_batch_item_failures:
            # Harmless without ReportBatchItemFailures: checks that the return value is ignored.
            kinds += [(1, Behaviour.REPORTED), (1, Behaviour.INVALID)]
    if throttles:
        kinds.append((1, Behaviour.THROTTLE))
    return kinds


def behaviours(
    *,
    report_batch_item_failures: bool = True,
    permanent: bool = True,
    failures: bool = True,
    throttles: bool = True,
) -> SearchStrategy[RecordBehaviour]:
    """Per-record function behaviour, mostly OK.

    ``permanent=False`` leaves out behaviours that fail forever (POISON, and REPORTED/INVALID
    when ``report_batch_item_failures``); ``failures=False`` leaves out every function failure;
    ``throttles=False`` leaves out THROTTLE.
    """
    return _behaviours(report_batch_item_failures, permanent, failures, throttles)


@cache
def _behaviours(
    report_batch_item_failures: bool, permanent: bool, failures: bool, throttles: bool
) -> SearchStrategy[RecordBehaviour]:
    # Cached: building strategies afresh for every draw costs more than drawing from them.
    kinds = _behaviour_kinds(
        report_batch_item_failures=report_batch_item_failures,
        permanent=permanent,
        failures=failures,
        throttles=throttles,
    )
    return _behaviour_choice(kinds)


def _is_failing(behaviour: Behaviour, report_batch_item_failures: bool) -> bool:
    if behaviour in (Behaviour.POISON, Behaviour.TRANSIENT):
        return True
    return report_batch_item_failures and behaviour in (Behaviour.REPORTED, Behaviour.INVALID)


def _is_permanent(behaviour: Behaviour, report_batch_item_failures: bool) -> bool:
    if behaviour is Behaviour.POISON:
        return True
    return report_batch_item_failures and behaviour in (Behaviour.REPORTED, Behaviour.INVALID)


# ---- record contents ---------------------------------------------------------------------

_KEY_ALPHABET = string.ascii_letters + string.digits + "-_.:"
_TEXT = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"))


def partition_keys() -> SearchStrategy[str]:
    """Partition keys: 1..256 characters, mostly ``pk-<n>``, sometimes free ASCII or Unicode."""
    return _partition_keys()


@cache
def _partition_keys() -> SearchStrategy[str]:
    return _weighted(
        (3, st.integers(0, 99).map(lambda i: f"pk-{i}")),
        (1, st.text(alphabet=_KEY_ALPHABET, min_size=1, max_size=64)),
        (1, st.text(alphabet=_TEXT, min_size=1, max_size=16)),
    )


_JSON_SCALARS = st.one_of(
    st.integers(-1_000_000, 1_000_000),
    st.text(alphabet=_TEXT, max_size=12),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
)


@cache
def _json_payload() -> SearchStrategy[bytes]:
    return st.dictionaries(
        st.text(alphabet=string.ascii_letters, min_size=1, max_size=8), _JSON_SCALARS, max_size=4
    ).map(lambda d: json.dumps(d).encode("utf-8"))


@cache
def _large_payload(source: Source) -> SearchStrategy[bytes]:
    """One large record: a short drawn pattern repeated, so no megabyte is ever drawn."""
    low, high = _KINESIS_LARGE_DATA if source is Source.KINESIS else _DYNAMODB_LARGE_DATA
    return st.tuples(st.binary(min_size=1, max_size=8), st.integers(low, high)).map(
        lambda t: (t[0] * (t[1] // len(t[0]) + 1))[: t[1]]
    )


def payloads(source: Source | str = Source.KINESIS, *, large: bool = False) -> SearchStrategy[bytes]:
    """Record data: JSON objects (most), text that is not JSON, arbitrary binary; never empty.

    ``large=True`` draws one large payload instead (Kinesis up to its 1 MiB record limit, DynamoDB
    up to ~350 KB, below the 400 KB item limit).
    """
    src = _as_source(source)
    if large:
        return _large_payload(src)
    return _small_payloads()


@cache
def _small_payloads() -> SearchStrategy[bytes]:
    return _weighted(
        (3, _json_payload()),
        # "log " never starts a JSON document, so this is text that is not JSON.
        (1, st.text(alphabet=_TEXT, min_size=1, max_size=40).map(lambda t: ("log " + t).encode("utf-8"))),
        (1, st.binary(min_size=1, max_size=64)),
    )


# Inside scenarios, each record's partition key, data and sequence step come from one drawn seed.
# Hypothesis shrinks list elements made of few choices far better (it deletes whole records),
# and the content of a record rarely matters to a poller; seed 0 gives "pk-0" and b"{}".
_SEEDS = st.integers(0, 2**32 - 1)
_UNICODE_SAMPLES = "aZ09-_.:é中文ß👍Ωж\u0301\u00a0"
_JSON_KEY_ALPHABET = string.ascii_letters


def _seeded_text(rng: random.Random, alphabet: str, low: int, high: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


def _seeded_scalar(rng: random.Random) -> Any:
    pick = rng.randrange(5)
    if pick == 0:
        return rng.randint(-1_000_000, 1_000_000)
    if pick == 1:
        return _seeded_text(rng, _UNICODE_SAMPLES, 0, 12)
    if pick == 2:
        return rng.random() < 0.5
    if pick == 3:
        return None
    return round(rng.uniform(-1e6, 1e6), 3)


def _seeded_content(seed: int) -> tuple[str, bytes, int]:
    """Partition key, data and sequence step of one record, from its seed."""
    if seed == 0:
        return "pk-0", b"{}", 1
    rng = random.Random(seed)
    delta = rng.randint(1, _DELTA_MAX)
    k = rng.random()
    if k < 0.6:
        key = f"pk-{rng.randrange(100)}"
    elif k < 0.8:
        key = _seeded_text(rng, _KEY_ALPHABET, 1, 64)
    elif k < 0.97:
        key = _seeded_text(rng, _UNICODE_SAMPLES, 1, 16)
    else:
        key = _seeded_text(rng, _KEY_ALPHABET, _MAX_PARTITION_KEY, _MAX_PARTITION_KEY)
    d = rng.random()
    if d < 0.6:
        doc = {
            _seeded_text(rng, _JSON_KEY_ALPHABET, 1, 8): _seeded_scalar(rng) for _ in range(rng.randint(0, 4))
        }
        data = json.dumps(doc).encode("utf-8")
    elif d < 0.8:
        data = ("log " + _seeded_text(rng, _UNICODE_SAMPLES, 1, 40)).encode("utf-8")
    else:
        data = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64)))
    return key, data, delta


# ---- sequence numbers and shard ids --------------------------------------------------------


_DELTA_MAX = 2**16
"""Steps between consecutive sequence numbers, before scaling to the number's width. Kept small:
big integers cost the shrinker many steps that are better spent deleting records."""


@dataclass(frozen=True)
class _SequencePlan:
    """Everything about one shard's sequence numbers except the per-record steps, which each
    record brings itself: deleting a record while shrinking then leaves the others unchanged.
    All of it comes from one seed (a single choice, cheap to shrink); seed 0 gives the shortest
    length and one short number followed by long ones."""

    short_len: int
    split: int
    seed: int

    @classmethod
    def from_seed(cls, source: Source, seed: int) -> _SequencePlan:
        shortest, longest = _SEQUENCE_LENGTHS[source]
        return cls(short_len=shortest + seed % (longest - shortest), split=seed // 8 % 1000, seed=seed)

    def short_count(self, count: int) -> int:
        """How many of ``count`` numbers use the short length; the rest use short_len + 1. With
        two or more records both lengths always occur (ORD-2: compare as integers, not as
        strings)."""
        return 1 + self.split % (count - 1) if count >= 2 else self.split % 2

    def numbers(self, source: Source, shard_index: int, deltas: Sequence[int]) -> tuple[str, ...]:
        count = len(deltas)
        n_short = self.short_count(count)
        tag = f"{shard_index:03d}"
        # Short numbers look like real Kinesis ones ("4959…"); long ones start with "10", so a
        # string comparison puts every long number before every short one although it is larger.
        short_prefix, long_prefix = "4959" + tag, "10" + tag
        width_short = self.short_len - len(short_prefix)
        width_long = self.short_len + 1 - len(long_prefix)
        scale = 10 ** (width_short - 9)  # steps of up to ~6e13 (DynamoDB), ~6e47 (Kinesis)
        digits = random.Random(self.seed)
        # The bases leave room for count * max step below the next power of ten.
        base_short = digits.randrange(10**width_short // 2)
        base_long = digits.randrange(10**width_long // 2)
        out: list[str] = []
        counter = base_short
        for i, delta in enumerate(deltas):
            if i == n_short:
                counter = base_long
            counter += delta * scale
            prefix, width = (short_prefix, width_short) if i < n_short else (long_prefix, width_long)
            out.append(prefix + str(counter).zfill(width))
        return tuple(out)


@cache
def _sequence_plans(source: Source) -> SearchStrategy[_SequencePlan]:
    return _SEEDS.map(lambda seed: _SequencePlan.from_seed(source, seed))


_DELTAS = st.integers(1, _DELTA_MAX)


def sequence_numbers(
    source: Source | str = Source.KINESIS,
    count: int | None = None,
    *,
    shard_index: int = 0,
    max_count: int = 12,
) -> SearchStrategy[tuple[str, ...]]:
    """Sequence numbers of one shard, in shard order.

    Kinesis numbers have 55..57 digits, DynamoDB ones 21..28. They strictly increase as integers,
    and with two or more records they use two different lengths, so a comparison as strings
    gets the order wrong (ORD-2). ``shard_index`` (0..999) is embedded, so numbers of different
    shards never collide. ``count=None`` draws the count from ``0..max_count``.
    """
    src = _as_source(source)
    if not 0 <= shard_index <= _MAX_SHARDS:
        raise ValueError(f"shard_index must be 0..{_MAX_SHARDS}, found {shard_index}")
    if count is not None and count < 0:
        raise ValueError(f"count must be >= 0, found {count}")
    deltas = (
        st.lists(_DELTAS, max_size=max_count)
        if count is None
        else st.lists(_DELTAS, min_size=count, max_size=count)
    )
    return st.tuples(_sequence_plans(src), deltas).map(lambda t: t[0].numbers(src, shard_index, t[1]))


def _kinesis_shard_id(index: int) -> str:
    return f"shardId-{index:012d}"


def shard_ids(source: Source | str, count: int) -> SearchStrategy[tuple[str, ...]]:
    """Shard ids in the service's format: Kinesis ``shardId-000000000000``, ``…001`` …; DynamoDB
    ``shardId-<20 digits>-<8 hex>`` (creation time in ms, then a random suffix)."""
    src = _as_source(source)
    if not 1 <= count <= _MAX_SHARDS:
        raise ValueError(f"count must be 1..{_MAX_SHARDS}, found {count}")
    if src is Source.KINESIS:
        return st.just(tuple(_kinesis_shard_id(i) for i in range(count)))
    suffixes = st.lists(_SHARD_SUFFIXES, min_size=count, max_size=count)
    return st.tuples(_SHARD_CREATED, suffixes).map(
        lambda t: tuple(_dynamodb_shard_id(t[0], i, suffix) for i, suffix in enumerate(t[1]))
    )


_SHARD_CREATED = st.integers(1_500_000_000_000, 1_950_000_000_000)
_SHARD_SUFFIXES = st.integers(0, 2**32 - 1)


def _dynamodb_shard_id(created_ms: int, index: int, suffix: int) -> str:
    return f"shardId-{created_ms + index:020d}-{suffix:08x}"


def _shard_id(source: Source, created_ms: int, index: int, suffix: int) -> str:
    if source is Source.KINESIS:
        return _kinesis_shard_id(index)
    return _dynamodb_shard_id(created_ms, index, suffix)


# ---- clocks -------------------------------------------------------------------------------

_ORDINARY_BASE = datetime(2024, 6, 12, 10, 0, tzinfo=timezone.utc)
_FIVE_YEARS_S = 5 * 365 * 86_400
_EDGE_MARGIN_S = 120
"""Ordinary starts stay at least this far from the next midnight."""
_LEAP_YEARS = (2016, 2020, 2024, 2028, 2032)


def _midnight(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=timezone.utc)


class _StartParts(NamedTuple):
    """The choices behind a start instant. Ordinary and edge starts draw the same parts, so the
    shrinker can move from an edge start to an ordinary one without shifting later draws."""

    seconds: int
    kind: int
    year: int
    day: int
    before: int
    millis: int


_EDGE_KINDS = ("midnight", "month_end", "year_end", "leap_day")
_START_PARTS = st.builds(
    _StartParts,
    seconds=st.integers(-_FIVE_YEARS_S, _FIVE_YEARS_S),
    kind=st.integers(0, len(_EDGE_KINDS) - 1),
    year=st.integers(0, 12),
    day=st.integers(0, 363),
    before=st.integers(1, 59),
    millis=st.integers(1, 999),  # always a millisecond fraction
)


def _ordinary_start(parts: _StartParts) -> datetime:
    start = _ORDINARY_BASE + timedelta(seconds=parts.seconds, milliseconds=parts.millis)
    to_midnight = 86_400 - (start.hour * 3600 + start.minute * 60 + start.second)
    if to_midnight <= _EDGE_MARGIN_S:
        start -= timedelta(hours=1)  # ordinary means away from a day boundary
    return start


def _edge_start(parts: _StartParts) -> datetime:
    kind = _EDGE_KINDS[parts.kind]
    year = 2019 + parts.year
    if kind == "leap_day":
        leap = _LEAP_YEARS[parts.year % len(_LEAP_YEARS)]
        # Either the evening of 28 February (into the 29th) or the last minute of the 29th.
        boundary = _midnight(leap, 3, 1) if parts.day % 2 == 0 else _midnight(leap, 2, 29)
    elif kind == "year_end":
        boundary = _midnight(year + 1, 1, 1)
    elif kind == "month_end":
        month = 1 + parts.day % 12
        boundary = _midnight(year + 1, 1, 1) if month == 12 else _midnight(year, month + 1, 1)
    else:
        boundary = _midnight(year, 1, 1) + timedelta(days=1 + parts.day)
    return boundary - timedelta(seconds=parts.before, milliseconds=parts.millis)


def _start_from(edge: bool, parts: _StartParts) -> datetime:
    return _edge_start(parts) if edge else _ordinary_start(parts)


@cache
def _start_instants(clock_edges: bool | None) -> SearchStrategy[datetime]:
    edge = _pick((1, clock_edges)) if clock_edges is not None else _pick((3, False), (1, True))
    return st.tuples(edge, _START_PARTS).map(lambda t: _start_from(*t))


def start_instants(clock_edges: bool | None = None) -> SearchStrategy[datetime]:
    """Scenario start instants (UTC), always with a non-zero millisecond fraction.

    ``clock_edges=True``: 1..60 s before a midnight, a month end, a year end, or the day boundary
    into or out of 29 February. ``False``: an ordinary instant, more than two minutes away from
    the next midnight. ``None``: either, mostly ordinary.
    """
    return _start_instants(clock_edges)


def poll_gaps(min_gap: float = 0.2, max_gap: float = 5.0) -> SearchStrategy[tuple[float, ...]]:
    """One to four gaps (seconds, millisecond precision) between polls, cycled by the harness.
    Shrinks toward a single gap of 1 s (clamped into the range)."""
    if not 0 < min_gap <= max_gap:
        raise ValueError(f"poll gaps need 0 < min_gap <= max_gap, found min_gap={min_gap}, max_gap={max_gap}")
    low = math.ceil(min_gap * 1000)
    return _poll_gaps(low, max(low, math.floor(max_gap * 1000)))


@lru_cache(maxsize=256)
def _poll_gaps(low: int, high: int) -> SearchStrategy[tuple[float, ...]]:
    usual = min(max(1000, low), high)
    gap = _pick_int((2, usual), (3, _Span(low, high))).map(_required)
    return st.lists(gap, min_size=1, max_size=4).map(lambda ms: tuple(m / 1000 for m in ms))


def clock_plans(
    *, clock_edges: bool | None = None, min_gap: float = 0.2, max_gap: float = 5.0
) -> SearchStrategy[ClockPlan]:
    """Clock plans: a start instant (see ``start_instants``) and cycled poll gaps."""
    return st.builds(ClockPlan, start=start_instants(clock_edges), poll_gaps=poll_gaps(min_gap, max_gap))


# ---- mapping parameters -------------------------------------------------------------------


@dataclass(frozen=True)
class _MappingDraft:
    """Mapping parameters before AT_TIMESTAMP's timestamp is known. ``None`` means omitted."""

    starting_position: str
    batch_size: int | None
    window: int | None
    response_types: list[str] | None
    bisect: bool | None
    retries: int | None
    age: int | None
    destination: dict[str, Any] | None

    @property
    def rbif(self) -> bool:
        return self.response_types == ["ReportBatchItemFailures"]

    @property
    def effective_retries(self) -> int:
        return -1 if self.retries is None else self.retries

    @property
    def age_limit(self) -> int | None:
        """MaximumRecordAgeInSeconds when it limits anything (not omitted, not -1)."""
        return None if self.age is None or self.age == -1 else self.age

    @property
    def permanent_failures_allowed(self) -> bool:
        """A record that fails forever still ends: the retry quota is small, or the age limit is
        short (RETRY-3, RETRY-5, RETRY-9)."""
        age = self.age_limit
        return 0 <= self.effective_retries <= _PERMANENT_RETRY_MAX or (
            age is not None and age <= _PERMANENT_AGE_MAX
        )

    def parameters(self, timestamp: float | None) -> dict[str, Any]:
        out: dict[str, Any] = {"StartingPosition": self.starting_position}
        if self.starting_position == "AT_TIMESTAMP":
            if timestamp is None:
                raise ValueError("AT_TIMESTAMP needs StartingPositionTimestamp")
            out["StartingPositionTimestamp"] = timestamp
        optional = {
            "BatchSize": self.batch_size,
            "MaximumBatchingWindowInSeconds": self.window,
            "MaximumRetryAttempts": self.retries,
            "MaximumRecordAgeInSeconds": self.age,
            "BisectBatchOnFunctionError": self.bisect,
            "FunctionResponseTypes": self.response_types,
            "DestinationConfig": self.destination,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        return out


@dataclass(frozen=True)
class _Focus:
    source: Source | None = None
    destination: str | None = None
    report_batch_item_failures: bool | None = None
    bisect: bool | None = None
    failures: bool | None = None
    record_age: bool | None = None
    batching_window: bool | None = None
    starting_position: str | None = None
    throttles: bool | None = None
    large_records: bool | None = None
    clock_edges: bool | None = None
    reported_pair: bool | None = None
    max_shards: int = 4
    max_records: int = 12


# Each parameter is one or two choices of a fixed shape (see _pick/_pick_int), listed with the
# omitted (default) value first so that shrinking ends on the defaults.


@cache
def _starting_position(source: Source, focus: str | None) -> SearchStrategy[str]:
    if focus is not None:
        return st.just(focus)
    if source is Source.KINESIS:
        return _pick((4, "TRIM_HORIZON"), (1, "LATEST"), (1, "AT_TIMESTAMP"))
    return _pick((4, "TRIM_HORIZON"), (1, "LATEST"))  # START-1: no AT_TIMESTAMP for DynamoDB


@cache
def _batch_size(large_records: bool | None) -> SearchStrategy[int | None]:
    if large_records:
        # The 6 MiB cap must be what cuts the batch (BATCH-6), so BatchSize stays above the run.
        return _pick_int((1, None), (2, _Span(_LARGE_RUN_MIN_BATCH, 100)), (1, _Span(101, 10_000)))
    return _pick_int((1, None), (5, _Span(1, 10)), (2, _Span(11, 100)), (1, _Span(101, 10_000)))


@cache
def _window(batching_window: bool | None) -> SearchStrategy[int | None]:
    if batching_window is True:
        return _pick_int((3, _Span(1, 5)), (1, _Span(6, 300)))
    if batching_window is False:
        return _pick_int((3, None), (1, 0))
    return _pick_int((5, None), (2, 0), (3, _Span(1, 5)), (1, _Span(6, 300)))


@cache
def _flag(focus: bool | None) -> SearchStrategy[bool | None]:
    if focus is True:
        return st.just(True)
    if focus is False:
        return _pick((1, None), (1, False))
    return _pick((2, None), (1, False), (2, True))


_RBIF_ON = ["ReportBatchItemFailures"]


@cache
def _response_types(focus: bool | None) -> SearchStrategy[list[str] | None]:
    if focus is True:
        return _pick((1, _RBIF_ON))
    if focus is False:
        return _pick((1, None), (1, []))
    return _pick((2, None), (1, []), (2, _RBIF_ON))


@cache
def _retries(finite_small: bool, bisecting: bool = False) -> SearchStrategy[int | None]:
    if finite_small:
        return _pick_int((4, _Span(0, 3)), (1, _Span(4, _PERMANENT_RETRY_MAX)))
    if bisecting:
        # BISECT-3/5: whether a split used up retries shows only when a record isolated by
        # bisection still has retries to lose (MaximumRetryAttempts >= 2) and the quota ends
        # (a small limit), so that range comes first; the others stay possible.
        return _pick_int(
            (4, _Span(2, _PERMANENT_RETRY_MAX)), (1, None), (1, -1), (2, _Span(0, 1)), (1, _Span(6, 10_000))
        )
    return _pick_int((2, None), (1, -1), (4, _Span(0, 3)), (1, _Span(4, 10)), (1, _Span(11, 10_000)))


@cache
def _age(source: Source, record_age: bool | None, short_only: bool) -> SearchStrategy[int | None]:
    if record_age is False:
        return _pick_int((2, None), (1, -1))
    short: list[tuple[int, int | _Span | None]] = [(8, _Span(60, 120)), (2, _Span(121, _PERMANENT_AGE_MAX))]
    if short_only:
        return _pick_int(*short)
    # With record_age on, some records must be older than the limit yet still in the stream:
    # DynamoDB Streams keep records 24 hours.
    long_max = 604_800 if source is Source.KINESIS or record_age is not True else _DYNAMODB_RETENTION - 1_200
    long: list[tuple[int, int | _Span | None]] = [
        (1, _Span(_PERMANENT_AGE_MAX + 1, 86_400 - 1_200)),
        (1, _Span(_PERMANENT_AGE_MAX + 1, long_max)),
    ]
    if record_age is True:
        return _pick_int(*short, *long)
    return _pick_int((4, None), (2, -1), *short, *long)


@cache
def _destination(focus: str | None) -> SearchStrategy[dict[str, Any] | None]:
    def on_failure(kind: str) -> dict[str, Any]:
        return {"OnFailure": {"Destination": names.DESTINATION_ARNS[kind]}}

    # CFG-1: AWS reports "no destination" as {"OnFailure": {}}; a user may pass it too.
    none: list[tuple[int, dict[str, Any] | None]] = [(2, None), (1, {"OnFailure": {}})]
    if focus == "none":
        return _pick(*none)
    if focus is not None:
        return _pick((1, on_failure(focus)))
    return _pick(*none, (1, on_failure("sqs")), (1, on_failure("sns")), (1, on_failure("s3")))


@st.composite
def _mapping_draft(
    draw: st.DrawFn, source: Source, focus: _Focus, permanent_failures: bool | None
) -> _MappingDraft:
    """Draw order follows how much a parameter matters to a counterexample: cheap to shrink first.

    ``permanent_failures``: True guarantees a policy that ends forever-failing records; None lets
    the policy be anything (the caller then allows such records only if it ends them).
    """
    starting_position = draw(_starting_position(source, focus.starting_position))
    batch_size = draw(_batch_size(focus.large_records))
    window = draw(_window(focus.batching_window))
    response_types = draw(_response_types(focus.report_batch_item_failures))
    bisect = draw(_flag(focus.bisect))
    need_end = permanent_failures is True
    bisecting = focus.bisect is True and focus.failures is True
    retries = draw(_retries(finite_small=need_end and focus.record_age is False, bisecting=bisecting))
    effective = -1 if retries is None else retries
    age = draw(
        _age(source, focus.record_age, short_only=need_end and not 0 <= effective <= _PERMANENT_RETRY_MAX)
    )
    destination = draw(_destination(focus.destination))
    return _MappingDraft(
        starting_position=starting_position,
        batch_size=batch_size,
        window=window,
        response_types=response_types,
        bisect=bisect,
        retries=retries,
        age=age,
        destination=destination,
    )


def _epoch(instant: datetime) -> float:
    return round(instant.timestamp(), 3)


def mapping_parameters(
    source: Source | str = Source.KINESIS,
    *,
    destination: str | None = None,
    report_batch_item_failures: bool | None = None,
    bisect: bool | None = None,
    record_age: bool | None = None,
    batching_window: bool | None = None,
    starting_position: str | None = None,
    large_records: bool | None = None,
    permanent_failures: bool = False,
) -> SearchStrategy[dict[str, Any]]:
    """CreateEventSourceMapping parameters, each omitted (the default) or inside its valid range.

    BatchSize 1..10000 (mostly 1..10), MaximumBatchingWindowInSeconds 0..300 (mostly 0 or small),
    MaximumRetryAttempts -1 or 0..10000 (mostly -1..3), MaximumRecordAgeInSeconds -1 or
    60..604800 (mostly 60..120), BisectBatchOnFunctionError, FunctionResponseTypes,
    StartingPosition (AT_TIMESTAMP only for Kinesis, with StartingPositionTimestamp), and
    DestinationConfig with or without an OnFailure destination.

    ``permanent_failures=True`` guarantees the retry policy ends a record that fails forever:
    MaximumRetryAttempts 0..5 or MaximumRecordAgeInSeconds 60..600.
    """
    focus = _validate_focus(
        source=source,
        destination=destination,
        report_batch_item_failures=report_batch_item_failures,
        bisect=bisect,
        record_age=record_age,
        batching_window=batching_window,
        starting_position=starting_position,
        large_records=large_records,
    )
    src = focus.source or Source.KINESIS

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        draft = draw(_mapping_draft(src, focus, permanent_failures or None))
        timestamp = None
        if draft.starting_position == "AT_TIMESTAMP":
            timestamp = _epoch(draw(start_instants()))
        return draft.parameters(timestamp)

    return build()


# ---- records ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _RecordContext:
    source: Source
    behaviour: SearchStrategy[RecordBehaviour]
    age_limit: int | None
    allow_old: bool


@dataclass(frozen=True)
class _RecordDraft:
    behaviour: RecordBehaviour
    arrival_ms: int
    partition_key: str
    data: bytes
    delta: int = 1
    """Step from the previous sequence number (see ``_SequencePlan``)."""


@dataclass(frozen=True)
class _ShardDraft:
    """One shard before its sequence numbers are computed. The plan (which also gives the
    DynamoDB shard-id suffix) is drawn before the records, so shrinking the record list leaves
    it in place."""

    plan: _SequencePlan
    records: list[_RecordDraft]

    @property
    def suffix(self) -> int:
        """The random part of a DynamoDB shard id."""
        return random.Random(self.plan.seed).getrandbits(32)

    def spec(self, source: Source, created_ms: int, index: int) -> ShardSpec:
        numbers = self.plan.numbers(source, index, [d.delta for d in self.records])
        return ShardSpec(
            _shard_id(source, created_ms, index, self.suffix),
            tuple(_record_spec(d, n) for d, n in zip(self.records, numbers, strict=True)),
        )


@lru_cache(maxsize=1024)
def _other_shards(
    ctx: _RecordContext, max_shards: int, max_records: int
) -> SearchStrategy[list[_ShardDraft]]:
    return st.lists(_shard_draft(ctx, 0, max_records), max_size=max_shards)


@lru_cache(maxsize=1024)
def _first_shard_draft(ctx: _RecordContext, least: int, max_size: int) -> SearchStrategy[_ShardDraft]:
    """Shard 0: ``least`` records that are not too old (forced behaviours need records a poller
    delivers), then up to ``max_size - least`` ordinary ones."""
    required = st.lists(_record_draft(replace(ctx, allow_old=False)), min_size=least, max_size=least)
    rest = st.lists(_record_draft(ctx), max_size=max_size - least)
    return st.builds(
        _ShardDraft,
        plan=_sequence_plans(ctx.source),
        records=st.tuples(required, rest).map(lambda t: [*t[0], *t[1]]),
    )


@lru_cache(maxsize=1024)
def _shard_draft(ctx: _RecordContext, min_size: int, max_size: int) -> SearchStrategy[_ShardDraft]:
    return st.builds(
        _ShardDraft,
        plan=_sequence_plans(ctx.source),
        records=st.lists(_record_draft(ctx), min_size=min_size, max_size=max_size),
    )


@lru_cache(maxsize=1024)
def _present_ms(age_limit: int | None) -> SearchStrategy[int]:
    window = _PRESENT_WINDOW_S if age_limit is None else min(age_limit, _PRESENT_WINDOW_S)
    return st.integers(0, window * 1000).map(lambda ms: -ms)


@cache
def _later_ms() -> SearchStrategy[int]:
    return st.integers(1, _LATER_WINDOW_MS)


@lru_cache(maxsize=1024)
def _old_ms(age_limit: int) -> SearchStrategy[int]:
    # Strictly older than the limit at the start (RETRY-7: age > limit).
    return st.integers(1, _OLD_MARGIN_MS).map(lambda margin: -(age_limit * 1000 + margin))


@lru_cache(maxsize=1024)
def _arrival_ms(ctx: _RecordContext) -> SearchStrategy[int]:
    branches: list[tuple[int, SearchStrategy[int]]] = [(4, _present_ms(ctx.age_limit)), (2, _later_ms())]
    if ctx.allow_old and ctx.age_limit is not None:
        branches.append((1, _old_ms(ctx.age_limit)))
    return _weighted(*branches)


def _draft_from(behaviour: RecordBehaviour, arrival_ms: int, seed: int) -> _RecordDraft:
    key, data, delta = _seeded_content(seed)
    return _RecordDraft(behaviour, arrival_ms, key, data, delta)


@lru_cache(maxsize=1024)
def _record_draft(ctx: _RecordContext) -> SearchStrategy[_RecordDraft]:
    # Few choices per record (behaviour, arrival, one content seed): see _seeded_content.
    return st.builds(_draft_from, ctx.behaviour, _arrival_ms(ctx), _SEEDS)


def _old_allowed(source: Source, age_limit: int | None) -> bool:
    if age_limit is None:
        return False
    return source is Source.KINESIS or age_limit * 1000 + _OLD_MARGIN_MS < _DYNAMODB_RETENTION * 1000


def _record_spec(draft: _RecordDraft, sequence_number: str) -> RecordSpec:
    b = draft.behaviour
    return RecordSpec(
        sequence_number=sequence_number,
        partition_key=draft.partition_key,
        data=draft.data,
        arrival=draft.arrival_ms / 1000,
        behaviour=b.behaviour,
        times=b.times,
        form=b.form,
    )


def _sorted_by_arrival(drafts: Sequence[_RecordDraft]) -> list[_RecordDraft]:
    """Arrivals never decrease in shard order. Behaviours stay with their position."""
    arrivals = sorted(d.arrival_ms for d in drafts)
    return [replace(d, arrival_ms=a) for d, a in zip(drafts, arrivals, strict=True)]


def records(
    source: Source | str = Source.KINESIS,
    *,
    shard_index: int = 0,
    min_records: int = 0,
    max_records: int = 12,
    age_limit: int | None = None,
    behaviour: SearchStrategy[RecordBehaviour] | None = None,
) -> SearchStrategy[tuple[RecordSpec, ...]]:
    """The records of one shard, in shard order.

    Arrivals (seconds from the scenario start, millisecond precision) never decrease: most
    records are already in the stream (up to 10 minutes old), some arrive during the first
    minute of the run, and with ``age_limit`` some are older than it. Sequence numbers come from
    ``sequence_numbers``. ``behaviour`` defaults to ``behaviours(permanent=False)``.
    """
    src = _as_source(source)
    if not 0 <= min_records <= max_records:
        raise ValueError(f"records need 0 <= min_records <= max_records, found {min_records}, {max_records}")
    if age_limit is not None and not 60 <= age_limit <= 604_800:
        raise ValueError(f"age_limit must be 60..604800 seconds (RETRY-2), found {age_limit}")
    ctx = _RecordContext(
        source=src,
        behaviour=behaviour if behaviour is not None else behaviours(permanent=False),
        age_limit=age_limit,
        allow_old=_old_allowed(src, age_limit),
    )

    if not 0 <= shard_index <= _MAX_SHARDS:
        raise ValueError(f"shard_index must be 0..{_MAX_SHARDS}, found {shard_index}")

    def finish(shard: _ShardDraft) -> tuple[RecordSpec, ...]:
        shard = replace(shard, records=_sorted_by_arrival(shard.records))
        return shard.spec(src, 0, shard_index).records

    return _shard_draft(ctx, min_records, max_records).map(finish)


# ---- scenarios ----------------------------------------------------------------------------

_BOOL_FLAGS = (
    "report_batch_item_failures",
    "bisect",
    "failures",
    "record_age",
    "batching_window",
    "throttles",
    "large_records",
    "clock_edges",
    "reported_pair",
)


def _validate_focus(**given: Any) -> _Focus:
    """Check focus flags up front, so a typo fails when the strategy is built, not mid-search."""
    source = given.get("source")
    if source is not None:
        source = _as_source(source)
    destination = given.get("destination")
    if destination is not None and destination not in DESTINATION_CHOICES:
        raise ValueError(
            f"destination must be one of {list(DESTINATION_CHOICES)} or None (any), found {destination!r}"
        )
    starting_position = given.get("starting_position")
    if starting_position is not None and starting_position not in STARTING_POSITIONS:
        raise ValueError(
            f"starting_position must be one of {list(STARTING_POSITIONS)} or None (any), "
            f"found {starting_position!r}"
        )
    if starting_position == "AT_TIMESTAMP":
        if source is Source.DYNAMODB:
            raise ValueError(
                "starting_position='AT_TIMESTAMP' is Kinesis only (START-1); "
                "use source='kinesis' or another starting position"
            )
        source = Source.KINESIS
    for name in _BOOL_FLAGS:
        value = given.get(name)
        if value is not None and not isinstance(value, bool):
            raise ValueError(f"{name} must be True, False or None (either), found {value!r}")
    if given.get("reported_pair") is True and given.get("report_batch_item_failures") is False:
        raise ValueError(
            "reported_pair=True needs ReportBatchItemFailures (report_batch_item_failures True or None): "
            "without it no record is reported (PBF-1)"
        )
    max_shards = given.get("max_shards", 4)
    max_records = given.get("max_records", 12)
    if not isinstance(max_shards, int) or not 1 <= max_shards <= _MAX_SHARDS:
        raise ValueError(f"max_shards must be an integer 1..{_MAX_SHARDS}, found {max_shards!r}")
    if not isinstance(max_records, int) or max_records < 0:
        raise ValueError(f"max_records must be a non-negative integer, found {max_records!r}")
    needs = [n for n in ("failures", "throttles", "record_age", "reported_pair") if given.get(n) is True]
    if starting_position == "LATEST":
        needs.append("starting_position='LATEST'")
    least = _shard0_min_records(
        given.get("failures"),
        given.get("throttles"),
        given.get("record_age"),
        starting_position,
        given.get("reported_pair"),
    )
    if needs and max_records < least:
        raise ValueError(
            f"{', '.join(needs)} need(s) records to act on, but max_records={max_records}; "
            f"raise max_records to at least {least}"
        )
    fields = {k: v for k, v in given.items() if k in _Focus.__dataclass_fields__}
    fields.update(source=source)
    return _Focus(**fields)


def _delivery_requirements(failures: bool | None, throttles: bool | None) -> int:
    """How many records must be delivered with a forced behaviour (a failure, a throttle)."""
    return int(failures is True) + int(throttles is True)


def _shard0_min_records(
    failures: bool | None,
    throttles: bool | None,
    record_age: bool | None,
    starting_position: str | None,
    reported_pair: bool | None = None,
) -> int:
    """Records shard 0 needs so every forced requirement has its own record."""
    delivery = _delivery_requirements(failures, throttles)
    if starting_position == "LATEST":
        delivery = max(1, delivery)  # LATEST needs a record that arrives during the run
    if reported_pair is True:
        delivery = max(_REPORTED_PAIR_RECORDS, delivery)
    return delivery + int(record_age is True)


def scenarios(
    *,
    source: str | None = None,
    destination: str | None = None,
    report_batch_item_failures: bool | None = None,
    bisect: bool | None = None,
    failures: bool | None = None,
    record_age: bool | None = None,
    batching_window: bool | None = None,
    starting_position: str | None = None,
    throttles: bool | None = None,
    large_records: bool | None = None,
    clock_edges: bool | None = None,
    reported_pair: bool | None = None,
    max_shards: int = 4,
    max_records: int = 12,
) -> SearchStrategy[Scenario]:
    """Complete scenarios. Each focus flag is ``None`` (either) or forces one side:

    * ``source``: ``"kinesis"`` | ``"dynamodb"``.
    * ``destination``: ``"sqs"`` | ``"sns"`` | ``"s3"`` (that OnFailure ARN) | ``"none"``
      (no DestinationConfig, or ``{"OnFailure": {}}``).
    * ``report_batch_item_failures``, ``bisect``, ``batching_window`` (window >= 1 s): the parameter on/off.
    * ``failures``: True: at least one record makes invocations fail (POISON, TRANSIENT, or
      REPORTED/INVALID with ReportBatchItemFailures on), and it is one the starting position
      delivers when possible. False: every record is OK (THROTTLE only if ``throttles=True``).
    * ``record_age``: True: MaximumRecordAgeInSeconds is set and at least one record is older
      than it at the start. False: it is omitted or -1.
    * ``starting_position``: ``"TRIM_HORIZON"`` | ``"LATEST"`` | ``"AT_TIMESTAMP"`` (implies Kinesis).
      LATEST scenarios always have a record arriving during the run.
    * ``throttles``: True: at least one THROTTLE record; False: none.
    * ``large_records``: True: shard 0 holds a run of large records that together exceed the
      6 MiB payload cap (5..7 Kinesis records near 1 MiB, 14..16 DynamoDB items near 350 KB; this
      run may take shard 0 past ``max_records``) and BatchSize is at least 16. None: rarely one
      large record. False: none.
    * ``clock_edges``: True: the start is 1..60 s before a midnight / month end / year end /
      29 February boundary; False: an ordinary instant.
    * ``reported_pair`` (not with ``report_batch_item_failures=False``): True: the retry policy
      ends records that fail forever, and when ReportBatchItemFailures is on, shard 0 holds two
      REPORTED records, the lower with the shorter sequence number, and an unreported record
      between or after them, so one response reports both when they share a batch (PBF-2,
      PBF-3, DLQ-10). None/False: no such pair is forced.
    * ``max_shards`` (1..999) and ``max_records`` (per shard) bound the stream.

    Every scenario also gets the world conditions ``world_conditions`` derives for it (throttled
    reads, expiring iterators, failing destination writes, wide DynamoDB items, arrival times in a
    non-UTC offset); ``throttles`` makes throttled reads more (True) or never (False) likely.
    """
    focus = _validate_focus(
        source=source,
        destination=destination,
        report_batch_item_failures=report_batch_item_failures,
        bisect=bisect,
        failures=failures,
        record_age=record_age,
        batching_window=batching_window,
        starting_position=starting_position,
        throttles=throttles,
        large_records=large_records,
        clock_edges=clock_edges,
        reported_pair=reported_pair,
        max_shards=max_shards,
        max_records=max_records,
    )
    return with_world_conditions(_scenario(focus), throttles=focus.throttles)


_SOURCES = _pick((1, Source.KINESIS), (1, Source.DYNAMODB))
_RARELY = st.integers(0, 39).map(lambda n: n == 39)
"""True about once in 40 draws (one large record when large_records is None)."""


@st.composite
def _scenario(draw: st.DrawFn, focus: _Focus) -> Scenario:
    source = focus.source or draw(_SOURCES)
    mapping = draw(_mapping_draft(source, focus, True if focus.reported_pair else None))
    start = draw(start_instants(focus.clock_edges))
    rbif = mapping.rbif
    permanent = mapping.permanent_failures_allowed
    age_limit = mapping.age_limit
    ctx = _RecordContext(
        source=source,
        behaviour=behaviours(
            report_batch_item_failures=rbif,
            permanent=permanent,
            failures=focus.failures is not False,
            throttles=focus.throttles is True or (focus.throttles is None and focus.failures is not False),
        ),
        age_limit=age_limit,
        allow_old=focus.record_age is not False and _old_allowed(source, age_limit),
    )

    # Shard 0 is drawn with enough records for every forced requirement; the other shards follow.
    least = _shard0_min_records(
        focus.failures, focus.throttles, focus.record_age, mapping.starting_position, focus.reported_pair
    )
    first = draw(_first_shard_draft(ctx, least, max(focus.max_records, least)))
    others = draw(_other_shards(ctx, focus.max_shards - 1, focus.max_records))
    drafts = [first, *others]
    shards: list[list[_RecordDraft]] = [d.records for d in drafts]

    large = focus.large_records
    if large is True:
        shards[0] = draw(_with_large_run(shards[0], source, mapping.starting_position))
    elif large is None and draw(_RARELY) and any(shards):
        shards = draw(_with_one_large(shards, source))
    shards = [_sorted_by_arrival(s) for s in shards]

    if mapping.starting_position == "LATEST":
        shards[0] = draw(
            _with_later_tail(shards[0], max(1, _delivery_requirements(focus.failures, focus.throttles)))
        )
    if focus.record_age is True:
        assert age_limit is not None  # _age draws a limit when record_age is on
        shards[0] = draw(_with_old_head(shards[0], age_limit))

    timestamp_offset_ms: int | None = None
    if mapping.starting_position == "AT_TIMESTAMP":
        timestamp_offset_ms = draw(_timestamp_offset_ms(shards))

    def deliverable(d: _RecordDraft) -> bool:
        # Too old: discarded before any invocation (RETRY-8). One second of margin, because
        # DynamoDB rounds arrival times down to the second (EVT-D-2).
        if age_limit is not None and d.arrival_ms < -age_limit * 1000 + 1000:
            return False
        if mapping.starting_position == "LATEST":
            return d.arrival_ms > 0  # START-3
        if timestamp_offset_ms is not None:
            return d.arrival_ms >= timestamp_offset_ms  # START-4
        return True

    if focus.throttles is True:
        shards = draw(
            _with_behaviour(
                shards,
                deliverable,
                lambda b: b.behaviour is Behaviour.THROTTLE,
                _behaviour_choice([(1, Behaviour.THROTTLE)]),
            )
        )
    if focus.reported_pair is True and rbif:
        shards[0] = _with_reported_pair(shards[0], drafts[0].plan, deliverable, focus.throttles is True)
    if focus.failures is True:
        kinds = _failing_kinds(report_batch_item_failures=rbif, permanent=permanent)
        shards = draw(
            _with_behaviour(
                shards,
                deliverable,
                lambda b: _is_failing(b.behaviour, rbif),
                # POISON twice as likely: a record that fails forever reaches the discard path.
                _behaviour_choice([(2 if k is Behaviour.POISON else 1, k) for k in kinds]),
                protected=lambda b: focus.throttles is True and b.behaviour is Behaviour.THROTTLE,
            )
        )

    created_ms = draw(_SHARD_CREATED) if source is Source.DYNAMODB else 0
    specs = tuple(
        replace(draft, records=records).spec(source, created_ms, index)
        for index, (draft, records) in enumerate(zip(drafts, shards, strict=True))
    )

    timestamp = None
    if timestamp_offset_ms is not None:
        timestamp = _epoch(start + timedelta(milliseconds=timestamp_offset_ms))
    success_form = draw(success_forms())
    min_gap = _min_poll_gap(mapping, shards, rbif)
    gaps = draw(poll_gaps(min_gap, max(5.0, min_gap * 4)))
    return Scenario(
        source=source,
        shards=specs,
        parameters=mapping.parameters(timestamp),
        clock=ClockPlan(start=start, poll_gaps=gaps),
        success_form=success_form,
    )


_RECENT_MS = st.integers(0, 30_000).map(lambda ms: -ms)
_REPORTED_PAIR_RECORDS = 3
"""Two reported records and one unreported record that the retry must hold too."""


def _with_reported_pair(
    drafts: list[_RecordDraft],
    plan: _SequencePlan,
    deliverable: Callable[[_RecordDraft], bool],
    keep_throttles: bool,
) -> list[_RecordDraft]:
    """Make two delivered records on either side of the shard's sequence-number length change
    REPORTED (PBF-3), as close together as possible: the last short-numbered one and the first
    long-numbered one, with an unreported record after or between them. A response then reports
    both whenever they share a batch, and their lowest is found only by comparing the numbers as
    integers (as strings the longer, higher "10…" sorts first), and the retry must hold the
    unreported record too. A poller that retries from the highest reported record, from the
    lowest compared as text, or only the reported records, is caught. No draw: the records
    chosen follow from the drawn ones, so the pair shrinks with them. Without a delivered record
    of each length, or when a forced throttle is in the way, the shard is left as drawn.
    """
    long_first = plan.short_count(len(drafts))
    usable = [
        i
        for i, d in enumerate(drafts)
        if deliverable(d) and not (keep_throttles and d.behaviour.behaviour is Behaviour.THROTTLE)
    ]
    shorts = [i for i in usable if i < long_first]
    longs = [i for i in usable if i >= long_first]
    if not shorts or not longs:
        return drafts
    low, high = shorts[-1], longs[0]
    if high == low + 1 and high == len(drafts) - 1:
        # Nothing after the pair: take the short record before, leaving one between them.
        if len(shorts) < 2:
            return drafts
        low = shorts[-2]
    reported = RecordBehaviour(Behaviour.REPORTED)
    return [replace(d, behaviour=reported) if i in (low, high) else d for i, d in enumerate(drafts)]


@st.composite
def _with_large_run(
    draw: st.DrawFn, drafts: list[_RecordDraft], source: Source, starting_position: str
) -> list[_RecordDraft]:
    """Append a run of large OK records arriving together, whose base64 data alone exceeds the
    payload cap (BATCH-6), so a poller must cut the batch short."""
    data = draw(_large_payload(source))
    encoded = 4 * math.ceil(len(data) / 3)
    count = PAYLOAD_CAP_BYTES // encoded + 1
    # Arrive together, where the starting position reads them, and young enough (under 30 s,
    # every age limit is at least 60 s) to be invoked rather than expired.
    arrival = draw(_later_ms() if starting_position == "LATEST" else _RECENT_MS)
    key = draw(partition_keys())
    run = [_RecordDraft(RecordBehaviour(Behaviour.OK), arrival, key, data) for _ in range(count)]
    return [*drafts, *run]


@st.composite
def _with_one_large(
    draw: st.DrawFn, shards: list[list[_RecordDraft]], source: Source
) -> list[list[_RecordDraft]]:
    positions = [(s, i) for s, drafts in enumerate(shards) for i in range(len(drafts))]
    s, i = draw(st.sampled_from(positions))
    out = [list(d) for d in shards]
    out[s][i] = replace(out[s][i], data=draw(_large_payload(source)))
    return out


@st.composite
def _with_later_tail(draw: st.DrawFn, drafts: list[_RecordDraft], count: int) -> list[_RecordDraft]:
    """Make sure the last ``count`` records arrive during the run (LATEST reads only those)."""
    already = sum(1 for d in drafts if d.arrival_ms > 0)
    missing = min(count, len(drafts)) - already
    if missing <= 0:
        return drafts
    later = sorted(draw(st.lists(_later_ms(), min_size=missing, max_size=missing)))
    # Records already later are at the end; convert the ones just before them.
    cut = len(drafts) - already - missing
    converted = [replace(d, arrival_ms=a) for d, a in zip(drafts[cut : cut + missing], later, strict=True)]
    tail = drafts[cut + missing :]
    low = later[-1]
    tail = [replace(d, arrival_ms=max(d.arrival_ms, low)) for d in tail]
    return [*drafts[:cut], *converted, *tail]


@st.composite
def _with_old_head(draw: st.DrawFn, drafts: list[_RecordDraft], age_limit: int) -> list[_RecordDraft]:
    """Make sure the first record is older than the age limit (RETRY-7/8)."""
    if drafts and drafts[0].arrival_ms < -age_limit * 1000:
        return drafts
    return [replace(drafts[0], arrival_ms=draw(_old_ms(age_limit))), *drafts[1:]]


@st.composite
def _timestamp_offset_ms(draw: st.DrawFn, shards: list[list[_RecordDraft]]) -> int:
    """StartingPositionTimestamp (START-4) relative to the records: before all of them, exactly
    at one record's arrival (it must be included), or just after one (it must be excluded)."""
    arrivals = sorted({d.arrival_ms for s in shards for d in s})
    if not arrivals:
        return -draw(st.integers(0, 3_600_000))
    mode = draw(st.sampled_from(["before_all", "at_record", "after_record", "at_start"]))
    if mode == "before_all":
        return arrivals[0] - draw(st.integers(1, 3_600_000))
    if mode == "at_start":
        return 0
    chosen = draw(st.sampled_from(arrivals))
    return chosen if mode == "at_record" else chosen + 1


@st.composite
def _with_behaviour(
    draw: st.DrawFn,
    shards: list[list[_RecordDraft]],
    deliverable: Callable[[_RecordDraft], bool],
    satisfied: Callable[[RecordBehaviour], bool],
    behaviour: SearchStrategy[RecordBehaviour],
    protected: Callable[[RecordBehaviour], bool] = lambda b: False,
) -> list[list[_RecordDraft]]:
    """Force one record to have a behaviour unless a delivered record already has it. Prefer an
    OK record the poller delivers; never overwrite a ``protected`` one (another forced
    behaviour) if there is any other choice."""
    positions = [(s, i) for s, drafts in enumerate(shards) for i in range(len(drafts))]
    if any(satisfied(shards[s][i].behaviour) and deliverable(shards[s][i]) for s, i in positions):
        return shards
    free = [p for p in positions if not protected(shards[p[0]][p[1]].behaviour)]
    plain = [p for p in free if shards[p[0]][p[1]].behaviour.behaviour is Behaviour.OK]
    candidates = (
        [p for p in plain if deliverable(shards[p[0]][p[1]])]
        or [p for p in free if deliverable(shards[p[0]][p[1]])]
        or plain
        or free
        or positions
    )
    s, i = draw(st.sampled_from(candidates))
    out = [list(d) for d in shards]
    out[s][i] = replace(out[s][i], behaviour=draw(behaviour))
    return out


def _min_poll_gap(mapping: _MappingDraft, shards: Sequence[Sequence[_RecordDraft]], rbif: bool) -> float:
    """Smallest poll gap that keeps the estimated number of polls near ``_POLL_TARGET``.

    The virtual time a run needs: the last arrival, plus the age limit when a record that fails
    forever is retried until it is too old (RETRY-5/9), plus one batching window per record in
    the longest shard (BATCH-5), plus the harness's quiet time (longer than one window).
    """
    all_drafts = [d for s in shards for d in s]
    last_arrival = max([0.0, *(d.arrival_ms / 1000 for d in all_drafts)])
    permanent = any(_is_permanent(d.behaviour.behaviour, rbif) for d in all_drafts)
    stuck = float(mapping.age_limit or 0) if permanent else 0.0
    window = float(mapping.window or 0)
    windows = window * max([0, *(len(s) for s in shards)])
    quiet = max(_QUIET_ALLOWANCE_S, window + 10.0)
    horizon = last_arrival + stuck + windows + quiet
    return max(0.2, round(horizon / _POLL_TARGET, 3))


# ---- world conditions: the world misbehaving as AWS does --------------------------------------

# How often each condition is set, out of _CONDITION_SHARES: often enough that every ci search
# meets each one, rarely enough that most scenarios still test the plain paths.
_CONDITION_SHARES = 12
_READ_THROTTLE_SHARE = 4
_READ_THROTTLE_SHARE_FOCUSED = 9  # when the search is about throttles (throttles=True)
_EXPIRY_SHARE = 4
_WRITE_FAILURE_SHARE = 5
_WIDE_ITEM_SHARE = 6
_OFFSET_SHARE = 5
# DynamoDB only: start-up reads throttled, iterators outlive no poll gap. Nearly always at
# LATEST, the one starting position whose expiry has no AT_TIMESTAMP iterator to fall back on.
_EARLY_EXPIRY_SHARE = 6
_EARLY_EXPIRY_SHARE_LATEST = 10
_NOTE_SHARE = 6  # of the early expiries at LATEST: throttles on the note rather than after it
_NOTE_THROTTLES = 4  # consecutive throttles a start-up note retried at once (5 tries) gets past
_UTC_OFFSETS_MINUTES = (330, -420, 60, -600, 845, -210, 540, -60)
"""Real zone offsets, whole and fractional hours, both sides of UTC."""


def world_conditions(scenario: Scenario, *, throttles: bool | None = None) -> WorldConditions:
    """The world conditions (``Scenario.world``) that ``scenarios()`` gives ``scenario``: a
    deterministic function of the scenario, each condition set independently.

    * GetRecords throttles (in 4 of 12 scenarios; 9 of 12 when ``throttles`` is True, so a
      search about throttles meets both kinds; never when it is False): 1 to 3 consecutive calls
      (2 to 6 in a search about throttles) starting in one of the first polls (RETRY-6);
    * an iterator lifetime (4 of 12, ``_lifetime``) longer than a round of the shards at the
      ordinary pace (one ordinary gap per shard) and, when the cycle has a longer gap, shorter
      than that: an iterator expires (``ExpiredIteratorException``) across the long gap, or when
      its shard goes unread for longer than a round, never in ordinary polling, whether a poller
      reads every shard in every poll or one shard per poll, as on AWS, where iterators outlive
      far more than a round of polls (5 min);
    * with a destination, its first 1 to 3 writes fail (5 of 12; RETRY-10, LOSS-1);
    * DynamoDB: wide item images, every attribute type with nested binaries (6 of 12; EVT-D-2);
    * arrival times in a non-UTC offset (5 of 12; EVT-K-3, DLQ-7, START-4);
    * DynamoDB, 6 of 12 (10 of 12 at LATEST): an early expiry instead of the lifetime above, a
      round and a fraction of a gap (``_early_lifetime``), and (unless ``throttles`` is False)
      throttled reads around start-up instead of the throttles above (``_start_up_throttles``),
      which leave each first iterator unused until it has expired: an expired LATEST iterator
      has no AT_TIMESTAMP to resume from, so these are the paths where a DynamoDB poller loses
      or repeats records (START-2, START-3, LOSS-1).

    Derived rather than drawn: they add no draw, so the streams, parameters and behaviours
    come from the same distribution as before, shrinking never has to shrink them (they follow
    the scenario), and a replayed scenario carries them in its JSON. (Hypothesis still orders
    its examples differently than before they existed.)
    """
    rng = random.Random(_fingerprint(scenario))

    def sometimes(share: int) -> bool:
        return rng.randrange(_CONDITION_SHARES) < share

    read_share = {True: _READ_THROTTLE_SHARE_FOCUSED, False: 0, None: _READ_THROTTLE_SHARE}[throttles]
    # Reads are numbered over every shard: each poll reads each shard about once.
    reads = ReadThrottles(
        rng.randint(1, 2 + 2 * len(scenario.shards)), rng.randint(2, 6) if throttles else rng.randint(1, 3)
    )
    lifetime = _lifetime(scenario, rng.randint(1, 9))
    failures = rng.randint(1, 3)
    offset = rng.choice(_UTC_OFFSETS_MINUTES)
    chosen_reads = reads if sometimes(read_share) else None
    chosen_lifetime = lifetime if sometimes(_EXPIRY_SHARE) else None
    chosen_failures = (
        failures if sometimes(_WRITE_FAILURE_SHARE) and scenario.destination_arn is not None else 0
    )
    wide = sometimes(_WIDE_ITEM_SHARE) and scenario.source is Source.DYNAMODB
    chosen_offset = offset if sometimes(_OFFSET_SHARE) else 0
    # Drawn last, so the conditions above stay what they were for every scenario.
    latest = scenario.parameters.get("StartingPosition") == "LATEST"
    early_share = _EARLY_EXPIRY_SHARE_LATEST if latest else _EARLY_EXPIRY_SHARE
    if scenario.source is Source.DYNAMODB and sometimes(early_share):
        chosen_lifetime = _early_lifetime(scenario, rng.randint(1, 9))
        if throttles is not False:
            chosen_reads = _start_up_throttles(scenario, chosen_lifetime, note=sometimes(_NOTE_SHARE))
    return WorldConditions(
        get_records_throttles=chosen_reads,
        iterator_lifetime=chosen_lifetime,
        destination_failures=chosen_failures,
        wide_items=wide,
        arrival_utc_offset_minutes=chosen_offset,
    )


def _pace(scenario: Scenario) -> tuple[int, int, int | None]:
    """The scenario's poll cadence in milliseconds: the ordinary gap, a round of the shards (one
    ordinary gap per shard: how long a poller reading one shard per poll takes to come back to
    a shard), and the cycle's long pause, if it has one: a gap longer than a round of the
    others. Without a pause every gap is ordinary, and the ordinary gap is the longest."""
    gaps = sorted(round(gap * 1000) for gap in scenario.clock.poll_gaps) or [1000]
    shards = max(1, len(scenario.shards))
    if len(gaps) >= 2 and gaps[-1] - shards * gaps[-2] >= 2:
        return gaps[-2], shards * gaps[-2], gaps[-1]
    return gaps[-1], shards * gaps[-1], None


def _lifetime(scenario: Scenario, tenth: int) -> float:
    """An iterator lifetime ``tenth`` tenths of the way from a round of the shards to the cycle's
    long pause (both excluded, to the millisecond): iterators expire across that pause only.
    Without a pause, the early lifetime: expiry needs a shard left unread."""
    _, shard_round, pause = _pace(scenario)
    if pause is None:
        return _early_lifetime(scenario, tenth)
    millis = shard_round + (pause - shard_round) * tenth // 10
    return min(max(millis, shard_round + 1), pause - 1) / 1000


def _early_lifetime(scenario: Scenario, tenth: int) -> float:
    """An iterator lifetime of a round of the shards and ``tenth`` tenths of an ordinary gap
    (shorter than the cycle's pause, if it has one): a poller reading every shard in every
    poll, or one per poll, meets no expired iterator in ordinary polling, but one left unused
    for a round and a poll more (its reads throttled, or across the pause) has expired, the
    LATEST one of the first poll included (START-3, LOSS-1)."""
    ordinary, shard_round, pause = _pace(scenario)
    millis = shard_round + max(1, ordinary * tenth // 10)
    return (millis if pause is None else min(millis, pause - 1)) / 1000


def _polls_outliving(scenario: Scenario, lifetime: float) -> int:
    """The fewest consecutive polls whose gaps add up to more than ``lifetime`` wherever they
    start in the cycle: an iterator unused for that many polls has expired."""
    gaps = [round(gap * 1000) for gap in scenario.clock.poll_gaps] or [1000]
    if max(gaps) <= 0:
        return 1
    limit = round(lifetime * 1000)
    polls = 1
    while (
        min(sum(gaps[(start + k) % len(gaps)] for k in range(polls)) for start in range(len(gaps))) <= limit
    ):
        polls += 1
    return polls


def _start_up_throttles(scenario: Scenario, lifetime: float, *, note: bool) -> ReadThrottles:
    """GetRecords throttles around start-up, for a DynamoDB stream (no AT_TIMESTAMP iterator),
    long enough that a first iterator has expired (``lifetime``) before it is used.

    A poller starting at LATEST must note where each shard stood at start-up to resume an
    expired iterator without losing or repeating records. For LATEST with ``note``, the first
    reads are throttled: the note's first read and then (for a poller that gave the note up)
    the first real reads of enough polls, as far as a note retried at once still gets past them
    (``_NOTE_THROTTLES``). Otherwise, and always for TRIM_HORIZON, the reads that would follow
    such notes (each shard's first real read) are throttled in enough polls: a LATEST poller
    must then resume after its note, and a TRIM_HORIZON poller that takes the note too resumes
    past the records already there (START-2)."""
    shards = max(1, len(scenario.shards))
    polls = _polls_outliving(scenario, lifetime)
    if note and scenario.parameters.get("StartingPosition") == "LATEST":
        return ReadThrottles(1, min(_NOTE_THROTTLES, 1 + shards * polls))
    # A note reads a shard from TRIM_HORIZON until an empty page: two reads if records were
    # already there at start-up (arrival <= 0: before the first iterator), else one.
    note_reads = sum(2 if any(r.arrival <= 0 for r in shard.records) else 1 for shard in scenario.shards)
    return ReadThrottles(note_reads + 1, shards * polls)  # every shard's first read, in each poll


def _fingerprint(scenario: Scenario) -> str:
    """A stable digest of what the scenario draws (record data left out: it can be megabytes)."""
    shards = [
        (shard.shard_id, [(r.sequence_number, r.arrival, r.behaviour.value, r.times) for r in shard.records])
        for shard in scenario.shards
    ]
    text = json.dumps(
        [
            scenario.source.value,
            shards,
            scenario.parameters,
            scenario.clock.start.isoformat(),
            scenario.clock.poll_gaps,
        ],
        default=str,
        sort_keys=True,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def with_world_conditions(
    scenarios: SearchStrategy[Scenario], *, throttles: bool | None = None
) -> SearchStrategy[Scenario]:
    """``scenarios`` (any strategy of scenarios, a user's own too) with the world conditions
    ``world_conditions`` derives for each; ``scenarios()`` already has them."""
    return scenarios.map(
        lambda scenario: replace(scenario, world=world_conditions(scenario, throttles=throttles))
    )
