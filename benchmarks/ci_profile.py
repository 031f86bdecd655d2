"""Wall time of the whole ``ci`` profile against the reference poller: pytest with ``-n 1`` and
``-n 2``, and the ``stream-conformance run`` command, side by side.

Each run is a subprocess started from an empty scratch directory (so pytest collects only the
kit's items, not this repository's tests) with its results written there:

    python -m pytest -p no:cacheprovider --poller reference --conformance-profile ci -q -n 1
    python -m pytest -p no:cacheprovider --poller reference --conformance-profile ci -q -n 2
    CI=true stream-conformance run --poller reference        (CI=true selects the ci profile)

Printed per run: wall seconds, CPU seconds of the run's processes (user + system; on a shared
machine the wall time also measures the neighbours), the verdict counts, and the examples judged
(the sum over rules of each search's examples, from the junit XML or the results JSON).

Usage::

    python benchmarks/ci_profile.py                       # all three runs
    python benchmarks/ci_profile.py --runs cli,n2 --poller reference

Wall-clock figures: this script (unlike the kit) reads the real clock, to measure the kit.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

RUNS: tuple[str, ...] = ("n1", "n2", "cli")


@dataclass
class Figures:
    name: str
    command: str
    wall: float
    cpu: float
    exit_code: int
    verdicts: Counter[str] = field(default_factory=Counter)
    examples: int = 0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(name: str, argv: list[str], cwd: Path, env: dict[str, str]) -> Figures:
    cpu_before = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    shown = " ".join(argv[1:] if argv[0] == sys.executable else argv)
    figures = Figures(
        name, ("python " if argv[0] == sys.executable else "") + shown, wall, cpu, done.returncode
    )
    if done.returncode not in (0,):
        tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
        print(f"[{name}] exit code {done.returncode}:\n  " + "\n  ".join(tail), file=sys.stderr)
    return figures


def run_pytest(workers: int, poller: str, scratch: Path, env: dict[str, str]) -> Figures:
    junit = scratch / f"junit-n{workers}.xml"
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "--poller",
        poller,
        "--conformance-profile",
        "ci",
        "-q",
        "-n",
        str(workers),
        f"--junitxml={junit}",
        f"--conformance-results={scratch / f'results-n{workers}'}",
    ]
    figures = _timed(f"pytest -n {workers}", argv, scratch, env)
    figures.command = figures.command.replace(f" --junitxml={junit}", "").split(" --conformance-results")[0]
    if junit.exists():
        for case in ElementTree.parse(junit).getroot().iter("testcase"):
            properties = {p.get("name"): p.get("value") for p in case.iter("property")}
            figures.verdicts[str(properties.get("verdict", "skip"))] += 1
            figures.examples += int(properties.get("examples") or 0)
    return figures


def run_cli(poller: str, scratch: Path, env: dict[str, str]) -> Figures:
    results = scratch / "results-cli"
    executable = shutil.which("stream-conformance")
    base = [executable] if executable else [sys.executable, "-m", "conformance"]
    argv = [*base, "run", "--poller", poller, "--results", str(results)]
    figures = _timed("cli", argv, scratch, {**env, "CI": "true"})
    figures.command = "CI=true stream-conformance run --poller " + poller
    for path in results.glob("*.json"):
        document = json.loads(path.read_text(encoding="utf-8"))
        for result in document.get("rules", []) if isinstance(document, dict) else []:
            figures.verdicts[result["verdict"]] += 1
            figures.examples += int(result.get("examples") or 0)
    return figures


def report(all_figures: Sequence[Figures]) -> None:
    print(f"\n{'run':<12} {'wall s':>8} {'cpu s':>8} {'examples':>9}  {'verdicts':<40} command")
    print("-" * 120)
    for f in all_figures:
        verdicts = ", ".join(f"{k} {v}" for k, v in sorted(f.verdicts.items())) or "?"
        flag = "" if f.exit_code == 0 else f"  (exit {f.exit_code})"
        print(f"{f.name:<12} {f.wall:>8.1f} {f.cpu:>8.1f} {f.examples:>9}  {verdicts:<40} {f.command}{flag}")
    load = os.getloadavg()
    print(
        f"\n{os.cpu_count()} CPUs; load average now "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min)"
    )
    print("goal: the ci profile under 60 s wall with -n 2 on a 2-core machine")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--poller", default="reference", help="the poller to run (default: reference)")
    parser.add_argument(
        "--runs", default=",".join(RUNS), help=f"comma-separated subset of {', '.join(RUNS)} (default: all)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory and print its path")
    args = parser.parse_args(argv)
    runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    unknown = sorted(set(runs) - set(RUNS))
    if unknown:
        parser.error(f"unknown run(s) {unknown}; choose from {list(RUNS)}")
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "STREAM_CONFORMANCE_PROFILE")}
    scratch = Path(tempfile.mkdtemp(prefix="ci-profile-"))
    try:
        figures = []
        for run in runs:
            print(f"running {run} …", file=sys.stderr, flush=True)
            if run == "cli":
                figures.append(run_cli(args.poller, scratch, env))
            else:
                figures.append(run_pytest(int(run[1:]), args.poller, scratch, env))
        report(figures)
    finally:
        if args.keep:
            print(f"scratch directory kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0 if all(f.exit_code == 0 for f in figures) else 1


if __name__ == "__main__":
    raise SystemExit(main())
