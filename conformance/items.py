"""The DynamoDB item written for each scenario record, shared by the worlds (which write it)
and the EVT-D checkers (which compare what a poller sends against it).

Every item has its hash key ``id``, the record's partition key as ``pk`` (S) and its data as
``data`` (B). With the scenario's ``wide_items`` condition it also carries every other attribute
type DynamoDB has (N, BOOL, NULL, SS, NS, BS, L, M), with binary values inside sets, lists and
maps, so each binary position a poller must base64-encode again for the event (EVT-D-2) occurs.
The extra values are derived from the record alone, so both worlds write the same item.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

__all__ = ["HASH_KEY", "encoded_image", "item_id", "item_image", "same_attribute"]

HASH_KEY = "id"

_HEAD = 8  # bytes of the record's data repeated in nested binaries: items stay small


def item_id(ref: tuple[int, int]) -> str:
    """The hash key of the item written for scenario record ``ref`` (unique per record, so every
    write is an INSERT)."""
    return f"item-{ref[0]}-{ref[1]}"


def item_image(ref: tuple[int, int], partition_key: str, data: bytes, *, wide: bool) -> dict[str, Any]:
    """The item as boto3 writes and reads it: DynamoDB JSON with binary values as ``bytes``."""
    image: dict[str, Any] = {HASH_KEY: {"S": item_id(ref)}, "pk": {"S": partition_key}, "data": {"B": data}}
    if wide:
        image.update(_wide_attributes(data))
    return image


def _wide_attributes(data: bytes) -> dict[str, Any]:
    head = data[:_HEAD]
    size = len(data)
    return {
        "size": {"N": str(size)},
        "even": {"BOOL": size % 2 == 0},
        "nothing": {"NULL": True},
        "tags": {"SS": ["tag-a", f"size-{size}"]},
        "sizes": {"NS": [str(size), str(size + 1)]},
        # Set members are unique and never empty: a distinct first byte makes them so.
        "blobs": {"BS": [b"\x00" + head, b"\xff" + head]},
        "list": {"L": [{"B": b"\x01" + head}, {"N": "1"}, {"L": [{"B": b"\x02" + head}]}]},
        "map": {
            "M": {
                "blob": {"B": b"\x03" + head},
                "inner": {"M": {"blobs": {"BS": [b"\x04" + head]}, "flags": {"L": [{"BOOL": True}]}}},
            }
        },
    }


def encoded_image(image: Mapping[str, Any]) -> dict[str, Any]:
    """``image`` as the invocation event carries it: every binary value, wherever it sits, as
    standard base64 text (EVT-D-2: ``{"B": "Zm9vYmFy"}``)."""
    return {name: _encoded(value) for name, value in image.items()}


def _encoded(attribute: Mapping[str, Any]) -> dict[str, Any]:
    ((tag, inner),) = attribute.items()
    if tag == "B":
        return {tag: _b64(inner)}
    if tag == "BS":
        return {tag: [_b64(v) for v in inner]}
    if tag == "M":
        return {tag: encoded_image(inner)}
    if tag == "L":
        return {tag: [_encoded(v) for v in inner]}
    return {tag: inner}


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def same_attribute(sent: Any, expected: Any) -> bool:
    """Whether two attribute values (DynamoDB JSON) are equal, sets compared as sets: DynamoDB
    returns set members in no particular order."""
    if isinstance(sent, Mapping) and isinstance(expected, Mapping):
        if sent.keys() != expected.keys():
            return False
        for tag, value in expected.items():
            other = sent[tag]
            if tag in ("SS", "NS", "BS"):
                if not isinstance(other, list) or sorted(map(repr, other)) != sorted(map(repr, value)):
                    return False
            elif not same_attribute(other, value):
                return False
        return True
    if isinstance(sent, list) and isinstance(expected, list):
        return len(sent) == len(expected) and all(
            same_attribute(a, b) for a, b in zip(sent, expected, strict=True)
        )
    return type(sent) is type(expected) and bool(sent == expected)
