"""World conditions in the scenario's JSON form: format 2, additive (format 1 files still load,
scenarios without conditions are still written as format 1), and precise errors for bad values."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings

from conformance.profiles import profile_settings
from conformance.scenario import (
    FORMAT_VERSION,
    ReadThrottles,
    Scenario,
    ScenarioFormatError,
    WorldConditions,
)
from conformance.strategies import scenarios

FORMAT_1: dict[str, Any] = {
    "format": 1,
    "source": "kinesis",
    "parameters": {"StartingPosition": "TRIM_HORIZON"},
    "clock": {"start": "2024-02-29T23:59:30.250Z", "poll_gaps": [1.0]},
    "shards": [
        {
            "shard_id": "shardId-000000000000",
            "records": [{"sequence_number": "1", "partition_key": "k", "data": "aGVsbG8=", "arrival": 0}],
        }
    ],
}

CONDITIONS = {
    "get_records_throttles": {"first_call": 3, "count": 2},
    "iterator_lifetime": 30.0,
    "destination_failures": 2,
    "wide_items": True,
    "arrival_utc_offset_minutes": 330,
}


def _with_world(world: Any, version: int = 2) -> dict[str, Any]:
    doc = copy.deepcopy(FORMAT_1)
    doc["format"] = version
    doc["world"] = world
    return doc


def test_a_format_1_file_loads_with_no_conditions() -> None:
    scenario = Scenario.from_json(FORMAT_1)
    assert scenario.world == WorldConditions()
    assert scenario.world.is_default
    # ... and is written back as format 1, without a "world" object: older kits still read it.
    assert scenario.to_json()["format"] == 1
    assert "world" not in scenario.to_json()


def test_conditions_round_trip_in_format_2() -> None:
    scenario = Scenario.from_json(_with_world(CONDITIONS))
    assert scenario.world == WorldConditions(
        get_records_throttles=ReadThrottles(first_call=3, count=2),
        iterator_lifetime=30.0,
        destination_failures=2,
        wide_items=True,
        arrival_utc_offset_minutes=330,
    )
    out = scenario.to_json()
    assert out["format"] == FORMAT_VERSION == 2
    assert out["world"] == CONDITIONS
    assert Scenario.loads(scenario.dumps()) == scenario


def test_only_the_conditions_set_are_written() -> None:
    scenario = Scenario.from_json(_with_world({"iterator_lifetime": 5}))
    assert scenario.world.iterator_lifetime == 5.0
    assert scenario.to_json()["world"] == {"iterator_lifetime": 5.0}


def test_read_throttles_cover_their_window() -> None:
    window = ReadThrottles(first_call=3, count=2)
    assert [n for n in range(1, 8) if window.covers(n)] == [3, 4]


@pytest.mark.parametrize(
    ("world", "version", "message"),
    [
        (
            CONDITIONS,
            1,
            "scenario.world: world conditions need scenario format 2, but the file says format 1",
        ),
        ([], 2, "scenario.world must be a JSON object, found []"),
        ({"throttle": 1}, 2, "scenario.world: unknown field(s) 'throttle'; the known fields are"),
        (
            {"get_records_throttles": 3},
            2,
            "scenario.world.get_records_throttles must be an object like",
        ),
        (
            {"get_records_throttles": {"first_call": 0, "count": 1}},
            2,
            "scenario.world: 'get_records_throttles.first_call' must be an integer >= 1",
        ),
        (
            {"get_records_throttles": {"first_call": 1}},
            2,
            "scenario.world.get_records_throttles: the field 'count' is missing",
        ),
        (
            {"get_records_throttles": {"first_call": 1, "count": 0}},
            2,
            "'get_records_throttles.count' must be an integer >= 1, found 0",
        ),
        ({"iterator_lifetime": 0}, 2, "'iterator_lifetime' must be a positive number of seconds"),
        ({"iterator_lifetime": "300"}, 2, "'iterator_lifetime' must be a positive number of seconds"),
        ({"destination_failures": -1}, 2, "'destination_failures' must be a non-negative integer, found -1"),
        ({"destination_failures": True}, 2, "'destination_failures' must be a non-negative integer"),
        ({"wide_items": "yes"}, 2, "'wide_items' must be true or false, found 'yes'"),
        (
            {"arrival_utc_offset_minutes": 1440},
            2,
            "'arrival_utc_offset_minutes' must be an integer from -1439 to 1439 (330 is UTC+05:30), "
            "found 1440",
        ),
        ({"arrival_utc_offset_minutes": 5.5}, 2, "'arrival_utc_offset_minutes' must be an integer"),
    ],
)
def test_bad_conditions_are_refused_precisely(world: Any, version: int, message: str) -> None:
    with pytest.raises(ScenarioFormatError) as error:
        Scenario.from_json(_with_world(world, version))
    assert message in str(error.value)


def test_a_newer_format_is_refused_naming_what_is_read() -> None:
    doc = copy.deepcopy(FORMAT_1)
    doc["format"] = 3
    with pytest.raises(ScenarioFormatError, match=r"which reads format 2 \(and older: 1, 2\)"):
        Scenario.from_json(doc)


def test_conditions_built_in_code_are_checked_too() -> None:
    with pytest.raises(ScenarioFormatError, match="'iterator_lifetime' must be a positive number"):
        WorldConditions(iterator_lifetime=-1.0)


@settings(profile_settings("ci"), max_examples=200)
@given(scenario=scenarios())
def test_drawn_conditions_survive_the_json_form(scenario: Scenario) -> None:
    again = Scenario.loads(json.dumps(scenario.to_json()))
    assert again.world == scenario.world
    assert again.to_json()["format"] == (1 if scenario.world.is_default else 2)
    lifetime = scenario.world.iterator_lifetime
    if lifetime is not None:
        # Outlives the shortest poll gap: it expires only across a pause or an unread shard.
        assert lifetime > min(scenario.clock.poll_gaps)
    if scenario.world.destination_failures:
        assert scenario.destination_arn is not None
    if scenario.world.wide_items:
        assert scenario.source.value == "dynamodb"


def test_every_condition_is_drawn_under_the_ci_profile() -> None:
    seen: set[str] = set()

    @settings(profile_settings("ci"), max_examples=80)
    @given(scenario=scenarios())
    def collect(scenario: Scenario) -> None:
        seen.update(scenario.world.to_json())

    collect()
    assert seen == set(CONDITIONS)
