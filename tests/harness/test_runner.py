"""The runner against a miniature kit (see conftest.py): verdicts, shrinking, failure files,
replay, capability skips, exercise counting, seeds and the example database; what it keeps in
memory; and searches shared by rules with the same focus."""

from __future__ import annotations

import gc
import json
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis.database import InMemoryExampleDatabase

import conformance.runner
from conformance.contract import Adapter, Capabilities, PollerContext
from conformance.harness import Budget
from conformance.observation import Observation
from conformance.runner import (
    ObservationCache,
    RuleResult,
    RunOptions,
    UnknownRuleError,
    Verdict,
    _ScopedDatabase,
    features_used,
    replay,
    run_rule,
    run_rules,
    select_rules,
)
from conformance.scenario import ClockPlan, Scenario, ShardSpec, Source


class Deliverer:
    """Reads, then invokes one record per poll, in shard order."""

    def __init__(self, context: PollerContext) -> None:
        self.context = context
        self.kinesis = context.client("kinesis")
        self.sent = 0

    def order(self, count: int) -> list[int]:
        return list(range(count))

    def poll(self) -> None:
        self.kinesis.get_records(ShardIterator="it")
        order = self.order(len(self.kinesis.released))  # the fake world's stream
        if self.sent < len(order):
            payload = json.dumps({"Records": [{"n": order[self.sent]}]}).encode()
            self.sent += 1
            self.context.client("lambda").invoke(FunctionName=self.context.function_arn, Payload=payload)

    def close(self) -> None:
        return None


class Reverser(Deliverer):
    """Delivers in reverse shard order: breaks FAKE-1 as soon as a shard holds two records."""

    def order(self, count: int) -> list[int]:
        return list(reversed(range(count)))


class RaisesOnThree(Deliverer):
    def poll(self) -> None:
        if len(self.kinesis.released) >= 3:
            raise ConnectionError("stream endpoint refused the connection")
        super().poll()


GOOD = Adapter("good", Deliverer)
BROKEN = Adapter("broken", Reverser)


def options(results: Path, **kwargs: Any) -> RunOptions:
    kwargs.setdefault("profile", "runner-test")
    return RunOptions(poller_spec="tests.pollers:make", results_dir=results, **kwargs)


def rule(rule_id: str) -> Any:
    [found] = select_rules([rule_id])
    return found


def test_a_conforming_poller_passes_and_the_rule_is_exercised(fake_kit: Path) -> None:
    result = run_rule(rule("FAKE-1"), GOOD, options(fake_kit))

    assert result.verdict is Verdict.PASS
    assert 0 < result.examples <= 25  # the profile's max_examples (fewer once the small space is exhausted)
    assert result.exercised > 0
    assert result.seed == 0  # derandomized profile
    assert result.warnings == () and result.counterexamples == ()
    assert not (fake_kit / "failures").exists()


def test_a_broken_poller_fails_with_a_shrunk_scenario_and_a_replay_command(fake_kit: Path) -> None:
    result = run_rule(rule("FAKE-1"), BROKEN, options(fake_kit))

    assert result.verdict is Verdict.FAIL
    assert result.message == "record 0 was delivered after record 1"
    example = result.counterexample
    assert example is not None
    shrunk = Scenario.from_json(example.scenario)
    assert shrunk.record_count == 2  # the smallest scenario that breaks the rule
    path = fake_kit / "failures" / "broken" / "FAKE-1.json"
    assert example.file == str(path)
    assert example.replay == (f"stream-conformance replay {path} --poller tests.pollers:make --rule FAKE-1")
    saved = json.loads(path.read_text())
    assert saved["kind"] == "stream-conformance failure"
    assert (saved["rule"], saved["poller"], saved["world"], saved["seed"]) == (
        "FAKE-1",
        "tests.pollers:make",
        "memory",
        0,
    )
    assert saved["message"] == result.message
    assert Scenario.from_json(saved) == shrunk


