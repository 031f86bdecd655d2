"""Hypothesis profiles for conformance searches: ``ci``, ``dev`` and ``deep``.

* ``ci``: derandomized (the same examples on every run and machine), no example database, a
  moderate number of examples, no deadline (a scenario runs a whole poller), and the
  reproduction blob printed with every failure.
* ``dev``: random, 100 examples, the local example database, so a failure found once is tried
  first on the next run.
* ``deep``: nightly-sized (2000 examples), random, with the example database, so a failure found
  once replays until it is fixed; the only profile that runs Hypothesis's explain phase (it
  re-runs a failing scenario hundreds of times under a tracer).
* ``mutation``: the ``ci`` settings with 8 examples per rule and no shrinking: one kit run per
  mutant of ``reference/`` (``benchmarks/mutation.py``) only needs to know *whether* a rule fails.

The profiles are registered with Hypothesis under namespaced names (``stream-conformance-ci``
…) so they never replace a project's own ``ci`` or ``dev`` profile. ``load_profile("ci")``
makes one active; ``profile_settings("ci")`` returns it without changing the active profile,
for use as ``@settings(profile_settings("ci"))``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings
from hypothesis.database import DirectoryBasedExampleDatabase

__all__ = [
    "DATABASE_ENV",
    "PROFILES",
    "PROFILE_ENV",
    "UnknownProfileError",
    "default_profile_name",
    "load_default_profile",
    "load_profile",
    "profile_settings",
]

PROFILES: tuple[str, ...] = ("ci", "dev", "deep", "mutation")

PROFILE_ENV = "STREAM_CONFORMANCE_PROFILE"
"""Names the profile to use when set; overrides the CI detection of ``default_profile_name``."""

DATABASE_ENV = "STREAM_CONFORMANCE_DATABASE"
"""Directory of the example database used by ``dev`` and ``deep`` (default
``.hypothesis/examples``, Hypothesis's own default location)."""

_PREFIX = "stream-conformance-"

# A scenario runs a whole poller against a simulated world: slow examples are expected, and a
# scenario with large records legitimately draws much data.
_HEALTH = (HealthCheck.too_slow, HealthCheck.data_too_large)

# The explain phase re-runs a failing scenario hundreds of times under a line tracer, which for
# a whole poller run costs minutes; only the nightly profile spends that.
_QUICK_PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)
_ALL_PHASES = (*_QUICK_PHASES, Phase.explain)


class UnknownProfileError(ValueError):
    """A profile name that is not one of ``PROFILES``."""


def _database() -> DirectoryBasedExampleDatabase:
    return DirectoryBasedExampleDatabase(Path(os.environ.get(DATABASE_ENV, ".hypothesis/examples")))


def _build() -> Mapping[str, settings]:
    ci = settings(
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=40,
        print_blob=True,
        suppress_health_check=_HEALTH,
        phases=_QUICK_PHASES,
    )
    return {
        "ci": ci,
        "dev": settings(
            derandomize=False,
            database=_database(),
            deadline=None,
            max_examples=100,
            print_blob=True,
            suppress_health_check=_HEALTH,
            phases=_QUICK_PHASES,
        ),
        # ci's settings with just enough examples to tell whether a rule fails, and no shrinking.
        "mutation": settings(
            ci,
            max_examples=8,
            print_blob=False,
            phases=(Phase.explicit, Phase.reuse, Phase.generate),
        ),
        "deep": settings(
            derandomize=False,
            database=_database(),
            deadline=None,
            max_examples=2000,
            print_blob=True,
            suppress_health_check=_HEALTH,
            phases=_ALL_PHASES,
        ),
    }


def _register() -> None:
    for name, profile in _build().items():
        settings.register_profile(_PREFIX + name, profile)


_register()


def _check(name: str) -> str:
    if name not in PROFILES:
        raise UnknownProfileError(
            f"unknown Hypothesis profile {name!r}: stream-conformance profiles are "
            f"{', '.join(repr(p) for p in PROFILES)}"
        )
    return name


def profile_settings(name: str) -> settings:
    """The settings of profile ``name`` ("ci", "dev" or "deep"), without activating it."""
    return settings.get_profile(_PREFIX + _check(name))


def load_profile(name: str) -> None:
    """Make profile ``name`` ("ci", "dev" or "deep") Hypothesis's active profile."""
    settings.load_profile(_PREFIX + _check(name))


def default_profile_name(environ: Mapping[str, str] | None = None) -> str:
    """The profile to use when none was asked for: ``$STREAM_CONFORMANCE_PROFILE`` if set, else
    ``ci`` when the ``CI`` environment variable is set (as CI services do), else ``dev``."""
    env = os.environ if environ is None else environ
    chosen = env.get(PROFILE_ENV, "").strip()
    if chosen:
        try:
            return _check(chosen)
        except UnknownProfileError as exc:
            raise UnknownProfileError(f"{PROFILE_ENV}={chosen!r}: {exc}") from None
    ci = env.get("CI", "").strip().lower()
    return "ci" if ci not in ("", "0", "false", "no") else "dev"


def load_default_profile(environ: Mapping[str, str] | None = None) -> str:
    """Load ``default_profile_name(environ)`` and return its name."""
    name = default_profile_name(environ)
    load_profile(name)
    return name
