"""The ``stream-conformance`` command (also ``python -m conformance``).

Sub-commands: ``run`` (search every rule, print the matrix, write JSON results), ``replay``
(re-run one saved scenario), ``rules`` (print the catalogue) and ``matrix`` (Markdown table of
several results files). The exit codes are in :data:`EXIT_CODES` and in ``--help``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from conformance.contract import Adapter
    from conformance.expectations import Gate
    from conformance.rules import Rule
    from conformance.runner import RuleResult

__all__ = ["EXIT_CODES", "main"]

OK, FAILED, USAGE, INCONCLUSIVE = 0, 1, 2, 3

EXIT_CODES = f"""\
exit codes:
  {OK}  every rule run passed, was skipped (with its reason), or failed as listed in the
     expectations file
  {FAILED}  conformance failure: a rule failed that the expectations file does not list, a
     listed rule now passes (a stale expectation), or, with --strict-exercise, a MUST rule was
     never exercised
  {USAGE}  usage error: bad arguments, an unknown --poller or rule id, or an unreadable scenario,
     expectations or results file
  {INCONCLUSIVE}  inconclusive: nothing failed, but some rule could not be judged because the poller
     raised or hung (--allow-inconclusive turns this into 0)
replay uses the same codes for the one scenario it runs."""


class UsageError(Exception):
    """Bad input; the message says what to fix. Exit code 2."""


# ---- argument parsing ----------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="stream-conformance",
        description="Property-based conformance kit for Kinesis and DynamoDB Streams pollers "
        "(AWS Lambda event source mapping semantics).",
        epilog=EXIT_CODES,
        formatter_class=formatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run",
        help="search every rule for a counterexample and print the conformance matrix",
        epilog=EXIT_CODES,
        formatter_class=formatter,
    )
    _poller_option(run)
    _world_option(run)
    run.add_argument(
        "--profile",
        help="Hypothesis profile: ci (derandomized, bounded), dev (random, example database), deep "
        "(nightly, 2000 examples) or mutation (ci with 8 examples, no shrinking); "
        "default: $STREAM_CONFORMANCE_PROFILE, else ci under CI=true, else dev",
    )
    run.add_argument(
        "--rule",
        action="append",
        metavar="ID",
        dest="rules",
        help="run only this rule id (ORD-5) or family (ORD); repeatable",
    )
    run.add_argument("--level", choices=("must", "should"), help="run only MUST or only SHOULD rules")
    run.add_argument(
        "--expectations", metavar="FILE", help="known failures, one rule id per line ('# reason')"
    )
    run.add_argument(
        "--results",
        metavar="DIR",
        default="conformance-results",
        help="where the JSON results and failure files go (default: %(default)s)",
    )
    run.add_argument(
        "--seed", type=int, help="seed every search with this number (printed with every failure)"
    )
    run.add_argument("--max-examples", type=int, metavar="N", help="override the profile's examples per rule")
    run.add_argument(
        "--strict-exercise", action="store_true", help="fail a MUST rule that no scenario exercised"
    )
    run.add_argument(
        "--allow-inconclusive",
        action="store_true",
        help="do not fail on runs where the poller raised or hung",
    )
    run.add_argument(
        "-x",
        "--exitfirst",
        action="store_true",
        help="stop at the first rule that fails or is inconclusive (the later rules are not run)",
    )

    replay = commands.add_parser(
        "replay",
        help="re-run one saved scenario (a failure file) and check it",
        epilog=EXIT_CODES,
        formatter_class=formatter,
    )
    replay.add_argument("file", metavar="FILE", help="a failure file written by `run`, or a scenario file")
    _poller_option(replay, default_hint="default: the poller recorded in the failure file")
    replay.add_argument(
        "--rule",
        action="append",
        metavar="ID",
        dest="rules",
        help="check this rule (default: the file's rule)",
    )
    replay.add_argument("--world", choices=("memory", "moto"), help="world backend (default: the file's)")

    rules = commands.add_parser("rules", help="print the rule catalogue")
    rules.add_argument("--level", choices=("must", "should"), help="only MUST or only SHOULD rules")
    rules.add_argument("--json", action="store_true", help="print the catalogue as JSON")

    matrix = commands.add_parser(
        "matrix", help="render results files as a Markdown implementation-by-rule table"
    )
    matrix.add_argument("files", nargs="+", metavar="RESULTS.json", help="results files written by `run`")
    matrix.add_argument("--output", metavar="FILE", help="write the table to FILE instead of standard output")
    return parser


def _poller_option(parser: argparse.ArgumentParser, default_hint: str = "") -> None:
    extra = f"; {default_hint}" if default_hint else ""
    parser.add_argument(
        "--poller",
        help="the poller under test: module:attribute (an Adapter or a factory make_poller(context)), or a "
        f"registered name such as 'reference'; default: $STREAM_CONFORMANCE_POLLER{extra}",
    )


def _world_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--world",
        choices=("memory", "moto"),
        default="memory",
        help="world backend: in-memory (fast) or moto (real boto3 serialisation); default: %(default)s",
    )


# ---- entry point ---------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    parser = _parser()
    try:
        arguments = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse exits 2 on errors, 0 on --help
        return int(exit_.code or 0)
    command = {"run": _run, "replay": _replay, "rules": _rules, "matrix": _matrix}[arguments.command]
    try:
        return command(arguments)
    except Exception as error:
        if not isinstance(error, (UsageError, *_usage_errors())):
            raise
        print(f"stream-conformance: error: {error}", file=sys.stderr)
        return USAGE


def _usage_errors() -> tuple[type[Exception], ...]:
    from conformance.discovery import DiscoveryError
    from conformance.expectations import ExpectationsError
    from conformance.profiles import UnknownProfileError
    from conformance.report import ResultsFileError
    from conformance.runner import ReplayError, UnknownRuleError

    return (
        DiscoveryError,
        ExpectationsError,
        UnknownProfileError,
        ResultsFileError,
        ReplayError,
        UnknownRuleError,
    )


# ---- run -----------------------------------------------------------------------------------------


def _run(arguments: argparse.Namespace) -> int:
    from conformance.discovery import resolve_poller
    from conformance.expectations import NO_EXPECTATIONS, Gate, load_expectations
    from conformance.profiles import default_profile_name
    from conformance.report import (
        format_failure,
        format_matrix,
        format_summary,
        gate,
        results_document,
        write_results,
    )
    from conformance.rules import CATALOGUE
    from conformance.runner import RunOptions, resolve_profile, results_file, run_rules, select_rules

    adapter = resolve_poller(arguments.poller)
    spec = arguments.poller or _env_poller()
    expectations = (
        load_expectations(arguments.expectations, CATALOGUE.keys())
        if arguments.expectations
        else NO_EXPECTATIONS
    )
    rules = select_rules(arguments.rules, arguments.level)
    if not rules:
        raise UsageError(
            "no rule matches the --rule/--level selection; run `stream-conformance rules` to list them"
        )
    profile = arguments.profile or default_profile_name()
    resolve_profile(profile)  # an unknown profile is a usage error before anything runs
    if arguments.max_examples is not None and arguments.max_examples < 1:
        raise UsageError(f"--max-examples must be at least 1, got {arguments.max_examples}")
    results_dir = Path(arguments.results)
    options = RunOptions(
        poller_spec=spec,
        world=arguments.world,
        profile=profile,
        seed=arguments.seed,
        allow_inconclusive=arguments.allow_inconclusive,
        strict_exercise=arguments.strict_exercise,
        results_dir=results_dir,
        max_examples=arguments.max_examples,
    )
    print(
        f"stream-conformance: {adapter.name} on the {arguments.world} world, profile {profile}, "
        f"{len(rules)} rules",
        file=sys.stderr,
    )
    results = run_rules(rules, adapter, options, _TerminalProgress(sys.stderr), exitfirst=arguments.exitfirst)
    outcomes = gate(results, expectations)

    print(format_matrix(outcomes))
    attention = [o for o in outcomes if o.needs_attention]
    for outcome in attention:
        print()
        print(format_failure(outcome))
    skipped = [o for o in outcomes if o.gate is Gate.SKIP]
    if skipped:
        print("\nskipped:")
        for outcome in skipped:
            print(f"  {outcome.result.rule_id}: {outcome.result.message or outcome.note}")
    warned = [o for o in outcomes if o.result.warnings and not o.needs_attention]
    for outcome in warned:
        for warning in outcome.result.warnings:
            print(f"warning: {outcome.result.rule_id}: {warning}", file=sys.stderr)
    print()
    print(format_summary(outcomes))
    path = results_file(results_dir, adapter.name)
    document = results_document(
        outcomes,
        implementation=adapter.name,
        poller=spec,
        world=arguments.world,
        profile=profile,
        expectations=arguments.expectations,
    )
    write_results(path, document)
    print(f"results written to {path}")
    return _exit_code([o.gate for o in outcomes], allow_inconclusive=arguments.allow_inconclusive)


def _exit_code(gates: Sequence[Gate], *, allow_inconclusive: bool) -> int:
    from conformance.expectations import Gate

    if any(g.fails for g in gates):
        return FAILED
    if not allow_inconclusive and any(g is Gate.INCONCLUSIVE for g in gates):
        return INCONCLUSIVE
    return OK


def _env_poller() -> str:
    from conformance.discovery import ENV_VAR

    return os.environ.get(ENV_VAR, "").strip()


class _TerminalProgress:
    """One line per finished rule; on a terminal, a live count of examples while a rule runs."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._live = stream.isatty()
        self._prefix = ""

    def rule_started(self, rule: Rule, index: int, total: int) -> None:
        self._prefix = f"[{index:>{len(str(total))}}/{total}] {rule.id}"
        if self._live:
            self._stream.write(f"\r{self._prefix} …")
            self._stream.flush()

    def example_done(self, rule: Rule, examples: int) -> None:
        if self._live:
            self._stream.write(f"\r{self._prefix} … {examples} examples")
            self._stream.flush()

    def rule_finished(self, result: RuleResult, index: int, total: int) -> None:
        detail = (
            f"{result.examples} examples, exercised {result.exercised} times"
            if result.examples
            else result.message.splitlines()[0]
            if result.message
            else ""
        )
        end = "\x1b[K" if self._live else ""
        self._stream.write(f"\r{self._prefix} {result.verdict.value} ({detail}){end}\n")
        self._stream.flush()


