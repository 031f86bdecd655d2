"""The stream-conformance command through main(argv): exit codes, the matrix, failure reports,
replay, expectations, rules, the Markdown matrix, and the exact usage errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import Phase, settings

from conformance.cli import main
from conformance.rules import CATALOGUE

SAMPLES = Path(__file__).parent  # sample_pollers.py


@pytest.fixture(autouse=True)
def _sample_pollers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.syspath_prepend(str(SAMPLES))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STREAM_CONFORMANCE_POLLER", raising=False)
    monkeypatch.delenv("STREAM_CONFORMANCE_PROFILE", raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# Few examples and no shrinking keep each search quick; shrinking is tested in tests/harness.
settings.register_profile(
    "cli-test", max_examples=4, derandomize=True, database=None, phases=[Phase.explicit, Phase.generate]
)
QUICK = ("--profile", "cli-test")


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert "exit codes:" in out
    for line in (
        "  0  every rule run passed",
        "  1  conformance failure",
        "  2  usage error",
        "  3  inconclusive",
    ):
        assert line in out


def test_run_help_documents_the_exit_codes_too(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "run", "--help")
    assert code == 0 and "  3  inconclusive" in out and "--expectations FILE" in out


def test_a_passing_run_prints_the_matrix_and_writes_results(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "run", "--poller", "reference", "--rule", "ORD-2", "--rule", "ORD-1", *QUICK)

    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["rule", "level", "verdict", "exercised", "examples", "summary"]
    assert [line.split()[:3] for line in lines[2:4]] == [["ORD-1", "must", "pass"], ["ORD-2", "must", "pass"]]
    assert "2 rules: 2 pass" in out
    assert "[1/2] ORD-1 pass (4 examples, exercised" in err  # the progress display
    results = json.loads(Path("conformance-results/reference.json").read_text())
    assert results["kind"] == "stream-conformance results"
    assert results["implementation"] == "reference" and results["profile"] == "cli-test"
    assert [(r["rule"], r["verdict"], r["gate"]) for r in results["rules"]] == [
        ("ORD-1", "pass", "pass"),
        ("ORD-2", "pass", "pass"),
    ]
    assert "results written to conformance-results/reference.json" in out


def test_a_failure_prints_the_scenario_seed_and_replay_command_that_reproduces_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "run", "--poller", "sample_pollers:reversing", "--rule", "ORD-2", *QUICK)

    assert code == 1
    failure = Path("conformance-results/failures/sample_pollers_reversing/ORD-2.json")
    assert "FAIL ORD-2 (must): " in out
    assert "  seed: 0  (repeat the whole search with --seed 0)" in out
    assert f"  shrunk scenario ({failure}):" in out
    replay_line = (
        f"  replay: stream-conformance replay {failure} --poller sample_pollers:reversing --rule ORD-2"
    )
    assert replay_line in out
    saved = json.loads(failure.read_text())
    assert json.dumps(saved["scenario"], indent=2) in out.replace("\n    ", "\n")

    argv = replay_line.split("stream-conformance ", 1)[1].split()
    code, out, _ = run(capsys, *argv)
    assert code == 1
    assert "ORD-2 (must): FAIL" in out
    assert saved["message"].splitlines()[0] in out

    code, out, _ = run(capsys, "replay", str(failure), "--poller", "reference")
    assert code == 0 and "ORD-2 (must): PASS" in out


def test_exitfirst_stops_at_the_first_failing_rule(capsys: pytest.CaptureFixture[str]) -> None:
    rules = ("--rule", "ORD-1", "--rule", "ORD-2", "--rule", "BATCH-2")
    code, out, err = run(capsys, "run", "--poller", "sample_pollers:reversing", *rules, "-x", *QUICK)

    assert code == 1
    results = json.loads(Path("conformance-results/sample_pollers_reversing.json").read_text())
    assert [r["rule"] for r in results["rules"]] == ["ORD-1", "ORD-2"]  # BATCH-2 never ran
    assert "[2/3] ORD-2 fail" in err and "BATCH-2" not in err
    assert "FAIL ORD-2 (must): " in out and "BATCH-2" not in out


def test_replay_uses_the_poller_recorded_in_the_failure_file(capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "run", "--poller", "sample_pollers:reversing", "--rule", "ORD-2", *QUICK)
    code, out, _ = run(capsys, "replay", "conformance-results/failures/sample_pollers_reversing/ORD-2.json")
    assert code == 1 and "against sample_pollers:reversing" in out


def test_expectations_turn_a_listed_failure_into_a_pass_and_a_listed_pass_into_stale(
    capsys: pytest.CaptureFixture[str],
) -> None:
    Path("known.txt").write_text("ORD-2  # reverses batches\n")

    code, out, _ = run(
        capsys,
        "run",
        "--poller",
        "sample_pollers:reversing",
        "--rule",
        "ORD-2",
        "--expectations",
        "known.txt",
        *QUICK,
    )
    assert code == 0
    assert "known failure" in out and "1 rules: 1 known failure" in out

    code, out, _ = run(
        capsys, "run", "--poller", "reference", "--rule", "ORD-2", "--expectations", "known.txt", *QUICK
    )
    assert code == 1
    assert (
        "  ORD-2 is listed in known.txt as a known failure but now passes; remove it from the file (the list "
        "of known failures only shrinks)"
    ) in out


def test_an_inconclusive_run_exits_3_unless_allowed(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "run", "--poller", "sample_pollers:Raising", "--rule", "ORD-2", *QUICK)
    assert code == 3
    assert (
        "INCONCLUSIVE ORD-2 (must): " in out and "poll() raised RuntimeError: lost the shard iterator" in out
    )

    code, _, _ = run(
        capsys, "run", "--poller", "sample_pollers:Raising", "--rule", "ORD-2", "--allow-inconclusive", *QUICK
    )
    assert code == 0


def test_capability_skips_carry_their_reason(capsys: pytest.CaptureFixture[str]) -> None:
    needing = [rule_id for rule_id, rule in CATALOGUE.items() if "bisect" in rule.needs]
    code, out, _ = run(capsys, "run", "--poller", "sample_pollers:NO_BISECT", "--rule", needing[0], *QUICK)
    assert code == 0
    assert (
        f"no-bisect does not claim bisect (splitting batches is not implemented), which {needing[0]} needs"
        in out
    )


# ---- usage errors ------------------------------------------------------------------------------


def test_an_unknown_poller(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "run", "--poller", "referense")
    assert (code, out) == (2, "")
    assert err == (
        "stream-conformance: error: --poller 'referense' is not a registered poller name (registered: "
        "localstack-dynamodb, localstack-kinesis, "
        "reference); name your own poller as module:attribute (for example mypackage.testing:make_poller), "
        "or register it in the entry-point group 'stream_conformance.pollers' of your package\n"
    )


def test_no_poller_at_all(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "run")
    assert code == 2
    assert err.startswith("stream-conformance: error: no poller was named: pass --poller module:attribute")


def test_an_unknown_rule_id_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "run", "--poller", "reference", "--rule", "ORD-99")
    assert code == 2
    assert err == (
        "stream-conformance: error: 'ORD-99' is not a rule id or family of this kit; run `stream-conformance "
        "rules` to list them (ids look like ORD-5, families like ORD)\n"
    )


def test_an_unknown_rule_id_in_the_expectations_file(capsys: pytest.CaptureFixture[str]) -> None:
    Path("known.txt").write_text("ORD-2\nORD-99  # typo\n")
    code, _, err = run(capsys, "run", "--poller", "reference", "--expectations", "known.txt")
    assert code == 2
    assert err == (
        "stream-conformance: error: known.txt, line 2: 'ORD-99' is not a rule id of this kit; run "
        "`stream-conformance rules` to list the ids (an expectations file lists one rule id per line, "
        "optionally followed by '# reason')\n"
    )


def test_a_scenario_file_that_is_not_json(capsys: pytest.CaptureFixture[str]) -> None:
    Path("broken.json").write_text("{not json")
    code, _, err = run(capsys, "replay", "broken.json", "--poller", "reference")
    assert code == 2
    assert err == (
        "stream-conformance: error: broken.json: the scenario is not valid JSON (Expecting property name "
        "enclosed in double quotes at line 1, column 2); a scenario file is the JSON object written by "
        "`stream-conformance run` or `scenario.dumps()`\n"
    )


def test_a_scenario_file_with_a_bad_field(capsys: pytest.CaptureFixture[str]) -> None:
    Path("bad.json").write_text(
        json.dumps({"rule": "ORD-2", "scenario": {"format": 1, "source": "kafka", "parameters": {}}})
    )
    code, _, err = run(capsys, "replay", "bad.json", "--poller", "reference")
    assert code == 2
    assert err == (
        "stream-conformance: error: bad.json: scenario: 'source' must be 'kinesis' or 'dynamodb', "
        "found 'kafka'\n"
    )


def test_a_missing_scenario_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "replay", "nowhere.json", "--poller", "reference")
    assert code == 2
    assert err.startswith(
        "stream-conformance: error: the scenario file 'nowhere.json' does not exist; pass a failure"
    )


def test_an_unknown_profile(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "run", "--poller", "reference", "--profile", "nightly")
    assert code == 2
    assert err.startswith("stream-conformance: error: unknown Hypothesis profile 'nightly'")


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "run", "--world", "localstack")
    assert code == 2
    assert "argument --world: invalid choice: 'localstack'" in err


# ---- rules and matrix --------------------------------------------------------------------------


def test_rules_prints_the_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rules")
    assert code == 0
    listed = [line.split()[0] for line in out.splitlines()[1:]]
    assert listed == list(CATALOGUE)
    code, out, _ = run(capsys, "rules", "--json", "--level", "must")
    assert [entry["id"] for entry in json.loads(out)] == [
        rule_id for rule_id, rule in CATALOGUE.items() if rule.level.value == "must"
    ]


def _results(name: str, gates: dict[str, str]) -> dict[str, Any]:
    return {
        "kind": "stream-conformance results",
        "results_format": 1,
        "implementation": name,
        "world": "memory",
        "rules": [
            {"rule": rule_id, "level": "must", "title": f"title of {rule_id}", "gate": gate}
            for rule_id, gate in gates.items()
        ],
    }


def test_matrix_renders_implementations_by_rules(capsys: pytest.CaptureFixture[str]) -> None:
    Path("a.json").write_text(json.dumps(_results("reference", {"ORD-1": "pass", "ORD-2": "pass"})))
    Path("b.json").write_text(json.dumps(_results("localstack", {"ORD-1": "fail", "ORD-3": "skip"})))
    code, out, _ = run(capsys, "matrix", "a.json", "b.json")
    assert code == 0
    assert out.splitlines() == [
        "| rule | level | title | reference | localstack |",
        "|---|---|---|---|---|",
        "| ORD-1 | must | title of ORD-1 | ✅ pass | ❌ fail |",
        "| ORD-2 | must | title of ORD-2 | ✅ pass | — |",
        "| ORD-3 | must | title of ORD-3 | — | ⏭️ skip |",
    ]


def test_matrix_gives_files_of_one_implementation_one_column(capsys: pytest.CaptureFixture[str]) -> None:
    # A rule run on its own (BATCH-6 against LocalStack, say) joins the implementation's column.
    Path("a.json").write_text(json.dumps(_results("localstack", {"ORD-1": "fail"})))
    Path("b.json").write_text(json.dumps(_results("reference", {"ORD-1": "pass"})))
    Path("c.json").write_text(json.dumps(_results("localstack", {"BATCH-6": "known failure"})))
    code, out, _ = run(capsys, "matrix", "a.json", "b.json", "c.json")
    assert code == 0
    assert out.splitlines() == [
        "| rule | level | title | localstack | reference |",
        "|---|---|---|---|---|",
        "| ORD-1 | must | title of ORD-1 | ❌ fail | ✅ pass |",
        "| BATCH-6 | must | title of BATCH-6 | ⚠️ known failure | — |",
    ]


def test_matrix_rejects_a_file_that_is_not_results(capsys: pytest.CaptureFixture[str]) -> None:
    Path("failure.json").write_text(json.dumps({"kind": "stream-conformance failure", "scenario": {}}))
    code, _, err = run(capsys, "matrix", "failure.json")
    assert code == 2
    assert err == (
        "stream-conformance: error: failure.json is a 'stream-conformance failure' file; give the JSON "
        "results files written by `stream-conformance run` (<results>/<implementation>.json)\n"
    )


def test_python_dash_m_conformance(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "rules", "--level", "must"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].split()[:3] == ["rule", "level", "needs"]
