"""The world a poller under test talks to: streams, the scripted function, on-failure
destinations and the virtual clock, with every client call recorded into the trace.

Two backends behave the same: ``"memory"`` (the default; plain Python, thousands of scenarios a
minute) and ``"moto"`` (real boto3 clients and request/response serialisation under
``moto.mock_aws``). ``build_world(scenario, backend)`` returns a :class:`World`.

Records whose arrival offset is ≤ 0 are in the stream once ``build_world`` returns; later ones
are written by ``release_due_records()`` once the clock reaches them.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from conformance.clock import VirtualClock
from conformance.contract import PollerContext
from conformance.scenario import Scenario
from conformance.trace import StreamRecord, Trace
from conformance.world._base import WORLD_SERVICES, UnrealisableScenario

__all__ = ["WORLD_BACKENDS", "WORLD_SERVICES", "UnrealisableScenario", "World", "build_world"]

WORLD_BACKENDS: tuple[str, ...] = ("memory", "moto")


@runtime_checkable
class World(Protocol):
    """One realised scenario."""

    clock: VirtualClock
    trace: Trace
    """Every call the poller made through the clients of ``context()``, in order."""

    def context(self) -> PollerContext:
        """What the poller is given; ``context.client(service)`` returns RECORDING proxies of this
        world's clients (``kinesis``, ``dynamodbstreams``, ``lambda``, ``sqs``, ``sns``, ``s3``)."""
        ...

    def client(self, service: str) -> Any:
        """This world's own, unrecorded client for ``service`` (for the harness and tests, e.g. to
        read the SNS subscriber queue); never hand it to the poller."""
        ...

    def release_due_records(self) -> None:
        """Write every record whose arrival is at or before ``clock.now()`` into the stream."""
        ...

    def released_records(self) -> tuple[StreamRecord, ...]:
        """The records realised so far, with the sequence numbers the backend assigned; scenario
        shard order, and shard order within each shard."""
        ...

    def pending_arrivals(self) -> float | None:
        """Virtual offset (seconds from the scenario start) of the next record not yet written,
        or None when every record is in the stream."""
        ...

    def close(self) -> None:
        """Release the backend (idempotent)."""
        ...

    def __enter__(self) -> World:
        """A world is a context manager that closes itself."""
        ...

    def __exit__(self, *exc: object) -> None: ...


def build_world(scenario: Scenario, backend: str = "memory", *, clock: VirtualClock | None = None) -> World:
    """Realise ``scenario`` in ``backend`` (one of WORLD_BACKENDS).

    ``clock``: the virtual clock to use (it must read the scenario's start); by default a new
    ``VirtualClock(scenario.clock.start)``. Pass one to give it a virtual-time budget.

    Raises ValueError for an unknown backend, and UnrealisableScenario (a ValueError) for a
    scenario no stream could hold (sequence numbers not increasing in a shard, arrivals going
    backwards, a DynamoDB scenario with several shards on the moto backend, ...).
    """
    if backend == "memory":
        from conformance.world.memory import MemoryWorld

        return MemoryWorld(scenario, clock)
    if backend == "moto":
        # Imported only when asked for: moto is slow to import and the memory world never needs it.
        from conformance.world.moto_backend import MotoWorld

        return MotoWorld(scenario, clock)
    raise ValueError(
        f"unknown world backend {backend!r}; "
        f"the valid backends are {', '.join(repr(b) for b in WORLD_BACKENDS)}"
    )
