"""Instants as the spec writes them. Pure functions: nothing here reads a clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

__all__ = ["epoch_millis", "epoch_seconds", "iso_millis", "iso_seconds", "to_utc"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def to_utc(value: datetime | float | int) -> datetime:
    """A timezone-aware UTC datetime from a datetime (naive ones are taken as UTC, as botocore
    would) or from Unix seconds."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
    return _EPOCH + timedelta(seconds=float(value))


def epoch_millis(instant: datetime) -> int:
    """Whole milliseconds since the epoch, rounded down (exact integer arithmetic, no float)."""
    return (to_utc(instant) - _EPOCH) // timedelta(milliseconds=1)


def epoch_seconds(instant: datetime) -> int:
    """Whole seconds since the epoch, rounded down."""
    return (to_utc(instant) - _EPOCH) // timedelta(seconds=1)


def iso_millis(instant: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` (DLQ-6, DLQ-7): UTC, exactly three fractional digits,
    truncated (not rounded) so a time never moves into the next second."""
    utc = to_utc(instant)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def iso_seconds(instant: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (DLQ-8): UTC, no fraction, truncated to the second."""
    return to_utc(instant).strftime("%Y-%m-%dT%H:%M:%SZ")
