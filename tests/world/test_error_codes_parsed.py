"""Error codes come out of the worlds as botocore hands them out: parsed from a response, so equal
to the code's name but never the very object of a string literal. A poller that compares codes
with ``is`` then fails here as it would against AWS, instead of passing by CPython's interning."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError

import reference
from conformance.contract import Adapter
from conformance.gallery._base import VariantPoller
from conformance.harness import run_scenario
from conformance.observation import RunStatus
from conformance.scenario import (
    Behaviour,
    ClockPlan,
    RecordSpec,
    Scenario,
    ShardSpec,
    Source,
    WorldConditions,
)
from conformance.world._service import service_support
from reference.events import PolledRecord
from reference.source import ShardReader

EXPIRED = "ExpiredIteratorException"


def test_a_world_error_code_equals_its_name_but_is_not_the_literal() -> None:
    error = service_support("kinesis").error("GetRecords", EXPIRED, "Iterator expired.")
    code = error.response["Error"]["Code"]
    assert code == EXPIRED
    assert code is not EXPIRED
    assert isinstance(error, ClientError)


class _IdentityReader(ShardReader):
    """Renews an expired iterator, but recognises the error by identity (the bug)."""

    def read(self) -> list[PolledRecord]:
        if self.ended:
            return []
        if self._iterator is None:
            self._iterator = self._resume_iterator()
        try:
            raw, following = self._source.read(self._iterator or "")
        except ClientError as error:
            code: Any = error.response.get("Error", {}).get("Code")
            if code is EXPIRED:
                self._iterator = None
                return []
            raise
        self._iterator = following
        records = [self._source.record(r, self.shard_id) for r in raw]
        if records:
            self._last_sequence = records[-1].sequence_number
        return records


class _IdentityPoller(VariantPoller):
    reader = _IdentityReader


def _expiring_scenario() -> Scenario:
    records = tuple(
        RecordSpec(str(49590000000000000000000000 + 7 * (i + 1)), f"pk-{i}", b"x", arrival, Behaviour.OK)
        for i, arrival in enumerate((-1.0, 2.5, 4.5))
    )
    return Scenario(
        source=Source.KINESIS,
        shards=(ShardSpec("shardId-000000000000", records),),
        parameters={"StartingPosition": "TRIM_HORIZON", "BatchSize": 1},
        clock=ClockPlan(start=datetime(2025, 5, 1, tzinfo=timezone.utc), poll_gaps=(1.0,)),
        world=WorldConditions(iterator_lifetime=0.5),  # every iterator has expired by the next poll
    )


def test_a_poller_comparing_codes_with_is_raises_on_an_expired_iterator() -> None:
    adapter = Adapter(
        name="identity-codes", make_poller=_IdentityPoller, capabilities=reference.ADAPTER.capabilities
    )
    observation = run_scenario(adapter, _expiring_scenario())
    assert observation.status is RunStatus.INCONCLUSIVE
    assert EXPIRED in observation.reason


def test_the_reference_renews_the_same_expired_iterators() -> None:
    observation = run_scenario(reference.ADAPTER, _expiring_scenario())
    assert observation.status is RunStatus.COMPLETED
    expired = [c for c in observation.trace.calls if c.error_code == EXPIRED]
    assert expired, "the scenario must make iterators expire"
