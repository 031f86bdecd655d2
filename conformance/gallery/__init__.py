"""A gallery of deliberately broken pollers, one realistic bug each, for meta-tests.

A conformance suite is only as good as the bugs it catches. Each entry of :data:`GALLERY` is the
reference poller with one small piece changed to model a bug a careful implementer could still
make (a retry count off by one, sequence numbers compared as text, an S3 key in local time …),
together with the rule id that must catch it. Run one through the kit like any poller::

    stream-conformance run --poller conformance.gallery:retry_count_off_by_one --rule RETRY-3

and the run must FAIL that rule, naming the offending record. ``check_entry(item, ...)`` runs that
search from Python; ``tests/gallery`` asserts it for every entry, and users can do the same for
their own checkers or strategies.

Every entry's adapter is a module attribute named like the entry, so ``--poller
conformance.gallery:<name>`` finds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from conformance.contract import Adapter
from conformance.gallery import (
    _batching,
    _bisect,
    _destinations,
    _events,
    _faults,
    _ordering,
    _parameters,
    _partial,
    _retry,
    _starting,
)
from conformance.gallery._base import GalleryPoller
from conformance.gallery._meta import check_entry, profile_without_shrinking

__all__ = ["GALLERY", "GalleryPoller", "check_entry", "profile_without_shrinking"]


def _registry() -> Mapping[str, GalleryPoller]:
    entries: dict[str, GalleryPoller] = {}
    for module in (
        _ordering,
        _batching,
        _events,
        _retry,
        _bisect,
        _partial,
        _destinations,
        _starting,
        _parameters,
        _faults,
    ):
        for item in module.ENTRIES:
            if item.name in entries:
                raise RuntimeError(f"two gallery entries are named {item.name!r}")
            entries[item.name] = item
    return MappingProxyType(entries)


GALLERY: Mapping[str, GalleryPoller] = _registry()
"""Every broken poller, by name, grouped by the rule family it breaks (SPEC order)."""

# ``--poller conformance.gallery:<name>``: each entry's adapter is an attribute of this module.
globals().update({name: item.adapter for name, item in GALLERY.items()})


def __getattr__(name: str) -> Adapter:
    # For type checkers: the adapters above are set dynamically.
    raise AttributeError(
        f"conformance.gallery has no poller {name!r}; the gallery holds: {', '.join(GALLERY)}"
    )
