"""The runner: for each rule, a Hypothesis search for a scenario on which the poller breaks it.

One rule, one search. Hypothesis draws scenarios from ``scenarios(**rule.focus)``, the harness
runs the poller through each, and the rule's checker judges the observation. A violation is
raised as the rule family's exception, so Hypothesis shrinks it to a minimal scenario; that
scenario is written to a failure file with the exact command that replays it.

Verdicts (:class:`Verdict`):

* ``pass``: no counterexample within the profile's budget of examples;
* ``fail``: a violation, with the shrunk scenario, the seed and the replay command;
* ``skip``: the adapter does not claim a capability the rule needs (the reason says which);
* ``inconclusive``: a run could not be judged (the poller raised or hung), unless allowed.

The runner also counts how often the rule was *exercised* (the observations gave its checker
something to check). A MUST rule never exercised gets a warning, and fails in strict mode: a
silent pass on scenarios that never touched the rule would prove nothing.
"""

from __future__ import annotations

import gc
import json
import random
import re
import shlex
import traceback
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from hypothesis import HealthCheck, Phase, Verbosity, given, reject, seed, settings
from hypothesis.database import ExampleDatabase
from hypothesis.errors import FailedHealthCheck, Unsatisfiable

from conformance.contract import Adapter, Capabilities
from conformance.harness import Budget, run_scenario, timed_out
from conformance.observation import Observation, RunStatus
from conformance.scenario import Scenario, ScenarioFormatError
from conformance.source_constants import without_local_constants

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from conformance.rules import Rule

__all__ = [
    "DEFAULT_RESULTS_DIR",
    "PROBE_FAMILY",
    "Counterexample",
    "InconclusiveRun",
    "ObservationCache",
    "Progress",
    "ReplayError",
    "ReplayOutcome",
    "RuleResult",
    "RunOptions",
    "UnknownRuleError",
    "Verdict",
    "choose_seed",
    "features_used",
    "freeze_loaded_objects",
    "load_failure",
    "replay",
    "replay_command",
    "resolve_profile",
    "results_file",
    "run_rule",
    "run_rules",
    "select_rules",
    "skip_reason",
]

DEFAULT_RESULTS_DIR = Path("conformance-results")
PROBE_FAMILY = "PARAM"
"""Rules judged on parameter probes (``conformance.probes``): searched on their own."""
FAILURE_FILE_KIND = "stream-conformance failure"


