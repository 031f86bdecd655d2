"""The public building blocks of ``conformance.strategies`` on their own."""

from __future__ import annotations

import calendar
import itertools
import json
import re
from datetime import datetime, timedelta

import botocore.session
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import conformance.strategies as strategies
from conformance.scenario import INVALID_FORMS, SUCCESS_FORMS, Behaviour, ClockPlan, RecordSpec, Source
from conformance.strategies import (
    RecordBehaviour,
    behaviours,
    clock_plans,
    invalid_forms,
    mapping_parameters,
    partition_keys,
    payloads,
    poll_gaps,
    records,
    sequence_numbers,
    shard_ids,
    start_instants,
    success_forms,
)
from reference.config import MappingConfig

# The length bounds of a partition key in the Kinesis API's own model (PutRecord).
_PUT_RECORD = botocore.session.get_session().get_service_model("kinesis").operation_model("PutRecord")
PARTITION_KEY_LENGTH = _PUT_RECORD.input_shape.members["PartitionKey"].metadata
DATA_LENGTH = _PUT_RECORD.input_shape.members["Data"].metadata

FAST = settings(
    max_examples=50,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
)


def test_all_names_the_public_surface_and_nothing_private() -> None:
    assert all(not name.startswith("_") for name in strategies.__all__)
    assert all(hasattr(strategies, name) for name in strategies.__all__)
    assert {
        "scenarios",
        "sequence_numbers",
        "records",
        "mapping_parameters",
        "clock_plans",
        "behaviours",
        "success_forms",
    } <= set(strategies.__all__)
    assert strategies.__all__ == sorted(strategies.__all__, key=lambda n: (not n.isupper(), n))


# ---- sequence numbers and shard ids -----------------------------------------------------------


@FAST
@given(st.sampled_from(list(Source)), st.integers(0, 30), st.integers(0, 999), st.data())
def test_sequence_numbers_increase_as_integers_and_mix_two_lengths(
    source: Source, count: int, shard: int, data: st.DataObject
) -> None:
    numbers = data.draw(sequence_numbers(source, count, shard_index=shard))
    assert len(numbers) == count
    lengths = {len(n) for n in numbers}
    low, high = (55, 57) if source is Source.KINESIS else (21, 28)
    assert all(low <= n <= high for n in lengths)
    assert all(n.isdigit() and n[0] != "0" for n in numbers)
    assert all(int(a) < int(b) for a, b in itertools.pairwise(numbers))
    if count >= 2:
        assert len(lengths) == 2 and max(lengths) - min(lengths) == 1
        assert sorted(numbers) != list(numbers)  # a string comparison gets the order wrong


@FAST
@given(sequence_numbers(Source.KINESIS, 6, shard_index=0), sequence_numbers(Source.KINESIS, 6, shard_index=1))
def test_sequence_numbers_of_different_shards_never_collide(a: tuple[str, ...], b: tuple[str, ...]) -> None:
    assert not set(a) & set(b)


@FAST
@given(sequence_numbers("dynamodb"))
def test_sequence_numbers_draw_their_count_when_not_given(numbers: tuple[str, ...]) -> None:
    assert 0 <= len(numbers) <= 12


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: sequence_numbers("sqs"), "source must be 'kinesis' or 'dynamodb', found 'sqs'"),
        (lambda: sequence_numbers("kinesis", -1), "count must be >= 0, found -1"),
        (lambda: sequence_numbers("kinesis", 2, shard_index=1000), "shard_index must be 0..999, found 1000"),
        (lambda: shard_ids("kinesis", 0), "count must be 1..999, found 0"),
        (lambda: poll_gaps(0, 1), "poll gaps need 0 < min_gap <= max_gap, found min_gap=0"),
        (lambda: poll_gaps(2, 1), "found min_gap=2, max_gap=1"),
        (lambda: records(min_records=3, max_records=2), "0 <= min_records <= max_records, found 3, 2"),
        (lambda: records(age_limit=59), "age_limit must be 60..604800 seconds (RETRY-2), found 59"),
        (lambda: mapping_parameters("dynamodb", starting_position="AT_TIMESTAMP"), "Kinesis only"),
    ],
)
def test_bad_arguments_say_what_was_wrong(call: object, message: str) -> None:
    with pytest.raises(ValueError) as error:
        call()  # type: ignore[operator]
    assert message in str(error.value)


@FAST
@given(shard_ids("dynamodb", 4), shard_ids("kinesis", 3))
def test_shard_ids_have_the_services_formats(dynamodb: tuple[str, ...], kinesis: tuple[str, ...]) -> None:
    assert all(re.fullmatch(r"shardId-\d{20}-[0-9a-f]{8}", i) for i in dynamodb)
    assert len(set(dynamodb)) == 4
    assert kinesis == ("shardId-000000000000", "shardId-000000000001", "shardId-000000000002")


