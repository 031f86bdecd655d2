"""EVT-K and EVT-D checkers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import History

Records = list[dict[str, Any]]


def test_evtk1_asynchronous_invocation(history: type[History]) -> None:
    h = history("kinesis")
    r = h.put(0)
    h.ok([r], 0, invocation_type="Event")
    (message,) = h.violations("EVT-K-1")
    assert r.label in message and "InvocationType 'Event', not synchronously (RequestResponse)" in message


def test_evtk1_an_event_with_more_than_records(history: type[History]) -> None:
    h = history("kinesis")
    r = h.put(0)
    h.ok([r], 0, event={"Records": [h.event_record(r)], "window": {}})
    (message,) = h.violations("EVT-K-1")
    assert r.label in message and "unexpected top-level key(s) window" in message


def test_evtk2_wrong_and_missing_keys(history: type[History]) -> None:
    h = history("kinesis")
    r = h.put(0)

    def tweak(records: Records) -> None:
        records[0]["eventSource"] = "kinesis"
        del records[0]["invokeIdentityArn"]

    h.ok([r], 0, tweak=tweak)
    (message,) = h.violations("EVT-K-2")
    assert f"record {r.label} in invocation #1" in message
    assert (
        "missing key(s) invokeIdentityArn" in message
        and "eventSource 'kinesis' instead of 'aws:kinesis'" in message
    )


def test_evtk3_data_not_base64_and_arrival_in_milliseconds(history: type[History]) -> None:
    h = history("kinesis")
    r = h.put(0, data=b"hello")

    def tweak(records: Records) -> None:
        records[0]["kinesis"]["data"] = "hello"
        records[0]["kinesis"]["approximateArrivalTimestamp"] *= 1000

    h.ok([r], 0, tweak=tweak)
    (message,) = h.violations("EVT-K-3")
    assert r.label in message and "data 'hello' instead of 'aGVsbG8='" in message
    assert "epoch seconds with a millisecond fraction" in message


def test_evtk3_arrival_as_a_string(history: type[History]) -> None:
    h = history("kinesis")
    r = h.put(0)

    def tweak(records: Records) -> None:
        records[0]["kinesis"]["approximateArrivalTimestamp"] = "2024-03-01T11:59:50.000Z"

    h.ok([r], 0, tweak=tweak)
    (message,) = h.violations("EVT-K-3")
    assert "is not a JSON number" in message


def test_evtk3_a_record_that_is_not_in_the_stream(history: type[History]) -> None:
    h = history("kinesis")
    r = h.put(0)

    def tweak(records: Records) -> None:
        records[0]["kinesis"]["sequenceNumber"] = "123"

    h.ok([r], 0, tweak=tweak)
    (message,) = h.violations("EVT-K-3")
    assert (
        "record #1 of invocation #1" in message
        and "sequenceNumber '123' names no record of the stream" in message
    )


def test_evtk4_event_id_format(history: type[History]) -> None:
    h = history("kinesis")
    r = h.put(0)

    def tweak(records: Records) -> None:
        records[0]["eventID"] = r.sequence_number

    h.ok([r], 0, tweak=tweak)
    (message,) = h.violations("EVT-K-4")
    assert r.label in message and f"instead of '{r.shard_id}:{r.sequence_number}'" in message


def test_evtd1_event_version_and_invoke_identity(history: type[History]) -> None:
    h = history("dynamodb")
    r = h.put(0)

    def tweak(records: Records) -> None:
        records[0]["eventVersion"] = "1.0"
        records[0]["invokeIdentityArn"] = "arn:aws:iam::123456789012:role/x"

    h.ok([r], 0, tweak=tweak)
    (message,) = h.violations("EVT-D-1")
    assert r.label in message and "unexpected key(s) invokeIdentityArn" in message
    assert "eventVersion '1.0' instead of '1.1'" in message


def test_evtd1_the_event_id_changes_between_deliveries(history: type[History]) -> None:
    h = history("dynamodb")
    r = h.put(0)
    h.fail([r], 0)

    def tweak(records: Records) -> None:
        records[0]["eventID"] = "0" * 32

    h.ok([r], 1, tweak=tweak)
    (message,) = h.violations("EVT-D-1")
    assert (
        f"record {r.label} in invocation #2 at +1 s has eventID '{'0' * 32}', but it was delivered" in message
    )


def test_evtd1_not_synchronous(history: type[History]) -> None:
    h = history("dynamodb")
    r = h.put(0)
    h.ok([r], 0, event=[h.event_record(r)])
    messages = h.violations("EVT-D-1")
    assert any('the event is a JSON list, not an object {"Records": [...]}' in m for m in messages)


def test_evtd2_creation_time_as_text_and_binary_not_encoded(history: type[History]) -> None:
    h = history("dynamodb")
    r = h.put(0, data=b"foobar")

    def tweak(records: Records) -> None:
        records[0]["dynamodb"]["ApproximateCreationDateTime"] = "2024-03-01T11:59:50Z"
        records[0]["dynamodb"]["NewImage"]["data"] = {"B": "b'foobar'"}

    h.ok([r], 0, tweak=tweak)
    (message,) = h.violations("EVT-D-2")
    assert r.label in message and "is not a JSON number of epoch seconds" in message
    assert "NewImage.data.B \"b'foobar'\" is not a base64 string" in message


def test_evtd2_untyped_attribute(history: type[History]) -> None:
    h = history("dynamodb")
    r = h.put(0)

    def tweak(records: Records) -> None:
        records[0]["dynamodb"]["Keys"] = {"id": "item-0"}

    h.ok([r], 0, tweak=tweak)
    (message,) = h.violations("EVT-D-2")
    assert "Keys.id is not a typed DynamoDB attribute value" in message
