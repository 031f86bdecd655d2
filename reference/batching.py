"""How many pending records go into the next batch, and whether it is time to send it
(BATCH-2, BATCH-4, BATCH-5, BATCH-6, BATCH-9)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from reference.events import PolledRecord

__all__ = ["MAX_PAYLOAD_BYTES", "batch_ready", "batch_take", "event_payload", "payload_size"]

# BATCH-6 (uncertain accounting): the synchronous Invoke limit, 6 MiB, counted on the serialised
# JSON event, base64 growth included (SEMANTICS). Reason: that is the payload Invoke measures, so
# a batch within it can always be sent; counting raw record bytes could exceed the limit.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024

_ENVELOPE = len(json.dumps({"Records": []}))  # '{"Records": []}'
_SEPARATOR = len(", ")  # json.dumps puts ", " between list items


def event_payload(records: Sequence[PolledRecord]) -> bytes:
    """The Invoke payload for ``records``: ``{"Records": [...]}`` (EVT-K-1, EVT-D-1)."""
    return json.dumps({"Records": [r.event_record for r in records]}).encode("utf-8")


def payload_size(records: Sequence[PolledRecord]) -> int:
    """``len(event_payload(records))`` without serialising again."""
    if not records:
        return _ENVELOPE
    return _ENVELOPE + sum(r.size for r in records) + _SEPARATOR * (len(records) - 1)


def batch_take(pending: Sequence[PolledRecord], batch_size: int, cap: int = MAX_PAYLOAD_BYTES) -> int:
    """How many of the leading ``pending`` records form the next batch: at most ``batch_size``
    (BATCH-2), and no more than fit under the payload cap (BATCH-6). Never 0 when a record is
    pending (BATCH-9): a single record larger than the cap still goes alone (stream records are
    at most 1 MiB, so this cannot happen with real streams)."""
    size = _ENVELOPE
    count = 0
    for record in pending[:batch_size]:
        grown = size + record.size + (_SEPARATOR if count else 0)
        if grown > cap and count:
            break
        size = grown
        count += 1
    return count


def batch_ready(
    *,
    pending: int,
    take: int,
    batch_size: int,
    window_seconds: int,
    window_opened_at: float | None,
    now: float,
) -> bool:
    """Whether to invoke now with the first ``take`` of ``pending`` records.

    BATCH-4: with no window, as soon as a record is there. BATCH-5: with a window, once
    ``BatchSize`` records are pending, or the payload cap cut the batch short (the next record
    would not fit), or ``window_seconds`` have passed since the window opened.
    """
    if take == 0:
        return False  # BATCH-9: never an empty invocation
    if window_seconds == 0:
        return True
    if pending >= batch_size or take < pending:
        return True
    return window_opened_at is not None and now - window_opened_at >= window_seconds
