"""Every scenario drawn by ``scenarios()`` is valid, serialisable, terminating and honours its focus.

The checks here are written from SPEC.md's ranges and SEMANTICS.md, independently of how the
strategies build scenarios.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import botocore.session
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

import reference
from conformance.harness import run_scenario
from conformance.observation import RunStatus
from conformance.rules.validation import parameter_problems
from conformance.scenario import INVALID_FORMS, SUCCESS_FORMS, Behaviour, Scenario, Source
from conformance.strategies import PAYLOAD_CAP_BYTES, scenarios
from conformance.world import names
from reference.config import MappingConfig

# The length bounds of a partition key in the Kinesis API's own model (PutRecord).
_PUT_RECORD = botocore.session.get_session().get_service_model("kinesis").operation_model("PutRecord")
PARTITION_KEY_LENGTH = _PUT_RECORD.input_shape.members["PartitionKey"].metadata

FAST = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # The explain phase re-runs examples under a tracer: slow, and not what these tests check.
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
)

KNOWN_PARAMETERS = {
    "StartingPosition",
    "StartingPositionTimestamp",
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "FunctionResponseTypes",
    "DestinationConfig",
}
KINESIS_SHARD = re.compile(r"shardId-\d{12}")
DYNAMODB_SHARD = re.compile(r"shardId-\d{20}-[0-9a-f]{8}")
SEQUENCE_LENGTHS = {Source.KINESIS: range(55, 58), Source.DYNAMODB: range(21, 29)}
PERMANENT = (Behaviour.POISON, Behaviour.REPORTED, Behaviour.INVALID)


# ---- independent checks -------------------------------------------------------------------


def records_of(s: Scenario) -> list[Any]:
    return [r for shard in s.shards for r in shard.records]


def age_limit(s: Scenario) -> int | None:
    age = s.parameters.get("MaximumRecordAgeInSeconds", -1)
    return None if age == -1 else int(age)


def is_failing(s: Scenario, behaviour: Behaviour) -> bool:
    if behaviour in (Behaviour.POISON, Behaviour.TRANSIENT):
        return True
    return s.report_batch_item_failures and behaviour in (Behaviour.REPORTED, Behaviour.INVALID)


def fails_forever(s: Scenario, behaviour: Behaviour) -> bool:
    return behaviour is Behaviour.POISON or (
        s.report_batch_item_failures and behaviour in (Behaviour.REPORTED, Behaviour.INVALID)
    )


def delivered(s: Scenario, arrival: float) -> bool:
    """Whether the starting position reads a record that arrived at ``arrival`` (START-2..4)
    and it is not already too old at the start (RETRY-8)."""
    limit = age_limit(s)
    if limit is not None and arrival < -limit:
        return False
    position = s.parameters["StartingPosition"]
    if position == "LATEST":
        return arrival > 0
    if position == "AT_TIMESTAMP":
        timestamp = float(s.parameters["StartingPositionTimestamp"])
        return s.instant(arrival).timestamp() >= timestamp - 1e-6
    return True


def assert_parameters_valid(s: Scenario) -> None:
    p = s.parameters
    assert set(p) <= KNOWN_PARAMETERS, set(p) - KNOWN_PARAMETERS
    assert p["StartingPosition"] in ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
    if p["StartingPosition"] == "AT_TIMESTAMP":
        assert s.source is Source.KINESIS  # START-1
        assert isinstance(p["StartingPositionTimestamp"], float)
    else:
        assert "StartingPositionTimestamp" not in p
    # Every value is one CreateEventSourceMapping accepts, by the PARAM rules' own oracle
    # (BATCH-1, BATCH-3, RETRY-1, RETRY-2, BISECT-1, PBF-1, START-1, DLQ-1 ranges), written apart
    # from the strategies: scenarios must never hand a poller a mapping it should refuse.
    assert parameter_problems(p, s.source.value) == {}, parameter_problems(p, s.source.value)
    if "DestinationConfig" in p:
        config = p["DestinationConfig"]
        assert config == {"OnFailure": {}} or (
            set(config) == {"OnFailure"}
            and config["OnFailure"] == {"Destination": config["OnFailure"]["Destination"]}
            and config["OnFailure"]["Destination"] in names.DESTINATION_ARNS.values()
        )
    for name in ("BatchSize", "MaximumBatchingWindowInSeconds", "MaximumRetryAttempts"):
        if name in p:
            assert type(p[name]) is int


def assert_stream_valid(s: Scenario, max_shards: int = 4, max_records: int = 12) -> None:
    assert Scenario.loads(s.dumps()) == s, "a drawn scenario must survive its own file format"
    assert len(s.shards) <= max_shards
    ids = [shard.shard_id for shard in s.shards]
    assert len(set(ids)) == len(ids)
    pattern = KINESIS_SHARD if s.source is Source.KINESIS else DYNAMODB_SHARD
    assert all(pattern.fullmatch(i) for i in ids), ids
    if s.source is Source.KINESIS:
        assert ids == [f"shardId-{i:012d}" for i in range(len(ids))]
    everything = [r.sequence_number for r in records_of(s)]
    assert len(set(everything)) == len(everything), "sequence numbers repeat across shards"
    for shard in s.shards:
        numbers = [r.sequence_number for r in shard.records]
        assert all(n.isdigit() and not n.startswith("0") for n in numbers)
        assert all(len(n) in SEQUENCE_LENGTHS[s.source] for n in numbers)
        assert all(int(a) < int(b) for a, b in itertools.pairwise(numbers)), (
            "ORD-2: must increase as integers"
        )
        arrivals = [r.arrival for r in shard.records]
        assert arrivals == sorted(arrivals), "arrivals must not decrease in shard order"
        assert all(abs(a * 1000 - round(a * 1000)) < 1e-6 for a in arrivals), "millisecond precision"
    for r in records_of(s):
        assert PARTITION_KEY_LENGTH["min"] <= len(r.partition_key) <= PARTITION_KEY_LENGTH["max"]
        assert r.data
        if s.source is Source.KINESIS:
            assert len(r.data) + len(r.partition_key.encode()) <= 1_048_576
        else:
            assert len(r.data) <= 350_000
        # A count of failing deliveries belongs to, and only to, the behaviours that fail for a while.
        assert (r.times > 0) == (r.behaviour in (Behaviour.TRANSIENT, Behaviour.THROTTLE)), r
        assert (r.form in INVALID_FORMS) if r.behaviour is Behaviour.INVALID else r.form is None
    assert s.success_form in SUCCESS_FORMS
    start = s.clock.start
    assert start.utcoffset() == timedelta(0)
    assert start.microsecond % 1000 == 0 and start.microsecond != 0, "a millisecond fraction, always"
    assert s.clock.poll_gaps and all(g > 0 for g in s.clock.poll_gaps)


def assert_terminates(s: Scenario) -> None:
    """A record that fails forever is ended by a small retry quota or a short age limit, and the
    virtual time the run needs fits the harness's poll budget (2000 polls)."""
    retries = s.parameters.get("MaximumRetryAttempts", -1)
    limit = age_limit(s)
    forever = [r for r in records_of(s) if fails_forever(s, r.behaviour)]
    if forever:
        if retries == -1:
            assert limit is not None, "infinite retries of a failing record need MaximumRecordAgeInSeconds"
        assert 0 <= retries <= 5 or (limit is not None and limit <= 600)
    window = s.parameters.get("MaximumBatchingWindowInSeconds", 0)
    horizon = (
        max([0.0, *(r.arrival for r in records_of(s))])
        + (limit or 0 if forever else 0)
        + window * max(len(shard.records) for shard in s.shards)
        + max(30, window + 10)
    )
    mean_gap = sum(s.clock.poll_gaps) / len(s.clock.poll_gaps)
    assert horizon / mean_gap <= 1000, (horizon, s.clock.poll_gaps)


