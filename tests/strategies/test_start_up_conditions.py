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
    """Start-up throttles come only with the early expiry; they are at least 4 calls long here
    (see below), and ordinary throttles at most 3."""
    throttles = world_conditions(scenario).get_records_throttles
    return throttles is not None and throttles.count >= 4


def _windows(gaps: tuple[float, ...], polls: int) -> list[float]:
    """The time ``polls`` consecutive polls take, from each place in the cycle of ``gaps``."""
    return [sum(gaps[(start + k) % len(gaps)] for k in range(polls)) for start in range(len(gaps))]


def _unused_long_enough(scenario: Scenario, polls: int) -> bool:
    """An iterator left unused for ``polls`` polls has expired, wherever in the cycle they fall."""
    lifetime = world_conditions(scenario).iterator_lifetime
    return lifetime is not None and min(_windows(scenario.clock.poll_gaps, polls)) > lifetime


def test_dynamodb_latest_mostly_gets_an_early_expiry_with_its_start_up_reads_throttled() -> None:
    early = [s for s in _variants("LATEST") if _early(s)]
    assert len(early) >= 30, "an early expiry at LATEST should be the rule (10 of 12), not the exception"
    kinds = set()
    for scenario in early:
        throttles = world_conditions(scenario).get_records_throttles
        assert throttles is not None
        kinds.add(throttles.first_call)
        if throttles.first_call == 1:
            # The notes' reads: at most 4, which a note retried at once gets past.
            assert throttles.count == 4
        else:
            # Each shard's first real read, after where the notes would end (1 + 2 reads), in as
            # many polls as the first iterators need to expire.
            assert throttles.first_call == 4 and throttles.count % 2 == 0
            assert _unused_long_enough(scenario, throttles.count // 2)
        # A search that leaves throttles out gets the expiry alone.
        assert world_conditions(scenario, throttles=False).get_records_throttles is None
    assert kinds == {1, 4}


def test_the_note_throttles_outlast_the_first_iterator_when_one_shard_gives_its_note_up() -> None:
    one_shard = [replace(s, shards=s.shards[:1]) for s in _variants("LATEST")]
    notes = []
    for scenario in one_shard:
        world = world_conditions(scenario)
        throttles = world.get_records_throttles
        # The note's throttles: from the first call, 3 or 4 of them (the read, then 2 or 3
        # polls), with the early expiry; ordinary throttles look so in about 1 of 300.
        if throttles and throttles.first_call == 1 and throttles.count >= 3 and world.iterator_lifetime:
            notes.append(scenario)
    # 10 of 12 get the early expiry, half of those the note's throttles.
    assert len(notes) >= 12
    for scenario in notes:
        throttles = world_conditions(scenario).get_records_throttles
        assert throttles is not None
        # The note's read, then the first real read in the polls after: unless a note retried at
        # once could not get past that many (4), the first iterator has expired by then.
        assert throttles.count == 4 or _unused_long_enough(scenario, throttles.count - 1)


def test_dynamodb_trim_horizon_throttles_each_shards_first_read_until_its_iterator_expired() -> None:
    early = [s for s in _variants("TRIM_HORIZON") if _early(s)]
    assert 0 < len(early) < 48
    for scenario in early:
        throttles = world_conditions(scenario).get_records_throttles
        # Notes would read shard 0 once (nothing there at start-up) and shard 1 twice.
        assert throttles is not None and throttles.first_call == 4
        assert _unused_long_enough(scenario, throttles.count // 2)


@settings(profile_settings("ci"), max_examples=300)
@given(scenario=scenarios())
def test_no_iterator_expires_in_ordinary_polling(scenario: Scenario) -> None:
    """Iterators expire across a pause (a gap longer than they live) or when their shard goes
    unread for longer than a round of the shards, never while a poller reads every shard in
    every poll, or one shard per poll (on AWS they live 5 min, polls come every second)."""
    lifetime = scenario.world.iterator_lifetime
    if lifetime is None:
        return
    gaps = scenario.clock.poll_gaps
    shards = len(scenario.shards)
    for start in range(len(gaps)):
        one_round = [gaps[(start + k) % len(gaps)] for k in range(shards)]
        if all(gap < lifetime for gap in one_round):
            assert sum(one_round) < lifetime, (gaps, shards, lifetime)


def test_kinesis_never_gets_the_start_up_conditions() -> None:
    for scenario in _variants("LATEST"):
        throttles = world_conditions(replace(scenario, source=Source.KINESIS)).get_records_throttles
        assert throttles is None or throttles.count <= 3


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
