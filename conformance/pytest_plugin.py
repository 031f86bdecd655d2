"""pytest plugin: ``pytest --poller X`` runs the conformance kit as ordinary pytest items.

One item per rule, with node ids ``conformance::ORD-2``, markers for the level (``must``,
``should``) and the family (``ord``, ``batch``, ``dlq`` …), so ``-k``, ``-m``, ``-n 2``
(pytest-xdist) and ``--junitxml`` work as usual. Without ``--poller`` the plugin only registers
its options: the kit is not imported and no item is added, so a project's own tests run as
before.

Options: ``--poller`` (module:attribute or a registered name), ``--world memory|moto``,
``--conformance-profile ci|dev|deep`` (default ``$STREAM_CONFORMANCE_PROFILE``, else ``ci`` under
``CI=true``, else ``dev``), ``--expectations FILE``, ``--strict-exercise``,
``--allow-inconclusive``, ``--conformance-seed N`` and ``--conformance-results DIR``.

Outcomes: a rule whose needs the poller does not claim is skipped with the reason; a listed
known failure is reported as xfail; a stale expectation, a violation or an inconclusive run
fails, with the prose message, the shrunk scenario, the seed and the replay command.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conformance.contract import Adapter
    from conformance.expectations import Expectations
    from conformance.report import Outcome
    from conformance.rules import Rule
    from conformance.runner import ObservationCache, RunOptions

SUITE = "conformance"
_SEED_KEY = "stream_conformance_seed"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stream-conformance", "stream poller conformance kit")
    group.addoption(
        "--poller",
        default=None,
        help="run the conformance kit against this poller: module:attribute (an Adapter, or a factory "
        "make_poller(context)) or a registered name such as 'reference'",
    )
    group.addoption(
        "--world",
        default="memory",
        choices=("memory", "moto"),
        help="conformance world backend: memory (fast) or moto (real boto3 serialisation)",
    )
    group.addoption(
        "--conformance-profile",
        default=None,
        metavar="NAME",
        help="Hypothesis profile for the conformance searches: ci, dev or deep",
    )
    group.addoption(
        "--expectations", default=None, metavar="FILE", help="known failures, one rule id per line"
    )
    group.addoption(
        "--strict-exercise", action="store_true", help="fail a MUST rule that no generated scenario exercised"
    )
    group.addoption(
        "--allow-inconclusive",
        action="store_true",
        help="skip, instead of failing, rules whose runs could not be judged (the poller raised or hung)",
    )
    group.addoption("--conformance-seed", type=int, default=None, metavar="N", help="seed every search")
    group.addoption(
        "--conformance-results",
        default="conformance-results",
        metavar="DIR",
        help="where failure files (replayable scenarios) are written (default: %(default)s)",
    )


@dataclass(frozen=True)
class _Kit:
    adapter: Adapter
    options: RunOptions
    expectations: Expectations
    rules: list[Rule]
    cache: ObservationCache


_KIT = pytest.StashKey[_Kit]()


def pytest_configure(config: pytest.Config) -> None:
    spec = config.getoption("poller")
    if not spec:
        return
    kit = _load_kit(config, spec)
    config.stash[_KIT] = kit
    config.addinivalue_line("markers", "must: a conformance rule at MUST level (SPEC REC or DOC evidence)")
    config.addinivalue_line("markers", "should: a conformance rule at SHOULD level (SPEC marks it uncertain)")
    for family in sorted({rule.family for rule in kit.rules}):
        config.addinivalue_line("markers", f"{_marker(family)}: conformance rules of the {family} family")
    config.pluginmanager.register(_Collection(kit), "stream-conformance-collection")


def _load_kit(config: pytest.Config, spec: str) -> _Kit:
    # Imported here, not at module level: loading pytest must not load the kit.
    from conformance.discovery import DiscoveryError, resolve_poller
    from conformance.expectations import NO_EXPECTATIONS, ExpectationsError, load_expectations
    from conformance.profiles import UnknownProfileError, default_profile_name
    from conformance.rules import CATALOGUE
    from conformance.runner import ObservationCache, RunOptions, choose_seed, resolve_profile

    try:
        adapter = resolve_poller(spec)
        expectations_file = config.getoption("expectations")
        expectations = (
            load_expectations(_from_invocation_dir(config, expectations_file), CATALOGUE.keys())
            if expectations_file
            else NO_EXPECTATIONS
        )
        profile = config.getoption("conformance_profile") or default_profile_name()
        resolve_profile(profile)  # an unknown profile is a usage error now, not a failure per rule
    except UnknownProfileError as error:
        raise pytest.UsageError(f"--conformance-profile: {error}") from None
    except (DiscoveryError, ExpectationsError) as error:
        raise pytest.UsageError(str(error)) from None
    # One seed for the session: chosen by the xdist controller and handed to every worker.
    seed = getattr(config, "workerinput", {}).get(_SEED_KEY, config.getoption("conformance_seed"))
    options = RunOptions(
        poller_spec=spec,
        world=config.getoption("world"),
        profile=profile,
        seed=seed,
        allow_inconclusive=config.getoption("allow_inconclusive"),
        strict_exercise=config.getoption("strict_exercise"),
        results_dir=_from_invocation_dir(config, config.getoption("conformance_results")),
    )
    return _Kit(
        adapter=adapter,
        options=replace(options, seed=choose_seed(options)),
        expectations=expectations,
        rules=list(CATALOGUE.values()),
        cache=ObservationCache(),
    )


def _from_invocation_dir(config: pytest.Config, path: str) -> Path:
    return Path(config.invocation_params.dir, os.path.expanduser(path))


def _marker(family: str) -> str:
    return family.lower().replace("-", "_")


class _Collection:
    """Adds the kit's items to the session (registered only when --poller is given)."""

    def __init__(self, kit: _Kit) -> None:
        self._kit = kit

    @pytest.hookimpl(tryfirst=True)  # before -k/-m deselection, which must see these items too
    def pytest_collection_modifyitems(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        suite = ConformanceSuite.from_parent(
            session, name=SUITE, nodeid=SUITE, path=session.config.rootpath / SUITE
        )
        collected = suite.collect()
        # Count them in "collected N items" like any collected item.
        session.config.hook.pytest_collectreport(
            report=pytest.CollectReport(suite.nodeid, "passed", None, list(collected))
        )
        items.extend(collected)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """pytest-xdist: every worker searches with the controller's seed."""
        node.workerinput[_SEED_KEY] = self._kit.options.seed

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report = yield
        if isinstance(item, ConformanceItem) and report.skipped and isinstance(report.longrepr, tuple):
            # Name the rule, not a line of this plugin, in "SKIPPED [1] conformance::DLQ-7: reason".
            report.longrepr = (item.nodeid, None, str(report.longrepr[2]))
        return report


class ConformanceSuite(pytest.Collector):
    """The kit as a collector: one :class:`ConformanceItem` per rule of the catalogue."""

    def collect(self) -> list[ConformanceItem]:
        from conformance.runner import skip_reason

        kit = self.config.stash[_KIT]
        items: list[ConformanceItem] = []
        for rule in kit.rules:
            item = ConformanceItem.from_parent(self, name=rule.id, rule=rule)
            item.add_marker(rule.level.value)
            item.add_marker(_marker(rule.family))
            reason = skip_reason(rule, kit.adapter)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))
            items.append(item)
        return items


