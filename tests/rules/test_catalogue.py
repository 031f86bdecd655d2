"""The public surface of ``conformance.rules``: the catalogue as data, lookup, errors, caching."""

from __future__ import annotations

import inspect
import re
from typing import TYPE_CHECKING

import pytest

from conformance.contract import Capabilities
from conformance.rules import (
    CATALOGUE,
    BatchingViolation,
    BisectViolation,
    CheckResult,
    DestinationViolation,
    EventShapeViolation,
    Level,
    LivenessViolation,
    LossViolation,
    OrderingViolation,
    ParameterViolation,
    PartialBatchViolation,
    RetryViolation,
    RuleViolation,
    S3DestinationViolation,
    StartingPositionViolation,
    UnknownRuleError,
    Violation,
    check,
    rules,
    violation_error,
)
from conformance.rules.analysis import analyse
from conformance.strategies import scenarios

if TYPE_CHECKING:
    from conftest import History

SPEC_ORDER = [
    "ORD",
    "BATCH",
    "EVT-K",
    "EVT-D",
    "RETRY",
    "BISECT",
    "PBF",
    "DLQ",
    "S3",
    "S3KEY",
    "START",
    "PARAM",
    "LOSS",
    "LIVE",
]


def test_catalogue_is_ordered_by_family_then_number() -> None:
    keys = [(SPEC_ORDER.index(r.family), int(r.id.rsplit("-", 1)[1])) for r in CATALOGUE.values()]
    assert keys == sorted(keys)
    assert all(
        rule_id == rule.id and rule.id.startswith(rule.family + "-") for rule_id, rule in CATALOGUE.items()
    )


def test_the_required_rules_are_catalogued() -> None:
    required = [
        "ORD-1",
        "ORD-2",
        "ORD-3",
        "ORD-4",
        "ORD-5",
        "ORD-6",
        "ORD-7",
        "ORD-8",
        "ORD-9",
        "BATCH-2",
        "BATCH-4",
        "BATCH-5",
        "BATCH-6",
        "BATCH-9",
        "EVT-K-1",
        "EVT-K-2",
        "EVT-K-3",
        "EVT-K-4",
        "EVT-D-1",
        "EVT-D-2",
        "RETRY-3",
        "RETRY-4",
        "RETRY-5",
        "RETRY-6",
        "RETRY-7",
        "RETRY-8",
        "RETRY-9",
        "RETRY-10",
        "RETRY-11",
        "BISECT-2",
        "BISECT-3",
        "BISECT-4",
        "BISECT-5",
        "BISECT-6",
        "BISECT-7",
        "BISECT-8",
        "BISECT-9",
        "PBF-1",
        "PBF-2",
        "PBF-3",
        "PBF-4",
        "PBF-5",
        "PBF-6",
        "PBF-7",
        "PBF-8",
        "DLQ-2",
        "DLQ-3",
        "DLQ-4",
        "DLQ-5",
        "DLQ-6",
        "DLQ-7",
        "DLQ-8",
        "DLQ-9",
        "DLQ-10",
        "DLQ-11",
        "S3-1",
        "S3-2",
        "S3KEY-1",
        "S3KEY-2",
        "S3KEY-3",
        "S3KEY-4",
        "START-2",
        "START-3",
        "START-4",
        *(f"PARAM-{n}" for n in range(1, 13)),
        "LOSS-1",
        "LIVE-1",
    ]
    assert set(required) == set(CATALOGUE)


@pytest.mark.parametrize(
    ("rule_id", "level"),
    [
        ("ORD-5", Level.MUST),
        ("ORD-7", Level.SHOULD),
        ("BATCH-5", Level.SHOULD),
        ("RETRY-8", Level.SHOULD),
        ("RETRY-9", Level.MUST),
        ("BISECT-4", Level.SHOULD),
        ("PBF-8", Level.SHOULD),
        ("DLQ-9", Level.SHOULD),
        ("S3-2", Level.SHOULD),
        ("S3KEY-4", Level.SHOULD),
        ("DLQ-11", Level.MUST),
        ("PARAM-1", Level.MUST),
        ("PARAM-3", Level.SHOULD),
        ("PARAM-12", Level.SHOULD),
    ],
)
def test_levels_follow_the_evidence(rule_id: str, level: Level) -> None:
    assert CATALOGUE[rule_id].level is level


def test_rules_by_level() -> None:
    should = rules(Level.SHOULD)
    assert should and all(r.level is Level.SHOULD for r in should)
    assert len(rules()) == len(CATALOGUE) == len(should) + len(rules(Level.MUST))