class Verdict(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    INCONCLUSIVE = "inconclusive"


class InconclusiveRun(Exception):
    """Raised into the search when a run could not be judged, so Hypothesis shrinks the scenario
    that makes the poller raise."""


class UnknownRuleError(ValueError):
    """A rule id given on the command line is not in the catalogue."""


class ReplayError(ValueError):
    """A failure file cannot be replayed; the message says why and what to do."""


@dataclass(frozen=True)
class RunOptions:
    """How to run the kit. ``poller_spec`` is the poller as the user named it (``--poller``), so
    replay commands can be copied and pasted."""

    poller_spec: str
    world: str = "memory"
    profile: str | None = None
    """A Hypothesis profile of ``conformance.profiles`` (``ci``, ``dev``, ``deep``) or any other
    registered Hypothesis profile; None uses the settings currently loaded."""
    seed: int | None = None
    """Seed of every search. None: 0 under a derandomized profile, a fresh random seed otherwise;
    either way the seed used is reported, and ``--seed`` repeats the search."""
    budget: Budget | None = None
    allow_inconclusive: bool = False
    strict_exercise: bool = False
    results_dir: Path = DEFAULT_RESULTS_DIR
    max_examples: int | None = None
    """Overrides the profile's ``max_examples`` when set."""


@dataclass(frozen=True)
class Counterexample:
    """A minimal scenario on which the rule was broken, and how to replay it."""

    message: str
    scenario: Mapping[str, Any]
    file: str
    replay: str

    def to_json(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "scenario": dict(self.scenario),
            "file": self.file,
            "replay": self.replay,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Counterexample:
        return cls(message=doc["message"], scenario=doc["scenario"], file=doc["file"], replay=doc["replay"])


@dataclass(frozen=True)
class RuleResult:
    """The outcome of one rule's search (or of one replay).

    ``examples`` counts the scenarios the search ran, shrinking included; ``exercised`` sums what
    the checker found to check in them; ``inconclusive_examples`` counts runs that could not be
    judged. ``seed`` is the seed of the search, and each counterexample carries its failure file
    and replay command.
    """

    rule_id: str
    level: str
    family: str
    title: str
    verdict: Verdict
    message: str = ""
    exercised: int = 0
    examples: int = 0
    inconclusive_examples: int = 0
    seed: int | None = None
    counterexamples: tuple[Counterexample, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def counterexample(self) -> Counterexample | None:
        return self.counterexamples[0] if self.counterexamples else None

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule_id,
            "level": self.level,
            "family": self.family,
            "title": self.title,
            "verdict": self.verdict.value,
            "message": self.message,
            "exercised": self.exercised,
            "examples": self.examples,
            "inconclusive_examples": self.inconclusive_examples,
            "seed": self.seed,
            "counterexamples": [c.to_json() for c in self.counterexamples],
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> RuleResult:
        return cls(
            rule_id=doc["rule"],
            level=doc["level"],
            family=doc["family"],
            title=doc["title"],
            verdict=Verdict(doc["verdict"]),
            message=doc.get("message", ""),
            exercised=doc.get("exercised", 0),
            examples=doc.get("examples", 0),
            inconclusive_examples=doc.get("inconclusive_examples", 0),
            seed=doc.get("seed"),
            counterexamples=tuple(Counterexample.from_json(c) for c in doc.get("counterexamples", ())),
            warnings=tuple(doc.get("warnings", ())),
        )


class Progress(Protocol):
    """Callbacks for a progress display."""

    def rule_started(self, rule: Rule, index: int, total: int) -> None: ...

    def example_done(self, rule: Rule, examples: int) -> None: ...

    def rule_finished(self, result: RuleResult, index: int, total: int) -> None: ...


class _Silent:
    def rule_started(self, rule: Rule, index: int, total: int) -> None:
        return None

    def example_done(self, rule: Rule, examples: int) -> None:
        return None

    def rule_finished(self, result: RuleResult, index: int, total: int) -> None:
        return None


# ---- choosing rules ------------------------------------------------------------------------------


def select_rules(ids: Sequence[str] | None = None, level: str | None = None) -> list[Rule]:
    """The catalogue's rules, in catalogue order, restricted to ``ids`` (rule ids such as
    ``ORD-5``, or whole families such as ``ORD``; case-insensitive) and to ``level``."""
    from conformance.rules import CATALOGUE

    chosen = list(CATALOGUE.values())
    if ids:
        wanted: set[str] = set()
        families = {rule.family.upper() for rule in chosen}
        by_id = {rule.id.upper(): rule.id for rule in chosen}
        for given_id in ids:
            key = given_id.strip().upper()
            if key in by_id:
                wanted.add(by_id[key])
            elif key in families:
                wanted.update(rule.id for rule in chosen if rule.family.upper() == key)
            else:
                raise UnknownRuleError(
                    f"{given_id!r} is not a rule id or family of this kit; run `stream-conformance rules` "
                    "to list them (ids look like ORD-5, families like ORD)"
                )
        chosen = [rule for rule in chosen if rule.id in wanted]
    if level is not None:
        chosen = [rule for rule in chosen if rule.level.value == level.lower()]
    return chosen


# ---- running rules -------------------------------------------------------------------------------


def run_rules(
    rules: Iterable[Rule],
    adapter: Adapter,
    options: RunOptions,
    progress: Progress | None = None,
    *,
    exitfirst: bool = False,
) -> list[RuleResult]:
    """Run each rule's search in turn. One seed serves the whole run, and rules whose searches
    draw the same scenario (same focus) share one harness run of it. ``exitfirst``: stop after
    the first rule that fails, or is inconclusive when that is not allowed (the results end there)."""
    progress = progress or _Silent()
    options = replace(options, seed=choose_seed(options))
    cache = ObservationCache()
    chosen = list(rules)
    results = []
    for index, rule in enumerate(chosen, start=1):
        progress.rule_started(rule, index, len(chosen))
        result = run_rule(rule, adapter, options, progress, cache=cache, peers=chosen)
        progress.rule_finished(result, index, len(chosen))
        results.append(result)
        stopped = result.verdict is Verdict.FAIL or (
            result.verdict is Verdict.INCONCLUSIVE and not options.allow_inconclusive
        )
        if exitfirst and stopped:
            break
    return results


def run_rule(
    rule: Rule,
    adapter: Adapter,
    options: RunOptions,
    progress: Progress | None = None,
    *,
    cache: ObservationCache | None = None,
    peers: Iterable[Rule] | None = None,
) -> RuleResult:
    """Search for a counterexample to ``rule`` and return the verdict.

    With a ``cache``, the search may be shared: the rules among ``peers`` (default: the whole
    catalogue) that draw the same scenarios are checked in the same search, and their verdicts
    are kept in the cache for their own turn (see :func:`_shared_search`).
    """
    base = RuleResult(rule.id, rule.level.value, rule.family, rule.title, Verdict.SKIP)
    reason = skip_reason(rule, adapter)
    if reason:
        return replace(base, message=reason)
    progress = progress or _Silent()
    if rule.family == PROBE_FAMILY:
        # Judged on parameter probes (conformance.probes), never on shared scenarios.
        from conformance.probes import ProbeSearch

        return ProbeSearch(rule, adapter, options, progress, ObservationCache(size=0)).run(base)
    if cache is not None:
        shared = _shared_search(rule, adapter, options, progress, cache, peers)
        if shared is not None:
            return shared
    search = _Search(rule, adapter, options, progress, cache or ObservationCache(size=0))
    return search.run(base)


_FROZEN = False


def freeze_loaded_objects() -> None:
    """Leave every object that exists once the first scenario ran (the imported modules, botocore's
    service models, Hypothesis, the catalogue) out of all later garbage collections; once per
    process. A search allocates many containers per scenario, so full collections run often,
    and each one would walk those long-lived objects again: about a quarter of the CPU of a
    scenario. Objects are still freed as usual when their last reference goes."""
    global _FROZEN
    if not _FROZEN:
        _FROZEN = True
        gc.collect()  # what is garbage now is collected, not frozen
        gc.freeze()


def choose_seed(options: RunOptions) -> int:
    """``options.seed``; else 0 under a derandomized profile, a fresh random seed otherwise."""
    if options.seed is not None:
        return options.seed
    return 0 if resolve_profile(options.profile).derandomize else random.SystemRandom().randrange(2**32)


class ObservationCache:
    """Recent observations by scenario, so rules that draw the same scenario run it once.

    Under one seed, searches with the same focus draw the same scenarios; each is still run in a
    fresh world, once, and every rule judges that real observation. Bounded (least recently used
    first out), and scenarios carrying much data (large records) are not kept at all, nor are
    observations whose calls carried much (a few records retried hundreds of times); all kept
    observations together carry at most ``_MAX_KEPT`` bytes of payloads.
    """

    _MAX_DATA = 256 * 1024
    _MAX_KEPT = 32 * 1024 * 1024

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._kept: OrderedDict[tuple[int, str, Budget | None, tuple[Any, ...]], tuple[Observation, int]] = (
            OrderedDict()
        )
        self._kept_bytes = 0
        self.hits = 0
        # Shared searches (see _shared_search): verdicts reached for rules before their turn, and
        # the rules that must search alone, per (adapter, options).
        self._verdicts: dict[tuple[tuple[int, RunOptions], str], RuleResult] = {}
        self._alone: set[tuple[tuple[int, RunOptions], str]] = set()

    def keep_verdict(self, scope: tuple[int, RunOptions], rule_id: str, result: RuleResult) -> None:
        self._verdicts[(scope, rule_id)] = result

    def has_verdict(self, scope: tuple[int, RunOptions], rule_id: str) -> bool:
        return (scope, rule_id) in self._verdicts

    def take_verdict(self, scope: tuple[int, RunOptions], rule_id: str) -> RuleResult | None:
        return self._verdicts.pop((scope, rule_id), None)

    def search_alone(self, scope: tuple[int, RunOptions], rule_id: str) -> None:
        self._alone.add((scope, rule_id))

    def searches_alone(self, scope: tuple[int, RunOptions], rule_id: str) -> bool:
        return (scope, rule_id) in self._alone

    def observe(self, adapter: Adapter, scenario: Scenario, world: str, budget: Budget | None) -> Observation:
        try:
            return self._observe(adapter, scenario, world, budget)
        finally:
            freeze_loaded_objects()  # once the first scenario ran: the world's models are loaded

    def _observe(
        self, adapter: Adapter, scenario: Scenario, world: str, budget: Budget | None
    ) -> Observation:
        data = sum(len(record.data) for shard in scenario.shards for record in shard.records)
        if not self._size or data > self._MAX_DATA:
            return run_scenario(adapter, scenario, world=world, budget=budget)
        key = (id(adapter), world, budget, _scenario_key(scenario))
        kept = self._kept.get(key)
        if kept is not None:
            self._kept.move_to_end(key)
            self.hits += 1
            return kept[0]
        observation = run_scenario(adapter, scenario, world=world, budget=budget)
        carried = _payload_bytes(observation)
        if carried > self._MAX_DATA:
            return observation
        self._kept[key] = (observation, carried)
        self._kept_bytes += carried
        while len(self._kept) > self._size or self._kept_bytes > self._MAX_KEPT:
            self._kept_bytes -= self._kept.popitem(last=False)[1][1]
        return observation


def _payload_bytes(observation: Observation) -> int:
    """Bytes of the text and binary parameters of the observation's calls (invocation payloads,
    destination documents): what makes an observation large."""
    return sum(
        len(value)
        for call in observation.trace.calls
        for value in call.params.values()
        if isinstance(value, (bytes, str))
    )


def _scenario_key(scenario: Scenario) -> tuple[Any, ...]:
    """Equal for scenarios that run the same (everything but the note). The shards, clock plan
    and records are frozen and hashable; the parameters are written out in their own order, as
    the poller reads them. Ten times cheaper than ``scenario.dumps()``."""
    parameters = json.dumps(scenario.parameters, default=repr)
    return (
        scenario.version,
        scenario.source,
        scenario.shards,
        parameters,
        scenario.clock,
        scenario.success_form,
        scenario.world,
    )


def skip_reason(rule: Rule, adapter: Adapter) -> str | None:
    """Why ``rule`` is skipped for ``adapter`` (a capability it needs is not claimed), or None."""
    missing = adapter.capabilities.lacks(frozenset(rule.needs))
    if not missing:
        return None
    notes = adapter.capabilities.notes
    parts = [f"{name} ({notes[name]})" if name in notes else name for name in sorted(missing)]
    return f"{adapter.name} does not claim {', '.join(parts)}, which {rule.id} needs"


class _Search:
    def __init__(
        self, rule: Rule, adapter: Adapter, options: RunOptions, progress: Progress, cache: ObservationCache
    ) -> None:
        self.rule = rule
        self.cache = cache
        self.adapter = adapter
        self.options = options
        self.progress = progress
        self.examples = 0
        self.exercised = 0
        self.inconclusive = 0
        self.first_inconclusive = ""
        self.stopped: tuple[Scenario, str] | None = None
        # Violations and inconclusive runs raised by the test function, with their scenarios:
        # Hypothesis re-raises (or groups) the very objects from its final, shrunk replays. Held
        # weakly: a shrink raises hundreds, and only those Hypothesis keeps are asked for.
        self.raised: weakref.WeakKeyDictionary[BaseException, Scenario] = weakref.WeakKeyDictionary()

    def attempt(self, scenario: Scenario) -> None:
        from conformance.rules import check, violation_error

        if self.stopped is not None:
            return  # a hang was seen: no more wall time is spent on this rule
        observation = self._observe(scenario)
        self.examples += 1
        try:
            if self._unjudgeable(observation):
                reason, hung = observation.reason, timed_out(observation)
                del observation  # see below
                self._inconclusive(scenario, reason, hung)
                return
            result = check(self.rule.id, observation)
            self.exercised += result.exercised
            if result.violations:
                # The error's traceback keeps this frame for as long as Hypothesis keeps the error:
                # it must not keep the observation (a trace can carry megabytes of payloads).
                del observation
                raise self._remember(violation_error(result.violations[0]), scenario)
        finally:
            self.progress.example_done(self.rule, self.examples)

    def _observe(self, scenario: Scenario) -> Observation:
        from conformance.world import UnrealisableScenario

        try:
            return self.cache.observe(self.adapter, scenario, self.options.world, self.options.budget)
        except UnrealisableScenario:
            # The backend cannot hold this scenario (moto has one DynamoDB shard): not an example.
            reject()

    def _unjudgeable(self, observation: Observation) -> bool:
        return observation.status is RunStatus.INCONCLUSIVE

    def _remember(self, error: Exception, scenario: Scenario) -> Exception:
        # Only the poller's failures are remembered; anything else raised in a run is the kit's.
        self.raised[error] = scenario
        return error

    def _inconclusive(self, scenario: Scenario, reason: str, hung: bool) -> None:
        self.inconclusive += 1
        self.first_inconclusive = self.first_inconclusive or reason
        if self.options.allow_inconclusive:
            return
        if hung:
            # Shrinking a hang would cost the poll timeout per attempt: stop at the first one.
            self.stopped = (scenario, reason)
            return
        raise self._remember(InconclusiveRun(reason), scenario)

    def hypothesis_test(
        self, body: Callable[[Scenario], None], *, shrink: bool = True
    ) -> tuple[Callable[[], None], int]:
        """``body`` as this rule's Hypothesis search, and the seed it searches with."""
        profile = resolve_profile(self.options.profile)
        run_seed = choose_seed(self.options)
        test = given(self._strategy())(body)
        if self.options.max_examples is not None:
            profile = settings(profile, max_examples=self.options.max_examples)
        phases = profile.phases if shrink else [p for p in profile.phases if p in _SEARCH_PHASES]
        test = settings(
            parent=profile,
            deadline=None,  # the harness bounds wall time per poll; timing is not a verdict
            database=_scoped_database(profile.database, self.adapter, self.rule, self.options.world),
            verbosity=profile.verbosity if profile.verbosity > Verbosity.normal else Verbosity.quiet,
            suppress_health_check=[*profile.suppress_health_check, HealthCheck.too_slow],
            phases=phases,
        )(test)
        seeded = seed(run_seed)(test)

        def search() -> None:
            with without_local_constants():  # the seed alone decides the examples
                seeded()

        return search, run_seed

    def run(self, base: RuleResult) -> RuleResult:
        test, run_seed = self.hypothesis_test(self.attempt)
        base = replace(base, seed=run_seed)
        try:
            test()
        except (Unsatisfiable, FailedHealthCheck) as error:
            return self._finish(
                base,
                Verdict.SKIP,
                f"no scenario for {self.rule.id} could be drawn within what {self.adapter.name} claims "
                f"on the {self.options.world} world ({error})",
            )
        except BaseException as error:
            if not isinstance(error, Exception):
                raise  # KeyboardInterrupt and friends
            return self._failed(base, error)
        return self.conclude(base)

    def conclude(self, base: RuleResult) -> RuleResult:
        """The verdict of a search that raised nothing."""
        if self.stopped is not None:
            scenario, reason = self.stopped
            assert base.seed is not None
            example = self._counterexample(reason, scenario, 1, base.seed)
            return self._finish(base, Verdict.INCONCLUSIVE, reason, (example,))
        if self.examples and self.inconclusive == self.examples:
            return self._finish(
                base,
                Verdict.INCONCLUSIVE,
                f"every one of {self.examples} examples was inconclusive, for example: "
                f"{self.first_inconclusive}",
            )
        return self._passed(base)

    def _passed(self, base: RuleResult) -> RuleResult:
        warnings = []
        if self.inconclusive:
            warnings.append(
                f"{self.inconclusive} of {self.examples} examples were inconclusive and not checked "
                f"(allowed), for example: {self.first_inconclusive}"
            )
        if self.exercised == 0 and self.rule.level.value == "must":
            unexercised = (
                f"MUST rule {self.rule.id} was never exercised in {self.examples} examples: no scenario gave "
                "it anything to check, so its pass proves nothing"
            )
            if self.options.strict_exercise:
                return self._finish(base, Verdict.FAIL, unexercised + " (strict mode)", warnings=warnings)
            warnings.append(unexercised)
        return self._finish(base, Verdict.PASS, "", warnings=warnings)

    def _failed(self, base: RuleResult, error: Exception) -> RuleResult:
        assert base.seed is not None
        found = [(leaf, self.raised[leaf]) for leaf in _leaves(error) if leaf in self.raised]
        found.sort(key=lambda pair: isinstance(pair[0], InconclusiveRun))  # violations first
        if not found:
            # Not from a run: the kit itself (a strategy, the world, a checker) broke.
            return self._finish(base, Verdict.INCONCLUSIVE, _internal_error(self.rule.id, error))
        examples = tuple(
            self._counterexample(_message(leaf, self.rule.id), scenario, number, base.seed)
            for number, (leaf, scenario) in enumerate(found, start=1)
        )
        rule_errors = [leaf for leaf, _ in found if not isinstance(leaf, InconclusiveRun)]
        if rule_errors:
            return self._finish(base, Verdict.FAIL, examples[0].message, examples)
        return self._finish(base, Verdict.INCONCLUSIVE, examples[0].message, examples)

    def _counterexample(self, message: str, scenario: Scenario, number: int, run_seed: int) -> Counterexample:
        doc = scenario.to_json()
        path = _write_failure(self.options, self.adapter, self.rule.id, number, message, doc, run_seed)
        return Counterexample(
            message=message,
            scenario=doc,
            file=str(path),
            replay=replay_command(path, self.options.poller_spec, self.rule.id, self.options.world),
        )

    def _finish(
        self,
        base: RuleResult,
        verdict: Verdict,
        message: str,
        counterexamples: tuple[Counterexample, ...] = (),
        warnings: Sequence[str] = (),
    ) -> RuleResult:
        return replace(
            base,
            verdict=verdict,
            message=message,
            exercised=self.exercised,
            examples=self.examples,
            inconclusive_examples=self.inconclusive,
            counterexamples=counterexamples,
            warnings=tuple(warnings),
        )

    def _strategy(self) -> SearchStrategy[Scenario]:
        from conformance.strategies import scenarios

        claimed = self.adapter.capabilities
        strategy = scenarios(**focus_within_claims(self.rule.focus, claimed))
        if claimed.lacks(_ALL_FEATURES):
            # Only scenarios within the adapter's claims: a feature it does not claim is a skip
            # for the rules that need it, never a failure of the others.
            strategy = strategy.filter(lambda scenario: not claimed.lacks(features_used(scenario)))
        return strategy


def focus_within_claims(focus: Mapping[str, Any], claimed: Capabilities) -> dict[str, Any]:
    """The rule's focus, narrowed so that the scenarios drawn use only what the adapter claims.

    Narrowing the draw (rather than filtering drawn scenarios) keeps the search efficient for an
    adapter that claims little: a filter alone would reject most scenarios and starve the rule.
    What cannot be expressed as a focus flag (a subset of destination kinds or starting
    positions) is still filtered afterwards.
    """
    narrowed = dict(focus)
    sources = claimed.sources & {"kinesis", "dynamodb"}
    if "source" not in narrowed and len(sources) == 1:
        narrowed["source"] = next(iter(sources))
    for flag, feature in (
        ("bisect", "bisect"),
        ("report_batch_item_failures", "report_batch_item_failures"),
        ("record_age", "record_age"),
        ("batching_window", "batching_window"),
    ):
        if narrowed.get(flag) is None and feature not in claimed.features:
            narrowed[flag] = False
    destinations = {"destination_sqs", "destination_sns", "destination_s3"}
    if narrowed.get("destination") is None and not destinations & claimed.features:
        narrowed["destination"] = "none"
    positions = {"starting_position_latest", "starting_position_at_timestamp"}
    if narrowed.get("starting_position") is None and not positions & claimed.features:
        narrowed["starting_position"] = "TRIM_HORIZON"
    return narrowed


# ---- searches shared by rules with the same focus ------------------------------------------------

# A shared search only generates: it never shrinks (a broken rule gets a search of its own).
_SEARCH_PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target)


class _Abandoned(Exception):
    """Raised into a shared search to stop it: it can no longer stand for the rules' own searches."""


class _SharedSearch:
    """One Hypothesis search whose every observation is judged against several rules.

    ``members`` are the rules' own searches, in whose counters the shared search keeps score; the
    first one leads (its strategy, settings and progress line are used).
    """

    def __init__(self, members: list[_Search]) -> None:
        self.members = members
        self.lead = members[0]
        self.broken: _Search | None = None
        """The member whose rule an observation broke, if that is why the search was abandoned."""

    def attempt(self, scenario: Scenario) -> None:
        from conformance.rules import check
        from conformance.world import UnrealisableScenario

        lead = self.lead
        try:
            observation = lead.cache.observe(lead.adapter, scenario, lead.options.world, lead.options.budget)
        except UnrealisableScenario:
            reject()
        for member in self.members:
            member.examples += 1
        try:
            if observation.status is RunStatus.INCONCLUSIVE:
                if not lead.options.allow_inconclusive:
                    reason = observation.reason
                    del observation  # not kept by the error's traceback (see _Search.attempt)
                    raise _Abandoned(reason)  # each rule's search shrinks it
                for member in self.members:
                    member.inconclusive += 1
                    member.first_inconclusive = member.first_inconclusive or observation.reason
                return
            for member in self.members:
                result = check(member.rule.id, observation)
                member.exercised += result.exercised
                if result.violations:
                    self.broken = member
                    del observation  # not kept by the error's traceback (see _Search.attempt)
                    raise _Abandoned(member.rule.id)
        finally:
            lead.progress.example_done(lead.rule, lead.examples)

    def run(self) -> int | None:
        """Run the search; its seed if every example passed every rule, else None."""
        test, run_seed = self.lead.hypothesis_test(self.attempt, shrink=False)
        try:
            test()
        except BaseException as error:
            if not isinstance(error, Exception):
                raise  # KeyboardInterrupt and friends
            return None
        return run_seed


def _focus_key(rule: Rule) -> str:
    return json.dumps(dict(rule.focus), sort_keys=True, default=repr)


def _shared_search(
    rule: Rule,
    adapter: Adapter,
    options: RunOptions,
    progress: Progress,
    cache: ObservationCache,
    peers: Iterable[Rule] | None,
) -> RuleResult | None:
    """``rule``'s verdict from a search shared with its peers, or None if it needs its own search.

    Rules with the same focus draw the same scenarios under one seed, so one search can judge
    each observation against all of them and the scenarios are drawn (and run) once instead of
    once per rule. The shared search stands for the rules' own searches only while it sees
    exactly what they would: every example passed every rule. Then each rule's result (examples,
    exercised counts, warnings) is the one its own search would give in this process (same seed,
    strategy and draws), and the peers' results wait in ``cache`` for their turn. As soon as one
    rule is broken, the search is abandoned unshrunk: the broken rule gets a search of its own
    (which shrinks and writes the failure file), and the others share a new search without it.
    An inconclusive run, or anything else that stops the shared search, sends every rule of the
    group to a search of its own.

    Searches with an example database are never shared: each rule's saved failures are replayed
    and written under its own scope.
    """
    scope = (id(adapter), options)
    kept = cache.take_verdict(scope, rule.id)
    if kept is not None:
        for number in range(1, kept.examples + 1):
            progress.example_done(rule, number)  # as if the rule had searched now
        return kept
    if cache.searches_alone(scope, rule.id) or resolve_profile(options.profile).database is not None:
        return None
    if peers is None:
        from conformance.rules import CATALOGUE

        peers = CATALOGUE.values()
    focus = _focus_key(rule)
    same_focus = [
        p
        for p in peers
        if p.id != rule.id
        and p.family != PROBE_FAMILY
        and _focus_key(p) == focus
        and not skip_reason(p, adapter)
    ]
    while True:
        others = [
            p
            for p in same_focus
            if not cache.searches_alone(scope, p.id) and not cache.has_verdict(scope, p.id)
        ]
        if not others:
            return None
        members = [_Search(r, adapter, options, progress, cache) for r in (rule, *others)]
        shared = _SharedSearch(members)
        run_seed = shared.run()
        if run_seed is not None:
            for member in members[1:]:
                cache.keep_verdict(scope, member.rule.id, member.conclude(_base(member.rule, run_seed)))
            return members[0].conclude(_base(rule, run_seed))
        if shared.broken is None:
            for member in members:
                cache.search_alone(scope, member.rule.id)
            return None
        cache.search_alone(scope, shared.broken.rule.id)
        if shared.broken is members[0]:
            return None


def _base(rule: Rule, run_seed: int) -> RuleResult:
    return RuleResult(rule.id, rule.level.value, rule.family, rule.title, Verdict.PASS, seed=run_seed)


def replay_command(path: Path | str, poller_spec: str, rule_id: str, world: str = "memory") -> str:
    words = ["stream-conformance", "replay", str(path), "--poller", poller_spec, "--rule", rule_id]
    if world != "memory":
        words += ["--world", world]
    return shlex.join(words)


def _leaves(error: BaseException) -> Iterator[BaseException]:
    # Exception groups (Hypothesis reports several distinct bugs, or a flaky one, as a group; the
    # builtin on 3.11+, the backport on 3.10) are recognised by their ``exceptions``.
    inner = getattr(error, "exceptions", None)
    if isinstance(inner, tuple) and all(isinstance(e, BaseException) for e in inner):
        for each in inner:
            yield from _leaves(each)
    else:
        yield error


def _message(error: BaseException, rule_id: str) -> str:
    message = getattr(error, "message", None)
    if isinstance(message, str) and message:
        return message
    text = str(error)
    if isinstance(error, InconclusiveRun):
        return f"inconclusive: {text}"
    return text or f"{type(error).__name__} ({rule_id})"


def _internal_error(rule_id: str, error: BaseException) -> str:
    detail = "".join(traceback.format_exception(type(error), error, error.__traceback__, limit=-6)).rstrip()
    return f"the kit itself failed while checking {rule_id} (please report this): {detail}"


def _unjudged(rule: Rule, observation: Observation) -> bool:
    if rule.family == PROBE_FAMILY:
        from conformance.probes import judgeable  # a raise is a refusal there

        return not judgeable(observation)
    return observation.status is RunStatus.INCONCLUSIVE


# ---- capabilities used by a scenario -------------------------------------------------------------

# Everything a scenario can use: what the default Capabilities claim.
_ALL_FEATURES = Capabilities().sources | Capabilities().features


def features_used(scenario: Scenario) -> frozenset[str]:
    """The capability names (``Capabilities.sources``/``features``) a scenario exercises."""
    parameters = scenario.parameters
    used = {scenario.source.value}
    if scenario.destination_kind:
        used.add(f"destination_{scenario.destination_kind}")
    if parameters.get("BisectBatchOnFunctionError"):
        used.add("bisect")
    if scenario.report_batch_item_failures:
        used.add("report_batch_item_failures")
    if parameters.get("MaximumRecordAgeInSeconds", -1) not in (-1, None):
        used.add("record_age")
    if parameters.get("MaximumBatchingWindowInSeconds") or 0:
        used.add("batching_window")
    position = parameters.get("StartingPosition")
    if position == "LATEST":
        used.add("starting_position_latest")
    elif position == "AT_TIMESTAMP":
        used.add("starting_position_at_timestamp")
    if parameters.get("TumblingWindowInSeconds") or 0:
        used.add("tumbling_window")
    if parameters.get("FilterCriteria"):
        used.add("filtering")
    if (parameters.get("ParallelizationFactor") or 1) > 1:
        used.add("parallelization")
    return frozenset(used)


# ---- Hypothesis settings and database ------------------------------------------------------------


def resolve_profile(name: str | None) -> settings:
    """The settings of profile ``name``: one of the kit's (``ci``, ``dev``, ``deep``) or any
    other registered Hypothesis profile. It is not loaded as the process default, which would
    change the settings of the user's own Hypothesis tests under the pytest plugin."""
    if name is None:
        return settings()
    from conformance.profiles import PROFILES, UnknownProfileError, profile_settings

    if name in PROFILES:
        return profile_settings(name)
    try:
        return settings.get_profile(name)
    except Exception:
        raise UnknownProfileError(
            f"unknown Hypothesis profile {name!r}: stream-conformance profiles are "
            f"{', '.join(repr(p) for p in PROFILES)} (any other registered Hypothesis profile works too)"
        ) from None


class _ScopedDatabase(ExampleDatabase):
    """A view of the example database under a prefix of its own per (adapter, rule, world).

    Every rule's search runs the same test function, which Hypothesis would otherwise file under
    one key: failures of one rule would be replayed for all the others, and of one poller for
    another.
    """

    def __init__(self, inner: ExampleDatabase, scope: str) -> None:
        super().__init__()
        self._inner = inner
        self._prefix = scope.encode("utf-8") + b"\x00"

    def __repr__(self) -> str:
        return f"_ScopedDatabase({self._inner!r}, {self._prefix!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ScopedDatabase) and (self._inner, self._prefix) == (
            other._inner,
            other._prefix,
        )

    def __hash__(self) -> int:
        return hash((id(self._inner), self._prefix))

    def save(self, key: bytes, value: bytes) -> None:
        self._inner.save(self._prefix + key, value)

    def fetch(self, key: bytes) -> Iterable[bytes]:
        return self._inner.fetch(self._prefix + key)

    def delete(self, key: bytes, value: bytes) -> None:
        self._inner.delete(self._prefix + key, value)

    def move(self, src: bytes, dest: bytes, value: bytes) -> None:
        self._inner.move(self._prefix + src, self._prefix + dest, value)


def _scoped_database(
    database: ExampleDatabase | None, adapter: Adapter, rule: Rule, world: str
) -> ExampleDatabase | None:
    if database is None:
        return None
    return _ScopedDatabase(database, f"stream-conformance:{adapter.name}:{world}:{rule.id}")


# ---- failure files and replay --------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "poller"


def results_file(results_dir: Path, implementation: str) -> Path:
    """Where ``stream-conformance run`` writes the JSON results of ``implementation``."""
    return results_dir / f"{_slug(implementation)}.json"


def _write_failure(
    options: RunOptions,
    adapter: Adapter,
    rule_id: str,
    number: int,
    message: str,
    scenario: Mapping[str, Any],
    run_seed: int,
) -> Path:
    folder = options.results_dir / "failures" / _slug(adapter.name)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (f"{rule_id}.json" if number == 1 else f"{rule_id}-{number}.json")
    document = {
        "kind": FAILURE_FILE_KIND,
        "rule": rule_id,
        "implementation": adapter.name,
        "poller": options.poller_spec,
        "world": options.world,
        "seed": run_seed,
        "message": message,
        "scenario": dict(scenario),
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class ReplayOutcome:
    """One saved scenario run once: the observation and each rule's result on it."""

    scenario: Scenario
    observation: Observation
    results: list[RuleResult] = field(default_factory=list)


def load_failure(path: str | Path) -> tuple[Scenario, Mapping[str, Any]]:
    """The scenario of a failure file (or of a bare scenario file) and the file's other fields."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReplayError(
            f"the scenario file {str(path)!r} does not exist; pass a failure file written by "
            "`stream-conformance run` (under <results>/failures/) or a scenario saved with Scenario.dumps()"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReplayError(f"the scenario file {str(path)!r} could not be read ({exc})") from exc
    try:
        scenario = Scenario.loads(text)
    except ScenarioFormatError as exc:
        raise ReplayError(f"{path}: {exc}") from exc
    doc = json.loads(text)
    extra = doc if isinstance(doc, Mapping) and "scenario" in doc else {}
    return scenario, extra


def replay(
    path: str | Path,
    adapter: Adapter,
    *,
    rule_ids: Sequence[str] | None = None,
    world: str | None = None,
    budget: Budget | None = None,
) -> ReplayOutcome:
    """Run the scenario saved in ``path`` once and check it against ``rule_ids`` (default: the
    rule recorded in the failure file, or every rule for a bare scenario file)."""
    from conformance.rules import check

    scenario, extra = load_failure(path)
    if not rule_ids and isinstance(extra.get("rule"), str):
        rule_ids = [extra["rule"]]
    rules = select_rules(rule_ids or None)
    chosen_world = world or str(extra.get("world") or "memory")
    if any(rule.family == PROBE_FAMILY for rule in rules):
        from conformance.probes import run_probe  # the poller gets the probe's parameters as saved

        observation = run_probe(adapter, scenario, world=chosen_world, budget=budget)
    else:
        observation = run_scenario(adapter, scenario, world=chosen_world, budget=budget)
    results = []
    for rule in rules:
        base = RuleResult(rule.id, rule.level.value, rule.family, rule.title, Verdict.PASS, examples=1)
        reason = skip_reason(rule, adapter)
        if reason:
            results.append(replace(base, verdict=Verdict.SKIP, message=reason))
        elif _unjudged(rule, observation):
            results.append(replace(base, verdict=Verdict.INCONCLUSIVE, message=observation.reason))
        else:
            checked = check(rule.id, observation)
            if checked.violations:
                message = "\n".join(v.message for v in checked.violations)
                results.append(
                    replace(base, verdict=Verdict.FAIL, message=message, exercised=checked.exercised)
                )
            else:
                results.append(replace(base, exercised=checked.exercised))
    return ReplayOutcome(scenario=scenario, observation=observation, results=results)
