"""Searches shared by rules with the same focus (``runner._shared_search``), against the
miniature kit of conftest.py: each rule's result must be exactly the one its own search gives,
while the scenarios are drawn once for the group."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis.database import InMemoryExampleDatabase

from conformance.contract import Adapter, PollerContext
from conformance.runner import RuleResult, RunOptions, Verdict, run_rule, run_rules, select_rules


class InOrder:
    """Reads, then invokes one record per poll, in shard order (passes FAKE-1)."""

    reverse = False

    def __init__(self, context: PollerContext) -> None:
        self.context = context
        self.kinesis = context.client("kinesis")
        self.sent = 0

    def poll(self) -> None:
        self.kinesis.get_records(ShardIterator="it")
        count = len(self.kinesis.released)
        order = list(reversed(range(count))) if self.reverse else list(range(count))
        if self.sent < len(order):
            payload = json.dumps({"Records": [{"n": order[self.sent]}]}).encode()
            self.sent += 1
            self.context.client("lambda").invoke(FunctionName=self.context.function_arn, Payload=payload)

    def close(self) -> None:
        return None


class Reversed(InOrder):
    """Delivers in reverse shard order: breaks FAKE-1 once a shard holds two records."""

    reverse = True


GOOD = Adapter("good", InOrder)
BROKEN = Adapter("broken", Reversed)


def options(results: Path, **kwargs: Any) -> RunOptions:
    kwargs.setdefault("profile", "runner-test")
    return RunOptions(poller_spec="tests.pollers:make", results_dir=results, seed=0, **kwargs)


def alone(rule_ids: list[str], adapter: Adapter, run_options: RunOptions) -> list[RuleResult]:
    """Each rule's own search, with nothing shared (no cache)."""
    return [run_rule(rule, adapter, run_options) for rule in select_rules(rule_ids)]


def test_rules_with_the_same_focus_share_one_search_with_the_results_of_their_own(
    fake_kit: Path, strategy_calls: list[dict[str, Any]]
) -> None:
    shared = run_rules(select_rules(["FAKE-1", "FAKE-2"]), GOOD, options(fake_kit))
    assert len(strategy_calls) == 1  # one search drew the scenarios for both rules

    own = alone(["FAKE-1", "FAKE-2"], GOOD, options(fake_kit))
    assert shared == own
    assert [r.verdict for r in shared] == [Verdict.PASS, Verdict.PASS]
    assert shared[0].exercised > 0 and shared[1].exercised == 0
    assert "never exercised" in shared[1].warnings[0]


def test_a_rule_broken_in_a_shared_search_gets_its_own_search_and_the_others_still_pass(
    fake_kit: Path,
) -> None:
    # FAKE-2 leads; FAKE-1 breaks in the shared search, so each ends up searching alone.
    shared = run_rules(select_rules(["FAKE-2", "FAKE-1"]), BROKEN, options(fake_kit))
    own = alone(["FAKE-2", "FAKE-1"], BROKEN, options(fake_kit))

    assert shared == own
    by_id = {r.rule_id: r for r in shared}
    assert by_id["FAKE-2"].verdict is Verdict.PASS
    assert by_id["FAKE-1"].verdict is Verdict.FAIL
    assert by_id["FAKE-1"].message == "record 0 was delivered after record 1"  # shrunk by its own search


def test_a_checker_that_breaks_sends_every_rule_of_the_group_to_its_own_search(
    fake_kit: Path, strategy_calls: list[dict[str, Any]]
) -> None:
    # OTHER-1's checker raises (a bug in the kit, not a violation): nothing can be shared.
    ids = ["FAKE-1", "OTHER-1", "FAKE-2"]
    shared = run_rules(select_rules(ids), GOOD, options(fake_kit))
    assert len(strategy_calls) == 1 + 3  # the abandoned shared search, then one search per rule

    assert shared == alone(ids, GOOD, options(fake_kit))
    by_id = {r.rule_id: r for r in shared}
    assert [by_id[i].verdict for i in ids] == [Verdict.PASS, Verdict.INCONCLUSIVE, Verdict.PASS]
    assert "the kit itself failed while checking OTHER-1" in by_id["OTHER-1"].message


def test_searches_with_an_example_database_are_not_shared(
    fake_kit: Path, strategy_calls: list[dict[str, Any]]
) -> None:
    settings.register_profile("runner-test-database", max_examples=10, database=InMemoryExampleDatabase())
    run_rules(select_rules(["FAKE-1", "FAKE-2"]), GOOD, options(fake_kit, profile="runner-test-database"))
    assert len(strategy_calls) == 2  # each rule replays and saves under its own database scope


def test_progress_counts_every_rule_s_examples_when_a_search_is_shared(fake_kit: Path) -> None:
    counted: dict[str, list[int]] = {}

    class Recorder:
        def example_done(self, rule: Any, examples: int) -> None:
            counted.setdefault(rule.id, []).append(examples)

        def rule_started(self, rule: Any, index: int, total: int) -> None:
            return None

        def rule_finished(self, result: RuleResult, index: int, total: int) -> None:
            return None

    results = run_rules(select_rules(["FAKE-1", "FAKE-2"]), GOOD, options(fake_kit), Recorder())
    assert counted == {r.rule_id: list(range(1, r.examples + 1)) for r in results}
