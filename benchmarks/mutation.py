"""Mutation score of the kit with cosmic-ray: how many small bugs planted in ``reference/`` the
kit (rule checkers, strategies, harness; not ``tests/``) catches.

cosmic-ray does the mutating and the bookkeeping (``benchmarks/cosmic-ray.toml``: every module
of ``reference/``, its own operators, one kit run per mutant that stops at the first failing
rule). This script only adds what cosmic-ray leaves to its users:

* ``prepare DIR``: a scratch copy to mutate (``git worktree add --detach DIR``). cosmic-ray
  rewrites files in place, so it must never run in a working tree anyone else uses;
* ``sample SESSION --size N --seed S``: a cosmic-ray *filter*: every pending work item outside a
  reproducible random sample of N is marked skipped (the whole set is too slow here). The sample
  is drawn from the items sorted by module, operator and occurrence, so the same seed picks the
  same mutants after every ``cosmic-ray init`` (job ids are random);
* ``run``: in the scratch copy, ``cosmic-ray init``, ``sample``, ``cosmic-ray baseline`` and
  ``cosmic-ray exec``, with ``PYTHONPATH`` set so the copy's own (mutated) packages are imported
  rather than the editable install;
* ``report SESSION [--equivalent FILE]``: killed (by which rule) / survived / equivalent /
  invalid (the mutant is not valid Python, so there is no bug to catch) and the score,
  ``killed / (killed + survived - equivalent)``, with every survivor's diff; run it from the
  scratch copy. Equivalent
  mutants are listed by key (``reference/x.py core/Operator#N``) in FILE (docs/mutation.md) after a
  human has shown that no behaviour changes.

Usage::

    python benchmarks/mutation.py prepare /tmp/mut-tree
    cd /tmp/mut-tree && python benchmarks/mutation.py run --session mutation.sqlite --sample 100 --seed 1
    python benchmarks/mutation.py report mutation.sqlite --equivalent docs/mutation.md

Wall-clock figures: this script (unlike the kit) reads the real clock, to measure the kit.
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import re
import subprocess
import sys
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG = "benchmarks/cosmic-ray.toml"
SKIPPED_NOTE = "outside the seeded sample (benchmarks/mutation.py sample)"
_EQUIVALENT = re.compile(r"^\s*(reference/\S+\.py) (core/\S+)#(\d+)\b")


def _key(module: Any, operator: str, occurrence: int) -> str:
    return f"{Path(str(module)).as_posix()} {operator}#{occurrence}"


def _main_worktree() -> Path:
    listing = subprocess.run(
        ["git", "worktree", "list", "--porcelain"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    return Path(listing.splitlines()[0].split(" ", 1)[1]).resolve()


def prepare(directory: Path, revision: str) -> int:
    subprocess.run(["git", "worktree", "add", "--detach", str(directory), revision], cwd=ROOT, check=True)
    print(
        f"scratch copy at {directory} ({revision}); now: cd {directory} && python benchmarks/mutation.py run"
    )
    return 0


def sample(session: Path, size: int, seed: int) -> int:
    """Mark every pending work item outside a seeded sample of ``size`` as skipped."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    with use_db(str(session), WorkDB.Mode.open) as db:
        pending = sorted(
            db.pending_work_items,
            key=lambda item: [(str(m.module_path), m.operator_name, m.occurrence) for m in item.mutations],
        )
        chosen = {item.job_id for item in random.Random(seed).sample(pending, min(size, len(pending)))}
        others = [item.job_id for item in pending if item.job_id not in chosen]
        db.set_multiple_results(others, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=SKIPPED_NOTE))
    print(f"{len(chosen)} of {len(pending)} mutants kept (seed {seed}); {len(others)} marked skipped")
    return 0


def run(session: Path, size: int | None, seed: int) -> int:
    here = Path.cwd().resolve()
    if here == _main_worktree():
        print(
            "refusing to mutate the main working tree: cosmic-ray rewrites files in place. "
            "Make a scratch copy with `python benchmarks/mutation.py prepare DIR` and run there.",
            file=sys.stderr,
        )
        return 2
    env = {**os.environ, "PYTHONPATH": str(here)}

    def cosmic_ray(*words: str) -> None:
        subprocess.run(["cosmic-ray", *words], cwd=here, env=env, check=True)

    cosmic_ray("init", CONFIG, str(session), "--force")
    if size is not None:
        sample(session, size, seed)
    began = time.monotonic()
    cosmic_ray("baseline", CONFIG, "--session-file", str(session.with_suffix(".baseline.sqlite")))
    baseline = time.monotonic() - began
    began = time.monotonic()
    cosmic_ray("exec", CONFIG, str(session))
    spent = time.monotonic() - began
    print(f"baseline {baseline:.0f} s wall; exec {spent:.0f} s wall")
    return report(session, None)


def load_equivalent(path: Path | None) -> dict[str, str]:
    """``{key: reason}`` of the mutants listed as equivalent in ``path`` (lines
    ``reference/x.py core/Operator#N  reason``)."""
    if path is None:
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _EQUIVALENT.match(line)
        if match:
            out[_key(match[1], match[2], int(match[3]))] = line[match.end() :].strip()
    return out


