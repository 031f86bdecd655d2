"""Running a gallery entry through the kit: the meta-test's one step.

``check_entry`` searches the entry's intended rule exactly as ``stream-conformance run --rule``
does (the runner's ``run_rule``, the memory world, a kit profile) and returns the rule's result.
A caught bug is a ``fail`` verdict whose message names the offending record.

Shrinking a counterexample costs far more than finding it (hundreds of runs against a few), and
it does not change *whether* a bug is caught: ``shrink=False`` searches with the same profile
(the same examples, in the same order) and stops at the first failure.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import Phase, settings

from conformance.gallery._base import GalleryPoller
from conformance.runner import RuleResult, RunOptions, resolve_profile, run_rule, select_rules

__all__ = ["check_entry", "profile_without_shrinking"]


def profile_without_shrinking(profile: str) -> str:
    """The name of a Hypothesis profile that is ``profile`` (a kit profile such as ``ci``) with
    the shrink phase left out; registered on first use."""
    name = f"stream-conformance-{profile}-noshrink"
    try:
        settings.get_profile(name)
    except Exception:
        base = resolve_profile(profile)
        phases = [phase for phase in base.phases if phase is not Phase.shrink]
        settings.register_profile(name, settings(base, phases=phases))
    return name


def check_entry(
    item: GalleryPoller,
    *,
    results_dir: Path,
    profile: str = "ci",
    seed: int | None = None,
    shrink: bool = True,
    world: str = "memory",
) -> RuleResult:
    """Run the kit's search for ``item.intended_rule`` against ``item``'s poller. Failure files go
    under ``results_dir``."""
    (rule,) = select_rules([item.intended_rule])
    options = RunOptions(
        poller_spec=f"conformance.gallery:{item.name}",
        world=world,
        profile=profile if shrink else profile_without_shrinking(profile),
        seed=seed,
        results_dir=results_dir,
    )
    return run_rule(rule, item.adapter, options)
