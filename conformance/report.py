"""Reports: the terminal matrix, failure blocks, the JSON results file and the Markdown
implementation-by-rule table.

Reports consume results (:class:`~conformance.runner.RuleResult` and the gate outcome from
:mod:`conformance.expectations`), never the internals that produced them.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conformance.expectations import NO_EXPECTATIONS, Expectations, Gate, judge
from conformance.runner import RuleResult, Verdict

if TYPE_CHECKING:
    from conformance.rules import Rule

__all__ = [
    "RESULTS_KIND",
    "Outcome",
    "ResultsFileError",
    "format_catalogue",
    "format_failure",
    "format_matrix",
    "format_summary",
    "gate",
    "load_results",
    "markdown_matrix",
    "results_document",
    "write_results",
]

RESULTS_KIND = "stream-conformance results"
RESULTS_FORMAT = 1


class ResultsFileError(ValueError):
    """A results file given to ``matrix`` is unusable; the message names it and says why."""


@dataclass(frozen=True)
class Outcome:
    """A rule's result with its outcome at the gate (expectations applied)."""

    result: RuleResult
    gate: Gate
    note: str = ""

    @property
    def needs_attention(self) -> bool:
        return self.gate in (Gate.FAIL, Gate.STALE, Gate.INCONCLUSIVE)


def gate(results: Iterable[RuleResult], expectations: Expectations = NO_EXPECTATIONS) -> list[Outcome]:
    outcomes = []
    for result in results:
        verdict, note = judge(result.rule_id, result.verdict.value, expectations)
        outcomes.append(Outcome(result, verdict, note))
    return outcomes


# ---- terminal ------------------------------------------------------------------------------------

_LABELS = {
    Gate.PASS: "pass",
    Gate.SKIP: "skip",
    Gate.KNOWN_FAILURE: "known failure",
    Gate.FAIL: "FAIL",
    Gate.STALE: "STALE",
    Gate.INCONCLUSIVE: "INCONCLUSIVE",
}


def _one_line(text: str, width: int = 70) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= width else first[: width - 1] + "…"


def _summary_of(outcome: Outcome) -> str:
    result = outcome.result
    if outcome.note:
        return _one_line(outcome.note)
    if result.verdict is not Verdict.PASS:
        return _one_line(result.message)
    if result.warnings:
        return _one_line("warning: " + result.warnings[0])
    return ""


def format_matrix(outcomes: Sequence[Outcome]) -> str:
    """The conformance matrix: one row per rule."""
    header = ("rule", "level", "verdict", "exercised", "examples", "summary")
    rows = [
        (
            o.result.rule_id,
            o.result.level,
            _LABELS[o.gate],
            str(o.result.exercised) if o.result.verdict is not Verdict.SKIP else "-",
            str(o.result.examples) if o.result.verdict is not Verdict.SKIP else "-",
            _summary_of(o),
        )
        for o in outcomes
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]

    def line(row: Sequence[str]) -> str:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        return "  ".join([*cells, row[-1]]).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths] + ["-------"]), *(line(r) for r in rows)])


def format_failure(outcome: Outcome, *, seed_option: str = "--seed") -> str:
    """Everything needed to understand and reproduce one failure: the prose message, the seed,
    the shrunk scenario and the exact replay command."""
    result = outcome.result
    title = f"{_LABELS[outcome.gate]} {result.rule_id} ({result.level}): {result.title}"
    lines = [title]
    if outcome.note:
        lines.append(textwrap.indent(outcome.note, "  "))
    if result.message and outcome.gate is not Gate.STALE:
        lines.append(textwrap.indent(result.message, "  "))
    lines.append(f"  seed: {result.seed}  (repeat the whole search with {seed_option} {result.seed})")
    for number, example in enumerate(result.counterexamples, start=1):
        if len(result.counterexamples) > 1:
            lines.append(f"  counterexample {number}: {_one_line(example.message, 100)}")
        lines.append(f"  shrunk scenario ({example.file}):")
        lines.append(textwrap.indent(json.dumps(example.scenario, indent=2), "    "))
        lines.append(f"  replay: {example.replay}")
    return "\n".join(lines)