class ConformanceFailure(Exception):
    """A rule's gate outcome that fails the item; rendered by ``ConformanceItem.repr_failure``."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.result.message or outcome.note)
        self.outcome = outcome


class ConformanceItem(pytest.Item):
    """One rule of the catalogue, searched for a counterexample when run."""

    def __init__(self, *, rule: Rule, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rule = rule

    def runtest(self) -> None:
        from conformance.expectations import Gate
        from conformance.report import gate
        from conformance.runner import run_rule

        kit = self.config.stash[_KIT]
        result = run_rule(self.rule, kit.adapter, kit.options, cache=kit.cache)
        self.user_properties.extend(
            [
                ("verdict", result.verdict.value),
                ("exercised", result.exercised),
                ("examples", result.examples),
                ("seed", result.seed),
            ]
        )
        [outcome] = gate([result], kit.expectations)
        for warning in result.warnings:
            warnings.warn(pytest.PytestWarning(f"{self.rule.id}: {warning}"), stacklevel=1)
        if outcome.gate is Gate.SKIP:
            pytest.skip(result.message or outcome.note)
        if outcome.gate is Gate.KNOWN_FAILURE:
            pytest.xfail(outcome.note)
        if outcome.gate is Gate.INCONCLUSIVE and kit.options.allow_inconclusive:
            pytest.skip(f"inconclusive (allowed by --allow-inconclusive): {result.message}")
        if outcome.gate is not Gate.PASS:
            raise ConformanceFailure(outcome)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ConformanceFailure):
            from conformance.report import format_failure

            return format_failure(excinfo.value.outcome, seed_option="--conformance-seed")
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, 0, self.nodeid
