"""The plug-in contract: what a poller under test receives and what it must offer.

A poller is plugged in by a *factory*, ``make_poller(context) -> Poller``. The context gives it
everything it may touch: boto3-compatible clients of the simulated world and a virtual clock. A
poller that talks to anything else (the real clock, the network) is outside the contract.

This module is deliberately tiny and dependency-free, so that a poller package (the reference
included) can import it for typing without pulling in the rest of the kit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "Adapter",
    "Capabilities",
    "Clock",
    "Poller",
    "PollerContext",
    "PollerFactory",
]


class Clock(Protocol):
    """Virtual time. ``sleep`` advances it instead of blocking."""

    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds since an arbitrary origin; never goes backwards."""
        ...

    def sleep(self, seconds: float) -> None:
        """Advance virtual time by ``seconds``; returns at once."""
        ...


@dataclass(frozen=True)
class PollerContext:
    """Everything a poller is given for one event source mapping.

    ``parameters`` uses CreateEventSourceMapping field names (``BatchSize``,
    ``MaximumRetryAttempts``, ``DestinationConfig`` ...) exactly as a user would pass them, so a
    poller validates them the way AWS would.
    """

    mapping_uuid: str
    function_arn: str
    event_source_arn: str
    parameters: Mapping[str, Any]
    clock: Clock
    region: str
    account_id: str
    execution_role_arn: str
    clients: Callable[[str], Any] = field(repr=False)

    def client(self, service: str) -> Any:
        """A boto3-compatible client of the world: ``kinesis``, ``dynamodbstreams``, ``lambda``,
        ``sqs``, ``sns`` or ``s3``."""
        return self.clients(service)


@runtime_checkable
class Poller(Protocol):
    """One event source mapping being served."""

    def poll(self) -> None:
        """One unit of work: read what is available, invoke, handle the result.

        Must return promptly and must not block on real time; waiting is done with
        ``context.clock.sleep``.
        """
        ...

    def close(self) -> None:
        """Release resources. Called once, after the last ``poll``."""
        ...


PollerFactory = Callable[[PollerContext], Poller]


@dataclass(frozen=True)
class Capabilities:
    """What an implementation claims. Rules that need an unclaimed feature are SKIPPED, with the
    reason, never passed.

    ``sources`` lists the event sources served (``"kinesis"``, ``"dynamodb"``). ``features`` lists
    optional features claimed, by name (see ``conformance.rules`` for the names rules need).
    """

    sources: frozenset[str] = frozenset({"kinesis", "dynamodb"})
    features: frozenset[str] = frozenset(
        {
            "bisect",
            "report_batch_item_failures",
            "record_age",
            "batching_window",
            "destination_sqs",
            "destination_sns",
            "destination_s3",
            "starting_position_latest",
            "starting_position_at_timestamp",
        }
    )
    notes: Mapping[str, str] = field(default_factory=dict)
    """Why a source or feature is not claimed, shown in skip reasons."""

    def lacks(self, needed: frozenset[str]) -> frozenset[str]:
        return needed - self.features - self.sources


@dataclass(frozen=True)
class Adapter:
    """A named factory with its capabilities.

    ``patches_system_clock``: run the poller under freezegun pinned to the virtual clock, for
    implementations that read ``datetime.now()``/``time.time()`` themselves.
    """

    name: str
    make_poller: PollerFactory
    capabilities: Capabilities = field(default_factory=Capabilities)
    patches_system_clock: bool = False
