"""Broken pollers for the EVT rules: the invocation event and its records (SPEC §3)."""

from __future__ import annotations

from typing import Any

from conformance.contract import PollerContext
from conformance.gallery._base import GalleryPoller, VariantPoller, decoded_data, entry, with_event
from reference.config import MappingConfig
from reference.events import PolledRecord
from reference.invoker import Invoker

__all__ = ["ENTRIES"]


# ---- EVT-K-1 -------------------------------------------------------------------------------------


class _AsynchronousClient:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def invoke(self, **params: Any) -> Any:
        # The bug: the function is invoked asynchronously, so its errors are never seen.
        return self._inner.invoke(**{**params, "InvocationType": "Event"})


class _AsynchronousInvoker(Invoker):
    def __init__(self, context: PollerContext, config: MappingConfig) -> None:
        super().__init__(context, config)
        self._client = _AsynchronousClient(self._client)


class _AsynchronousPoller(VariantPoller):
    invoker = _AsynchronousInvoker


# ---- EVT-K-2 -------------------------------------------------------------------------------------


class _FunctionIdentityPoller(VariantPoller):
    def edit_event(self, event: dict[str, Any], record: PolledRecord) -> PolledRecord:
        if "kinesis" not in event:
            return record
        # The bug: invokeIdentityArn is the function's ARN, not its execution role's.
        event["invokeIdentityArn"] = self._context.function_arn
        return with_event(record, event)


# ---- EVT-K-3 -------------------------------------------------------------------------------------


class _ArrivalMillisecondsPoller(VariantPoller):
    def edit_event(self, event: dict[str, Any], record: PolledRecord) -> PolledRecord:
        if "kinesis" not in event:
            return record
        # The bug: the arrival is sent as epoch milliseconds, as Java's Date.getTime() gives it.
        inner = event["kinesis"]
        inner["approximateArrivalTimestamp"] = round(inner["approximateArrivalTimestamp"] * 1000)
        return with_event(record, event)


class _ArrivalWholeSecondsPoller(VariantPoller):
    def edit_event(self, event: dict[str, Any], record: PolledRecord) -> PolledRecord:
        if "kinesis" not in event:
            return record
        # The bug: the arrival is truncated to whole seconds (int(timestamp)).
        inner = event["kinesis"]
        inner["approximateArrivalTimestamp"] = int(inner["approximateArrivalTimestamp"])
        return with_event(record, event)


class _RawDataPoller(VariantPoller):
    def edit_event(self, event: dict[str, Any], record: PolledRecord) -> PolledRecord:
        if "kinesis" not in event:
            return record
        # The bug: the record's bytes are sent as text instead of base64.
        event["kinesis"]["data"] = decoded_data(event).decode("utf-8", "replace")
        return with_event(record, event)


# ---- EVT-K-4 -------------------------------------------------------------------------------------


class _BareEventIdPoller(VariantPoller):
    def edit_event(self, event: dict[str, Any], record: PolledRecord) -> PolledRecord:
        if "kinesis" not in event:
            return record
        # The bug: eventID is the sequence number alone, without the "<shardId>:" prefix.
        event["eventID"] = event["kinesis"]["sequenceNumber"]
        return with_event(record, event)


# ---- EVT-D-1 / EVT-D-2 ---------------------------------------------------------------------------


class _OldEventVersionPoller(VariantPoller):
    def edit_event(self, event: dict[str, Any], record: PolledRecord) -> PolledRecord:
        if "dynamodb" not in event:
            return record
        # The bug: eventVersion "1.0", copied from the older documentation's example.
        event["eventVersion"] = "1.0"
        return with_event(record, event)


class _CreationMillisecondsPoller(VariantPoller):
    def edit_event(self, event: dict[str, Any], record: PolledRecord) -> PolledRecord:
        if "dynamodb" not in event:
            return record
        # The bug: ApproximateCreationDateTime in epoch milliseconds instead of seconds.
        inner = event["dynamodb"]
        inner["ApproximateCreationDateTime"] = inner["ApproximateCreationDateTime"] * 1000
        return with_event(record, event)


ENTRIES: tuple[GalleryPoller, ...] = (
    entry(
        "asynchronous_invocation",
        "EVT-K-1",
        "the function is invoked with InvocationType Event (asynchronously), not RequestResponse",
        _AsynchronousPoller,
    ),
    entry(
        "invoke_identity_is_function_arn",
        "EVT-K-2",
        "Kinesis invokeIdentityArn carries the function ARN instead of the execution role ARN",
        _FunctionIdentityPoller,
    ),
    entry(
        "kinesis_arrival_in_milliseconds",
        "EVT-K-3",
        "Kinesis approximateArrivalTimestamp is sent in epoch milliseconds, not seconds",
        _ArrivalMillisecondsPoller,
    ),
    entry(
        "kinesis_arrival_whole_seconds",
        "EVT-K-3",
        "Kinesis approximateArrivalTimestamp is truncated to whole seconds (no millisecond fraction)",
        _ArrivalWholeSecondsPoller,
    ),
    entry(
        "kinesis_data_not_base64",
        "EVT-K-3",
        "Kinesis data is sent as the record's text instead of base64",
        _RawDataPoller,
    ),
    entry(
        "kinesis_event_id_without_shard",
        "EVT-K-4",
        'Kinesis eventID is the sequence number alone, without the "<shardId>:" prefix',
        _BareEventIdPoller,
    ),
    entry(
        "dynamodb_event_version_1_0",
        "EVT-D-1",
        'DynamoDB records carry eventVersion "1.0" (the old documentation) instead of "1.1"',
        _OldEventVersionPoller,
    ),
    entry(
        "dynamodb_creation_time_in_milliseconds",
        "EVT-D-2",
        "DynamoDB ApproximateCreationDateTime is sent in epoch milliseconds, not seconds",
        _CreationMillisecondsPoller,
    ),
)