# ---- properties of the default search --------------------------------------------------------


@FAST
@given(scenarios())
def test_scenarios_round_trip_through_json(s: Scenario) -> None:
    assert Scenario.from_json(s.to_json()) == s
    assert Scenario.loads(s.dumps()) == s
    assert Scenario.loads(json.dumps(json.loads(s.dumps()))) == s


@FAST
@given(scenarios())
def test_scenarios_are_valid(s: Scenario) -> None:
    assert_parameters_valid(s)
    assert_stream_valid(s)


@FAST
@given(scenarios())
def test_the_reference_accepts_every_parameter_set(s: Scenario) -> None:
    config = MappingConfig.from_parameters(s.parameters, s.source.value)
    assert config.destination_arn == s.destination_arn


@settings(FAST, max_examples=150)
@given(scenarios())
def test_scenarios_terminate(s: Scenario) -> None:
    assert_terminates(s)


@FAST
@given(scenarios(source="kinesis", max_records=8))
def test_kinesis_sequence_numbers_mix_lengths_so_string_order_is_wrong(s: Scenario) -> None:
    for shard in s.shards:
        numbers = [r.sequence_number for r in shard.records]
        if len(numbers) >= 2:
            assert len({len(n) for n in numbers}) == 2
            assert sorted(numbers) != numbers, "a string sort must get this shard's order wrong"


