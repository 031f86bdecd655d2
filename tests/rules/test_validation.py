"""The PARAM rules: the oracle, the probe strategies, the judgement of probes, and each checker
failing on a poller that breaks it (and passing the reference on the same probe)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference
from conformance.contract import Adapter, Capabilities, PollerContext
from conformance.probe_strategies import (
    ACCEPTING_RULES,
    REFUSING_RULES,
    edge_mapping_parameters,
    invalid_mapping_parameters,
    parameter_probes,
    probe_examples,
)
from conformance.probes import run_probe, sanitized
from conformance.profiles import profile_settings
from conformance.rules import CATALOGUE, ParameterViolation, check, violation_error
from conformance.rules.validation import PARAMETER_RULES, parameter_problems
from conformance.runner import RunOptions, Verdict, replay, run_rule
from conformance.scenario import ClockPlan, RecordSpec, Scenario, ShardSpec, Source
from conformance.world import names
from reference import ReferencePoller

START = datetime(2024, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def _probe(parameters: dict[str, Any], source: Source = Source.KINESIS) -> Scenario:
    """One shard, two records arriving after the start, polled every 3 s."""
    number = "49590338271490256608559692538361571095921575989136588800"
    shard_id = "shardId-000000000000"
    if source is Source.DYNAMODB:
        number, shard_id = "4421584500000000017450439091", "shardId-00000001709251200000-0a1b2c3d"
    records = tuple(RecordSpec(str(int(number) + i), f"pk-{i}", b"{}", 1.0 + i) for i in range(2))
    return Scenario(source, (ShardSpec(shard_id, records),), parameters, ClockPlan(START, (3.0,)))


def _adapter(name: str, make: Any) -> Adapter:
    return Adapter(name=name, make_poller=make, capabilities=reference.ADAPTER.capabilities)


def _lenient(scenario: Scenario) -> Adapter:
    """The reference, but an invalid value is silently dropped instead of refused."""
    clean = sanitized(scenario).parameters
    return _adapter(
        "lenient", lambda context: ReferencePoller(dataclasses.replace(context, parameters=clean))
    )


def _refuse_everything(context: PollerContext) -> ReferencePoller:
    raise ValueError("this poller accepts no mapping")


STRICT = _adapter("strict", _refuse_everything)

# One refusal probe per rule that refuses, and one acceptance probe per rule that accepts.
REFUSALS: dict[str, dict[str, Any]] = {
    "PARAM-1": {"StartingPosition": "TRIM_HORIZON", "BatchSize": 0},
    "PARAM-2": {"StartingPosition": "TRIM_HORIZON", "MaximumBatchingWindowInSeconds": 301},
    "PARAM-4": {"StartingPosition": "TRIM_HORIZON", "MaximumRetryAttempts": -2},
    "PARAM-5": {"StartingPosition": "TRIM_HORIZON", "MaximumRecordAgeInSeconds": 30},
    "PARAM-6": {"StartingPosition": "TRIM_HORIZON", "BisectBatchOnFunctionError": "true"},
    "PARAM-7": {"StartingPosition": "TRIM_HORIZON", "FunctionResponseTypes": ["Foo"]},
    "PARAM-8": {"StartingPosition": "latest"},
    "PARAM-9": {"StartingPosition": "invalid"},
    "PARAM-10": {"StartingPosition": "TRIM_HORIZON", "ParallelizationFactor": 11},
    "PARAM-11": {
        "StartingPosition": "TRIM_HORIZON",
        "DestinationConfig": {"OnFailure": {"Destination": "x"}},
    },
    "PARAM-12": {"StartingPosition": "TRIM_HORIZON", "ParallelizationFactor": 2},
}
ACCEPTANCES: dict[str, dict[str, Any]] = {
    "PARAM-1": {"StartingPosition": "TRIM_HORIZON", "BatchSize": 10_000},
    "PARAM-2": {"StartingPosition": "TRIM_HORIZON", "MaximumBatchingWindowInSeconds": 300},
    "PARAM-3": {"StartingPosition": "TRIM_HORIZON", "BatchSize": 11, "MaximumBatchingWindowInSeconds": 0},
    "PARAM-4": {"StartingPosition": "TRIM_HORIZON", "MaximumRetryAttempts": 10_000},
    "PARAM-5": {"StartingPosition": "LATEST", "MaximumRecordAgeInSeconds": 60},
    "PARAM-6": {"StartingPosition": "TRIM_HORIZON", "BisectBatchOnFunctionError": True},
    "PARAM-7": {"StartingPosition": "TRIM_HORIZON", "FunctionResponseTypes": ["ReportBatchItemFailures"]},
    "PARAM-8": {"StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": 0},
    "PARAM-10": {"StartingPosition": "TRIM_HORIZON", "ParallelizationFactor": 1},
    "PARAM-11": {
        "StartingPosition": "TRIM_HORIZON",
        "DestinationConfig": {"OnFailure": {"Destination": names.BUCKET_ARN}},
    },
}


def test_the_probe_tables_cover_every_rule() -> None:
    assert set(REFUSALS) == set(REFUSING_RULES) and set(ACCEPTANCES) == set(ACCEPTING_RULES)
    assert set(PARAMETER_RULES) == {rule.id for rule in CATALOGUE.values() if rule.family == "PARAM"}
    assert all(
        rule.needs == {"parameter_validation"} for rule in CATALOGUE.values() if rule.family == "PARAM"
    )


@pytest.mark.parametrize("rule_id", sorted(REFUSALS))
def test_a_poller_that_ignores_an_invalid_value_fails(rule_id: str) -> None:
    scenario = _probe(REFUSALS[rule_id])
    judged = "PARAM-8" if rule_id == "PARAM-9" else rule_id
    assert set(parameter_problems(scenario.parameters, "kinesis")) == {judged}
    on_reference = check(rule_id, run_probe(reference.ADAPTER, scenario))
    assert on_reference.exercised == 1 and on_reference.passed
    if rule_id == "PARAM-9":
        # A refusal that does not name StartingPosition breaks the SHOULD on START-1's messages.
        result = check(rule_id, run_probe(STRICT, scenario))
        assert [v.message for v in result.violations] == [
            "the refusal of a mapping with StartingPosition='invalid' is not one of TRIM_HORIZON, LATEST, "
            "AT_TIMESTAMP does not name StartingPosition: 'the poller factory raised ValueError: this poller "
            "accepts no mapping' (PARAM-9)"
        ]
        return
    result = check(rule_id, run_probe(_lenient(scenario), scenario))
    (violation,) = result.violations
    assert violation.message.startswith("the poller accepted a mapping it must refuse (")
    assert "invoked the function 1 time(s)" in violation.message
    assert violation.message.endswith(f"({rule_id})")
    assert isinstance(violation_error(violation), ParameterViolation)


@pytest.mark.parametrize("rule_id", sorted(ACCEPTANCES))
def test_a_poller_that_refuses_a_valid_edge_fails(rule_id: str) -> None:
    scenario = _probe(ACCEPTANCES[rule_id])
    assert parameter_problems(scenario.parameters, "kinesis") == {}
    on_reference = check(rule_id, run_probe(reference.ADAPTER, scenario))
    assert on_reference.exercised == 1 and on_reference.passed, on_reference.violations
    (violation,) = check(rule_id, run_probe(STRICT, scenario)).violations
    assert violation.message.startswith("the poller refused a valid mapping (")
    assert "ValueError: this poller accepts no mapping" in violation.message


def test_raising_after_invoking_is_not_a_refusal() -> None:
    scenario = _probe(REFUSALS["PARAM-1"])

    class LateRefusal(ReferencePoller):
        polls = 0

        def poll(self) -> None:
            super().poll()
            self.polls += 1
            if self.polls == 2:
                raise ValueError("BatchSize=0 is out of range")

    lenient = sanitized(scenario).parameters
    adapter = _adapter("late", lambda context: LateRefusal(dataclasses.replace(context, parameters=lenient)))
    (violation,) = check("PARAM-1", run_probe(adapter, scenario)).violations
    assert "invoked the function 1 time(s) before it raised" in violation.message


def test_accepting_without_serving_fails() -> None:
    scenario = _probe(ACCEPTANCES["PARAM-1"])

    class Idle(ReferencePoller):
        def poll(self) -> None:
            return None

    (violation,) = check("PARAM-1", run_probe(_adapter("idle", Idle), scenario)).violations
    assert (
        "did not serve the stream" in violation.message and "never reached the function" in violation.message
    )


def test_a_dynamodb_mapping_at_timestamp_is_refused_and_named() -> None:
    scenario = _probe({"StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": 0}, Source.DYNAMODB)
    assert set(parameter_problems(scenario.parameters, "dynamodb")) == {"PARAM-8"}
    observation = run_probe(reference.ADAPTER, scenario)
    assert check("PARAM-8", observation).passed and check("PARAM-9", observation).exercised == 1


@pytest.mark.parametrize(
    ("parameters", "problems"),
    [
        ({"StartingPosition": "LATEST"}, set()),
        ({"StartingPosition": "LATEST", "BatchSize": None}, set()),  # None is "omitted"
        ({"StartingPosition": "LATEST", "BatchSize": True}, {"PARAM-1"}),
        ({"StartingPosition": "LATEST", "MaximumRecordAgeInSeconds": -1}, set()),
        ({"StartingPosition": "LATEST", "MaximumRecordAgeInSeconds": 0}, {"PARAM-5"}),
        ({"StartingPosition": "LATEST", "MaximumRetryAttempts": 10_001}, {"PARAM-4"}),
        ({"StartingPosition": "LATEST", "FunctionResponseTypes": "ReportBatchItemFailures"}, {"PARAM-7"}),
        ({"StartingPosition": "LATEST", "DestinationConfig": {"OnFailure": {}}}, set()),
        ({"StartingPosition": "LATEST", "DestinationConfig": {"OnSuccess": {}}}, {"PARAM-11"}),
        ({"StartingPosition": "LATEST", "TumblingWindowInSeconds": 0, "FilterCriteria": {}}, set()),
        ({"StartingPosition": "LATEST", "Queues": ["q"]}, {"PARAM-12"}),
        ({"BatchSize": 0}, {"PARAM-1", "PARAM-8"}),
    ],
)
def test_parameter_problems(parameters: dict[str, Any], problems: set[str]) -> None:
    assert set(parameter_problems(parameters, "kinesis")) == problems


@settings(profile_settings("ci"), max_examples=60)
@given(
    data=st.data(),
    rule_id=st.sampled_from(sorted(REFUSING_RULES)),
    source=st.sampled_from(["kinesis", "dynamodb"]),
)
def test_invalid_parameters_hold_exactly_the_rules_problem(
    data: st.DataObject, rule_id: str, source: str
) -> None:
    parameters = data.draw(invalid_mapping_parameters(rule_id, source, reference.ADAPTER.capabilities))
    judged = "PARAM-8" if rule_id == "PARAM-9" else rule_id
    assert set(parameter_problems(parameters, source)) == {judged}


@settings(profile_settings("ci"), max_examples=60)
@given(
    data=st.data(),
    rule_id=st.sampled_from(sorted(ACCEPTING_RULES)),
    source=st.sampled_from(["kinesis", "dynamodb"]),
)
def test_edge_parameters_are_valid(data: st.DataObject, rule_id: str, source: str) -> None:
    parameters = data.draw(edge_mapping_parameters(rule_id, source, reference.ADAPTER.capabilities))
    assert parameter_problems(parameters, source) == {}
    assert PARAMETER_RULES[rule_id] in parameters


def test_probes_stay_within_the_claims() -> None:
    claims = Capabilities(sources=frozenset({"kinesis"}), features=frozenset({"parallelization"}))

    @settings(profile_settings("ci"), max_examples=40)
    @given(parameter_probes("PARAM-12", claims), parameter_probes("PARAM-11", claims))
    def probe(unclaimed: Scenario, destination: Scenario) -> None:
        assert unclaimed.source is Source.KINESIS
        assert "ParallelizationFactor" not in unclaimed.parameters
        config = destination.parameters["DestinationConfig"]
        # No destination kind is claimed: a valid DestinationConfig names none.
        assert parameter_problems(destination.parameters, "kinesis") or config == {"OnFailure": {}}

    probe()


@pytest.mark.parametrize("rule_id", sorted(PARAMETER_RULES))
def test_the_explicit_examples_hold_every_edge_and_the_reference_passes_them(rule_id: str) -> None:
    examples = probe_examples(rule_id, reference.ADAPTER.capabilities)
    assert {e.source for e in examples} == {Source.KINESIS, Source.DYNAMODB}
    values = {repr(e.parameters.get(PARAMETER_RULES[rule_id])) for e in examples}
    wanted = {
        "PARAM-1": {"0", "1", "10000", "10001"},
        "PARAM-4": {"-2", "-1", "0", "10000", "10001"},
        "PARAM-5": {"-2", "0", "30", "59", "-1", "60", "604800", "604801"},
    }.get(rule_id, set())
    assert wanted <= values
    for scenario in examples:
        result = check(rule_id, run_probe(reference.ADAPTER, scenario))
        assert result.passed, (scenario.parameters, result.violations)


def test_unknown_rules_have_no_probes() -> None:
    with pytest.raises(ValueError, match="'ORD-1' is not a PARAM rule"):
        parameter_probes("ORD-1")


def test_an_adapter_not_claiming_validation_is_skipped(tmp_path: Path) -> None:
    adapter = Adapter(name="unvalidated", make_poller=reference.make_poller)
    result = run_rule(CATALOGUE["PARAM-1"], adapter, RunOptions("unvalidated", results_dir=tmp_path))
    assert result.verdict is Verdict.SKIP
    assert result.message == "unvalidated does not claim parameter_validation, which PARAM-1 needs"


def test_a_failure_replays_against_the_probe_parameters(tmp_path: Path) -> None:
    scenario = _probe(REFUSALS["PARAM-1"])
    path = tmp_path / "probe.json"
    path.write_text(scenario.dumps(), encoding="utf-8")
    (on_reference,) = replay(path, reference.ADAPTER, rule_ids=["PARAM-1"]).results
    assert on_reference.verdict is Verdict.PASS and on_reference.exercised == 1
    (on_lenient,) = replay(path, _lenient(scenario), rule_ids=["PARAM-1"]).results
    assert on_lenient.verdict is Verdict.FAIL and "BatchSize=0" in on_lenient.message
