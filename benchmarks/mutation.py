"""Mutation score of the kit: how many small bugs planted in ``reference/`` the kit catches.

This is a small mutation driver of its own (not mutmut or cosmic-ray): mutmut 3 runs a pytest
suite per mutant from a copied tree, and the kit is not a pytest suite of ``reference/`` but a
Hypothesis search per rule, far too costly to run whole for every mutant here. The driver

1. finds every mutation site in the chosen modules of ``reference/`` with the operators below,
   each mutant being one change at one site (``ast`` rewrite, ``ast.unparse`` back to source);
2. takes all of them, or a reproducible random sample (``--sample N --seed S``);
3. for each mutant, copies ``reference/`` into a scratch directory, writes the mutated module
   there and starts a worker process (``--worker``) whose ``PYTHONPATH`` makes that copy *the*
   ``reference`` package; the worker runs every rule of the catalogue in-process through the
   runner API (:func:`conformance.runner.run_rule`, shared searches as ``stream-conformance run``
   does) under a fast profile (the ``ci`` settings with ``--max-examples`` examples per rule and
   no shrinking) and stops at the first rule that fails or is inconclusive;
4. caps each mutant's wall time (``--timeout``).

Outcomes: **killed** (a rule failed), **crashed** (a run was inconclusive: the mutated poller
raised or hung within the harness), **timeout** (the worker passed the wall cap), **survived**
(every rule passed). Crashed and timed-out mutants count as killed in the score, and are
reported separately. The score is ``(killed + crashed + timeout) / (mutants - equivalent)``,
where the equivalent mutants are the survivors listed by key in ``--equivalent FILE`` (see
:func:`load_equivalent`) after a human has shown that no behaviour changes.

Operators (the site's description names the change):

* ``cmp``: comparison flips ``<``/``<=``, ``>``/``>=``, ``==``/``!=``, ``in``/``not in``,
  ``is``/``is not``;
* ``int``: an integer constant ``n`` becomes ``n + 1`` and, separately, ``n - 1``;
* ``bool``: ``True``/``False`` swapped, ``not x`` becomes ``x``, ``and``/``or`` swapped;
* ``arith``: ``+``/``-`` swapped;
* ``minmax``: calls of ``min`` and ``max`` swapped;
* ``str``: a non-empty string literal gets ``XX`` around it (docstrings, ``__all__``,
  annotations and the messages of raised exceptions are left alone: not behaviour the rules see);
* ``del``: an expression statement (a call made for its effect) becomes ``pass``.

Usage::

    python benchmarks/mutation.py --list                          # every mutant, no run
    python benchmarks/mutation.py --sample 100 --seed 1           # a reproducible sample
    python benchmarks/mutation.py --module reference/responses.py --max-examples 10
    python benchmarks/mutation.py --baseline                      # the unmutated reference alone

Wall-clock figures: this script (unlike the kit) reads the real clock, to measure the kit.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "reference"
PROFILE_NAME = "stream-conformance-mutation"

_CMP_FLIPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}


@dataclass(frozen=True)
class Mutant:
    module: str  # path relative to the repository, e.g. reference/responses.py
    index: int  # the site's number among the module's sites, in walk order
    line: int
    operator: str
    change: str

    @property
    def key(self) -> str:
        return f"{self.module}#{self.index}"


class _Sites(ast.NodeTransformer):
    """Walks a module in a fixed order, numbering every mutation site. With ``target`` set, it
    applies the change of that one site and leaves every other node as it was."""

    def __init__(self, target: int | None = None) -> None:
        self.target = target
        self.count = 0
        self.found: list[tuple[int, str, str]] = []  # (line, operator, change) per site
        self.applied = False

    def _site(self, node: ast.AST, operator: str, change: str) -> bool:
        """Record one site; True when it is the one to mutate."""
        index = self.count
        self.count += 1
        self.found.append((getattr(node, "lineno", 0), operator, change))
        hit = index == self.target
        self.applied = self.applied or hit
        return hit

    # Parts of the code that are not behaviour the rules can see: skipped whole.
    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is not None:
            node.value = self.visit(node.value)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.args = self.visit(node.args)
        node.decorator_list = [self.visit(d) for d in node.decorator_list]
        node.body = self._body(node.body)  # the return annotation is left alone
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.body = self._body(node.body)
        return node

    def visit_Module(self, node: ast.Module) -> ast.AST:
        node.body = self._body(node.body)
        return node

    def _compound(self, node: ast.AST) -> ast.AST:
        """A statement holding blocks (if, for, while, with, try, except): its blocks go
        through ``_body`` so their statements are sites too."""
        for name, value in ast.iter_fields(node):
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                setattr(node, name, self._body(value))
            elif isinstance(value, list):
                setattr(node, name, [self.visit(v) if isinstance(v, ast.AST) else v for v in value])
            elif isinstance(value, ast.AST):
                setattr(node, name, self.visit(value))
        return node

    visit_If = visit_For = visit_While = visit_With = visit_Try = visit_ExceptHandler = _compound

    def _body(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for i, stmt in enumerate(body):
            if i == 0 and _is_docstring(stmt):
                out.append(stmt)
                continue
            if _is_dunder_all(stmt) or _is_type_checking_block(stmt) or isinstance(stmt, ast.ImportFrom):
                out.append(stmt)
                continue
            if isinstance(stmt, ast.Import):
                out.append(stmt)
                continue
            if (
                isinstance(stmt, ast.Expr)
                and not _is_docstring(stmt)
                and self._site(stmt, "del", f"remove `{_short(stmt)}`")
            ):
                out.append(ast.copy_location(ast.Pass(), stmt))
                continue
            out.append(self.visit(stmt))
        return out

    def visit_Raise(self, node: ast.Raise) -> ast.AST:
        return node  # raising is inconclusive anyway; the message wording is not behaviour

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        for i, op in enumerate(node.ops):
            flip = _CMP_FLIPS.get(type(op))
            if flip is not None and self._site(
                node, "cmp", f"{_op_text(op)} -> {_op_text(flip())} in `{_short(node)}`"
            ):
                node.ops[i] = flip()
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        value = node.value
        if isinstance(value, bool):
            if self._site(node, "bool", f"{value} -> {not value}"):
                return ast.copy_location(ast.Constant(not value), node)
        elif isinstance(value, int):
            for delta in (1, -1):
                if self._site(node, "int", f"{value} -> {value + delta}"):
                    return ast.copy_location(ast.Constant(value + delta), node)
        elif (
            isinstance(value, str)
            and value
            and self._site(node, "str", f"{value!r} -> {'XX' + value + 'XX'!r}")
        ):
            return ast.copy_location(ast.Constant("XX" + value + "XX"), node)
        return node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        # f-string literal parts may not be replaced by arbitrary nodes; mutate the values only.
        node.values = [v if isinstance(v, ast.Constant) else self.visit(v) for v in node.values]
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and self._site(node, "bool", f"drop `not` in `{_short(node)}`"):
            return node.operand
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        swap = "or" if isinstance(node.op, ast.And) else "and"
        if self._site(node, "bool", f"{'and' if swap == 'or' else 'or'} -> {swap} in `{_short(node)}`"):
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, (ast.Add, ast.Sub)):
            new: ast.operator = ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()
            if self._site(node, "arith", f"{_op_text(node.op)} -> {_op_text(new)} in `{_short(node)}`"):
                node.op = new
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in ("min", "max"):
            other = "max" if node.func.id == "min" else "min"
            if self._site(node, "minmax", f"{node.func.id} -> {other} in `{_short(node)}`"):
                node.func = ast.copy_location(ast.Name(other, ast.Load()), node.func)
        return node


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _is_dunder_all(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == "__all__" for t in stmt.targets
    )


def _is_type_checking_block(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.If) and isinstance(stmt.test, ast.Name) and stmt.test.id == "TYPE_CHECKING"


def _op_text(op: ast.AST) -> str:
    texts = {
        ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
        ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not", ast.Add: "+", ast.Sub: "-",
    }  # fmt: skip
    return texts[type(op)]


def _short(node: ast.AST, width: int = 60) -> str:
    text = ast.unparse(node).replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def modules(selected: Sequence[str]) -> list[Path]:
    if not selected:
        return sorted(p for p in REFERENCE.glob("*.py"))
    paths = []
    for name in selected:
        path = (ROOT / name).resolve()
        if path.parent != REFERENCE or path.suffix != ".py" or not path.is_file():
            raise SystemExit(
                f"--module {name!r} is not a module of reference/: give a path like reference/responses.py"
            )
        paths.append(path)
    return paths


def find_mutants(paths: Sequence[Path]) -> list[Mutant]:
    found = []
    for path in paths:
        sites = _Sites()
        sites.visit(ast.parse(path.read_text()))
        rel = str(path.relative_to(ROOT))
        found += [Mutant(rel, i, line, op, change) for i, (line, op, change) in enumerate(sites.found)]
    return found


def mutated_source(mutant: Mutant) -> str:
    tree = ast.parse((ROOT / mutant.module).read_text())
    sites = _Sites(target=mutant.index)
    tree = ast.fix_missing_locations(sites.visit(tree))
    if not sites.applied:
        raise RuntimeError(f"mutant {mutant.key} not found: the module changed since it was listed")
    return ast.unparse(tree)


# --- the worker: runs the kit against whatever ``reference`` is importable ----------------------


def worker(max_examples: int) -> int:
    """Run every rule, stop at the first one that fails or is inconclusive; print one JSON line."""
    from hypothesis import Phase, settings

    import reference
    from conformance.profiles import profile_settings
    from conformance.runner import ObservationCache, RunOptions, Verdict, run_rule, select_rules

    settings.register_profile(
        PROFILE_NAME,
        settings(
            profile_settings("ci"),
            max_examples=max_examples,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: the verdict is all we need
            print_blob=False,
        ),
    )
    results_dir = Path(tempfile.mkdtemp(prefix="mutation-results-"))
    options = RunOptions(poller_spec="reference", profile=PROFILE_NAME, seed=0, results_dir=results_dir)
    rules = select_rules()
    cache = ObservationCache()
    outcome: dict[str, object] = {"outcome": "survived", "reference": reference.__file__}
    try:
        for rule in rules:
            result = run_rule(rule, reference.ADAPTER, options, cache=cache, peers=rules)
            if result.verdict in (Verdict.FAIL, Verdict.INCONCLUSIVE):
                outcome = {
                    "outcome": "killed" if result.verdict is Verdict.FAIL else "crashed",
                    "rule": rule.id,
                    "message": result.message.splitlines()[0] if result.message else "",
                    "reference": reference.__file__,
                }
                break
    finally:
        shutil.rmtree(results_dir, ignore_errors=True)
    print(json.dumps(outcome))
    return 0


# --- the driver ----------------------------------------------------------------------------------


@dataclass
class Outcome:
    mutant: Mutant
    outcome: str  # killed | crashed | timeout | survived | error
    rule: str = ""
    message: str = ""
    seconds: float = 0.0


def run_one(source: str | None, module: str | None, max_examples: int, timeout: float) -> dict[str, object]:
    """Run the worker against a copy of reference/ with ``module`` replaced by ``source``."""
    with tempfile.TemporaryDirectory(prefix="mutant-") as scratch:
        copy = Path(scratch) / "reference"
        shutil.copytree(REFERENCE, copy, ignore=shutil.ignore_patterns("__pycache__"))
        if source is not None and module is not None:
            (Path(scratch) / module).write_text(source)
        env = {**os.environ, "PYTHONPATH": scratch, "PYTHONDONTWRITEBYTECODE": "1"}
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            "--max-examples",
            str(max_examples),
        ]
        try:
            done = subprocess.run(
                command, cwd=scratch, env=env, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            return {"outcome": "timeout"}
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            # The mutated package failed to import or the kit itself raised: the poller is broken
            # beyond what a rule can judge, which the harness would also report as inconclusive.
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return {"outcome": "crashed", "rule": "(import/worker error)", "message": tail}
        result: dict[str, object] = json.loads(lines[-1])
        if not str(result.get("reference", "")).startswith(scratch):
            raise SystemExit(
                f"the worker imported {result.get('reference')}, not the mutated copy in {scratch}"
            )
        return result


_KEY = re.compile(r"^reference/\w+\.py#\d+$")


def load_equivalent(path: Path | None) -> set[str]:
    """Survivor keys judged equivalent: every line of ``path`` whose first word is a mutant key
    (``reference/x.py#12``), so the key list can live in a Markdown note (``docs/mutation.md``)
    next to the reason, each as a line like ``reference/x.py#12 why...``."""
    if path is None:
        return set()
    words = (line.split()[0] for line in path.read_text().splitlines() if line.strip())
    return {w for w in words if _KEY.match(w)}


def rescore(path: Path, equivalent: set[str]) -> int:
    """The summary again from a ``--json`` file, with the current equivalent list."""
    outcomes = []
    for row in json.loads(path.read_text()):
        module, index = row["key"].split("#")
        mutant = Mutant(module, int(index), row["line"], row["operator"], row["change"])
        outcomes.append(Outcome(mutant, row["outcome"], row["rule"], row["message"], row["seconds"]))
    _summary(outcomes, equivalent)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--module", action="append", default=[], help="a module of reference/ (repeatable)")
    parser.add_argument("--sample", type=int, default=None, help="run a random sample of N mutants")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    parser.add_argument("--max-examples", type=int, default=10, help="examples per rule (default 10)")
    parser.add_argument("--timeout", type=float, default=180.0, help="wall seconds per mutant (default 180)")
    parser.add_argument(
        "--equivalent", type=Path, default=None, help="file of survivor keys judged equivalent"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every outcome to this JSON file")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--baseline", action="store_true", help="run the unmutated reference only")
    parser.add_argument("--rescore", type=Path, default=None, help="summarise a --json file again, no run")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        return worker(args.max_examples)
    if args.rescore is not None:
        return rescore(args.rescore, load_equivalent(args.equivalent))
    if args.baseline:
        started = time.monotonic()
        result = run_one(None, None, args.max_examples, args.timeout)
        print(f"baseline: {result['outcome']} {result.get('rule', '')} in {time.monotonic() - started:.1f}s")
        return 0 if result["outcome"] == "survived" else 1

    mutants = find_mutants(modules(args.module))
    per_module = Counter(m.module for m in mutants)
    print(
        f"{len(mutants)} mutants in {len(per_module)} modules: "
        + ", ".join(f"{k} {v}" for k, v in per_module.items())
    )
    if args.sample is not None and args.sample < len(mutants):
        mutants = sorted(
            random.Random(args.seed).sample(mutants, args.sample), key=lambda m: (m.module, m.index)
        )
    if args.list:
        for m in mutants:
            print(f"{m.key:32} line {m.line:4} {m.operator:6} {m.change}")
        return 0

    equivalent = load_equivalent(args.equivalent)
    outcomes: list[Outcome] = []
    for number, mutant in enumerate(mutants, start=1):
        started = time.monotonic()
        result = run_one(mutated_source(mutant), mutant.module, args.max_examples, args.timeout)
        outcome = Outcome(
            mutant, str(result["outcome"]), str(result.get("rule", "")), str(result.get("message", ""))[:160],
            time.monotonic() - started,
        )  # fmt: skip
        outcomes.append(outcome)
        print(
            f"[{number}/{len(mutants)}] {outcome.outcome:8} {outcome.seconds:5.1f}s {mutant.key:30} "
            f"{mutant.operator:6} {mutant.change[:70]}  {outcome.rule}",
            flush=True,
        )
    _summary(outcomes, equivalent)
    if args.json is not None:
        args.json.write_text(json.dumps([_as_json(o) for o in outcomes], indent=2))
    return 0


def _as_json(o: Outcome) -> dict[str, object]:
    m = o.mutant
    return {
        "key": m.key, "line": m.line, "operator": m.operator, "change": m.change,
        "outcome": o.outcome, "rule": o.rule, "message": o.message, "seconds": round(o.seconds, 1),
    }  # fmt: skip


def _summary(outcomes: Sequence[Outcome], equivalent: set[str]) -> None:
    counts = Counter(o.outcome for o in outcomes)
    survivors = [o for o in outcomes if o.outcome == "survived"]
    equivalent_survivors = [o for o in survivors if o.mutant.key in equivalent]
    killed = counts["killed"] + counts["crashed"] + counts["timeout"]
    judged = len(outcomes) - len(equivalent_survivors)
    print()
    print(
        f"mutants {len(outcomes)}: killed {counts['killed']}, crashed {counts['crashed']}, "
        f"timeout {counts['timeout']}, survived {len(survivors)} "
        f"(equivalent {len(equivalent_survivors)})"
    )
    if judged:
        print(f"score: {killed}/{judged} = {100 * killed / judged:.1f}% of non-equivalent mutants killed")
    for o in survivors:
        mark = "equivalent" if o.mutant.key in equivalent else "SURVIVED"
        print(f"  {mark:10} {o.mutant.key:30} line {o.mutant.line:4} {o.mutant.operator:6} {o.mutant.change}")
    seconds = sum(o.seconds for o in outcomes)
    print(f"wall time {seconds:.0f}s, {seconds / max(len(outcomes), 1):.1f}s per mutant")


if __name__ == "__main__":
    sys.exit(main())
