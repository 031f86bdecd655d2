"""EVT-K, EVT-D: the invocation event the function receives (SPEC §3).

The per-record validators are also used for S3 objects' ``payload`` (S3-1), which holds records
exactly as they were, or would have been, sent.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from conformance.items import encoded_image, item_image, same_attribute
from conformance.rules.analysis import Analysis, InvocationView, Sent
from conformance.rules.common import Findings, checker, view_subject
from conformance.trace import StreamRecord

__all__ = [
    "dynamodb_envelope_problems",
    "dynamodb_stream_record_problems",
    "kinesis_data_problems",
    "kinesis_envelope_problems",
    "kinesis_id_problems",
]

_K_KEYS = frozenset(
    {
        "kinesis",
        "eventSource",
        "eventVersion",
        "eventID",
        "eventName",
        "invokeIdentityArn",
        "awsRegion",
        "eventSourceARN",
    }
)
_K_INNER_KEYS = frozenset(
    {"kinesisSchemaVersion", "partitionKey", "sequenceNumber", "data", "approximateArrivalTimestamp"}
)
_D_KEYS = frozenset(
    {"eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb", "eventSourceARN"}
)
_D_OPTIONAL = frozenset({"userIdentity"})
_D_INNER_KEYS = frozenset(
    {"ApproximateCreationDateTime", "Keys", "SequenceNumber", "SizeBytes", "StreamViewType"}
)
_D_IMAGES = frozenset({"NewImage", "OldImage"})
_VIEW_TYPES = frozenset({"KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"})
_EVENT_NAMES = frozenset({"INSERT", "MODIFY", "REMOVE"})
_ATTRIBUTE_TAGS = frozenset({"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"})


def _keys(
    value: Mapping[str, Any], required: frozenset[str], optional: frozenset[str] = frozenset()
) -> list[str]:
    problems = []
    missing = sorted(required - set(value))
    extra = sorted(set(value) - required - optional)
    if missing:
        problems.append(f"missing key(s) {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected key(s) {', '.join(extra)}")
    return problems


def _expect(value: Mapping[str, Any], key: str, expected: Any) -> list[str]:
    if key in value and value[key] != expected:
        return [f"{key} {value[key]!r} instead of {expected!r}"]
    return []


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# ---- Kinesis -----------------------------------------------------------------------------------


def kinesis_envelope_problems(raw: Any, an: Analysis) -> list[str]:
    """EVT-K-2: the record's keys and fixed values."""
    if not isinstance(raw, Mapping):
        return [f"the record is not a JSON object but {type(raw).__name__}"]
    observation = an.observation
    problems = _keys(raw, _K_KEYS)
    problems += _expect(raw, "eventSource", "aws:kinesis")
    problems += _expect(raw, "eventVersion", "1.0")
    problems += _expect(raw, "eventName", "aws:kinesis:record")
    problems += _expect(raw, "invokeIdentityArn", observation.execution_role_arn)
    problems += _expect(raw, "awsRegion", observation.region)
    problems += _expect(raw, "eventSourceARN", observation.event_source_arn)
    if "kinesis" in raw and not isinstance(raw["kinesis"], Mapping):
        problems.append("kinesis is not an object")
    if "eventID" in raw and not isinstance(raw["eventID"], str):
        problems.append("eventID is not a string")
    return problems