def collect(
    strategy: st.SearchStrategy[Scenario], seen: Callable[[Scenario], set[str]], n: int = 60
) -> set[str]:
    """Everything ``seen`` reports over ``n`` derandomized examples."""
    out: set[str] = set()

    @settings(FAST, max_examples=n)
    @given(strategy)
    def run(s: Scenario) -> None:
        out.update(seen(s))

    run()
    return out


def payload_kinds(s: Scenario) -> set[str]:
    out = set()
    for r in records_of(s):
        try:
            json.loads(r.data)
            out.add("json")
        except UnicodeDecodeError:
            out.add("binary")
        except ValueError:
            out.add("text")
    return out


def test_generated_scenarios_use_every_kind_of_payload() -> None:
    assert collect(scenarios(), payload_kinds) == {"json", "binary", "text"}


def test_partition_keys_include_non_ascii_ones() -> None:
    assert "unicode" in collect(
        scenarios(), lambda s: {"unicode" for r in records_of(s) if not r.partition_key.isascii()}
    )


def test_records_arrive_before_during_and_long_before_the_run() -> None:
    def when(s: Scenario) -> set[str]:
        limit = age_limit(s)
        return {"before" if r.arrival <= 0 else "during" for r in records_of(s)} | {
            "too old" for r in records_of(s) if limit is not None and r.arrival < -limit
        }

    assert collect(scenarios(), when) == {"before", "during", "too old"}


def test_every_behaviour_and_parameter_occurs() -> None:
    def seen(s: Scenario) -> set[str]:
        return (
            {r.behaviour.value for r in records_of(s)}
            | set(s.parameters)
            | {s.parameters["StartingPosition"], s.destination_kind or "no destination", s.source.value}
        )

    assert collect(scenarios(), seen, n=250) >= (
        {b.value for b in Behaviour}
        | (KNOWN_PARAMETERS - {"StartingPositionTimestamp"})
        | {
            "TRIM_HORIZON",
            "LATEST",
            "AT_TIMESTAMP",
            "sqs",
            "sns",
            "s3",
            "no destination",
            "kinesis",
            "dynamodb",
        }
    )


# ---- focus flags ------------------------------------------------------------------------------


def has_arn(kind: str) -> Callable[[Scenario], bool]:
    return lambda s: s.destination_arn == names.DESTINATION_ARNS[kind]


def no_destination(s: Scenario) -> bool:
    return s.destination_arn is None


def failing_delivered(s: Scenario) -> bool:
    return any(is_failing(s, r.behaviour) and delivered(s, r.arrival) for r in records_of(s))


def old_record(s: Scenario) -> bool:
    limit = age_limit(s)
    return limit is not None and any(r.arrival < -limit for r in records_of(s))