# ---- record contents ----------------------------------------------------------------------------


@FAST
@given(partition_keys())
def test_partition_keys_have_a_length_kinesis_accepts(key: str) -> None:
    assert PARTITION_KEY_LENGTH["min"] <= len(key) <= PARTITION_KEY_LENGTH["max"]


@FAST
@given(payloads())
def test_payloads_are_never_empty_and_kinesis_accepts_them(data: bytes) -> None:
    assert data, "an empty record shows nothing of how a poller encodes data"
    assert len(data) <= DATA_LENGTH["max"]


def test_payloads_are_json_text_or_binary() -> None:
    kinds: set[str] = set()

    @settings(FAST, max_examples=100)
    @given(payloads())
    def collect(data: bytes) -> None:
        try:
            json.loads(data)
            kinds.add("json")
        except UnicodeDecodeError:
            kinds.add("binary")
        except ValueError:
            kinds.add("text")

    collect()
    assert kinds == {"json", "text", "binary"}


@settings(FAST, max_examples=4)
@given(st.sampled_from(list(Source)).flatmap(lambda s: st.tuples(st.just(s), payloads(s, large=True))))
def test_large_payloads_stay_inside_the_services_limits(drawn: tuple[Source, bytes]) -> None:
    source, data = drawn
    if source is Source.KINESIS:
        assert 768 * 1024 <= len(data) <= 1_048_576 - 256  # room for a 256-character key
    else:
        assert 300_000 <= len(data) <= 350_000  # DynamoDB items are at most 400 KB


# ---- behaviours -----------------------------------------------------------------------------------


@FAST
@given(behaviours())
def test_behaviours_carry_times_and_forms_only_where_they_mean_something(b: RecordBehaviour) -> None:
    if b.behaviour in (Behaviour.TRANSIENT, Behaviour.THROTTLE):
        assert b.times > 0, "a record that fails no time behaves as OK"
    else:
        assert b.times == 0
    assert (b.form in INVALID_FORMS) if b.behaviour is Behaviour.INVALID else b.form is None


@FAST
@given(behaviours(permanent=False, report_batch_item_failures=True))
def test_behaviours_without_permanent_failures(b: RecordBehaviour) -> None:
    assert b.behaviour not in (Behaviour.POISON, Behaviour.REPORTED, Behaviour.INVALID)


@FAST
@given(behaviours(failures=False, throttles=False))
def test_behaviours_without_failures_or_throttles_are_ok(b: RecordBehaviour) -> None:
    assert b == RecordBehaviour(Behaviour.OK)


def test_forms_name_the_spec_responses() -> None:
    seen: set[str] = set()

    @settings(FAST, max_examples=60)
    @given(success_forms(), invalid_forms())
    def collect(success: str, invalid: str) -> None:
        seen.update({success, invalid})

    collect()
    assert seen == set(SUCCESS_FORMS) | set(INVALID_FORMS)


# ---- records of a shard ---------------------------------------------------------------------------


@FAST
@given(records("kinesis", age_limit=60, min_records=1, max_records=8, shard_index=2))
def test_records_of_a_shard_are_ordered(shard: tuple[RecordSpec, ...]) -> None:
    assert all(int(a.sequence_number) < int(b.sequence_number) for a, b in itertools.pairwise(shard))
    assert [r.arrival for r in shard] == sorted(r.arrival for r in shard)
    assert all(r.arrival <= 60 for r in shard)
    assert all(r.behaviour not in (Behaviour.POISON, Behaviour.REPORTED, Behaviour.INVALID) for r in shard)


def test_records_with_an_age_limit_include_older_ones() -> None:
    ages: set[str] = set()

    @settings(FAST, max_examples=60)
    @given(records("kinesis", age_limit=90, min_records=1))
    def collect(shard: tuple[RecordSpec, ...]) -> None:
        ages.update("too old" if r.arrival < -90 else "fresh" for r in shard)

    collect()
    assert ages == {"too old", "fresh"}


# ---- mapping parameters ----------------------------------------------------------------------------


@FAST
@given(st.sampled_from(list(Source)).flatmap(lambda s: st.tuples(st.just(s), mapping_parameters(s))))
def test_mapping_parameters_are_accepted_by_the_reference(drawn: tuple[Source, dict[str, object]]) -> None:
    source, parameters = drawn
    MappingConfig.from_parameters(parameters, source.value)
    if source is Source.DYNAMODB:
        assert parameters["StartingPosition"] != "AT_TIMESTAMP"