def test_the_failure_file_replays_to_the_same_failure(fake_kit: Path) -> None:
    result = run_rule(rule("FAKE-1"), BROKEN, options(fake_kit))
    assert result.counterexample is not None

    outcome = replay(result.counterexample.file, BROKEN)
    [replayed] = outcome.results
    assert (replayed.rule_id, replayed.verdict, replayed.message) == ("FAKE-1", Verdict.FAIL, result.message)

    [fixed] = replay(result.counterexample.file, GOOD).results
    assert fixed.verdict is Verdict.PASS and fixed.exercised == 2


def test_the_replay_command_names_a_non_default_world(fake_kit: Path) -> None:
    result = run_rule(rule("FAKE-1"), BROKEN, options(fake_kit, world="moto"))
    assert result.counterexample is not None
    assert result.counterexample.replay.endswith("--rule FAKE-1 --world moto")


def test_a_rule_needing_an_unclaimed_capability_is_skipped_with_the_reason(fake_kit: Path) -> None:
    adapter = Adapter(
        "plain",
        Deliverer,
        capabilities=Capabilities(features=frozenset(), notes={"bisect": "splits are not implemented"}),
    )
    result = run_rule(rule("NEEDY-1"), adapter, options(fake_kit))

    assert result.verdict is Verdict.SKIP
    assert result.message == "plain does not claim bisect (splits are not implemented), which NEEDY-1 needs"
    assert result.examples == 0


def test_scenarios_stay_within_the_claimed_capabilities(
    fake_kit: Path, strategy_calls: list[dict[str, Any]]
) -> None:
    seen: list[Mapping[str, Any]] = []

    class Recorder(Deliverer):
        def __init__(self, context: PollerContext) -> None:
            super().__init__(context)
            seen.append(context.parameters)

    kinesis_only = Capabilities(sources=frozenset({"kinesis"}), features=frozenset())
    result = run_rule(
        rule("FAKE-1"), Adapter("narrow", Recorder, capabilities=kinesis_only), options(fake_kit)
    )

    assert result.verdict is Verdict.PASS
    # The draw itself is narrowed to the claims (a filter alone would starve the search).
    assert strategy_calls[-1] == {
        "source": "kinesis",
        "bisect": False,
        "report_batch_item_failures": False,
        "record_age": False,
        "batching_window": False,
        "destination": "none",
        "starting_position": "TRIM_HORIZON",
    }
    assert seen and not any(parameters["BisectBatchOnFunctionError"] for parameters in seen)


def test_a_raising_poller_is_inconclusive_with_a_shrunk_scenario(fake_kit: Path) -> None:
    result = run_rule(rule("FAKE-1"), Adapter("flaky", RaisesOnThree), options(fake_kit))

    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.message.startswith(
        "inconclusive: poll() raised ConnectionError: stream endpoint refused the connection"
    )
    assert result.counterexample is not None
    assert Scenario.from_json(result.counterexample.scenario).record_count == 3


def test_inconclusive_runs_can_be_allowed(fake_kit: Path) -> None:
    result = run_rule(
        rule("FAKE-1"), Adapter("flaky", RaisesOnThree), options(fake_kit, allow_inconclusive=True)
    )

    assert result.verdict is Verdict.PASS
    assert 0 < result.inconclusive_examples < result.examples
    [warning] = result.warnings
    assert warning.startswith(
        f"{result.inconclusive_examples} of {result.examples} examples were inconclusive"
    )


def test_a_hanging_poller_stops_the_search_at_the_first_hang(fake_kit: Path) -> None:
    release = threading.Event()

    class Hangs(Deliverer):
        def poll(self) -> None:
            release.wait()

    try:
        result = run_rule(
            rule("FAKE-1"), Adapter("hangs", Hangs), options(fake_kit, budget=Budget(poll_timeout=0.05))
        )
    finally:
        release.set()

    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.examples == 1  # no wall time spent shrinking a hang
    assert result.message.startswith("poll() did not return within 0.05 s")
    assert result.counterexample is not None and result.counterexample.replay.startswith(
        "stream-conformance replay"
    )


