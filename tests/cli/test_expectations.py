"""Expectations files: parsing, the usage errors, and the gate's verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.expectations import (
    NO_EXPECTATIONS,
    ExpectationsError,
    Gate,
    judge,
    load_expectations,
    parse_expectations,
)

KNOWN = ["ORD-2", "ORD-5", "DLQ-7", "BISECT-3"]


def test_ids_reasons_comments_and_blank_lines() -> None:
    text = "# known gaps of my poller\n\nBISECT-3   # a split spends a retry (issue 12)\n  dlq-7\n"
    expectations = parse_expectations(text, KNOWN, source="known.txt")
    assert dict(expectations.known_failures) == {"BISECT-3": "a split spends a retry (issue 12)", "DLQ-7": ""}
    assert "DLQ-7" in expectations and "dlq-7" in expectations and "ORD-2" not in expectations
    assert expectations.reason("BISECT-3") == "a split spends a retry (issue 12)"


def test_an_unknown_id_is_a_usage_error_pointing_at_the_rules_command() -> None:
    with pytest.raises(ExpectationsError) as info:
        parse_expectations("ORD-2\nORD-99  # typo\n", KNOWN, source="known.txt")
    assert str(info.value) == (
        "known.txt, line 2: 'ORD-99' is not a rule id of this kit; run `stream-conformance rules` to list "
        "the ids (an expectations file lists one rule id per line, optionally followed by '# reason')"
    )


def test_two_ids_on_one_line() -> None:
    with pytest.raises(
        ExpectationsError, match=r"^known.txt, line 1: expected one rule id, found 'ORD-2 ORD-5'"
    ):
        parse_expectations("ORD-2 ORD-5\n", KNOWN, source="known.txt")


def test_an_id_listed_twice() -> None:
    with pytest.raises(ExpectationsError) as info:
        parse_expectations("ORD-2\n\nord-2\n", KNOWN, source="known.txt")
    assert str(info.value) == "known.txt, line 3: ORD-2 is already listed on line 1; list each rule once"


def test_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(ExpectationsError, match=r"does not exist; give the path of a text file"):
        load_expectations(missing, KNOWN)


def test_loading_a_file(tmp_path: Path) -> None:
    path = tmp_path / "known.txt"
    path.write_text("ORD-5  # blocks the wrong shard\n")
    expectations = load_expectations(path, KNOWN)
    assert expectations.source == str(path)
    assert dict(expectations.known_failures) == {"ORD-5": "blocks the wrong shard"}


@pytest.mark.parametrize(
    ("verdict", "listed", "gate"),
    [
        ("pass", False, Gate.PASS),
        ("pass", True, Gate.STALE),
        ("fail", False, Gate.FAIL),
        ("fail", True, Gate.KNOWN_FAILURE),
        ("skip", True, Gate.SKIP),
        ("skip", False, Gate.SKIP),
        ("inconclusive", True, Gate.INCONCLUSIVE),
    ],
)
def test_the_gate(verdict: str, listed: bool, gate: Gate) -> None:
    expectations = parse_expectations("ORD-5 # known\n" if listed else "", KNOWN, source="known.txt")
    assert judge("ORD-5", verdict, expectations)[0] is gate
    assert gate.fails is (gate in (Gate.FAIL, Gate.STALE))


def test_the_gate_explains_stale_and_known_failures() -> None:
    expectations = parse_expectations("ORD-5 # blocks the wrong shard\n", KNOWN, source="known.txt")
    assert judge("ORD-5", "pass", expectations)[1] == (
        "ORD-5 is listed in known.txt as a known failure but now passes; remove it from the file "
        "(the list of known failures only shrinks)"
    )
    assert (
        judge("ORD-5", "fail", expectations)[1]
        == "ORD-5 fails, as listed in known.txt (blocks the wrong shard)"
    )
    assert judge("ORD-2", "fail", NO_EXPECTATIONS) == (Gate.FAIL, "")