def kinesis_data_problems(raw: Any, record: StreamRecord | None) -> list[str]:
    """EVT-K-3: the ``kinesis`` object, compared with the realised stream record."""
    inner = raw.get("kinesis") if isinstance(raw, Mapping) else None
    if not isinstance(inner, Mapping):
        return ["there is no kinesis object"]
    problems = _keys(inner, _K_INNER_KEYS)
    problems += _expect(inner, "kinesisSchemaVersion", "1.0")
    if record is None:
        number = inner.get("sequenceNumber")
        return [*problems, f"sequenceNumber {number!r} names no record of the stream"]
    problems += _expect(inner, "sequenceNumber", record.sequence_number)
    problems += _expect(inner, "partitionKey", record.partition_key)
    problems += _expect(inner, "data", _b64(record.data))
    if "approximateArrivalTimestamp" in inner:
        value = inner["approximateArrivalTimestamp"]
        arrival = record.arrival.timestamp()
        if not _is_number(value):
            problems.append(f"approximateArrivalTimestamp {value!r} is not a JSON number")
        elif abs(float(value) - arrival) > 0.0015:
            problems.append(
                f"approximateArrivalTimestamp {value!r} instead of {round(arrival, 3)!r} "
                "(epoch seconds with a millisecond fraction)"
            )
    return problems


def kinesis_id_problems(raw: Any, record: StreamRecord | None) -> list[str]:
    """EVT-K-4: ``eventID`` is ``<shardId>:<sequenceNumber>``."""
    if record is None or not isinstance(raw, Mapping) or "eventID" not in raw:
        return []
    expected = f"{record.shard_id}:{record.sequence_number}"
    return [] if raw["eventID"] == expected else [f"eventID {raw['eventID']!r} instead of {expected!r}"]


# ---- DynamoDB Streams ----------------------------------------------------------------------------


def dynamodb_envelope_problems(raw: Any, an: Analysis) -> list[str]:
    """EVT-D-1: the record's keys and fixed values."""
    if not isinstance(raw, Mapping):
        return [f"the record is not a JSON object but {type(raw).__name__}"]
    observation = an.observation
    problems = _keys(raw, _D_KEYS, _D_OPTIONAL)
    event_id = raw.get("eventID")
    if "eventID" in raw and (not isinstance(event_id, str) or not event_id):
        problems.append(f"eventID {event_id!r} is not a non-empty string")
    if "eventName" in raw and raw["eventName"] not in _EVENT_NAMES:
        problems.append(f"eventName {raw['eventName']!r} is not INSERT, MODIFY or REMOVE")
    problems += _expect(raw, "eventVersion", "1.1")
    problems += _expect(raw, "eventSource", "aws:dynamodb")
    problems += _expect(raw, "awsRegion", observation.region)
    problems += _expect(raw, "eventSourceARN", observation.event_source_arn)
    if "dynamodb" in raw and not isinstance(raw["dynamodb"], Mapping):
        problems.append("dynamodb is not an object")
    return problems


def dynamodb_stream_record_problems(
    raw: Any, record: StreamRecord | None, *, wide_items: bool = False
) -> list[str]:
    """EVT-D-2: the ``dynamodb`` object, compared with the realised stream record. With
    ``wide_items`` (the scenario's world wrote every attribute type), the whole NewImage is
    compared with the item written, every binary value base64 again wherever it sits."""
    inner = raw.get("dynamodb") if isinstance(raw, Mapping) else None
    if not isinstance(inner, Mapping):
        return ["there is no dynamodb object"]
    problems = _keys(inner, _D_INNER_KEYS, _D_IMAGES)
    view_type = inner.get("StreamViewType")
    if "StreamViewType" in inner and view_type not in _VIEW_TYPES:
        problems.append(f"StreamViewType {view_type!r} is not one of {', '.join(sorted(_VIEW_TYPES))}")
    if view_type != "KEYS_ONLY" and not _D_IMAGES & set(inner):
        problems.append("neither NewImage nor OldImage is present")
    if "SizeBytes" in inner and not (_is_number(inner["SizeBytes"]) and isinstance(inner["SizeBytes"], int)):
        problems.append(f"SizeBytes {inner['SizeBytes']!r} is not an integer")
    for key in ("Keys", *sorted(_D_IMAGES)):
        if key in inner:
            problems += _attribute_map_problems(inner[key], key)
    if record is None:
        return [*problems, f"SequenceNumber {inner.get('SequenceNumber')!r} names no record of the stream"]
    problems += _expect(inner, "SequenceNumber", record.sequence_number)
    if "ApproximateCreationDateTime" in inner:
        value = inner["ApproximateCreationDateTime"]
        arrival = record.arrival.timestamp()
        if not _is_number(value):
            problems.append(f"ApproximateCreationDateTime {value!r} is not a JSON number of epoch seconds")
        elif abs(float(value) - arrival) > 1.0:  # rounded down to the second
            problems.append(f"ApproximateCreationDateTime {value!r} instead of about {float(int(arrival))!r}")
    image = inner.get("NewImage")
    if isinstance(image, Mapping) and isinstance(image.get("data"), Mapping):
        encoded = image["data"].get("B")
        if isinstance(encoded, str) and encoded != _b64(record.data):
            problems.append(f"NewImage.data.B {encoded[:24]!r} is not the base64 of the item's binary value")
    if wide_items and isinstance(image, Mapping):
        expected = encoded_image(item_image(record.ref, record.partition_key, record.data, wide=True))
        problems += _image_differences(image, expected)
    return problems


