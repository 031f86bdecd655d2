"""What one harness run produced: the input to every rule checker."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from conformance.scenario import Scenario
from conformance.trace import StreamRecord, Trace

__all__ = ["Observation", "RunStatus"]


class RunStatus(str, Enum):
    COMPLETED = "completed"
    """Every record was resolved and the poller went quiet."""
    LIVENESS = "liveness"
    """The step or virtual-time budget ran out with records unresolved or the poller still busy."""
    INCONCLUSIVE = "inconclusive"
    """The poller raised or hung; nothing can be concluded from the trace."""


@dataclass(frozen=True)
class Observation:
    """A scenario, the stream as the world realised it, and the trace of the poller's calls.

    ``records`` lists every record that was written to the stream (in shard order per shard),
    with the sequence numbers the world's backend assigned.
    ``mapping_uuid``/``function_arn``/``event_source_arn``/``execution_role_arn`` are the values
    the poller was given in its context; destination checks compare against them.
    """

    scenario: Scenario
    records: tuple[StreamRecord, ...]
    trace: Trace
    status: RunStatus
    reason: str
    mapping_uuid: str
    function_arn: str
    event_source_arn: str
    execution_role_arn: str
    region: str
    started_at_offset: float = 0.0
    ended_at_offset: float = 0.0
    polls: int = 0