def format_summary(outcomes: Sequence[Outcome]) -> str:
    counts: dict[Gate, int] = {}
    for outcome in outcomes:
        counts[outcome.gate] = counts.get(outcome.gate, 0) + 1
    parts = [f"{counts[g]} {_LABELS[g].lower()}" for g in _LABELS if counts.get(g)]
    unexercised = sum(
        1
        for o in outcomes
        if o.result.verdict is Verdict.PASS and o.result.level == "must" and o.result.exercised == 0
    )
    text = f"{len(outcomes)} rules: " + ", ".join(parts)
    if unexercised:
        text += f" ({unexercised} MUST rule{'s' if unexercised > 1 else ''} never exercised)"
    return text


def format_catalogue(rules: Sequence[Rule]) -> str:
    """The rule catalogue as a table: id, level, capabilities needed, title, SPEC reference."""
    rows = [
        (
            rule.id,
            rule.level.value,
            ",".join(sorted(rule.needs)) or "-",
            f"{rule.title} [{rule.spec}]",
        )
        for rule in rules
    ]
    header = ("rule", "level", "needs", "title [spec]")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)) + "  " + row[3]
        for row in [header, *rows]
    ]
    return "\n".join(lines)


# ---- JSON results --------------------------------------------------------------------------------


def results_document(
    outcomes: Sequence[Outcome],
    *,
    implementation: str,
    poller: str,
    world: str,
    profile: str | None,
    expectations: str | None = None,
) -> dict[str, Any]:
    return {
        "kind": RESULTS_KIND,
        "results_format": RESULTS_FORMAT,
        "implementation": implementation,
        "poller": poller,
        "world": world,
        "profile": profile,
        "expectations": expectations,
        "summary": {g.value: sum(1 for o in outcomes if o.gate is g) for g in Gate},
        "rules": [{**o.result.to_json(), "gate": o.gate.value, "note": o.note} for o in outcomes],
    }


def write_results(path: Path, document: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a results file written by ``stream-conformance run``."""
    where = str(path)
    hint = "give the JSON results files written by `stream-conformance run` (<results>/<implementation>.json)"
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsFileError(f"{where} does not exist; {hint}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsFileError(f"{where} could not be read ({exc}); {hint}") from exc
    except json.JSONDecodeError as exc:
        raise ResultsFileError(f"{where} is not valid JSON ({exc.msg} at line {exc.lineno}); {hint}") from exc
    if not isinstance(document, dict) or document.get("kind") != RESULTS_KIND:
        kind = document.get("kind") if isinstance(document, dict) else None
        found = f"a {kind!r} file" if kind else "not a results file"
        raise ResultsFileError(f"{where} is {found}; {hint}")
    if document.get("results_format") != RESULTS_FORMAT or not isinstance(document.get("rules"), list):
        raise ResultsFileError(
            f"{where} has results format {document.get('results_format')!r}, but this version of "
            f"stream-conformance reads format {RESULTS_FORMAT}; re-run `stream-conformance run` to "
            "regenerate it"
        )
    return document


# ---- Markdown ------------------------------------------------------------------------------------

_MARKDOWN_CELLS = {
    Gate.PASS.value: "✅ pass",
    Gate.SKIP.value: "⏭️ skip",
    Gate.KNOWN_FAILURE.value: "⚠️ known failure",
    Gate.FAIL.value: "❌ fail",
    Gate.STALE.value: "❌ stale",
    Gate.INCONCLUSIVE.value: "❓ inconclusive",
}


def markdown_matrix(documents: Sequence[Mapping[str, Any]]) -> str:
    """An implementation-by-rule table in Markdown, rules in the order first seen. Files of the
    same implementation and world (a rule run on its own, say) fill one column."""
    columns: dict[str, dict[str, str]] = {}
    order: list[str] = []
    info: dict[str, tuple[str, str]] = {}
    for document in documents:
        name = str(document.get("implementation"))
        if document.get("world", "memory") != "memory":
            name += f" ({document['world']})"
        column = columns.setdefault(name, {})
        for row in document["rules"]:
            rule_id = str(row["rule"])
            if rule_id not in info:
                order.append(rule_id)
                info[rule_id] = (str(row.get("level", "")), str(row.get("title", "")))
            column[rule_id] = _MARKDOWN_CELLS.get(
                str(row.get("gate", row.get("verdict"))), str(row.get("gate"))
            )

    def escape(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [
        "| rule | level | title | " + " | ".join(escape(c) for c in columns) + " |",
        "|---|---|---|" + "---|" * len(columns),
    ]
    for rule_id in order:
        level, title = info[rule_id]
        row = [rule_id, level, escape(title), *(column.get(rule_id, "—") for column in columns.values())]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"
