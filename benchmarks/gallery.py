"""How fast the kit catches each broken poller of the gallery, and how small it makes the case.

For every gallery poller (``conformance.gallery.GALLERY``):

* **time to the first failure**: its intended rule is searched, as ``stream-conformance run
  --rule`` does (the runner's ``run_rule``, memory world), once per seed with a *random* profile
  (the ``ci`` settings, not derandomized, no example database, no shrinking, up to
  ``--max-examples`` examples) seeded 1..``--seeds``; the search stops at the first failing
  example. Printed: in how many seeds it was caught, and the median wall seconds, CPU seconds
  and examples to that first failure (over the seeds that caught it).
* **shrunk size**: one full ``ci`` search (derandomized, seed 0, with shrinking, exactly what
  ``stream-conformance run --profile ci`` does), then the shrunk scenario's records and shards,
  and the invocations the poller makes on it. Printed with the wall seconds the search took.

The last lines give the overall medians. Usage::

    python benchmarks/gallery.py                          # every poller, 5 seeds, 2 processes
    python benchmarks/gallery.py --seeds 3 --jobs 1 retry_count_off_by_one s3_key_with_colons
    python benchmarks/gallery.py --no-shrink              # skip the (slow) shrinking runs

Wall-clock figures: this script (unlike the kit) reads the real clock, to measure the kit. On a
shared machine wall time also measures the neighbours; the CPU column does not.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

_RANDOM_PROFILE = "stream-conformance-gallery-random"


@dataclass
class Figures:
    """What was measured for one gallery poller."""

    name: str
    rule: str
    seeds: int
    caught: int = 0
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    examples: list[int] = field(default_factory=list)
    shrunk_records: int | None = None
    shrunk_shards: int | None = None
    shrunk_invocations: int | None = None
    shrink_wall: float | None = None
    shrink_verdict: str = ""


def _register_random_profile(max_examples: int) -> None:
    from hypothesis import settings

    from conformance.profiles import profile_settings

    settings.register_profile(
        _RANDOM_PROFILE,
        settings(profile_settings("ci"), derandomize=False, database=None, max_examples=max_examples),
    )


def _warm_up() -> None:
    """Import what a run needs (boto3 and botocore behind the world, the rules, the strategies)
    before anything is timed, so the first seed does not pay for it."""
    import conformance.rules
    import conformance.strategies
    import conformance.world  # noqa: F401


def _measure(name: str, seeds: int, max_examples: int, shrink: bool) -> Figures:
    from conformance.gallery import GALLERY, check_entry
    from conformance.harness import run_scenario
    from conformance.runner import Verdict
    from conformance.scenario import Scenario

    _register_random_profile(max_examples)
    _warm_up()
    item = GALLERY[name]
    figures = Figures(name, item.intended_rule, seeds)
    with tempfile.TemporaryDirectory(prefix="gallery-bench-") as scratch:
        results = Path(scratch)
        for run_seed in range(1, seeds + 1):
            wall, cpu = time.perf_counter(), time.process_time()
            result = check_entry(
                item, results_dir=results, profile=_RANDOM_PROFILE, seed=run_seed, shrink=False
            )
            if result.verdict is Verdict.FAIL:
                figures.caught += 1
                figures.walls.append(time.perf_counter() - wall)
                figures.cpus.append(time.process_time() - cpu)
                figures.examples.append(result.examples)
        if shrink:
            wall = time.perf_counter()
            result = check_entry(item, results_dir=results, profile="ci", shrink=True)
            figures.shrink_wall = time.perf_counter() - wall
            figures.shrink_verdict = result.verdict.value
            if result.verdict is Verdict.FAIL and result.counterexample is not None:
                scenario = Scenario.from_json(result.counterexample.scenario)
                observation = run_scenario(item.adapter, scenario)
                figures.shrunk_records = scenario.record_count
                figures.shrunk_shards = len(scenario.shards)
                figures.shrunk_invocations = len(observation.trace.invocations())
    return figures


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _cell(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def _table(rows: Sequence[Figures], shrink: bool) -> str:
    header = ["poller", "rule", "caught", "1st fail s", "cpu s", "examples"]
    if shrink:
        header += ["shrunk rec", "shards", "invocations", "shrink s"]
    lines = [header]
    for f in rows:
        line = [
            f.name,
            f.rule,
            f"{f.caught}/{f.seeds}",
            _cell(_median(f.walls)),
            _cell(_median(f.cpus)),
            _cell(_median(f.examples), 1),
        ]
        if shrink:
            sizes = [f.shrunk_records, f.shrunk_shards, f.shrunk_invocations]
            line += [_cell(v) for v in sizes] + [
                _cell(f.shrink_wall, 1) if f.shrink_verdict == "fail" else f"({f.shrink_verdict})"
            ]
        lines.append(line)
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    text = [
        "  ".join(
            cell.ljust(w) if i < 2 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in lines
    ]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def _summary(rows: Sequence[Figures], shrink: bool, seeds: int, max_examples: int) -> str:
    per_poller = [m for m in (_median(f.walls) for f in rows) if m is not None]
    per_poller_cpu = [m for m in (_median(f.cpus) for f in rows) if m is not None]
    every_seed = sum(1 for f in rows if f.caught == f.seeds)
    never = [f.name for f in rows if f.caught == 0]
    lines = [
        f"{len(rows)} pollers, {seeds} seeds each "
        f"(random profile, at most {max_examples} examples, no shrinking)",
        f"caught in every seed: {every_seed}; in some seeds: {len(rows) - every_seed - len(never)}; "
        f"never: {len(never)}{' (' + ', '.join(never) + ')' if never else ''}",
        f"overall median time to the first failure (median of the pollers' medians): "
        f"{_cell(_median(per_poller))} s wall, {_cell(_median(per_poller_cpu))} s CPU",
    ]
    if shrink:
        records = [f.shrunk_records for f in rows if f.shrunk_records is not None]
        invocations = [f.shrunk_invocations for f in rows if f.shrunk_invocations is not None]
        lines.append(
            f"ci search with shrinking: {len(records)} of {len(rows)} failed; median shrunk scenario "
            f"{_cell(_median(records), 1)} records, {_cell(_median(invocations), 1)} invocations"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="gallery pollers to measure (default: all)")
    parser.add_argument("--seeds", type=int, default=5, help="random seeds per poller (default: %(default)s)")
    parser.add_argument(
        "--max-examples", type=int, default=200, help="examples per seeded search (default: %(default)s)"
    )
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default: %(default)s)")
    parser.add_argument("--no-shrink", action="store_true", help="skip the ci search with shrinking")
    arguments = parser.parse_args(argv)

    from conformance.gallery import GALLERY

    unknown = [name for name in arguments.names if name not in GALLERY]
    if unknown:
        parser.error(f"not in the gallery: {', '.join(unknown)} (known: {', '.join(GALLERY)})")
    if arguments.seeds < 1 or arguments.max_examples < 1 or arguments.jobs < 1:
        parser.error("--seeds, --max-examples and --jobs must be at least 1")
    names = arguments.names or list(GALLERY)
    shrink = not arguments.no_shrink
    started = time.perf_counter()
    count = len(names)
    with ProcessPoolExecutor(arguments.jobs) as pool:
        rows = []
        measured = pool.map(
            _measure, names, [arguments.seeds] * count, [arguments.max_examples] * count, [shrink] * count
        )
        for figures in measured:
            rows.append(figures)
            print(f"measured {figures.name}", file=sys.stderr, flush=True)
    print(_table(rows, shrink))
    print()
    print(_summary(rows, shrink, arguments.seeds, arguments.max_examples))
    print(f"benchmark wall time: {time.perf_counter() - started:.0f} s with {arguments.jobs} processes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
