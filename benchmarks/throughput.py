"""Scenarios per second against the reference poller, in-memory and moto worlds side by side.

N scenarios are drawn once, with a fixed seed, from ``conformance.strategies.scenarios()`` (those
the moto world cannot hold — DynamoDB with several shards — are left out, so both worlds run the
very same list). Then, per world, each scenario is run through the harness and judged by every
rule checker. The cost of each stage is printed separately so the bottleneck is visible:

* draw  — Hypothesis generating the scenarios (what each rule's search pays per example);
* run   — ``run_scenario`` (world set-up, the poller's polls, the recorded trace);
* check — every checker in the catalogue on the observation (one shared analysis).

Usage::

    python benchmarks/throughput.py                 # 300 scenarios, seed 0, both worlds
    python benchmarks/throughput.py -n 1000 --seed 7 --worlds memory
    python benchmarks/throughput.py --focus '{"failures": true}'

Wall-clock figures: this script (unlike the kit) reads the real clock, to measure the kit.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings

from conformance.harness import run_scenario
from conformance.observation import Observation, RunStatus
from conformance.rules import CATALOGUE, check
from conformance.scenario import Scenario, Source
from conformance.strategies import scenarios
from reference import ADAPTER

WORLDS: tuple[str, ...] = ("memory", "moto")


def moto_can_hold(scenario: Scenario) -> bool:
    """The moto backend has exactly one DynamoDB shard (``MotoWorld`` refuses more)."""
    return not (scenario.source is Source.DYNAMODB and len(scenario.shards) != 1)


@dataclass
class Drawn:
    scenarios: list[Scenario]
    drawn: int  # every scenario Hypothesis produced, those moto cannot hold included
    seconds: float


def draw(count: int, run_seed: int, focus: Mapping[str, Any]) -> Drawn:
    """``count`` scenarios that every world can hold, drawn by Hypothesis under ``run_seed``.

    The scenarios are drawn inside a ``@given`` test whose body only keeps them, so the time
    measured is what a rule's search spends on generation (engine overhead included).
    """
    kept: list[Scenario] = []
    produced = 0

    def keep(scenario: Scenario) -> None:
        nonlocal produced
        produced += 1
        if moto_can_hold(scenario) and len(kept) < count:
            kept.append(scenario)

    # Generous max_examples: the moto filter drops some, and Hypothesis stops early once the
    # count is reached only through max_examples, so ask for enough and stop keeping at count.
    test = settings(
        max_examples=count * 2,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )(given(scenarios(**focus))(keep))
    test = seed(run_seed)(test)
    started = time.perf_counter()
    test()
    elapsed = time.perf_counter() - started
    return Drawn(kept, produced, elapsed)


@dataclass
class WorldFigures:
    world: str
    run_seconds: list[float] = field(default_factory=list)
    check_seconds: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    violations: int = 0

    @property
    def run_total(self) -> float:
        return sum(self.run_seconds)

    @property
    def check_total(self) -> float:
        return sum(self.check_seconds)

    @property
    def per_second(self) -> float:
        total = self.run_total + self.check_total
        return len(self.run_seconds) / total if total else float("inf")


def measure(world: str, drawn: Sequence[Scenario], rule_ids: Sequence[str]) -> WorldFigures:
    figures = WorldFigures(world)
    clock: Callable[[], float] = time.perf_counter
    for scenario in drawn:
        started = clock()
        observation: Observation = run_scenario(ADAPTER, scenario, world=world)
        ran = clock()
        if observation.status is not RunStatus.INCONCLUSIVE:
            for rule_id in rule_ids:
                figures.violations += len(check(rule_id, observation).violations)
        checked = clock()
        figures.run_seconds.append(ran - started)
        figures.check_seconds.append(checked - ran)
        figures.statuses[observation.status.value] = figures.statuses.get(observation.status.value, 0) + 1
    return figures


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f}"


def report(drawn: Drawn, results: Sequence[WorldFigures], out: Any = sys.stdout) -> None:
    n = len(drawn.scenarios)
    draw_each = drawn.seconds / max(drawn.drawn, 1)
    print(
        f"\ndraw: {drawn.drawn} scenarios in {drawn.seconds:.2f} s "
        f"({_ms(draw_each).strip()} ms each, {drawn.drawn / drawn.seconds:.0f}/s); "
        f"{n} kept (moto can hold them)",
        file=out,
    )
    records = [s.record_count for s in drawn.scenarios]
    print(f"records per scenario: mean {statistics.fmean(records):.1f}, max {max(records)}", file=out)
    header = (
        f"\n{'world':<8} {'run ms/sc':>10} {'p95 run':>9} {'check ms/sc':>12} "
        f"{'scen/s':>8} {'w/ draw':>8}  statuses"
    )
    print(header, file=out)
    print("-" * (len(header) + 20), file=out)
    for figures in results:
        runs = sorted(figures.run_seconds)
        p95 = runs[min(len(runs) - 1, int(len(runs) * 0.95))]
        with_draw = n / (figures.run_total + figures.check_total + draw_each * n)
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(figures.statuses.items()))
        print(
            f"{figures.world:<8} {_ms(figures.run_total / n):>10} {_ms(p95):>9} "
            f"{_ms(figures.check_total / n):>12} {figures.per_second:>8.1f} {with_draw:>8.1f}  {statuses}",
            file=out,
        )
    by_world = {f.world: f for f in results}
    if "memory" in by_world and "moto" in by_world:
        ratio = by_world["memory"].per_second / by_world["moto"].per_second
        print(f"\nmemory/moto throughput ratio: {ratio:.1f}x", file=out)
    if "memory" in by_world:
        mem = by_world["memory"]
        total = draw_each * n + mem.run_total + mem.check_total
        print(
            "memory time split per scenario: "
            f"draw {100 * draw_each * n / total:.0f}%, run {100 * mem.run_total / total:.0f}%, "
            f"check {100 * mem.check_total / total:.0f}%",
            file=out,
        )
    if any(f.violations for f in results):
        print(
            "\nWARNING: the reference broke a rule on some scenario: "
            + ", ".join(f"{f.world} {f.violations}" for f in results),
            file=out,
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--scenarios", type=int, default=300, help="scenarios to draw (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis seed of the draw (default 0)")
    parser.add_argument(
        "--worlds", default=",".join(WORLDS), help="comma-separated world backends (default memory,moto)"
    )
    parser.add_argument(
        "--focus", default="{}", help="JSON keyword arguments for scenarios(), e.g. '{\"failures\": true}'"
    )
    parser.add_argument("--no-check", action="store_true", help="time the harness only, no rule checkers")
    args = parser.parse_args(argv)
    worlds = [w.strip() for w in args.worlds.split(",") if w.strip()]
    unknown = sorted(set(worlds) - set(WORLDS))
    if unknown:
        parser.error(f"unknown world(s) {unknown}; choose from {list(WORLDS)}")
    focus = json.loads(args.focus)
    if not isinstance(focus, dict):
        parser.error("--focus must be a JSON object of scenarios() keyword arguments")

    print(f"seed {args.seed}, {args.scenarios} scenarios, focus {focus or '{}'}, worlds {', '.join(worlds)}")
    drawn = draw(args.scenarios, args.seed, focus)
    if not drawn.scenarios:
        print("no scenario drawn", file=sys.stderr)
        return 1
    rule_ids = [] if args.no_check else list(CATALOGUE)
    # Warm-up outside the timings: imports, botocore models, moto's clients.
    for world in worlds:
        measure(world, drawn.scenarios[:2], rule_ids)
    results = []
    for world in worlds:
        gc.collect()
        results.append(measure(world, drawn.scenarios, rule_ids))
    report(drawn, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