def _compiles(mutation: Any) -> bool:
    """Whether the mutated module is valid Python (run from the scratch copy: paths are relative)."""
    from cosmic_ray.mutating import mutate_code
    from cosmic_ray.plugins import get_operator

    operator = get_operator(mutation.operator_name)(**(mutation.operator_args or {}))
    source = Path(mutation.module_path).read_text(encoding="utf-8")
    mutated = mutate_code(source, operator, mutation.occurrence) or source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # `is` with a literal and the like: valid Python
            compile(mutated, str(mutation.module_path), "exec")
    except SyntaxError:
        return False
    return True


def _in_annotation(mutation: Any) -> bool:
    """Whether the mutation is inside a type annotation of a module with ``from __future__ import
    annotations``: the annotation is never evaluated, so the mutant is equivalent by construction."""
    source = Path(mutation.module_path).read_text(encoding="utf-8")
    tree = ast.parse(source)
    postponed = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(alias.name == "annotations" for alias in node.names)
        for node in tree.body
    )
    if not postponed:
        return False
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            spans.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
            spans.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            spans.append(node.annotation)
    at = tuple(mutation.start_pos)
    return any(
        (n.lineno, n.col_offset) <= at < (n.end_lineno or n.lineno, n.end_col_offset or 0) for n in spans
    )


_VERDICT_ROW = re.compile(r"^(\S+)\s+(?:must|should)\s+(FAIL|INCONCLUSIVE)\b", re.M)


def _killer(output: str) -> str:
    """The rule that killed a mutant, from the kit's matrix (the last row run, with --exitfirst):
    ``ORD-5``, ``ORD-1 (inconclusive)`` when the mutated poller raised or hung, ``timeout``, or
    an import error (no matrix: ``reference`` did not import)."""
    if output == "timeout":
        return "timeout"
    rows = _VERDICT_ROW.findall(output)
    if not rows:
        return "import error"
    rule, verdict = rows[-1]
    return rule if verdict == "FAIL" else f"{rule} (inconclusive)"


def report(session: Path, equivalent_file: Path | None) -> int:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    equivalent = load_equivalent(equivalent_file)
    counts = {"killed": 0, "survived": 0, "invalid": 0, "incompetent": 0, "skipped": 0, "pending": 0}
    survivors: list[tuple[str, str]] = []
    by: Counter[str] = Counter()
    with use_db(str(session), WorkDB.Mode.open) as db:
        counts["pending"] = sum(1 for _ in db.pending_work_items)
        for item, result in db.completed_work_items:
            keys = [_key(m.module_path, m.operator_name, m.occurrence) for m in item.mutations]
            if result.worker_outcome is WorkerOutcome.SKIPPED:
                counts["skipped"] += 1
            elif result.test_outcome is TestOutcome.KILLED and not all(_compiles(m) for m in item.mutations):
                counts["invalid"] += 1  # not Python (``*,`` turned into ``//,``): no bug to catch
            elif result.test_outcome is TestOutcome.KILLED:
                counts["killed"] += 1
                by.update([_killer(result.output or "")])
            elif result.test_outcome is TestOutcome.SURVIVED:
                counts["survived"] += 1
                key = " + ".join(keys)
                survivors.append((key, result.diff or ""))
                if all(_in_annotation(m) for m in item.mutations):
                    equivalent.setdefault(
                        key, "an annotation, never evaluated (from __future__ import annotations)"
                    )
            else:
                counts["incompetent"] += 1
    equivalent_found = [key for key, _ in survivors if key in equivalent]
    scored = counts["killed"] + counts["survived"] - len(equivalent_found)
    print(" ".join(f"{name} {count}" for name, count in counts.items()))
    print(f"equivalent (of the survivors) {len(equivalent_found)}")
    if scored:
        print(
            f"score {counts['killed']} / {scored} = {100 * counts['killed'] / scored:.1f} % "
            "of non-equivalent mutants killed"
        )
    print("kills by rule: " + ", ".join(f"{rule} {count}" for rule, count in sorted(by.items())))
    for key, diff in sorted(survivors):
        tag = f"equivalent: {equivalent[key]}" if key in equivalent else "LIVE"
        print(f"\nsurvived {key} [{tag}]")
        print(
            "\n".join(
                line
                for line in diff.splitlines()
                if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))
            )
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("prepare", help="make a scratch copy to mutate (git worktree)")
    p.add_argument("directory", type=Path)
    p.add_argument("--rev", default="HEAD", help="the commit to score (default HEAD)")
    s = commands.add_parser("sample", help="cosmic-ray filter: keep a seeded sample of the pending mutants")
    s.add_argument("session", type=Path)
    s.add_argument("--size", type=int, required=True)
    s.add_argument("--seed", type=int, default=1)
    r = commands.add_parser("run", help="init, sample, baseline and exec in the scratch copy (the cwd)")
    r.add_argument("--session", type=Path, default=Path("mutation.sqlite"))
    r.add_argument("--sample", type=int, default=None, help="mutants to keep (default: all)")
    r.add_argument("--seed", type=int, default=1)
    t = commands.add_parser("report", help="killed / survived / equivalent and the score")
    t.add_argument("session", type=Path)
    t.add_argument("--equivalent", type=Path, default=None, help="file listing equivalent mutants by key")
    args = parser.parse_args(argv)
    if args.command == "prepare":
        return prepare(args.directory, args.rev)
    if args.command == "sample":
        return sample(args.session, args.size, args.seed)
    if args.command == "run":
        return run(args.session, args.sample, args.seed)
    return report(args.session, args.equivalent)


if __name__ == "__main__":
    sys.exit(main())