# ---- replay --------------------------------------------------------------------------------------


def _replay(arguments: argparse.Namespace) -> int:
    from conformance.discovery import resolve_poller
    from conformance.runner import Verdict, load_failure, replay

    _, recorded = load_failure(arguments.file)
    spec = arguments.poller or _env_poller() or str(recorded.get("poller") or "")
    adapter: Adapter = resolve_poller(spec or None)
    outcome = replay(arguments.file, adapter, rule_ids=arguments.rules, world=arguments.world)
    observation = outcome.observation
    print(
        f"replayed {arguments.file} against {adapter.name}: {observation.status.value} after "
        f"{observation.polls} polls, {len(observation.trace.calls)} calls "
        f"({observation.reason.splitlines()[0]})"
    )
    for result in outcome.results:
        print(f"{result.rule_id} ({result.level}): {result.verdict.value.upper()}")
        if result.message:
            for line in result.message.splitlines():
                print(f"  {line}")
    verdicts = {result.verdict for result in outcome.results}
    if Verdict.FAIL in verdicts:
        return FAILED
    if Verdict.INCONCLUSIVE in verdicts:
        return INCONCLUSIVE
    return OK


# ---- rules and matrix ----------------------------------------------------------------------------


def _rules(arguments: argparse.Namespace) -> int:
    from conformance.report import format_catalogue
    from conformance.runner import select_rules

    chosen = select_rules(None, arguments.level)
    if arguments.json:
        print(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "family": r.family,
                        "level": r.level.value,
                        "title": r.title,
                        "spec": r.spec,
                        "needs": sorted(r.needs),
                    }
                    for r in chosen
                ],
                indent=2,
            )
        )
    else:
        print(format_catalogue(chosen))
    return OK


def _matrix(arguments: argparse.Namespace) -> int:
    from conformance.report import load_results, markdown_matrix

    documents = [load_results(path) for path in arguments.files]
    table = markdown_matrix(documents)
    if arguments.output:
        Path(arguments.output).write_text(table, encoding="utf-8")
        print(f"matrix of {len(documents)} implementations written to {arguments.output}")
    else:
        sys.stdout.write(table)
    return OK
