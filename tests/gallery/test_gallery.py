"""Meta-tests: every broken poller of the gallery is caught, by its intended rule, with a message
naming the offending record; and the reference passes those rules.

Each gallery poller is searched as ``stream-conformance run --rule <intended> --profile ci``
does (the runner's ``run_rule``, memory world, ``ci`` profile), with the shrink phase left out:
shrinking costs hundreds of runs per poller and does not change whether a bug is caught
(``benchmarks/gallery.py`` measures the shrunk sizes). The failing scenario is then replayed
against the reference, which must pass the same rule on it: the failure is the bug's, not the
checker's. One shared run also takes the reference through scenarios of every intended rule's
focus and checks all those rules on each.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference
from conformance.discovery import resolve_poller
from conformance.gallery import GALLERY, check_entry
from conformance.harness import run_scenario
from conformance.profiles import profile_settings
from conformance.rules import CATALOGUE, check, violation_error
from conformance.runner import Verdict, replay
from conformance.scenario import Behaviour, ClockPlan, RecordSpec, Scenario, ShardSpec, Source
from conformance.strategies import scenarios

# A record as messages name it: "49590…0007 on shardId-000000000001" (or the full number).
RECORD_LABEL = re.compile(r"\b\d+(?:…\d+)? on shardId-[0-9a-f-]+")

# Rules whose offence has no record to name; their messages name the invocation instead.
NAMES_AN_INVOCATION = {
    "BATCH-9": re.compile(r"invocation #\d+ at [+-][\d.]+ s carried no records"),  # an empty one
    # Parameter probes: the offence is a mapping, named by its parameter and value.
    "PARAM-1": re.compile(r"BatchSize=\d+"),
    "PARAM-4": re.compile(r"MaximumRetryAttempts=\d+"),
    "PARAM-5": re.compile(r"MaximumRecordAgeInSeconds=\d+"),
}


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")
@pytest.mark.parametrize("name", list(GALLERY))
def test_caught_by_its_intended_rule(name: str, tmp_path: Path) -> None:
    item = GALLERY[name]
    result = check_entry(item, results_dir=tmp_path, shrink=False)

    assert result.verdict is Verdict.FAIL, (
        f"{name} ({item.description}) was not caught by {item.intended_rule}: "
        f"{result.verdict.value} after {result.examples} examples, exercised {result.exercised} times. "
        f"{result.message}"
    )
    assert result.rule_id == item.intended_rule
    assert result.message.endswith(f"({item.intended_rule})"), result.message
    names = NAMES_AN_INVOCATION.get(item.intended_rule, RECORD_LABEL)
    assert names.search(result.message), f"the message does not name the offender: {result.message}"

    # No false positive: the reference passes the same rule on the very scenario that failed.
    counterexample = result.counterexample
    assert counterexample is not None
    outcome = replay(counterexample.file, reference.ADAPTER, rule_ids=[item.intended_rule])
    (on_reference,) = outcome.results
    assert on_reference.verdict is Verdict.PASS, (
        f"the reference fails {item.intended_rule} on {name}'s counterexample: {on_reference.message}"
    )


# PARAM rules are judged on parameter probes, not on scenarios drawn from a focus.
INTENDED_RULES = sorted(
    {item.intended_rule for item in GALLERY.values() if CATALOGUE[item.intended_rule].family != "PARAM"}
)


def _focused_scenarios() -> st.SearchStrategy[Scenario]:
    """Scenarios from every intended rule's own focus, one strategy per distinct focus."""
    focuses = {tuple(sorted(CATALOGUE[rule_id].focus.items())) for rule_id in INTENDED_RULES}
    return st.one_of([scenarios(**dict(focus)) for focus in sorted(focuses, key=repr)])


@settings(profile_settings("ci"), max_examples=120)
@given(scenario=_focused_scenarios())
def test_reference_passes_the_intended_rules(scenario: Scenario) -> None:
    """One shared run: the reference through scenarios of every intended rule's focus, each
    observation checked against every rule the gallery relies on."""
    observation = run_scenario(reference.ADAPTER, scenario)
    for rule_id in INTENDED_RULES:
        found = check(rule_id, observation)
        if found.violations:
            raise violation_error(found.violations[0])


def _two_shards_window_longer_than_age() -> Scenario:
    """Shard 0: one record held by a 61 s batching window, older than the 60 s age limit before
    the window ends. Shard 1: a full batch with a poison record, retried meanwhile."""
    start = datetime(2024, 6, 1, tzinfo=timezone.utc)

    def record(number: str, behaviour: Behaviour = Behaviour.OK) -> RecordSpec:
        return RecordSpec(number, "key", b"{}", 0.0, behaviour)

    waiting = ShardSpec("shardId-000000000000", (record("49590000000000000000000001"),))
    failing = ShardSpec(
        "shardId-000000000001",
        (
            *(record(f"4959000000000000000000010{i}") for i in range(6)),
            record("49590000000000000000000106", Behaviour.POISON),
        ),
    )
    parameters = {
        "StartingPosition": "TRIM_HORIZON",
        "BatchSize": 7,
        "MaximumBatchingWindowInSeconds": 61,
        "MaximumRecordAgeInSeconds": 60,
    }
    return Scenario(Source.KINESIS, (waiting, failing), parameters, ClockPlan(start))


def test_reference_passes_ord6_when_the_waiting_record_expires_in_its_window() -> None:
    """A false positive ORD-6 once had: the record the other shard kept waiting was held by the
    batching window and grew too old meanwhile, so it was rightly discarded, not blocked."""
    observation = run_scenario(reference.ADAPTER, _two_shards_window_longer_than_age())
    invoked = {
        record["eventID"].split(":")[0] for i in observation.trace.invocations() for record in i.records
    }
    assert invoked == {"shardId-000000000001"}, "the waiting record was expected to expire unsent"
    assert check("ORD-6", observation).violations == ()


# ---- the registry ------------------------------------------------------------------------------


def test_the_gallery_is_large_and_covers_every_rule_family() -> None:
    assert len(GALLERY) >= 30
    families = {rule.family for rule in CATALOGUE.values()}
    covered = {CATALOGUE[item.intended_rule].family for item in GALLERY.values()}
    assert covered == families, f"no gallery poller for {sorted(families - covered)}"


def test_entries_are_well_formed() -> None:
    adapters = set()
    for name, item in GALLERY.items():
        assert item.name == name
        assert item.intended_rule in CATALOGUE, f"{name}: unknown rule {item.intended_rule}"
        assert item.description and "\n" not in item.description
        adapters.add(item.adapter.name)
        assert item.adapter.capabilities == reference.ADAPTER.capabilities
    assert len(adapters) == len(GALLERY), "two entries share an adapter name (their results would collide)"


@pytest.mark.parametrize("name", ["retry_count_off_by_one", "s3_key_with_colons"])
def test_entries_are_reachable_as_poller_specs(name: str) -> None:
    assert resolve_poller(f"conformance.gallery:{name}") is GALLERY[name].adapter