def test_a_must_rule_never_exercised_is_reported_and_fails_in_strict_mode(fake_kit: Path) -> None:
    lenient = run_rule(rule("FAKE-2"), GOOD, options(fake_kit))
    assert lenient.verdict is Verdict.PASS
    assert lenient.warnings == (
        f"MUST rule FAKE-2 was never exercised in {lenient.examples} examples: no scenario gave it anything "
        "to check, so its pass proves nothing",
    )

    strict = run_rule(rule("FAKE-2"), GOOD, options(fake_kit, strict_exercise=True))
    assert strict.verdict is Verdict.FAIL
    assert strict.message.endswith("so its pass proves nothing (strict mode)")


def test_a_bug_in_the_kit_is_not_blamed_on_the_poller(fake_kit: Path) -> None:
    result = run_rule(rule("OTHER-1"), GOOD, options(fake_kit))

    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.message.startswith("the kit itself failed while checking OTHER-1 (please report this)")
    assert "KeyError: 'Records'" in result.message


def test_a_random_seed_is_reported_and_repeats_the_search(fake_kit: Path) -> None:
    first = run_rule(rule("FAKE-1"), BROKEN, options(fake_kit, profile="runner-test-random"))
    assert first.seed is not None
    again = run_rule(rule("FAKE-1"), BROKEN, options(fake_kit, profile="runner-test-random", seed=first.seed))
    assert again.seed == first.seed
    assert again.examples == first.examples
    assert again.counterexamples == first.counterexamples


def test_run_rules_reports_progress(fake_kit: Path) -> None:
    events: list[tuple[str, ...]] = []
    counted: list[int] = []

    class Recorder:
        def example_done(self, rule: Any, examples: int) -> None:
            counted.append(examples)

        def rule_started(self, rule: Any, index: int, total: int) -> None:
            events.append(("start", rule.id, f"{index}/{total}"))

        def rule_finished(self, result: RuleResult, index: int, total: int) -> None:
            events.append(("done", result.rule_id, result.verdict.value))

    results = run_rules(select_rules(["FAKE-1", "NEEDY-1"]), GOOD, options(fake_kit), Recorder())

    assert [r.rule_id for r in results] == ["FAKE-1", "NEEDY-1"]
    assert counted == [n for result in results for n in range(1, result.examples + 1)]
    assert events == [
        ("start", "FAKE-1", "1/2"),
        ("done", "FAKE-1", "pass"),
        ("start", "NEEDY-1", "2/2"),
        ("done", "NEEDY-1", "pass"),
    ]


def test_results_round_trip_through_json(fake_kit: Path) -> None:
    result = run_rule(rule("FAKE-1"), BROKEN, options(fake_kit))
    assert RuleResult.from_json(json.loads(json.dumps(result.to_json()))) == result


def test_rules_are_selected_by_id_or_family(fake_kit: Path) -> None:
    assert [r.id for r in select_rules(["fake"])] == ["FAKE-1", "FAKE-2"]
    assert [r.id for r in select_rules(["needy-1", "FAKE-2"])] == ["FAKE-2", "NEEDY-1"]
    assert [r.id for r in select_rules(level="should")] == ["OTHER-1", "NEEDY-1"]
    with pytest.raises(UnknownRuleError) as info:
        select_rules(["ORD-99"])
    assert str(info.value) == (
        "'ORD-99' is not a rule id or family of this kit; run `stream-conformance rules` to list them "
        "(ids look like ORD-5, families like ORD)"
    )


def test_the_example_database_is_scoped_per_adapter_rule_and_world() -> None:
    shared = InMemoryExampleDatabase()
    one = _ScopedDatabase(shared, "stream-conformance:reference:memory:ORD-5")
    other = _ScopedDatabase(shared, "stream-conformance:reference:memory:ORD-6")
    one.save(b"key", b"failing example")

    assert list(one.fetch(b"key")) == [b"failing example"]
    assert list(other.fetch(b"key")) == []
    one.move(b"key", b"key.secondary", b"failing example")
    assert list(one.fetch(b"key.secondary")) == [b"failing example"]
    one.delete(b"key.secondary", b"failing example")
    assert list(shared.fetch(b"stream-conformance:reference:memory:ORD-5\x00key.secondary")) == []


