"""The gallery's pollers that get the world's error paths wrong (``conformance/gallery/_faults.py``)
are caught by their intended rules on a scenario made for each bug, with a message naming the
record, and the reference passes the same rule on it. (``test_gallery.py`` asserts the same
under the ci search.)"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

import pytest

import reference
from conformance.gallery import GALLERY
from conformance.harness import run_scenario
from conformance.rules import check
from conformance.scenario import (
    Behaviour,
    ClockPlan,
    ReadThrottles,
    RecordSpec,
    Scenario,
    ShardSpec,
    Source,
    WorldConditions,
)
from conformance.world import names

START = datetime(2025, 3, 30, 0, 59, 58, 750000, tzinfo=timezone.utc)
RECORD_LABEL = re.compile(r"\b\d+(?:…\d+)? on shardId-[0-9a-f-]+")


def _scenario(
    source: Source,
    world: WorldConditions,
    *,
    poison: int | None = None,
    gaps: tuple[float, ...] = (1.0,),
    arrivals: tuple[float, ...] = (-3.0, -2.0, -1.0),
    **parameters: Any,
) -> Scenario:
    kinesis = source is Source.KINESIS
    shard_id = "shardId-000000000000" if kinesis else "shardId-00000001700000000000-0a1b2c3d"
    base = 49590000000000000000000000 if kinesis else 100000000000000000000
    records = tuple(
        RecordSpec(
            str(base + 7 * (i + 1)),
            f"pk-{i}",
            b"\x00\xff\xfe binary " + bytes([i]),
            arrival,
            Behaviour.POISON if i == poison else Behaviour.OK,
        )
        for i, arrival in enumerate(arrivals)
    )
    return Scenario(
        source=source,
        shards=(ShardSpec(shard_id, records),),
        parameters={"StartingPosition": "TRIM_HORIZON", "BatchSize": 1, **parameters},
        clock=ClockPlan(start=START, poll_gaps=gaps),
        world=world,
    )


SQS = {"DestinationConfig": {"OnFailure": {"Destination": names.QUEUE_ARN}}}
S3 = {"DestinationConfig": {"OnFailure": {"Destination": names.BUCKET_ARN}}}

CASES = {
    "read_throttle_counts_as_retry": (
        "RETRY-6",
        _scenario(
            Source.KINESIS,
            WorldConditions(get_records_throttles=ReadThrottles(2, 2)),
            poison=1,
            MaximumRetryAttempts=2,
            **SQS,
        ),
        "GetRecords call(s) were throttled",
    ),
    # Iterators outlive the 1 s gaps; the 4 s gap of the cycle expires them.
    "expired_iterator_resumes_at_latest": (
        "LOSS-1",
        _scenario(
            Source.KINESIS,
            WorldConditions(iterator_lifetime=2.0),
            gaps=(1.0, 4.0),
            arrivals=(-1.0, 2.0, 8.0),
        ),
        "was lost",
    ),
    # DynamoDB has no AT_TIMESTAMP iterator: after an early expiry only the start-up note says
    # where LATEST began. Iterators live 1.5 s and polls come every 1 s, so an iterator left
    # unused for two polls (its reads throttled) has expired.
    "start_up_note_given_up_when_throttled": (
        "START-3",
        # The note's read and then the first real read in two polls are throttled.
        _scenario(
            Source.DYNAMODB,
            WorldConditions(get_records_throttles=ReadThrottles(1, 3), iterator_lifetime=1.5),
            arrivals=(-3.0, -2.0, 1.5),
            StartingPosition="LATEST",
        ),
        "was never processed",
    ),
    "start_up_note_at_first_record": (
        "START-3",
        # Two note reads (a page, then an empty one); the first real read is throttled twice.
        _scenario(
            Source.DYNAMODB,
            WorldConditions(get_records_throttles=ReadThrottles(3, 2), iterator_lifetime=1.5),
            arrivals=(-3.0, -2.0, -1.0, 2.5),
            StartingPosition="LATEST",
        ),
        "does not read it",
    ),
    "start_up_note_at_trim_horizon": (
        "START-2",
        # Two note reads, so the third read is the first real one, throttled in two polls.
        _scenario(
            Source.DYNAMODB, WorldConditions(get_records_throttles=ReadThrottles(3, 2), iterator_lifetime=1.5)
        ),
        "was never processed",
    ),
    "checkpoint_past_undelivered_discard": (
        "LOSS-1",
        _scenario(
            Source.DYNAMODB, WorldConditions(destination_failures=1), poison=0, MaximumRetryAttempts=0, **S3
        ),
        "without being acknowledged or sent to the on-failure destination",
    ),
    "reads_on_past_undelivered_discard": (
        "LOSS-1",
        # Every record is past its age at the start: one document each, the first one refused twice.
        _scenario(
            Source.KINESIS,
            WorldConditions(destination_failures=2),
            arrivals=(-300.0, -200.0, -100.0),
            MaximumRecordAgeInSeconds=60,
            **SQS,
        ),
        "without being acknowledged or sent to the on-failure destination",
    ),
    "nested_binaries_as_text": (
        "EVT-D-2",
        _scenario(Source.DYNAMODB, WorldConditions(wide_items=True)),
        "NewImage.blobs",
    ),
    "arrival_relabelled_as_utc": (
        "EVT-K-3",
        _scenario(Source.KINESIS, WorldConditions(arrival_utc_offset_minutes=330)),
        "approximateArrivalTimestamp",
    ),
}


def test_every_world_condition_entry_has_a_case() -> None:
    from conformance.gallery import _faults

    assert {item.name for item in _faults.ENTRIES} == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_caught_on_a_scenario_made_for_the_bug(name: str) -> None:
    rule_id, scenario, wording = CASES[name]
    item = GALLERY[name]
    assert item.intended_rule == rule_id

    found = check(rule_id, run_scenario(item.adapter, scenario)).violations
    assert found, f"{name} was not caught by {rule_id}"
    assert wording in found[0].message
    assert RECORD_LABEL.search(found[0].message), found[0].message

    on_reference = check(rule_id, run_scenario(reference.ADAPTER, scenario))
    assert on_reference.exercised > 0
    assert on_reference.violations == ()


def test_the_same_scenarios_without_the_condition_do_not_catch_them() -> None:
    """Each bug lives on the error path the condition opens: in a world that never fails the
    broken poller passes too (so the catch above is the condition's doing)."""
    for name, (rule_id, scenario, _) in CASES.items():
        plain = Scenario(
            source=scenario.source,
            shards=scenario.shards,
            parameters=scenario.parameters,
            clock=scenario.clock,
        )
        assert check(rule_id, run_scenario(GALLERY[name].adapter, plain)).violations == (), name
