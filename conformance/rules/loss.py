"""LOSS-1 and LIVE-1: every record is accounted for, and the run finished.

LOSS-1: every record ends acknowledged, described in a destination document, or (only with no
destination configured) skipped after being discarded per the spec: its retries were used up or
it was too old.
LIVE-1: the run settled within its budget.
"""

from __future__ import annotations

from conformance.observation import RunStatus
from conformance.rules.analysis import Analysis, Fate, seconds
from conformance.rules.common import Findings, checker, may_have_expired_unsent

__all__: list[str] = []


def _age_excuses(an: Analysis, fate: Fate) -> bool:
    """Whether the record may have been too old by the time it had to be handled."""
    discard = fate.discard
    if discard is None:
        return False
    if fate.sends:
        return an.possibly_expired(fate.record, discard.at)
    return may_have_expired_unsent(an, fate, discard.at)


@checker("LOSS-1")
def no_loss(an: Analysis, out: Findings) -> None:
    """No record is lost."""
    destination = an.settings.destination_arn
    quota = an.settings.quota
    for fate in an.all_fates():
        if not fate.in_scope:
            continue
        if fate.acked_by is not None:
            out.exercise()
            continue
        discard = fate.discard
        if discard is None:
            continue  # still pending: LIVE-1
        out.exercise()
        if discard.how == "document":
            continue
        when = (
            f"skipped at {seconds(discard.at)}"
            if discard.how == "skipped"
            else "left unprocessed when the run settled"
        )
        if destination is not None:
            out.violate(
                f"record {fate.label} was lost: {when} without being acknowledged or sent to the on-failure "
                f"destination {destination}"
            )
            continue
        failed = fate.failed_deliveries > 0 and quota is not None
        if failed or _age_excuses(an, fate):
            continue
        reason = (
            "it never reached the function"
            if not fate.reached
            else "it had not used up its retries (MaximumRetryAttempts -1)"
            if fate.failed_deliveries
            else "it never failed"
        )
        out.violate(
            f"record {fate.label} was lost: {when} without being acknowledged, although {reason} and it "
            "was not too old to process"
        )


@checker("LIVE-1")
def settled(an: Analysis, out: Findings) -> None:
    """The run settled within its step and virtual-time budget."""
    status = an.observation.status
    if status is RunStatus.INCONCLUSIVE:
        return
    out.exercise()
    if status is RunStatus.LIVENESS:
        pending = next(
            (f for f in an.all_fates() if f.in_scope and f.acked_by is None and f.discard is None), None
        )
        which = f"; record {pending.label} was still unresolved" if pending is not None else ""
        out.violate(f"{an.observation.reason}{which}")
