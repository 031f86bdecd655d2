"""Searches whose examples depend on their seed alone, not on which modules happen to be loaded.

Hypothesis (6.131 and later) sometimes draws a literal found in the source of the "local"
modules imported so far (those outside site-packages and the standard library). Which modules
are imported when a search starts depends on what ran before it in the process: another rule's
search importing a module lazily, the test files pytest collected, an xdist worker's share of
them. So the same seed could draw different scenarios, and a rule could pass in one run and
fail in the next on the very same code. A derandomized run must give the same verdicts every
time, so during a search the pool of local constants is empty; Hypothesis's own constants
(boundary integers, awkward floats and strings) are still drawn.

Hypothesis has no setting for this; the pool lives in its provider module. When a version of
Hypothesis without it is installed, there is nothing to pin and the context manager does
nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["without_local_constants"]


@contextmanager
def without_local_constants() -> Iterator[None]:
    """Within the block, Hypothesis draws no constants taken from the source of loaded modules."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - a Hypothesis without the module
        yield
        return
    collect = getattr(providers, "_get_local_constants", None)
    constants = getattr(providers, "Constants", None)
    cache = getattr(getattr(providers, "CONSTANTS_CACHE", None), "cache", None)
    if collect is None or constants is None or cache is None:
        yield
        return
    empty = constants()

    def no_local_constants() -> Any:
        return empty

    # Constants already filtered for a draw's constraints are cached with the local pool of the
    # moment: drop them on the way in and out, so neither side sees the other's pool.
    cache.clear()
    providers._get_local_constants = no_local_constants
    try:
        yield
    finally:
        providers._get_local_constants = collect
        cache.clear()
