"""The conditions that reach DynamoDB's start-up paths and the long PBF-5 response: derived from
the scenario (no extra draw), and met by the ci searches of the rules that judge them."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings

from conformance.profiles import profile_settings
from conformance.scenario import (
    INVALID_FORMS,
    Behaviour,
    ClockPlan,
    ReadThrottles,
    RecordSpec,
    Scenario,
    ShardSpec,
    Source,
)
from conformance.strategies import scenarios, world_conditions

START = datetime(2025, 1, 1, tzinfo=timezone.utc)


def _dynamodb(position: str, *, start: datetime = START) -> Scenario:
    shards = (
        ShardSpec(
            "shardId-00000001700000000000-0a1b2c3d", (RecordSpec("100", "k", b"a", 1.0, Behaviour.OK),)
        ),
        ShardSpec(
            "shardId-00000001700000000001-0a1b2c3d",
            (
                RecordSpec("200", "k", b"b", -2.0, Behaviour.OK),
                RecordSpec("300", "k", b"c", -1.0, Behaviour.OK),
            ),
        ),
    )
    return Scenario(
        source=Source.DYNAMODB,
        shards=shards,
        parameters={"StartingPosition": position},
        clock=ClockPlan(start=start, poll_gaps=(0.8, 0.3, 1.2)),
    )


def _variants(position: str) -> list[Scenario]:
    """The same scenario at 48 start instants: the conditions follow each one's fingerprint."""
    return [_dynamodb(position, start=START + timedelta(seconds=n)) for n in range(48)]


def _early(scenario: Scenario) -> bool:
    lifetime = world_conditions(scenario).iterator_lifetime
    return lifetime is not None and lifetime < min(scenario.clock.poll_gaps)


def test_dynamodb_latest_mostly_gets_an_early_expiry_with_its_start_up_reads_throttled() -> None:
    early = [s for s in _variants("LATEST") if _early(s)]
    assert len(early) >= 30, "an early expiry at LATEST should be the rule (10 of 12), not the exception"
    for scenario in early:
        world = world_conditions(scenario)
        assert world.iterator_lifetime == 0.15  # half the shortest gap: no iterator outlives a poll gap
        throttles = world.get_records_throttles
        assert throttles is not None and throttles.first_call == 1 and 1 <= throttles.count <= 3
        # A search that leaves throttles out gets the expiry alone.
        assert world_conditions(scenario, throttles=False).get_records_throttles is None


def test_dynamodb_trim_horizon_throttles_each_shards_first_read_after_where_notes_would_end() -> None:
    early = [s for s in _variants("TRIM_HORIZON") if _early(s)]
    assert 0 < len(early) < 48
    for scenario in early:
        # Notes would read shard 0 once (nothing there at start-up) and shard 1 twice.
        assert world_conditions(scenario).get_records_throttles == ReadThrottles(4, 2)


def test_kinesis_never_gets_the_start_up_conditions() -> None:
    for scenario in _variants("LATEST"):
        kinesis = replace(scenario, source=Source.KINESIS)
        world = world_conditions(kinesis)
        # Only the ordinary lifetime: 30..90 % of the longest gap (1.2 s), never half the shortest.
        assert world.iterator_lifetime is None or world.iterator_lifetime >= 0.36


def test_an_invalid_form_is_longer_than_a_short_summary() -> None:
    # A poller's error text about the response must cope with long entries (PBF-5 still holds).
    entry = INVALID_FORMS["event_id_identifier"]["batchItemFailures"][0]
    assert len(json.dumps(entry)) > 80
    assert not str(entry["itemIdentifier"]).isdigit(), "it must never equal a sequence number"


def test_the_long_invalid_form_is_drawn_under_the_ci_profile() -> None:
    forms: set[str] = set()

    @settings(profile_settings("ci"), max_examples=60)
    @given(scenario=scenarios(report_batch_item_failures=True, failures=True))
    def collect(scenario: Scenario) -> None:
        forms.update(r.form for s in scenario.shards for r in s.records if r.behaviour is Behaviour.INVALID)

    collect()
    assert "event_id_identifier" in forms
