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
    """Start-up throttles come only with the early expiry; here they are 4 calls long (see
    below), and ordinary throttles at most 3."""
    throttles = world_conditions(scenario).get_records_throttles
    return throttles is not None and throttles.count == 4


def _outlives_one_gap_but_not_two(scenario: Scenario) -> bool:
    lifetime = world_conditions(scenario).iterator_lifetime
    shortest = min(scenario.clock.poll_gaps)
    return lifetime is not None and shortest < lifetime < 2 * shortest


def test_dynamodb_latest_mostly_gets_an_early_expiry_with_its_start_up_reads_throttled() -> None:
    early = [s for s in _variants("LATEST") if _early(s)]
    assert len(early) >= 30, "an early expiry at LATEST should be the rule (10 of 12), not the exception"
    kinds = set()
    for scenario in early:
        world = world_conditions(scenario)
        assert _outlives_one_gap_but_not_two(scenario)
        throttles = world.get_records_throttles
        assert throttles is not None
        # Either the notes' reads (at most 4: a note retried at once gets past them), or each
        # shard's first real read in two polls, after where the notes would end (1 + 2 reads).
        assert throttles in (ReadThrottles(1, 4), ReadThrottles(4, 4)), throttles
        kinds.add(throttles.first_call)
        # A search that leaves throttles out gets the expiry alone.
        assert world_conditions(scenario, throttles=False).get_records_throttles is None
    assert kinds == {1, 4}


def test_the_note_throttles_span_two_polls_when_one_shard_gives_its_note_up() -> None:
    one_shard = [replace(s, shards=s.shards[:1]) for s in _variants("LATEST")]
    # The note's read, then the first real read in two polls: 1 + 2.
    throttles = [world_conditions(s).get_records_throttles for s in one_shard]
    # 10 of 12 get the early expiry, half of those the note's throttles: about 20 of 48 (ordinary
    # throttles are (1, 3) in about 1 of 48).
    assert throttles.count(ReadThrottles(1, 3)) >= 12


def test_dynamodb_trim_horizon_throttles_each_shards_first_read_in_two_polls() -> None:
    early = [s for s in _variants("TRIM_HORIZON") if _early(s)]
    assert 0 < len(early) < 48
    for scenario in early:
        assert _outlives_one_gap_but_not_two(scenario)
        # Notes would read shard 0 once (nothing there at start-up) and shard 1 twice.
        assert world_conditions(scenario).get_records_throttles == ReadThrottles(4, 4)


def test_every_lifetime_outlives_the_shortest_gap() -> None:
    """Iterators expire across a long gap or a poll that leaves their shard unread, never
    between two polls one short gap apart (on AWS they live 5 min, polls come every second)."""
    for position in ("LATEST", "TRIM_HORIZON"):
        for scenario in _variants(position):
            for source in Source:
                lifetime = world_conditions(replace(scenario, source=source)).iterator_lifetime
                if lifetime is not None:
                    assert min(scenario.clock.poll_gaps) < lifetime < max(scenario.clock.poll_gaps), lifetime


def test_kinesis_never_gets_the_start_up_conditions() -> None:
    for scenario in _variants("LATEST"):
        world = world_conditions(replace(scenario, source=Source.KINESIS))
        throttles = world.get_records_throttles
        assert throttles is None or throttles not in (ReadThrottles(1, 4), ReadThrottles(4, 4))


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