def _image_differences(image: Mapping[str, Any], expected: Mapping[str, Any]) -> list[str]:
    """The attributes of ``image`` that differ from the item written (sets compared as sets)."""
    problems = [f"NewImage.{name} is missing" for name in expected if name not in image]
    for name, value in expected.items():
        if name in image and not same_attribute(image[name], value):
            shown = json.dumps(image[name])
            problems.append(
                f"NewImage.{name} is {shown[:80]}, not the item's {json.dumps(value)[:80]} "
                "(binary values base64-encoded wherever they sit)"
            )
    return problems


def _attribute_map_problems(value: Any, where: str) -> list[str]:
    if not isinstance(value, Mapping):
        return [f"{where} is not an object of typed attributes"]
    problems: list[str] = []
    for name, attribute in value.items():
        problems += _attribute_problems(attribute, f"{where}.{name}")
    return problems


def _attribute_problems(attribute: Any, where: str) -> list[str]:
    if (
        not isinstance(attribute, Mapping)
        or len(attribute) != 1
        or next(iter(attribute)) not in _ATTRIBUTE_TAGS
    ):
        return [f'{where} is not a typed DynamoDB attribute value such as {{"S": …}}']
    ((tag, inner),) = attribute.items()
    if tag == "B":
        return [] if _is_base64(inner) else [f"{where}.B {str(inner)[:24]!r} is not a base64 string"]
    if tag == "BS":
        ok = isinstance(inner, list) and all(_is_base64(v) for v in inner)
        return [] if ok else [f"{where}.BS is not a list of base64 strings"]
    if tag == "M":
        return _attribute_map_problems(inner, f"{where}.M")
    if tag == "L":
        if not isinstance(inner, list):
            return [f"{where}.L is not a list"]
        return [p for i, v in enumerate(inner) for p in _attribute_problems(v, f"{where}.L[{i}]")]
    return []


