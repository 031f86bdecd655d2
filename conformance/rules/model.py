"""The rules' data types: what a rule is, what a checker returns, and the violation errors.

Kept apart from the catalogue and the checkers so that every module of the package (and the
runner, the reports) can import them without pulling in the analysis.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conformance.observation import Observation

__all__ = [
    "BatchingViolation",
    "BisectViolation",
    "CheckResult",
    "Checker",
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
    "Violation",
    "family_of",
    "violation_error",
]


class Level(str, Enum):
    """MUST where SPEC.md has recorded (REC) or documented (DOC) evidence; SHOULD where it marks
    the behaviour uncertain (⚠)."""

    MUST = "must"
    SHOULD = "should"


@dataclass(frozen=True)
class Rule:
    """One catalogue entry. ``id`` follows SPEC.md and is never reused.

    ``needs`` names capabilities (``Capabilities.features`` names, or the sources ``kinesis`` and
    ``dynamodb``); an implementation that does not claim them gets a SKIP. ``focus`` holds keyword
    arguments for ``conformance.strategies.scenarios`` that make the rule likely to be exercised.
    """

    id: str
    family: str
    level: Level
    title: str
    spec: str
    needs: frozenset[str] = frozenset()
    # A mapping is not hashable: it takes no part in the rule's hash (the id already identifies it).
    focus: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Violation:
    """One breach of a rule, in prose that names the offending record."""

    rule_id: str
    message: str


@dataclass(frozen=True)
class CheckResult:
    """``exercised`` counts the opportunities the observation gave the rule (failed batches
    examined, documents read ...), so a rule that was never exercised is visible."""

    exercised: int
    violations: tuple[Violation, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.violations


Checker = Callable[["Observation"], CheckResult]


def family_of(rule_id: str) -> str:
    """``"ORD-5"`` → ``"ORD"``, ``"EVT-K-3"`` → ``"EVT-K"``, ``"S3KEY-2"`` → ``"S3KEY"``."""
    return rule_id.rsplit("-", 1)[0]


class RuleViolation(AssertionError):
    """A rule was broken. One subclass per rule family, so Hypothesis (which tells failures apart
    by exception type and origin) keeps distinct bugs apart."""

    def __init__(self, rule_id: str, message: str) -> None:
        super().__init__(message)
        self.rule_id = rule_id
        self.message = message


class OrderingViolation(RuleViolation):
    """ORD-*: shard order, blocking and independence."""


class BatchingViolation(RuleViolation):
    """BATCH-*: batch size, batching window, payload cap, empty invocations."""


class EventShapeViolation(RuleViolation):
    """EVT-K-*, EVT-D-*: the invocation event the function receives."""


class RetryViolation(RuleViolation):
    """RETRY-*: retries, throttles, record age, discards."""


class BisectViolation(RuleViolation):
    """BISECT-*: BisectBatchOnFunctionError."""


class PartialBatchViolation(RuleViolation):
    """PBF-*: ReportBatchItemFailures responses."""


class DestinationViolation(RuleViolation):
    """DLQ-*: the on-failure document for SQS and SNS (and the metadata of S3 objects)."""


class S3DestinationViolation(RuleViolation):
    """S3-*, S3KEY-*: the S3 on-failure object and its key."""


class StartingPositionViolation(RuleViolation):
    """START-*: where reading begins."""


class ParameterViolation(RuleViolation):
    """PARAM-*: a mapping parameter accepted where it must be refused, or refused where valid."""


class LossViolation(RuleViolation):
    """LOSS-1: a record was neither processed nor discarded per the spec."""


class LivenessViolation(RuleViolation):
    """LIVE-1: the run did not finish within its budget."""


_FAMILY_ERRORS: Mapping[str, type[RuleViolation]] = {
    "ORD": OrderingViolation,
    "BATCH": BatchingViolation,
    "EVT-K": EventShapeViolation,
    "EVT-D": EventShapeViolation,
    "RETRY": RetryViolation,
    "BISECT": BisectViolation,
    "PBF": PartialBatchViolation,
    "DLQ": DestinationViolation,
    "S3": S3DestinationViolation,
    "S3KEY": S3DestinationViolation,
    "START": StartingPositionViolation,
    "PARAM": ParameterViolation,
    "LOSS": LossViolation,
    "LIVE": LivenessViolation,
}


def violation_error(violation: Violation) -> RuleViolation:
    """The exception that reports ``violation``: the subclass for its rule's family."""
    error_type = _FAMILY_ERRORS.get(family_of(violation.rule_id), RuleViolation)
    return error_type(violation.rule_id, violation.message)
