"""The virtual clock handed to pollers. Nothing in the kit reads real time."""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["VirtualClock", "VirtualTimeExhausted"]


class VirtualTimeExhausted(RuntimeError):
    """Raised by ``sleep`` once the run's virtual-time budget is spent.

    A poller that waits inside one ``poll()`` (retry back-off loops, for example) is stopped this
    way instead of running on forever; the harness reports it as a liveness verdict.
    """


class VirtualClock:
    """Virtual time starting at ``start`` (timezone-aware UTC). ``sleep`` advances it."""

    def __init__(self, start: datetime, budget_seconds: float | None = None) -> None:
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs a timezone-aware start instant")
        self._start = start
        self._elapsed = 0.0
        self._budget = budget_seconds

    @property
    def elapsed(self) -> float:
        """Virtual seconds since the start."""
        return self._elapsed

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return self._elapsed

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"virtual time cannot go backwards (advance by {seconds})")
        self._elapsed += seconds

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
        if self._budget is not None and self._elapsed > self._budget:
            raise VirtualTimeExhausted(
                f"virtual time budget of {self._budget:g} s exhausted while the poller was sleeping"
            )
