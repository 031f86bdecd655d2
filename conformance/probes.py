"""Parameter probes: running a poller on a mapping it may have to refuse, and the PARAM searches.

A probe scenario's ``parameters`` go to the poller exactly as drawn, invalid values included
(``conformance.probe_strategies``). The world is built from the same scenario with every
refused value left out (:func:`sanitized`), so a malformed destination or a missing starting
position never breaks the kit's own world; the poller alone sees them. The harness then runs
the poller as usual: a factory that raises ends the run at once (no poll is made), a poller that
accepts is polled until the stream settles. The observation carries the probe scenario, and the
PARAM checkers (``conformance.rules.validation``) judge it: a raise is a refusal there, not an
inconclusive run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hypothesis import example, reject

from conformance.contract import Adapter, PollerContext
from conformance.harness import Budget, run_in_world
from conformance.observation import Observation, RunStatus
from conformance.rules.validation import parameter_problems, refused
from conformance.runner import PROBE_FAMILY, _Search
from conformance.scenario import Scenario

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from conformance.clock import VirtualClock
    from conformance.trace import StreamRecord, Trace
    from conformance.world import World

__all__ = ["PROBE_FAMILY", "ProbeSearch", "run_probe", "sanitized"]


def sanitized(scenario: Scenario) -> Scenario:
    """``scenario`` with every parameter CreateEventSourceMapping would refuse left out (a
    refused StartingPosition becomes TRIM_HORIZON): what the kit's world is built from."""
    source = scenario.source.value
    position = scenario.parameters.get("StartingPosition")
    if parameter_problems({"StartingPosition": position}, source):
        position = "TRIM_HORIZON"
    kept: dict[str, Any] = {"StartingPosition": position}
    for name, value in scenario.parameters.items():
        if name != "StartingPosition" and not parameter_problems({**kept, name: value}, source):
            kept[name] = value
    return dataclasses.replace(scenario, parameters=kept)


class _ProbeWorld:
    """A world whose poller context carries the probe's own parameters."""

    def __init__(self, world: World, parameters: Any) -> None:
        self._world = world
        self._parameters = parameters

    @property
    def clock(self) -> VirtualClock:
        return self._world.clock

    @property
    def trace(self) -> Trace:
        return self._world.trace

    def context(self) -> PollerContext:
        return dataclasses.replace(self._world.context(), parameters=self._parameters)

    def release_due_records(self) -> None:
        self._world.release_due_records()

    def released_records(self) -> tuple[StreamRecord, ...]:
        return self._world.released_records()

    def pending_arrivals(self) -> float | None:
        return self._world.pending_arrivals()

    def close(self) -> None:
        self._world.close()


def run_probe(
    adapter: Adapter, scenario: Scenario, *, world: str = "memory", budget: Budget | None = None
) -> Observation:
    """Run ``adapter``'s poller with ``scenario.parameters`` as given, in a world built from
    :func:`sanitized` ``scenario``. For a scenario with valid parameters this is
    ``run_scenario``."""
    from conformance.world import build_world

    clean = sanitized(scenario)
    built = build_world(clean, world)
    observation = run_in_world(adapter, clean, _ProbeWorld(built, scenario.parameters), budget=budget)
    return dataclasses.replace(observation, scenario=scenario)


def judgeable(observation: Observation) -> bool:
    """Whether a PARAM checker can judge the probe: it ran, or the poller raised (a refusal, or
    the refusal of a valid mapping). A hang stays inconclusive."""
    return observation.status is not RunStatus.INCONCLUSIVE or refused(observation)


class ProbeSearch(_Search):
    """A PARAM rule's search: probes drawn for the adapter's claims, judged as refusals or
    acceptances. Failure files and replay commands are the runner's."""

    def _strategy(self) -> SearchStrategy[Scenario]:
        from conformance.probe_strategies import parameter_probes

        return parameter_probes(self.rule.id, self.adapter.capabilities)

    def hypothesis_test(
        self, body: Callable[[Scenario], None], *, shrink: bool = True
    ) -> tuple[Callable[[], None], int]:
        """The search, with every edge of the rule as an explicit example run first."""
        from conformance.probe_strategies import probe_examples

        def probe(scenario: Scenario) -> None:
            body(scenario)

        for scenario in reversed(probe_examples(self.rule.id, self.adapter.capabilities)):
            probe = example(scenario)(probe)
        return super().hypothesis_test(probe, shrink=shrink)

    def _observe(self, scenario: Scenario) -> Observation:
        from conformance.world import UnrealisableScenario

        try:
            return run_probe(self.adapter, scenario, world=self.options.world, budget=self.options.budget)
        except UnrealisableScenario:
            reject()

    def _unjudgeable(self, observation: Observation) -> bool:
        return not judgeable(observation)