@settings(FAST, max_examples=100)
@given(mapping_parameters(permanent_failures=True))
def test_mapping_parameters_for_permanent_failures_always_end_them(parameters: dict[str, object]) -> None:
    retries = parameters.get("MaximumRetryAttempts", -1)
    age = parameters.get("MaximumRecordAgeInSeconds", -1)
    assert isinstance(retries, int) and isinstance(age, int)
    assert 0 <= retries <= 5 or 60 <= age <= 600


@settings(FAST, max_examples=30)
@given(mapping_parameters(permanent_failures=True, record_age=False))
def test_permanent_failures_without_an_age_limit_get_a_small_retry_quota(
    parameters: dict[str, object],
) -> None:
    assert parameters.get("MaximumRecordAgeInSeconds", -1) == -1
    retries = parameters["MaximumRetryAttempts"]
    assert isinstance(retries, int) and 0 <= retries <= 5


@settings(FAST, max_examples=30)
@given(mapping_parameters(starting_position="AT_TIMESTAMP", batching_window=True, destination="s3"))
def test_mapping_parameters_honour_their_focus(parameters: dict[str, object]) -> None:
    assert parameters["StartingPosition"] == "AT_TIMESTAMP"
    assert isinstance(parameters["StartingPositionTimestamp"], float)
    window = parameters["MaximumBatchingWindowInSeconds"]
    assert isinstance(window, int) and 1 <= window <= 300
    assert parameters["DestinationConfig"] == {
        "OnFailure": {"Destination": "arn:aws:s3:::conformance-on-failure"}
    }


def test_parameter_values_cover_their_ranges() -> None:
    values: dict[str, set[str]] = {}

    @settings(FAST, max_examples=300)
    @given(mapping_parameters())
    def collect(parameters: dict[str, object]) -> None:
        for name, value in parameters.items():
            values.setdefault(name, set()).add(json.dumps(value))

    collect()
    batch = {int(v) for v in values["BatchSize"]}
    assert min(batch) <= 10 and max(batch) > 100
    retries = {int(v) for v in values["MaximumRetryAttempts"]}
    assert {-1, 0} <= retries and max(retries) > 10
    ages = {int(v) for v in values["MaximumRecordAgeInSeconds"]}
    assert -1 in ages and any(60 <= a <= 120 for a in ages) and max(ages) > 3600
    assert {json.dumps([]), json.dumps(["ReportBatchItemFailures"])} <= values["FunctionResponseTypes"]
    assert {"true", "false"} <= values["BisectBatchOnFunctionError"]


# ---- clocks -------------------------------------------------------------------------------------------


def seconds_to_midnight(instant: datetime) -> float:
    midnight = (instant + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - instant).total_seconds()


def _distances_to_midnight(clock_edges: bool) -> list[float]:
    distances: list[float] = []

    @settings(FAST, max_examples=200)
    @given(start_instants(clock_edges=clock_edges))
    def collect(start: datetime) -> None:
        assert start.microsecond % 1000 == 0 and start.microsecond
        distances.append(seconds_to_midnight(start))

    collect()
    return distances


def test_edge_starts_are_nearer_a_day_boundary_than_any_ordinary_start() -> None:
    assert max(_distances_to_midnight(True)) < min(_distances_to_midnight(False))


def test_edge_starts_cover_every_kind_of_boundary() -> None:
    """Midnights into the 1st of a month, into a new year, into and out of 29 February."""
    kinds: set[str] = set()

    @settings(FAST, max_examples=200)
    @given(start_instants(clock_edges=True))
    def collect(start: datetime) -> None:
        day = (start + timedelta(seconds=seconds_to_midnight(start))).date()
        if (day.month, day.day) == (1, 1):
            kinds.add("year")
        elif (day.month, day.day) == (2, 29):
            kinds.add("into 29 February")
        elif (day.month, day.day) == (3, 1) and calendar.isleap(day.year):
            kinds.add("out of 29 February")
        elif day.day == 1:
            kinds.add("month")

    collect()
    assert kinds == {"year", "month", "into 29 February", "out of 29 February"}


@FAST
@given(start_instants(clock_edges=False))
def test_ordinary_starts_keep_away_from_day_boundaries(start: datetime) -> None:
    assert seconds_to_midnight(start) > 120
    assert start.microsecond % 1000 == 0 and start.microsecond


@FAST
@given(clock_plans(min_gap=0.5, max_gap=2.0))
def test_clock_plans_cycle_gaps_inside_their_range(plan: ClockPlan) -> None:
    assert all(0.5 <= g <= 2.0 and round(g, 3) == g for g in plan.poll_gaps)
    assert plan.gap(len(plan.poll_gaps)) == plan.poll_gaps[0]
