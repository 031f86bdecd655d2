"""Expectations files: known non-conformance, declared so that a CI gate only moves forward.

The format is plain text, one rule id per line; ``#`` starts a comment, and a comment on the
same line as an id is the reason shown in reports::

    # my-poller: known gaps, each with its tracking issue
    BISECT-3   # a split spends a retry attempt (issue 12)
    DLQ-7      # KinesisBatchInfo lacks streamArn

Blank and comment-only lines are ignored; ids are matched case-insensitively.

At the gate, a listed rule that fails passes (a *known failure*), an unlisted rule that fails
fails, and a listed rule that now passes fails as *stale*, so the list can only shrink. An id the
kit does not know is a usage error.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

__all__ = [
    "NO_EXPECTATIONS",
    "Expectations",
    "ExpectationsError",
    "Gate",
    "judge",
    "load_expectations",
    "parse_expectations",
]

_FORMAT_HINT = "an expectations file lists one rule id per line, optionally followed by '# reason'"


class ExpectationsError(ValueError):
    """The expectations file is unusable; the message names the file, the line and the fix."""


@dataclass(frozen=True)
class Expectations:
    """Rule ids expected to fail, each with its reason (possibly empty)."""

    source: str
    known_failures: Mapping[str, str] = field(default_factory=dict)

    def __contains__(self, rule_id: object) -> bool:
        return isinstance(rule_id, str) and rule_id.upper() in self.known_failures

    def reason(self, rule_id: str) -> str:
        return self.known_failures.get(rule_id.upper(), "")


NO_EXPECTATIONS = Expectations(source="(no expectations file)")


class Gate(str, Enum):
    """A rule's outcome at the gate, once expectations are applied."""

    PASS = "pass"
    SKIP = "skip"
    KNOWN_FAILURE = "known failure"
    FAIL = "fail"
    STALE = "stale"
    INCONCLUSIVE = "inconclusive"

    @property
    def fails(self) -> bool:
        """Whether this outcome fails the gate as a conformance failure."""
        return self in (Gate.FAIL, Gate.STALE)


def load_expectations(path: str | Path, known_ids: Collection[str]) -> Expectations:
    """Read an expectations file, checking every id against ``known_ids``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ExpectationsError(
            f"the expectations file {str(path)!r} does not exist; give the path of a text file in which "
            f"{_FORMAT_HINT}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExpectationsError(
            f"the expectations file {str(path)!r} could not be read ({exc}); {_FORMAT_HINT}, in UTF-8"
        ) from exc
    return parse_expectations(text, known_ids, source=str(path))


def parse_expectations(
    text: str, known_ids: Collection[str], *, source: str = "<expectations>"
) -> Expectations:
    known = {rule_id.upper(): rule_id for rule_id in known_ids}
    failures: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        content, _, comment = line.partition("#")
        tokens = content.split()
        if not tokens:
            continue
        where = f"{source}, line {number}"
        if len(tokens) > 1:
            raise ExpectationsError(
                f"{where}: expected one rule id, found {content.strip()!r}; {_FORMAT_HINT}"
            )
        token = tokens[0]
        rule_id = known.get(token.upper())
        if rule_id is None:
            raise ExpectationsError(
                f"{where}: {token!r} is not a rule id of this kit; run `stream-conformance rules` to list "
                f"the ids ({_FORMAT_HINT})"
            )
        if rule_id.upper() in first_line:
            raise ExpectationsError(
                f"{where}: {rule_id} is already listed on line {first_line[rule_id.upper()]}; "
                "list each rule once"
            )
        first_line[rule_id.upper()] = number
        failures[rule_id.upper()] = comment.strip()
    return Expectations(source=source, known_failures=failures)


def judge(rule_id: str, verdict: str, expectations: Expectations) -> tuple[Gate, str]:
    """The gate outcome of ``verdict`` (``"pass"``, ``"fail"``, ``"skip"`` or ``"inconclusive"``)
    for ``rule_id``, with a sentence explaining it when expectations changed anything."""
    listed = rule_id in expectations
    reason = expectations.reason(rule_id)
    because = f" ({reason})" if reason else ""
    if verdict == "fail":
        if listed:
            return Gate.KNOWN_FAILURE, f"{rule_id} fails, as listed in {expectations.source}{because}"
        return Gate.FAIL, ""
    if verdict == "pass":
        if listed:
            return Gate.STALE, (
                f"{rule_id} is listed in {expectations.source} as a known failure but now passes; remove "
                "it from the file (the list of known failures only shrinks)"
            )
        return Gate.PASS, ""
    if verdict == "skip":
        return Gate.SKIP, (f"{rule_id} is listed in {expectations.source} but was skipped" if listed else "")
    if verdict == "inconclusive":
        return Gate.INCONCLUSIVE, ""
    raise ValueError(f"unknown verdict {verdict!r}")
