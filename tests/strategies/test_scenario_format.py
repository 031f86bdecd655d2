"""Loading a scenario file: every malformed input gets a message that says what and where."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from conformance.scenario import FORMAT_VERSION, Scenario, ScenarioFormatError
from conformance.strategies import scenarios

GOOD: dict[str, Any] = {
    "format": FORMAT_VERSION,
    "source": "kinesis",
    "parameters": {"StartingPosition": "TRIM_HORIZON", "MaximumRetryAttempts": 0},
    "success_form": "null",
    "clock": {"start": "2024-02-29T23:59:30.250Z", "poll_gaps": [1.0, 0.5]},
    "shards": [
        {
            "shard_id": "shardId-000000000000",
            "records": [
                {
                    "sequence_number": "4959000000000000000000000000000000000000000000000000001",
                    "partition_key": "pk-0",
                    "data": "aGVsbG8=",
                    "arrival": -1.5,
                    "behaviour": "invalid",
                    "form": "empty_identifier",
                },
                {
                    "sequence_number": "10000000000000000000000000000000000000000000000000000002",
                    "partition_key": "pk-1",
                    "data": "e30=",
                    "arrival": 2,
                    "behaviour": "transient",
                    "times": 2,
                },
            ],
        }
    ],
}


def broken(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    doc = copy.deepcopy(GOOD)
    change(doc)
    return doc


def record(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["shards"][0]["records"][0]  # type: ignore[no-any-return]


def test_the_good_document_loads() -> None:
    s = Scenario.from_json(GOOD)
    assert s.shards[0].records[0].data == b"hello"
    assert s.shards[0].records[1].arrival == 2.0 and s.shards[0].records[1].times == 2
    assert s.clock.start.isoformat() == "2024-02-29T23:59:30.250000+00:00"
    assert Scenario.from_json(s.to_json()) == s


def test_a_failure_file_holding_the_scenario_loads() -> None:
    assert Scenario.from_json({"rule": "ORD-2", "scenario": GOOD}) == Scenario.from_json(GOOD)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{not json",
            "the scenario is not valid JSON (Expecting property name enclosed in double quotes at line 1",
        ),
        ("", "the scenario is not valid JSON"),
        ("[1, 2]", "a scenario must be a JSON object, found list"),
        ('"scenario"', "a scenario must be a JSON object, found str"),
    ],
)
def test_text_that_is_not_a_scenario_object(text: str, message: str) -> None:
    with pytest.raises(ScenarioFormatError) as error:
        Scenario.loads(text)
    assert message in str(error.value)


CASES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    (
        "newer format",
        lambda d: d.update(format=FORMAT_VERSION + 1),
        f"scenario format {FORMAT_VERSION + 1} is not understood by this version of stream-conformance, "
        f"which reads format {FORMAT_VERSION}",
    ),
    ("format as text", lambda d: d.update(format="1"), "scenario: 'format' must be int, found '1'"),
    ("no format", lambda d: d.pop("format"), "scenario: the field 'format' is missing"),
    ("no source", lambda d: d.pop("source"), "scenario: the field 'source' is missing"),
    (
        "unknown source",
        lambda d: d.update(source="sqs"),
        "'source' must be 'kinesis' or 'dynamodb', found 'sqs'",
    ),
    ("no parameters", lambda d: d.pop("parameters"), "scenario: the field 'parameters' is missing"),
    (
        "parameters list",
        lambda d: d.update(parameters=[]),
        "scenario: 'parameters' must be Mapping, found []",
    ),
    ("bad success form", lambda d: d.update(success_form="ok"), "'success_form' must be one of"),
    ("no clock", lambda d: d.pop("clock"), "scenario: the field 'clock' is missing"),
    ("no start", lambda d: d["clock"].pop("start"), "scenario.clock: the field 'start' is missing"),
    (
        "bad start",
        lambda d: d["clock"].update(start="yesterday"),
        "scenario.clock: 'start' must be an ISO-8601 instant such as '2024-02-29T23:59:59.500Z', "
        "found 'yesterday'",
    ),
    (
        "no gaps",
        lambda d: d["clock"].update(poll_gaps=[]),
        "'poll_gaps' must be a non-empty list of non-negative",
    ),
    ("negative gap", lambda d: d["clock"].update(poll_gaps=[1, -1]), "found [1, -1]"),
    ("no shards", lambda d: d.update(shards=[]), "scenario: 'shards' must list at least one shard"),
    ("missing shards", lambda d: d.pop("shards"), "scenario: the field 'shards' is missing"),
    ("shard not object", lambda d: d.update(shards=["x"]), "scenario.shards[0] must be a JSON object"),
    (
        "no shard id",
        lambda d: d["shards"][0].pop("shard_id"),
        "scenario.shards[0]: the field 'shard_id' is missing",
    ),
    (
        "no sequence number",
        lambda d: record(d).pop("sequence_number"),
        "scenario.shards[0].records[0]: the field 'sequence_number' is missing",
    ),
    (
        "hex sequence number",
        lambda d: record(d).update(sequence_number="49a"),
        "scenario.shards[0].records[0]: 'sequence_number' must be a decimal string, found '49a'",
    ),
    (
        "numeric sequence number",
        lambda d: record(d).update(sequence_number=4959),
        "scenario.shards[0].records[0]: 'sequence_number' must be str, found 4959",
    ),
    (
        "bad behaviour",
        lambda d: record(d).update(behaviour="flaky"),
        "'behaviour' must be one of ['ok', 'poison'",
    ),
    ("invalid without form", lambda d: record(d).pop("form"), "'form' must be one of"),
    (
        "bad base64",
        lambda d: record(d).update(data="###"),
        "scenario.shards[0].records[0]: 'data' must be standard base64",
    ),
    (
        "arrival as text",
        lambda d: record(d).update(arrival="soon"),
        "'arrival' must be int or float, found 'soon'",
    ),
    (
        "negative times",
        lambda d: record(d).update(times=-1),
        "'times' must be a non-negative integer, found -1",
    ),
    ("no partition key", lambda d: record(d).pop("partition_key"), "the field 'partition_key' is missing"),
]


@pytest.mark.parametrize(("change", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_problem_is_named_precisely(change: Callable[[dict[str, Any]], None], message: str) -> None:
    with pytest.raises(ScenarioFormatError) as error:
        Scenario.from_json(broken(change))
    assert message in str(error.value)
    with pytest.raises(ScenarioFormatError):  # the same through the text form
        Scenario.loads(json.dumps(broken(change)))


@settings(
    max_examples=20,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.generate],
)
@given(scenarios())
def test_dropping_any_required_field_of_a_generated_scenario_is_reported(s: Scenario) -> None:
    doc = s.to_json()
    for field in ("format", "source", "parameters", "clock", "shards"):
        partial = {k: v for k, v in doc.items() if k != field}
        with pytest.raises(ScenarioFormatError, match=f"the field '{field}' is missing"):
            Scenario.from_json(partial)