def large_run_passes_cap(s: Scenario) -> bool:
    shard = s.shards[0]
    encoded = sum(4 * -(-len(r.data) // 3) for r in shard.records if len(r.data) > 250_000)
    return encoded > PAYLOAD_CAP_BYTES and s.parameters.get("BatchSize", 100) >= 16


def reported_pair_where_possible(s: Scenario) -> bool:
    """reported_pair=True: shard 0 reports a short-numbered record and a later long-numbered one,
    with an unreported record after the first, whenever it has a record of each length that is
    delivered with a second to spare (the strategy's margin for DynamoDB's rounded arrivals)."""
    records = s.shards[0].records
    lengths = {len(r.sequence_number) for r in records}
    short = min(lengths)
    usable = [i for i, r in enumerate(records) if delivered(s, r.arrival - 1)]
    if not any(len(records[i].sequence_number) == short for i in usable) or all(
        len(records[i].sequence_number) == short for i in usable
    ):
        return True
    reported = [i for i, r in enumerate(records) if r.behaviour is Behaviour.REPORTED]
    return any(
        len(records[low].sequence_number) < len(records[high].sequence_number)
        and any(records[c].behaviour is not Behaviour.REPORTED for c in range(low + 1, len(records)))
        for low in reported
        for high in reported
        if low < high
    )


def seconds_to_midnight(instant: datetime) -> float:
    next_midnight = (instant + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (next_midnight - instant).total_seconds()


FOCUS_CASES: list[tuple[dict[str, Any], Callable[[Scenario], bool]]] = [
    ({"source": "kinesis"}, lambda s: s.source is Source.KINESIS),
    ({"source": "dynamodb"}, lambda s: s.source is Source.DYNAMODB),
    ({"destination": "sqs"}, has_arn("sqs")),
    ({"destination": "sns"}, has_arn("sns")),
    ({"destination": "s3"}, has_arn("s3")),
    ({"destination": "none"}, no_destination),
    ({"report_batch_item_failures": True}, lambda s: s.report_batch_item_failures),
    ({"report_batch_item_failures": False}, lambda s: not s.report_batch_item_failures),
    ({"bisect": True}, lambda s: s.parameters.get("BisectBatchOnFunctionError") is True),
    ({"bisect": False}, lambda s: not s.parameters.get("BisectBatchOnFunctionError", False)),
    ({"failures": True}, failing_delivered),
    ({"failures": False}, lambda s: all(r.behaviour is Behaviour.OK for r in records_of(s))),
    (
        {"failures": True, "report_batch_item_failures": True, "starting_position": "LATEST"},
        failing_delivered,
    ),
    (
        {"failures": True, "starting_position": "AT_TIMESTAMP"},
        lambda s: any(is_failing(s, r.behaviour) for r in records_of(s)),
    ),
    ({"record_age": True}, old_record),
    (
        {"record_age": True, "source": "dynamodb"},
        lambda s: old_record(s) and (age_limit(s) or 0) < 86_400,
    ),
    ({"record_age": False}, lambda s: age_limit(s) is None),
    ({"batching_window": True}, lambda s: s.parameters.get("MaximumBatchingWindowInSeconds", 0) >= 1),
    ({"batching_window": False}, lambda s: s.parameters.get("MaximumBatchingWindowInSeconds", 0) == 0),
    ({"starting_position": "TRIM_HORIZON"}, lambda s: s.parameters["StartingPosition"] == "TRIM_HORIZON"),
    (
        {"starting_position": "LATEST"},
        lambda s: s.parameters["StartingPosition"] == "LATEST" and any(r.arrival > 0 for r in records_of(s)),
    ),
    (
        {"starting_position": "AT_TIMESTAMP"},
        lambda s: s.source is Source.KINESIS and isinstance(s.parameters["StartingPositionTimestamp"], float),
    ),
    ({"throttles": True}, lambda s: any(r.behaviour is Behaviour.THROTTLE for r in records_of(s))),
    ({"throttles": False}, lambda s: all(r.behaviour is not Behaviour.THROTTLE for r in records_of(s))),
    (
        {"throttles": True, "failures": True},
        # The failing record is placed where the starting position delivers it *when possible*;
        # with a throttled record also forced in, an AT_TIMESTAMP start can leave it just before
        # the timestamp, so only its presence is guaranteed here.
        lambda s: (
            any(r.behaviour is Behaviour.THROTTLE for r in records_of(s))
            and any(is_failing(s, r.behaviour) for r in records_of(s))
        ),
    ),
    ({"large_records": False}, lambda s: all(len(r.data) < 100_000 for r in records_of(s))),
    (
        {"report_batch_item_failures": True, "failures": True, "reported_pair": True},
        lambda s: reported_pair_where_possible(s) and len(s.shards[0].records) >= 3,
    ),
    (
        # Without ReportBatchItemFailures drawn nothing is reported; with it, the pair is there.
        {"destination": "sqs", "failures": True, "reported_pair": True},
        lambda s: not s.report_batch_item_failures or reported_pair_where_possible(s),
    ),
    ({"clock_edges": True}, lambda s: 0 < seconds_to_midnight(s.clock.start) <= 61),
    ({"clock_edges": False}, lambda s: seconds_to_midnight(s.clock.start) > 120),
    ({"max_shards": 1, "max_records": 3}, lambda s: len(s.shards) == 1 and len(s.shards[0].records) <= 3),
]


@pytest.mark.parametrize(
    ("focus", "holds"), FOCUS_CASES, ids=[",".join(f"{k}={v}" for k, v in f.items()) for f, _ in FOCUS_CASES]
)
def test_focus_flags_are_honoured(focus: dict[str, Any], holds: Callable[[Scenario], bool]) -> None:
    @settings(FAST, max_examples=25)
    @given(scenarios(**focus))
    def check(s: Scenario) -> None:
        assert holds(s), s.dumps()
        assert_parameters_valid(s)
        assert_stream_valid(
            s, max_shards=focus.get("max_shards", 4), max_records=focus.get("max_records", 12)
        )
        assert_terminates(s)

    check()


def test_a_reported_pair_is_drawn_when_none_was() -> None:
    """The focus draws the pair: two reported records, the lower one short-numbered."""
    pair = find(
        scenarios(report_batch_item_failures=True, failures=True, reported_pair=True, max_shards=1),
        lambda s: (
            s.parameters["StartingPosition"] == "TRIM_HORIZON"
            and sum(r.behaviour is Behaviour.REPORTED for r in s.shards[0].records) == 2
            and reported_pair_where_possible(s)
        ),
        settings=settings(FAST, max_examples=200),
    )
    lengths = [len(r.sequence_number) for r in pair.shards[0].records if r.behaviour is Behaviour.REPORTED]
    assert lengths[0] < lengths[1], pair.dumps()


@pytest.mark.parametrize("source", ["kinesis", "dynamodb"])
def test_large_records_pass_the_payload_cap_with_little_memory_drawn(source: str) -> None:
    @settings(FAST, max_examples=5)
    @given(scenarios(large_records=True, source=source))
    def check(s: Scenario) -> None:
        assert large_run_passes_cap(s)
        assert_parameters_valid(s)
        assert_terminates(s)

    check()


def test_clock_edges_cover_every_kind_of_boundary() -> None:
    def boundary(s: Scenario) -> set[str]:
        edge = s.clock.start + timedelta(seconds=seconds_to_midnight(s.clock.start))
        kinds = {"midnight"}
        if edge.day == 1:
            kinds.add("month end")
        if (edge.month, edge.day) == (1, 1):
            kinds.add("year end")
        if edge.year % 4 == 0 and (edge.month, edge.day) in ((2, 29), (3, 1)):
            kinds.add("29 February")
        return kinds

    assert collect(scenarios(clock_edges=True), boundary) == {
        "midnight",
        "month end",
        "year end",
        "29 February",
    }


# ---- shrinking -----------------------------------------------------------------------------------


def test_the_simplest_scenario_is_one_empty_shard_with_default_parameters() -> None:
    # Hypothesis tries the simplest choice sequence first: the point shrinking converges to.
    first: list[Scenario] = []

    @settings(FAST, max_examples=1, phases=[Phase.generate])
    @given(scenarios())
    def run(s: Scenario) -> None:
        first.append(s)

    run()
    s = first[0]
    assert len(s.shards) == 1 and s.record_count == 0
    assert dict(s.parameters) == {"StartingPosition": "TRIM_HORIZON"}
    assert s.clock.poll_gaps == (1.0,)
    assert s.clock.start == datetime(2024, 6, 12, 10, 0, 0, 1000, tzinfo=timezone.utc)
    assert s.success_form == "empty_failures"


@pytest.mark.slow
def test_shrinking_keeps_only_the_record_that_matters() -> None:
    def poison(s: Scenario) -> bool:
        return any(r.behaviour is Behaviour.POISON for r in records_of(s))

    s = find(scenarios(max_shards=3, max_records=6), poison, settings=settings(FAST, max_examples=100))
    assert len(s.shards) == 1 and s.record_count == 1
    record = s.shards[0].records[0]
    assert record.behaviour is Behaviour.POISON and record.partition_key == "pk-0" and record.data == b"{}"
    extra = set(s.parameters) - {"StartingPosition"}
    assert extra in ({"MaximumRetryAttempts"}, {"MaximumRecordAgeInSeconds"}), s.parameters
    assert s.parameters.get("MaximumRetryAttempts", 0) == 0
    assert s.parameters.get("MaximumRecordAgeInSeconds", 60) == 60


# ---- bad focus -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("focus", "message"),
    [
        ({"source": "sqs"}, "source must be 'kinesis' or 'dynamodb', found 'sqs'"),
        ({"destination": "lambda"}, "destination must be one of ['sqs', 'sns', 's3', 'none'] or None"),
        (
            {"starting_position": "EARLIEST"},
            "starting_position must be one of ['TRIM_HORIZON', 'LATEST', 'AT_TIMESTAMP']",
        ),
        (
            {"starting_position": "AT_TIMESTAMP", "source": "dynamodb"},
            "AT_TIMESTAMP' is Kinesis only (START-1)",
        ),
        ({"bisect": "yes"}, "bisect must be True, False or None (either), found 'yes'"),
        ({"max_shards": 0}, "max_shards must be an integer 1..999, found 0"),
        ({"max_records": -1}, "max_records must be a non-negative integer, found -1"),
        ({"failures": True, "max_records": 0}, "failures need(s) records to act on, but max_records=0"),
        ({"failures": True, "throttles": True, "max_records": 1}, "raise max_records to at least 2"),
        (
            {"reported_pair": True, "report_batch_item_failures": False},
            "reported_pair=True needs ReportBatchItemFailures",
        ),
        (
            {"reported_pair": True, "report_batch_item_failures": True, "max_records": 2},
            "raise max_records to at least 3",
        ),
    ],
)
def test_bad_focus_is_rejected_when_the_strategy_is_built(focus: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as error:
        scenarios(**focus)
    assert message in str(error.value)


def test_unknown_focus_flags_are_a_type_error() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'destinations'"):
        scenarios(destinations="sqs")  # type: ignore[call-arg]


@settings(FAST, max_examples=10)
@given(st.tuples(*[scenarios(destination="sqs", report_batch_item_failures=True)] * 2))
def test_scenarios_never_share_mutable_parameters(pair: tuple[Scenario, Scenario]) -> None:
    first, second = pair
    assert first.parameters["DestinationConfig"] is not second.parameters["DestinationConfig"]
    assert first.parameters["FunctionResponseTypes"] is not second.parameters["FunctionResponseTypes"]


# ---- termination, end to end ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "focus",
    [
        {},
        {"failures": True},
        {"failures": True, "report_batch_item_failures": True, "bisect": True},
        {"failures": True, "record_age": True, "destination": "sqs"},
        {"throttles": True, "batching_window": True},
        {"starting_position": "LATEST", "failures": True},
    ],
    ids=lambda focus: ",".join(f"{k}={v}" for k, v in focus.items()) or "any",
)
def test_scenarios_run_to_completion_under_the_reference_poller(focus: dict[str, Any]) -> None:
    """The real test of termination: a correct poller settles well inside the harness budget."""

    @settings(FAST, max_examples=15)
    @given(scenarios(**focus))
    def run(s: Scenario) -> None:
        observation = run_scenario(reference.ADAPTER, s)
        assert observation.status is RunStatus.COMPLETED, observation.reason
        assert observation.polls <= 1000, observation.reason

    run()
