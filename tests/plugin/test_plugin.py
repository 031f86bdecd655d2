"""The pytest plugin, driven through pytester: items per rule, markers, -k/-m, expectations,
capability skips, failure reports, xdist and junitxml, and the exact errors users see."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conformance.rules import CATALOGUE

# A small profile keeps each rule's search quick; the test project's conftest registers it in
# every process (xdist workers included).
# Shrinking is left out here (tests/harness covers it): it would cost a minute per failing rule.
CONFTEST = """
from hypothesis import Phase, settings

settings.register_profile(
    "tiny", max_examples=4, derandomize=True, database=None, phases=[Phase.explicit, Phase.generate]
)
settings.register_profile("tiny-random", settings.get_profile("tiny"), derandomize=False)
"""

SAMPLES = Path(__file__).parent.parent / "cli"  # sample_pollers.py: the pollers named below

# The inner runs need neither the cache nor a benchmark plugin the environment may have installed.
TINY = ("--conformance-profile", "tiny", "-p", "no:cacheprovider", "-p", "no:benchmark")


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.syspathinsert(SAMPLES)
    return pytester


def test_without_poller_the_plugin_adds_nothing(project: pytest.Pytester) -> None:
    project.makepyfile(test_own="def test_own():\n    assert 1 + 1 == 2\n")
    result = project.runpytest("-v", "-p", "no:benchmark")
    result.assert_outcomes(passed=1)
    assert "conformance::" not in result.stdout.str()


def test_without_poller_the_kit_is_not_even_imported(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_light="""
import sys

def test_light():
    loaded = {name for name in sys.modules if name.startswith("conformance")}
    assert "conformance.pytest_plugin" in loaded
    kit = {"conformance.runner", "conformance.rules", "conformance.world", "conformance.harness"}
    assert not loaded & kit