def test_features_used_by_a_scenario(fake_kit: Path) -> None:
    scenario = Scenario(
        source=Source.DYNAMODB,
        shards=(ShardSpec("shardId-1"),),
        parameters={
            "StartingPosition": "LATEST",
            "BisectBatchOnFunctionError": True,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "MaximumRecordAgeInSeconds": 60,
            "MaximumBatchingWindowInSeconds": 5,
            "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:s3:::bucket"}},
        },
        clock=ClockPlan(start=datetime(2024, 1, 1, tzinfo=timezone.utc)),
    )
    assert features_used(scenario) == {
        "dynamodb",
        "starting_position_latest",
        "bisect",
        "report_batch_item_failures",
        "record_age",
        "batching_window",
        "destination_s3",
    }


def test_rules_drawing_the_same_scenarios_share_one_run_of_each(
    fake_kit: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import conformance.runner

    fake = vars(conformance.runner)["run_scenario"]  # the miniature kit's, installed by fake_kit
    runs: list[str] = []

    def counting(adapter: Adapter, scenario: Scenario, **kwargs: Any) -> Any:
        runs.append(scenario.dumps())
        return fake(adapter, scenario, **kwargs)

    monkeypatch.setattr("conformance.runner.run_scenario", counting)
    first, second = run_rules(select_rules(["FAKE-1", "FAKE-2"]), GOOD, options(fake_kit))

    assert first.examples == second.examples > 0  # same focus, same seed: the same scenarios …
    assert len(runs) == len(set(runs)) == first.examples  # … each run once
    assert second.exercised == 0 and first.exercised > 0  # each rule still judged every observation


def test_one_seed_serves_a_whole_run(fake_kit: Path) -> None:
    results = run_rules(
        select_rules(["FAKE-1", "FAKE-2"]), GOOD, options(fake_kit, profile="runner-test-random")
    )
    assert results[0].seed is not None and results[0].seed == results[1].seed


# ---- memory: the runner does not hold on to observations -------------------------------------
# A search keeps no earlier observation alive while it runs the next scenario, and none once it is
# done (a trace can carry megabytes of invocation payloads; a shrinking search runs hundreds).


class Observations:
    """Weak references to every observation the runner made; at each new run, how many earlier
    ones were still alive (after a full collection, so only real references count)."""

    def __init__(self) -> None:
        self.made: list[weakref.ref[Observation]] = []
        self.alive_at_each_run: list[int] = []

    def alive(self) -> int:
        gc.collect()
        return sum(1 for ref in self.made if ref() is not None)

    def wrap(self, run: Callable[..., Observation]) -> Callable[..., Observation]:
        def recorded(*args: Any, **kwargs: Any) -> Observation:
            self.alive_at_each_run.append(self.alive())
            observation = run(*args, **kwargs)
            self.made.append(weakref.ref(observation))
            return observation

        return recorded


@pytest.fixture
def observations(fake_kit: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Observations]:
    seen = Observations()
    monkeypatch.setattr("conformance.runner.run_scenario", seen.wrap(conformance.runner.run_scenario))
    yield seen


def test_a_shrinking_search_keeps_no_earlier_observation(fake_kit: Path, observations: Observations) -> None:
    [rule] = select_rules(["FAKE-1"])
    result = run_rule(rule, BROKEN, options(fake_kit))

    assert result.verdict is Verdict.FAIL  # Hypothesis found and shrank a violation ...
    assert len(observations.made) > result.examples // 2 > 5
    assert max(observations.alive_at_each_run) == 0  # ... without the violations' tracebacks keeping runs
    assert observations.alive() == 0


def test_an_inconclusive_search_keeps_no_earlier_observation(
    fake_kit: Path, observations: Observations
) -> None:
    [rule] = select_rules(["FAKE-1"])
    result = run_rule(rule, Adapter("raises", RaisesOnThree), options(fake_kit))

    assert result.verdict is Verdict.INCONCLUSIVE
    assert len(observations.made) > 5
    assert max(observations.alive_at_each_run) == 0
    assert observations.alive() == 0


def test_a_shared_search_releases_its_observations_when_the_run_ends(
    fake_kit: Path, observations: Observations
) -> None:
    results = run_rules(select_rules(["FAKE-1", "FAKE-2"]), GOOD, options(fake_kit))

    assert [r.verdict for r in results] == [Verdict.PASS, Verdict.PASS]
    assert observations.made and observations.alive() == 0


class LargeInvoker(Deliverer):
    """Invokes one 300 KiB payload per poll, whatever the records."""

    def __init__(self, context: PollerContext) -> None:
        super().__init__(context)
        self.invoked = False

    def poll(self) -> None:
        if not self.invoked:
            self.invoked = True
            payload = json.dumps({"Records": [], "padding": "x" * (300 * 1024)}).encode()
            self.context.client("lambda").invoke(FunctionName=self.context.function_arn, Payload=payload)


def test_the_observation_cache_does_not_keep_observations_that_carried_much(
    fake_kit: Path, scenario_of: Callable[..., Scenario]
) -> None:
    cache = ObservationCache()
    scenario: Scenario = scenario_of(arrivals=(-1.0,))
    small = cache.observe(GOOD, scenario, "memory", None)
    assert cache.observe(GOOD, scenario, "memory", None) is small  # kept
    large = Adapter("large", LargeInvoker)
    first = cache.observe(large, scenario, "memory", None)
    assert cache.observe(large, scenario, "memory", None) is not first  # run again: not kept
    assert cache.hits == 1


# ---- shared searches (``runner._shared_search``) -----------------------------------------------
# Rules with the same focus share one search: each rule's result must be exactly the one its own
# search gives, while the scenarios are drawn once for the group.


def shared_options(results: Path, **kwargs: Any) -> RunOptions:
    return options(results, seed=0, **kwargs)


def alone(rule_ids: list[str], adapter: Adapter, run_options: RunOptions) -> list[RuleResult]:
    """Each rule's own search, with nothing shared (no cache)."""
    return [run_rule(rule, adapter, run_options) for rule in select_rules(rule_ids)]


def test_rules_with_the_same_focus_share_one_search_with_the_results_of_their_own(
    fake_kit: Path, strategy_calls: list[dict[str, Any]]
) -> None:
    shared = run_rules(select_rules(["FAKE-1", "FAKE-2"]), GOOD, shared_options(fake_kit))
    assert len(strategy_calls) == 1  # one search drew the scenarios for both rules

    own = alone(["FAKE-1", "FAKE-2"], GOOD, shared_options(fake_kit))
    assert shared == own
    assert [r.verdict for r in shared] == [Verdict.PASS, Verdict.PASS]
    assert shared[0].exercised > 0 and shared[1].exercised == 0
    assert "never exercised" in shared[1].warnings[0]


def test_a_rule_broken_in_a_shared_search_gets_its_own_search_and_the_others_still_pass(
    fake_kit: Path,
) -> None:
    # FAKE-2 leads; FAKE-1 breaks in the shared search, so each ends up searching alone.
    shared = run_rules(select_rules(["FAKE-2", "FAKE-1"]), BROKEN, shared_options(fake_kit))
    own = alone(["FAKE-2", "FAKE-1"], BROKEN, shared_options(fake_kit))

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
    shared = run_rules(select_rules(ids), GOOD, shared_options(fake_kit))
    assert len(strategy_calls) == 1 + 3  # the abandoned shared search, then one search per rule

    assert shared == alone(ids, GOOD, shared_options(fake_kit))
    by_id = {r.rule_id: r for r in shared}
    assert [by_id[i].verdict for i in ids] == [Verdict.PASS, Verdict.INCONCLUSIVE, Verdict.PASS]
    assert "the kit itself failed while checking OTHER-1" in by_id["OTHER-1"].message


def test_searches_with_an_example_database_are_not_shared(
    fake_kit: Path, strategy_calls: list[dict[str, Any]]
) -> None:
    settings.register_profile("runner-test-database", max_examples=10, database=InMemoryExampleDatabase())
    run_rules(
        select_rules(["FAKE-1", "FAKE-2"]), GOOD, shared_options(fake_kit, profile="runner-test-database")
    )
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

    results = run_rules(select_rules(["FAKE-1", "FAKE-2"]), GOOD, shared_options(fake_kit), Recorder())
    assert counted == {r.rule_id: list(range(1, r.examples + 1)) for r in results}