def _is_base64(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


# ---- checkers ------------------------------------------------------------------------------------


def _subject(an: Analysis, sent: Sent, view: InvocationView) -> str:
    if sent.record is not None:
        return f"record {an.label(sent.record)} in {view.name}"
    return f"record #{sent.index + 1} of {view.name}"


def _event_problems(an: Analysis, view: InvocationView) -> list[str]:
    """EVT-K-1, EVT-D-1: invoked synchronously with ``{"Records": [...]}``."""
    problems = []
    invocation_type = view.invocation.call.params.get("InvocationType", "RequestResponse")
    if invocation_type != "RequestResponse":
        problems.append(
            f"it was invoked with InvocationType {invocation_type!r}, not synchronously (RequestResponse)"
        )
    event = view.invocation.event
    if not isinstance(event, Mapping):
        shown = "not JSON" if event is None else f"a JSON {type(event).__name__}"
        problems.append(f'the event is {shown}, not an object {{"Records": [...]}}')
    else:
        if not isinstance(event.get("Records"), list):
            problems.append('the event has no "Records" list')
        extra = sorted(set(event) - {"Records"})
        if extra:
            problems.append(f"the event has unexpected top-level key(s) {', '.join(extra)}")
    return problems


def _check_events(an: Analysis, out: Findings) -> None:
    for view in an.views:
        out.exercise()
        problems = _event_problems(an, view)
        if problems:
            out.violate(f"{view_subject(an, view)}: {'; '.join(problems)}")


def _check_records(an: Analysis, out: Findings, validate: Any) -> None:
    # ``validate`` judges a Sent alone, and the invocations of a retried batch share their Sent
    # objects (Analysis): each is judged once, and reported for every invocation that sent it.
    judged: dict[int, list[str]] = {}
    for view in an.views:
        for sent in view.sent:
            out.exercise()
            problems = judged.get(id(sent))
            if problems is None:
                problems = judged[id(sent)] = validate(sent)
            if problems:
                out.violate(f"{_subject(an, sent, view)} has {'; '.join(problems)}")


@checker("EVT-K-1")
def kinesis_event(an: Analysis, out: Findings) -> None:
    """Kinesis: invoked synchronously with a JSON object ``{"Records": [...]}``."""
    if an.kinesis:
        _check_events(an, out)


@checker("EVT-K-2")
def kinesis_record_keys(an: Analysis, out: Findings) -> None:
    """Kinesis: each record has exactly the eight keys, with the fixed values and the mapping's
    role, region and stream ARN."""
    if an.kinesis:
        _check_records(an, out, lambda sent: kinesis_envelope_problems(sent.raw, an))


@checker("EVT-K-3")
def kinesis_data(an: Analysis, out: Findings) -> None:
    """Kinesis: the ``kinesis`` object carries the stream record: partition key, sequence
    number, base64 data and the arrival as epoch seconds."""
    if an.kinesis:
        _check_records(an, out, lambda sent: kinesis_data_problems(sent.raw, sent.record))


@checker("EVT-K-4")
def kinesis_event_id(an: Analysis, out: Findings) -> None:
    """Kinesis: ``eventID`` is ``<shardId>:<sequenceNumber>``."""
    if an.kinesis:
        _check_records(an, out, lambda sent: kinesis_id_problems(sent.raw, sent.record))


@checker("EVT-D-1")
def dynamodb_record(an: Analysis, out: Findings) -> None:
    """DynamoDB: invoked synchronously with ``{"Records": [...]}``; each record has the seven
    keys (``userIdentity`` optional) and keeps the stream's eventID on every delivery."""
    if an.kinesis:
        return
    _check_events(an, out)
    _check_records(an, out, lambda sent: dynamodb_envelope_problems(sent.raw, an))
    ids: dict[str, StreamRecord] = {}
    given: dict[tuple[str, str], str] = {}
    for view in an.views:
        for sent in view.sent:
            event_id = sent.raw.get("eventID") if isinstance(sent.raw, Mapping) else None
            record = sent.record
            if not isinstance(event_id, str) or not event_id or record is None:
                continue
            key = (record.shard_id, record.sequence_number)
            earlier = given.setdefault(key, event_id)
            if earlier != event_id:
                out.violate(
                    f"{_subject(an, sent, view)} has eventID {event_id!r}, but it was delivered before with "
                    f"eventID {earlier!r}; the eventID is the stream record's"
                )
            owner = ids.setdefault(event_id, record)
            if owner is not record:
                out.violate(
                    f"{_subject(an, sent, view)} has eventID {event_id!r}, already used by record "
                    f"{an.label(owner)}"
                )


@checker("EVT-D-2")
def dynamodb_stream_record(an: Analysis, out: Findings) -> None:
    """DynamoDB: the ``dynamodb`` object has the stream record's keys, a numeric
    ApproximateCreationDateTime and typed attributes with base64 binaries."""
    if not an.kinesis:
        wide = an.scenario.world.wide_items
        _check_records(
            an, out, lambda sent: dynamodb_stream_record_problems(sent.raw, sent.record, wide_items=wide)
        )