"""
    )
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:benchmark")
    result.assert_outcomes(passed=1)


def test_one_item_per_rule_with_node_ids_carrying_the_rule_id(project: pytest.Pytester) -> None:
    result = project.runpytest("--poller", "reference", "--collect-only", "-q", *TINY)
    ids = [line for line in result.stdout.lines if line.startswith("conformance::")]
    assert ids == [f"conformance::{rule_id}" for rule_id in CATALOGUE]
    result.stdout.fnmatch_lines([f"{len(CATALOGUE)} tests collected*"])


def test_markers_select_by_level_and_family(project: pytest.Pytester) -> None:
    should = [rule_id for rule_id, rule in CATALOGUE.items() if rule.level.value == "should"]
    result = project.runpytest("--poller", "reference", "--collect-only", "-q", "-m", "should", *TINY)
    assert [line for line in result.stdout.lines if line.startswith("conformance::")] == [
        f"conformance::{rule_id}" for rule_id in should
    ]
    ord_rules = [rule_id for rule_id, rule in CATALOGUE.items() if rule.family == "ORD"]
    result = project.runpytest("--poller", "reference", "--collect-only", "-q", "-m", "ord", *TINY)
    assert [line for line in result.stdout.lines if line.startswith("conformance::")] == [
        f"conformance::{rule_id}" for rule_id in ord_rules
    ]


def test_a_conforming_rule_passes(project: pytest.Pytester) -> None:
    result = project.runpytest("--poller", "reference", "-k", "ORD-2", "-v", *TINY)
    result.stdout.fnmatch_lines(["conformance::ORD-2 PASSED*"])
    result.assert_outcomes(passed=1, deselected=len(CATALOGUE) - 1)


def test_a_failure_shows_the_message_the_shrunk_scenario_the_seed_and_the_replay_command(
    project: pytest.Pytester,
) -> None:
    result = project.runpytest("--poller", "sample_pollers:reversing", "-k", "ORD-2", *TINY)
    result.assert_outcomes(failed=1, deselected=len(CATALOGUE) - 1)
    failure = project.path / "conformance-results" / "failures" / "sample_pollers_reversing" / "ORD-2.json"
    result.stdout.fnmatch_lines(
        [
            "*_ conformance::ORD-2 _*",
            "FAIL ORD-2 (must): *",
            "  seed: 0  (repeat the whole search with --conformance-seed 0)",
            f"  shrunk scenario ({failure}):",
            '      "format": *',
            f"  replay: stream-conformance replay {failure} --poller sample_pollers:reversing --rule ORD-2",
            "FAILED conformance::ORD-2 - *",
        ]
    )
    assert failure.exists()


def test_an_unknown_poller_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest("--poller", "referense", *TINY)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0] == (
        "ERROR: --poller 'referense' is not a registered poller name (registered: "
        "localstack-dynamodb, localstack-kinesis, "
        "reference); name your "
        "own poller as module:attribute (for example mypackage.testing:make_poller), or register it in the "
        "entry-point group 'stream_conformance.pollers' of your package"
    )


def test_a_poller_module_that_does_not_import_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest("--poller", "no_such_module:make_poller", *TINY)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0].startswith(
        "ERROR: --poller 'no_such_module:make_poller': the module 'no_such_module' could not be imported "
        "(ModuleNotFoundError: No module named 'no_such_module'); check the spelling"
    )


def test_an_unknown_rule_id_in_the_expectations_file_is_a_usage_error(project: pytest.Pytester) -> None:
    project.makefile(".txt", known="ORD-2  # reversed batches\nORD-99 # typo\n")
    result = project.runpytest("--poller", "reference", "--expectations", "known.txt", *TINY)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0] == (
        f"ERROR: {project.path / 'known.txt'}, line 2: 'ORD-99' is not a rule id of this kit; run "
        "`stream-conformance rules` to list the ids (an expectations file lists one rule id per line, "
        "optionally followed by '# reason')"
    )


def test_a_listed_failure_is_an_expected_failure(project: pytest.Pytester) -> None:
    project.makefile(".txt", known="ORD-2  # reversed batches\n")
    result = project.runpytest(
        "--poller", "sample_pollers:reversing", "--expectations", "known.txt", "-k", "ORD-2", "-rx", *TINY
    )
    result.assert_outcomes(xfailed=1, deselected=len(CATALOGUE) - 1)
    result.stdout.fnmatch_lines(
        ["XFAIL conformance::ORD-2 - ORD-2 fails, as listed in *known.txt (reversed batches)"]
    )


def test_a_listed_rule_that_passes_fails_as_stale(project: pytest.Pytester) -> None:
    project.makefile(".txt", known="ORD-2  # reversed batches\n")
    result = project.runpytest("--poller", "reference", "--expectations", "known.txt", "-k", "ORD-2", *TINY)
    result.assert_outcomes(failed=1, deselected=len(CATALOGUE) - 1)
    result.stdout.fnmatch_lines(
        [
            "STALE ORD-2 (must): *",
            f"  ORD-2 is listed in {project.path / 'known.txt'} as a known failure but now passes; remove it "
            "from the file (the list of known failures only shrinks)",
        ]
    )


def test_capability_skips_are_shown_with_their_reason(project: pytest.Pytester) -> None:
    needing = [rule_id for rule_id, rule in CATALOGUE.items() if "bisect" in rule.needs]
    assert needing, "the catalogue has rules that need bisection"
    result = project.runpytest("--poller", "sample_pollers:NO_BISECT", "-m", "bisect", "-rs", *TINY)
    outcomes = result.parseoutcomes()
    assert outcomes["skipped"] == len(needing)
    result.stdout.fnmatch_lines(
        [
            f"SKIPPED [[]1] conformance::{needing[0]}: no-bisect does not claim bisect (splitting batches "
            f"is not implemented), which {needing[0]} needs",
        ]
    )


def test_an_inconclusive_rule_fails_unless_allowed(project: pytest.Pytester) -> None:
    result = project.runpytest("--poller", "sample_pollers:Raising", "-k", "ORD-2", *TINY)
    result.assert_outcomes(failed=1, deselected=len(CATALOGUE) - 1)
    result.stdout.fnmatch_lines(
        ["INCONCLUSIVE ORD-2 (must): *", "*poll() raised RuntimeError: lost the shard iterator*"]
    )

    allowed = project.runpytest(
        "--poller", "sample_pollers:Raising", "-k", "ORD-2", "--allow-inconclusive", "-rs", *TINY
    )
    allowed.assert_outcomes(skipped=1, deselected=len(CATALOGUE) - 1)
    allowed.stdout.fnmatch_lines(
        ["SKIPPED [[]1] conformance::ORD-2: inconclusive (allowed by --allow-inconclusive):*"]
    )


def test_junitxml_carries_the_rule_ids_and_the_search_figures(project: pytest.Pytester) -> None:
    result = project.runpytest("--poller", "reference", "-k", "ORD-1 or ORD-2", "--junitxml=out.xml", *TINY)
    result.assert_outcomes(passed=2, deselected=len(CATALOGUE) - 2)
    cases = ET.parse(project.path / "out.xml").getroot().iter("testcase")
    found = {case.get("name"): case for case in cases}
    assert set(found) == {"ORD-1", "ORD-2"}
    case = found["ORD-2"]
    assert case.get("classname") == "conformance"
    properties = {p.get("name"): p.get("value", "") for p in case.iter("property")}
    assert properties["verdict"] == "pass"
    assert properties["seed"] == "0"
    assert int(properties["examples"]) > 0


def test_runs_under_xdist_with_one_seed_for_all_workers(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess(
        "--poller",
        "reference",
        "-n",
        "2",
        "-k",
        "ORD-1 or ORD-2 or ORD-3 or ORD-4",
        "--junitxml=out.xml",
        "--conformance-profile",
        "tiny-random",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:benchmark",
    )
    result.assert_outcomes(passed=4)
    assert re.search(r"2 workers \[4 items\]", result.stdout.str())
    seeds = {
        prop.get("value")
        for prop in ET.parse(project.path / "out.xml").getroot().iter("property")
        if prop.get("name") == "seed"
    }
    assert len(seeds) == 1  # a random seed, chosen once by the controller


def test_an_unknown_profile_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest("--poller", "reference", "--conformance-profile", "nightly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0].startswith(
        "ERROR: --conformance-profile: unknown Hypothesis profile 'nightly'"
    )
