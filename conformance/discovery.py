"""Finding the poller under test from what the user typed.

A poller is named in one of three ways (the first that is given wins):

1. ``--poller module:attribute``: ``attribute`` (dotted for nested names) is an
   :class:`~conformance.contract.Adapter`, or a factory ``make_poller(context) -> Poller``;
2. ``--poller NAME``: a name registered in the entry-point group ``stream_conformance.pollers``
   (``reference = "reference:ADAPTER"``), resolved the same way;
3. the environment variable ``STREAM_CONFORMANCE_POLLER``, holding either form (handy in tox).

Every mistake raises :class:`DiscoveryError` whose message is one paragraph saying what was wrong
and how to fix it.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from conformance.contract import Adapter

__all__ = ["ENTRY_POINT_GROUP", "ENV_VAR", "DiscoveryError", "registered_pollers", "resolve_poller"]

ENTRY_POINT_GROUP = "stream_conformance.pollers"
ENV_VAR = "STREAM_CONFORMANCE_POLLER"


class DiscoveryError(Exception):
    """The poller could not be found; the message says why and what to do."""


def registered_pollers() -> Mapping[str, EntryPoint]:
    """The pollers registered by installed distributions, by name."""
    return {ep.name: ep for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)}


def resolve_poller(spec: str | None = None) -> Adapter:
    """The adapter named by ``spec``, or by ``$STREAM_CONFORMANCE_POLLER`` when ``spec`` is None."""
    if spec is None or not spec.strip():
        spec = os.environ.get(ENV_VAR, "").strip()
        if not spec:
            raise DiscoveryError(
                "no poller was named: pass --poller module:attribute (an Adapter, or a factory "
                "make_poller(context) -> Poller), or the name of a registered poller "
                f"({_known_names()}), or set the environment variable {ENV_VAR} to either form"
            )
    spec = spec.strip()
    if ":" in spec:
        return _from_import_path(spec)
    return _from_entry_point(spec)


def _from_import_path(spec: str) -> Adapter:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise DiscoveryError(
            f"--poller {spec!r} is not of the form module:attribute; write for example "
            "mypackage.testing:make_poller (the module to import, a colon, then the factory or Adapter in it)"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise DiscoveryError(
            f"--poller {spec!r}: the module {module_name!r} could not be imported "
            f"({type(exc).__name__}: {exc}); check the spelling, and that the package is installed "
            "in this environment (pip install -e .) or that its directory is on PYTHONPATH"
        ) from exc
    except Exception as exc:
        raise DiscoveryError(
            f"--poller {spec!r}: importing the module {module_name!r} raised {type(exc).__name__}: {exc}; "
            "the module was found but fails when imported, so fix that error first (run python -c "
            f"'import {module_name}' to see the traceback)"
        ) from exc
    target: Any = module
    for depth, part in enumerate(attribute.split(".")):
        if not hasattr(target, part):
            where = module_name if depth == 0 else f"{module_name}:{'.'.join(attribute.split('.')[:depth])}"
            raise DiscoveryError(
                f"--poller {spec!r}: {where} has no attribute {part!r}; {_candidates(target)}"
            )
        target = getattr(target, part)
    return _as_adapter(target, spec, what=f"--poller {spec!r}")


def _from_entry_point(name: str) -> Adapter:
    registered = registered_pollers()
    if name not in registered:
        raise DiscoveryError(
            f"--poller {name!r} is not a registered poller name (registered: {_known_names()}); "
            "name your own poller as module:attribute (for example mypackage.testing:make_poller), "
            f"or register it in the entry-point group {ENTRY_POINT_GROUP!r} of your package"
        )
    entry = registered[name]
    try:
        target = entry.load()
    except Exception as exc:
        raise DiscoveryError(
            f"the registered poller {name!r} ({entry.value}) could not be loaded "
            f"({type(exc).__name__}: {exc}); reinstall the package that registers it, or name the poller "
            "as module:attribute instead"
        ) from exc
    return _as_adapter(target, name, what=f"the registered poller {name!r} ({entry.value})")


def _as_adapter(target: object, spec: str, *, what: str) -> Adapter:
    if isinstance(target, Adapter):
        return target
    if callable(target):
        return Adapter(name=spec, make_poller=target)
    raise DiscoveryError(
        f"{what} is a {type(target).__name__}, not a poller factory: it must be a "
        "conformance.contract.Adapter, or a callable make_poller(context) -> Poller"
    )


def _candidates(namespace: object) -> str:
    # Offer what could be meant: Adapters, and the functions and classes defined right there.
    home = getattr(namespace, "__name__", None)
    exported = set(getattr(namespace, "__all__", ()))
    names = sorted(
        name
        for name, value in vars(namespace).items()
        if not name.startswith("_")
        and (
            isinstance(value, Adapter)
            or (callable(value) and (name in exported or getattr(value, "__module__", home) == home))
        )
    )
    if not names:
        return "it defines no Adapter and no function or class; point --poller at your factory or Adapter"
    shown = ", ".join(names[:12]) + (", …" if len(names) > 12 else "")
    return f"it defines: {shown}"


def _known_names() -> str:
    names = list(registered_pollers())
    return ", ".join(names) if names else "none are installed"
