"""The rule catalogue and its checkers.

``CATALOGUE`` lists every rule (data: id, level, title, SPEC reference, capabilities needed,
strategy focus); ``check(rule_id, observation)`` runs the rule's checker, which reads only the
observation (scenario, realised records, trace) and never the reference poller or an adapter.
A breach is a :class:`Violation` in prose naming the offending record; ``violation_error``
turns it into the family's :class:`RuleViolation` subclass.
"""

from __future__ import annotations

import difflib

from conformance.observation import Observation
from conformance.rules import (  # noqa: F401  (importing a family module registers its checkers)
    batching,
    bisection,
    destinations,
    events,
    loss,
    ordering,
    partial,
    retry,
    starting,
    validation,
)
from conformance.rules.analysis import analyse
from conformance.rules.catalogue import CATALOGUE
from conformance.rules.common import CHECKERS, Findings
from conformance.rules.model import (
    BatchingViolation,
    BisectViolation,
    CheckResult,
    DestinationViolation,
    EventShapeViolation,
    Level,
    LivenessViolation,
    LossViolation,
    OrderingViolation,
    ParameterViolation,
    PartialBatchViolation,
    RetryViolation,
    Rule,
    RuleViolation,
    S3DestinationViolation,
    StartingPositionViolation,
    Violation,
    violation_error,
)

__all__ = [
    "CATALOGUE",
    "BatchingViolation",
    "BisectViolation",
    "CheckResult",
    "DestinationViolation",
    "EventShapeViolation",
    "Level",
    "LivenessViolation",
    "LossViolation",
    "OrderingViolation",
    "ParameterViolation",
    "PartialBatchViolation",
    "RetryViolation",
    "Rule",
    "RuleViolation",
    "S3DestinationViolation",
    "StartingPositionViolation",
    "UnknownRuleError",
    "Violation",
    "check",
    "rules",
    "violation_error",
]

if set(CHECKERS) != set(CATALOGUE):  # pragma: no cover - a packaging mistake, caught by the tests
    raise RuntimeError(
        f"rule catalogue and checkers disagree: without checker {sorted(set(CATALOGUE) - set(CHECKERS))}, "
        f"without catalogue entry {sorted(set(CHECKERS) - set(CATALOGUE))}"
    )


class UnknownRuleError(LookupError):
    """A rule id that is not in the catalogue."""


def rules(level: Level | None = None) -> list[Rule]:
    """The catalogue's rules in order, optionally only those of ``level``."""
    return [rule for rule in CATALOGUE.values() if level is None or rule.level is level]


def check(rule_id: str, observation: Observation) -> CheckResult:
    """Run ``rule_id``'s checker on ``observation``. The observation is analysed once and the
    analysis is reused by every rule checked against it."""
    try:
        run = CHECKERS[rule_id]
    except KeyError:
        close = difflib.get_close_matches(rule_id, list(CATALOGUE), n=3)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise UnknownRuleError(
            f"{rule_id!r} is not a rule id of this kit{hint} (`stream-conformance rules` lists them)"
        ) from None
    findings = Findings(rule_id)
    if rule_id in validation.PARAMETER_RULES:
        # A parameter probe (conformance.probes): its parameters may be anything, so it is judged
        # without the stream analysis, which assumes valid ones.
        validation.judge(rule_id, observation, findings)
    else:
        run(analyse(observation), findings)
    return findings.result()