def test_needs_name_capabilities() -> None:
    claimed = Capabilities()
    known = claimed.features | claimed.sources | {"parallelization", "resharding", "parameter_validation"}
    for rule in CATALOGUE.values():
        assert rule.needs <= known, rule.id
    # Rules that need what no shipped implementation claims are skipped, not passed.
    assert claimed.lacks(CATALOGUE["ORD-7"].needs) == {"parallelization"}
    assert claimed.lacks(CATALOGUE["ORD-8"].needs) == {"resharding"}
    assert claimed.lacks(CATALOGUE["S3KEY-1"].needs) == frozenset()


def test_focus_is_keyword_arguments_of_scenarios() -> None:
    accepted = set(inspect.signature(scenarios).parameters)
    for rule in CATALOGUE.values():
        assert set(rule.focus) <= accepted, rule.id
        scenarios(**rule.focus)  # valid values: the strategy accepts them
    assert CATALOGUE["S3KEY-1"].focus == {"destination": "s3", "failures": True, "clock_edges": True}
    assert CATALOGUE["EVT-D-2"].focus == {"source": "dynamodb"}
    assert CATALOGUE["BISECT-2"].focus == {"bisect": True, "failures": True}


def test_titles_are_one_line_and_spec_references_name_the_rule() -> None:
    for rule in CATALOGUE.values():
        assert "\n" not in rule.title and len(rule.title) <= 110
        assert rule.id in rule.spec or rule.spec.startswith("kit rule")


def test_rules_are_hashable_and_frozen() -> None:
    rule = CATALOGUE["ORD-2"]
    assert {rule: 1}[rule] == 1
    with pytest.raises(AttributeError):
        rule.level = Level.SHOULD  # type: ignore[misc]


def test_an_unknown_rule_id_is_a_clear_error(history: type[History]) -> None:
    observation = history("kinesis").build()
    with pytest.raises(
        UnknownRuleError, match=re.escape("'ORD-55' is not a rule id of this kit; did you mean")
    ):
        check("ORD-55", observation)


@pytest.mark.parametrize(
    ("rule_id", "error_type"),
    [
        ("ORD-5", OrderingViolation),
        ("BATCH-2", BatchingViolation),
        ("EVT-K-3", EventShapeViolation),
        ("EVT-D-1", EventShapeViolation),
        ("RETRY-3", RetryViolation),
        ("BISECT-2", BisectViolation),
        ("PBF-5", PartialBatchViolation),
        ("DLQ-7", DestinationViolation),
        ("S3-1", S3DestinationViolation),
        ("S3KEY-2", S3DestinationViolation),
        ("START-3", StartingPositionViolation),
        ("PARAM-1", ParameterViolation),
        ("LOSS-1", LossViolation),
        ("LIVE-1", LivenessViolation),
    ],
)
def test_each_family_raises_its_own_error(rule_id: str, error_type: type[RuleViolation]) -> None:
    error = violation_error(Violation(rule_id, f"record 1 on shardId-000000000000 broke it ({rule_id})"))
    assert type(error) is error_type and isinstance(error, AssertionError)
    assert error.rule_id == rule_id and str(error) == error.message
    assert error.message.endswith(f"({rule_id})")


def test_families_do_not_share_error_types_except_within_a_section() -> None:
    types = {family: type(violation_error(Violation(f"{family}-1", "x"))) for family in SPEC_ORDER}
    assert len(set(types.values())) == 12  # EVT-K/EVT-D and S3/S3KEY share a section


def test_a_checker_result_counts_a_violation_as_exercised(history: type[History]) -> None:
    h = history("kinesis", batch_size=1)
    a = h.put_many(2)
    h.ok(a, 0)
    result = check("BATCH-2", h.build())
    assert isinstance(result, CheckResult) and result.exercised >= 1 and not result.passed


def test_one_analysis_per_observation(history: type[History]) -> None:
    h = history("kinesis")
    h.ok([h.put(0)], 0)
    observation = h.build()
    assert analyse(observation) is analyse(observation)
    assert analyse(h.build()) is not analyse(observation)


def test_records_whose_abbreviations_collide_are_named_in_full(history: type[History]) -> None:
    h = history("kinesis", shards=2)
    a = h.put(0, sequence_number="49590000000000000000000000000000000000000000000000001234")
    b = h.put(1, sequence_number="49590000000000000000000000000000000000000000000000011234")
    assert a.label.split(" on ")[0] == b.label.split(" on ")[0]  # "49590…1234" both
    h.ok([a, b], 0)
    (message,) = h.violations("ORD-1")
    assert f"{a.sequence_number} on {a.shard_id} and {b.sequence_number} on {b.shard_id}" in message
