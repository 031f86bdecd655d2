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
import contextlib
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings

from conformance import runner
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
    seconds: float  # CPU seconds of this process
    wall: float


class _Enough(Exception):
    """Stops the drawing test once enough scenarios are kept."""


def draw(count: int, run_seed: int, focus: Mapping[str, Any]) -> Drawn:
    """``count`` scenarios that every world can hold, drawn by Hypothesis under ``run_seed``.

    The scenarios are drawn inside a ``@given`` test whose body only keeps them, so the time
    measured is what a rule's search spends on generation (engine overhead included).
    """
    kept: list[Scenario] = []
    produced = 0

    def keep(scenario: Scenario) -> None:
        nonlocal produced
        if len(kept) == count:
            raise _Enough  # only generation runs: Hypothesis replays this example once, then stops
        produced += 1
        if moto_can_hold(scenario):
            kept.append(scenario)

    test = settings(
        max_examples=count * 4,  # room for the scenarios moto cannot hold
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )(given(scenarios(**focus))(keep))
    test = seed(run_seed)(test)
    started, started_wall = time.process_time(), time.perf_counter()
    with contextlib.suppress(_Enough):
        test()
    return Drawn(kept, produced, time.process_time() - started, time.perf_counter() - started_wall)


@dataclass
class WorldFigures:
    """CPU seconds of this process per scenario (a shared machine's neighbours do not count),
    and the wall time of the whole loop."""

    world: str
    run_seconds: list[float] = field(default_factory=list)
    check_seconds: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    violations: int = 0
    wall: float = 0.0

    @property
    def run_total(self) -> float:
        return sum(self.run_seconds)

    @property
    def check_total(self) -> float:
        return sum(self.check_seconds)


def measure(world: str, drawn: Sequence[Scenario], rule_ids: Sequence[str], repeat: int = 1) -> WorldFigures:
    """Run and check every scenario ``repeat`` times, keeping each one's fastest run and check
    (the least disturbed by other processes on a shared machine)."""
    figures = WorldFigures(world)
    clock: Callable[[], float] = time.process_time
    started_wall = time.perf_counter()
    for scenario in drawn:
        best_run = best_check = float("inf")
        for _ in range(repeat):
            started = clock()
            observation: Observation = run_scenario(ADAPTER, scenario, world=world)
            ran = clock()
            violations = 0
            if observation.status is not RunStatus.INCONCLUSIVE:
                for rule_id in rule_ids:
                    violations += len(check(rule_id, observation).violations)
            checked = clock()
            best_run, best_check = min(best_run, ran - started), min(best_check, checked - ran)
        figures.violations += violations
        figures.run_seconds.append(best_run)
        figures.check_seconds.append(best_check)
        figures.statuses[observation.status.value] = figures.statuses.get(observation.status.value, 0) + 1
    figures.wall = (time.perf_counter() - started_wall) / repeat
    return figures


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f}"


def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def report(drawn: Drawn, results: Sequence[WorldFigures], out: Any = sys.stdout) -> None:
    n = len(drawn.scenarios)
    draw_each = drawn.seconds / max(drawn.drawn, 1)
    print(
        f"\ndraw (Hypothesis): {drawn.drawn} scenarios in {drawn.seconds:.2f} s CPU "
        f"({_ms(draw_each).strip()} ms each, {drawn.drawn / drawn.seconds:.0f}/s); "
        f"{n} kept (every world can hold them)",
        file=out,
    )
    records = [s.record_count for s in drawn.scenarios]
    print(f"records per scenario: mean {statistics.fmean(records):.1f}, max {max(records)}", file=out)
    print(
        "\nper scenario, CPU ms: run = run_scenario, check = every checker of the catalogue; "
        "scen/s = scenarios per second (run only | run + check | draw + run + check; wall: the loop's "
        "wall clock)",
        file=out,
    )
    header = (
        f"{'world':<7} {'run mean':>9} {'p50':>7} {'p95':>8} {'check':>7} "
        f"{'run':>7} {'+check':>7} {'+draw':>7} {'wall':>7}  statuses"
    )
    print(header, file=out)
    print("-" * (len(header) + 16), file=out)
    for f in results:
        run, check = f.run_total, f.check_total
        print(
            f"{f.world:<7} {_ms(run / n):>9} {_ms(_percentile(f.run_seconds, 0.5)):>7} "
            f"{_ms(_percentile(f.run_seconds, 0.95)):>8} {_ms(check / n):>7} "
            f"{n / run:>7.1f} {n / (run + check):>7.1f} {n / (run + check + draw_each * n):>7.1f} "
            f"{n / f.wall:>7.1f}  {', '.join(f'{k} {v}' for k, v in sorted(f.statuses.items()))}",
            file=out,
        )
    by_world = {f.world: f for f in results}
    if "memory" in by_world and "moto" in by_world:
        ratio = by_world["moto"].run_total / by_world["memory"].run_total
        print(f"\nmemory/moto throughput ratio (run only): {ratio:.1f}x", file=out)
    if "memory" in by_world:
        mem = by_world["memory"]
        total = draw_each * n + mem.run_total + mem.check_total
        print(
            "memory, share of CPU per scenario: "
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
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each scenario this many times and keep its fastest figures (steadier on a busy machine)",
    )
    args = parser.parse_args(argv)
    worlds = [w.strip() for w in args.worlds.split(",") if w.strip()]
    unknown = sorted(set(worlds) - set(WORLDS))
    if unknown:
        parser.error(f"unknown world(s) {unknown}; choose from {list(WORLDS)}")
    focus = json.loads(args.focus)
    if not isinstance(focus, dict):
        parser.error("--focus must be a JSON object of scenarios() keyword arguments")

    print(
        f"seed {args.seed}, {args.scenarios} scenarios, focus {focus or '{}'}, worlds {', '.join(worlds)}, "
        f"repeat {args.repeat}"
    )
    rule_ids = [] if args.no_check else list(CATALOGUE)
    # Warm-up outside the timings (imports, Hypothesis, botocore models, moto's clients), then
    # what the runner does once its first scenario ran: the long-lived objects leave the garbage
    # collector's walks (runner.freeze_loaded_objects; absent from older checkouts).
    warm = draw(2, args.seed + 1, focus)
    for world in worlds:
        measure(world, warm.scenarios, rule_ids)
    if hasattr(runner, "freeze_loaded_objects"):
        runner.freeze_loaded_objects()
    drawn = draw(args.scenarios, args.seed, focus)
    if not drawn.scenarios:
        print("no scenario drawn", file=sys.stderr)
        return 1
    results = []
    for world in worlds:
        gc.collect()
        results.append(measure(world, drawn.scenarios, rule_ids, max(1, args.repeat)))
    report(drawn, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
