"""Broken pollers for the on-failure destination rules: the SQS/SNS document (DLQ), the S3
object (S3) and its key (S3KEY) (SPEC §7, §8)."""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from conformance.contract import PollerContext
from conformance.gallery._base import GalleryPoller, VariantPoller, entry
from reference.destinations import (
    RECORD_AGE_EXCEEDED,
    RETRY_ATTEMPTS_EXHAUSTED,
    InvocationResult,
    SnsDestination,
    _Documents,
)
from reference.events import PolledRecord
from reference.shard import Batch, ShardProcessor

__all__ = ["ENTRIES"]

_INFO_KEYS = ("KinesisBatchInfo", "DDBStreamBatchInfo")
_KEY = re.compile(
    r"^(?P<head>aws/lambda/(?P<uuid>[^/]+)/(?P<shard>[^/]+))"
    r"/\d{4}/\d{2}/\d{2}/\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}-(?P<suffix>.+)$"
)
"""The reference's key (S3KEY-1), cut into the parts the key bugs rewrite."""


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _batch_info(document: Mapping[str, Any]) -> dict[str, Any]:
    for key in _INFO_KEYS:
        if isinstance(document.get(key), dict):
            info: dict[str, Any] = document[key]
            return info
    raise ValueError("the document has no batch info")


def _key_at(key: str, at: datetime, time_format: str = "%Y-%m-%dT%H.%M.%S") -> str:
    """The reference's key with its date and time taken from ``at``, written with
    ``time_format``."""
    match = _KEY.match(key)
    if match is None:
        raise ValueError(f"unexpected S3 key {key!r}")
    return f"{match['head']}/{at:%Y/%m/%d}/{at.strftime(time_format)}-{match['suffix']}"


class _Discarding(ShardProcessor):
    """A shard processor that changes what one discard says (``rewrite``)."""

    def _discard(
        self,
        records: tuple[PolledRecord, ...],
        condition: str,
        *,
        invoke_count: int,
        request_id: str | None,
        response: InvocationResult | None,
    ) -> None:
        condition, invoke_count, response = self.rewrite(condition, invoke_count, response)
        super()._discard(
            records, condition, invoke_count=invoke_count, request_id=request_id, response=response
        )

    def rewrite(
        self, condition: str, invoke_count: int, response: InvocationResult | None
    ) -> tuple[str, int, InvocationResult | None]:
        return condition, invoke_count, response


# ---- DLQ-2, DLQ-3 --------------------------------------------------------------------------------


class _PerRecordProcessor(ShardProcessor):
    def _discard(
        self,
        records: tuple[PolledRecord, ...],
        condition: str,
        *,
        invoke_count: int,
        request_id: str | None,
        response: InvocationResult | None,
    ) -> None:
        if condition != RETRY_ATTEMPTS_EXHAUSTED or len(records) < 2:
            super()._discard(
                records, condition, invoke_count=invoke_count, request_id=request_id, response=response
            )
            return
        # The bug: one document per failed record, as for an SQS source, not one per batch.
        for record in records:
            super()._discard(
                (record,), condition, invoke_count=invoke_count, request_id=request_id, response=response
            )
            if self._undelivered is not None:
                return


class _PerRecordPoller(VariantPoller):
    processor = _PerRecordProcessor


class _KinesisInfoKeyPoller(VariantPoller):
    def edit_document(self, document: dict[str, Any], kind: str) -> dict[str, Any]:
        if "DDBStreamBatchInfo" not in document:
            return document
        # The bug: the Kinesis key is used for DynamoDB documents too (copied code).
        return {("KinesisBatchInfo" if k == "DDBStreamBatchInfo" else k): v for k, v in document.items()}


# ---- DLQ-4, DLQ-5 --------------------------------------------------------------------------------


class _LongConditionProcessor(_Discarding):
    def rewrite(
        self, condition: str, invoke_count: int, response: InvocationResult | None
    ) -> tuple[str, int, InvocationResult | None]:
        if condition == RECORD_AGE_EXCEEDED:
            condition = "MaximumRecordAgeExceeded"  # the bug: named after the parameter
        return condition, invoke_count, response


class _LongConditionPoller(VariantPoller):
    processor = _LongConditionProcessor


class _AlwaysResponseProcessor(_Discarding):
    def rewrite(
        self, condition: str, invoke_count: int, response: InvocationResult | None
    ) -> tuple[str, int, InvocationResult | None]:
        # The bug: every document gets a responseContext, with defaults when there was no
        # invocation to report on.
        return condition, invoke_count, response or InvocationResult(200, "$LATEST", None)


class _AlwaysResponsePoller(VariantPoller):
    processor = _AlwaysResponseProcessor


class _UnhandledEverywhereProcessor(_Discarding):
    def rewrite(
        self, condition: str, invoke_count: int, response: InvocationResult | None
    ) -> tuple[str, int, InvocationResult | None]:
        if response is not None and response.function_error is None:
            # The bug: any failed invocation is reported as "Unhandled", also a partial or
            # invalid ReportBatchItemFailures response (functionError null).
            response = dataclasses.replace(response, function_error="Unhandled")
        return condition, invoke_count, response


class _UnhandledEverywherePoller(VariantPoller):
    processor = _UnhandledEverywhereProcessor


# ---- DLQ-6 .. DLQ-9 ------------------------------------------------------------------------------


class _SecondsTimestampPoller(VariantPoller):
    def edit_document(self, document: dict[str, Any], kind: str) -> dict[str, Any]:
        # The bug: strftime("%Y-%m-%dT%H:%M:%SZ"), no milliseconds.
        document["timestamp"] = _instant(document["timestamp"]).strftime("%Y-%m-%dT%H:%M:%SZ")
        return document


def _set_arrivals(document: dict[str, Any], write: Any) -> dict[str, Any]:
    info = _batch_info(document)
    for key in ("approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord"):
        info[key] = write(info[key])
    return document


class _KinesisSecondsArrivalPoller(VariantPoller):
    def edit_document(self, document: dict[str, Any], kind: str) -> dict[str, Any]:
        if "KinesisBatchInfo" not in document:
            return document
        # The bug: Kinesis arrivals written without milliseconds (the DynamoDB format).
        return _set_arrivals(document, lambda text: _instant(text).strftime("%Y-%m-%dT%H:%M:%SZ"))


class _DynamoDBMillisecondsArrivalPoller(VariantPoller):
    def edit_document(self, document: dict[str, Any], kind: str) -> dict[str, Any]:
        if "DDBStreamBatchInfo" not in document:
            return document
        # The bug: DynamoDB arrivals written with milliseconds (the Kinesis format).
        return _set_arrivals(document, lambda text: _instant(text).strftime("%Y-%m-%dT%H:%M:%S.000Z"))


class _DiscardTimeArrivalPoller(VariantPoller):
    def edit_document(self, document: dict[str, Any], kind: str) -> dict[str, Any]:
        at = _instant(document["timestamp"])
        fraction = "KinesisBatchInfo" in document
        text = at.strftime("%Y-%m-%dT%H:%M:%S") + (f".{at.microsecond // 1000:03d}Z" if fraction else "Z")
        # The bug: the arrival times are the discard time, not the records' own.
        return _set_arrivals(document, lambda _: text)


# ---- DLQ-10, DLQ-11 ------------------------------------------------------------------------------


class _PolledBatchInfoProcessor(ShardProcessor):
    """Remembers the batch a shrunken batch came from, and reports that whole batch."""

    _polled_as: dict[int, tuple[Batch, tuple[PolledRecord, ...]]] | None = None

    def _origins(self) -> dict[int, tuple[Batch, tuple[PolledRecord, ...]]]:
        # Keyed by id(); the batch itself is kept in the value so its id stays unique.
        if self._polled_as is None:
            self._polled_as = {}
        return self._polled_as

    def _partial_failure(self, batch: Batch, lowest: str) -> None:
        origins = self._origins()
        polled = origins.get(id(batch), (batch, batch.records))[1]
        super()._partial_failure(batch, lowest)
        shrunk = self._queue[0] if self._queue else None
        if shrunk is not None and shrunk is not batch:
            origins[id(shrunk)] = (shrunk, polled)

    def _discard_exhausted(self, batch: Batch) -> None:
        origin = self._origins().get(id(batch))
        if origin is not None:
            # The bug: the batch info describes the batch as it was polled, records that
            # succeeded before the reported one included.
            batch = dataclasses.replace(batch, records=origin[1])
        super()._discard_exhausted(batch)


class _PolledBatchInfoPoller(VariantPoller):
    processor = _PolledBatchInfoProcessor


class _RetriesAsCountProcessor(_Discarding):
    def rewrite(
        self, condition: str, invoke_count: int, response: InvocationResult | None
    ) -> tuple[str, int, InvocationResult | None]:
        if condition == RETRY_ATTEMPTS_EXHAUSTED:
            invoke_count -= 1  # the bug: the retries are reported, not the invocations
        return condition, invoke_count, response


class _RetriesAsCountPoller(VariantPoller):
    processor = _RetriesAsCountProcessor


# ---- S3-1, S3-2 ----------------------------------------------------------------------------------


class _NoPayloadPoller(VariantPoller):
    def edit_document(self, document: dict[str, Any], kind: str) -> dict[str, Any]:
        document.pop("payload", None)  # the bug: the SQS document is written to S3 as it is
        return document


class _PayloadStringPoller(VariantPoller):
    def edit_document(self, document: dict[str, Any], kind: str) -> dict[str, Any]:
        if "payload" in document:
            document["payload"] = json.dumps(document["payload"])  # the bug: serialised twice
        return document


# ---- S3KEY-1 .. S3KEY-4 --------------------------------------------------------------------------


class _ColonKeyPoller(VariantPoller):
    def edit_s3_key(self, key: str, document: Mapping[str, Any]) -> str:
        # The bug: the time is written with colons (isoformat), not dots.
        return _key_at(key, _instant(document["timestamp"]), "%Y-%m-%dT%H:%M:%S")


class _LocalTimeKeyPoller(VariantPoller):
    def edit_s3_key(self, key: str, document: Mapping[str, Any]) -> str:
        # The bug: the key is dated in the host's local time (here UTC+1), not UTC.
        return _key_at(key, _instant(document["timestamp"]) + timedelta(hours=1))


class _ArrivalDatedKeyPoller(VariantPoller):
    def edit_s3_key(self, key: str, document: Mapping[str, Any]) -> str:
        # The bug: the key is dated by the first record's arrival, not by the document's
        # timestamp.
        return _key_at(key, _instant(_batch_info(document)["approximateArrivalOfFirstRecord"]))


class _FunctionNameKeyPoller(VariantPoller):
    def edit_s3_key(self, key: str, document: Mapping[str, Any]) -> str:
        match = _KEY.match(key)
        if match is None:
            raise ValueError(f"unexpected S3 key {key!r}")
        name = self._context.function_arn.rsplit(":", 1)[-1]
        # The bug: the function's name where the mapping's UUID belongs.
        return key.replace(f"aws/lambda/{match['uuid']}/", f"aws/lambda/{name}/", 1)


class _HexSuffixKeyPoller(VariantPoller):
    def edit_s3_key(self, key: str, document: Mapping[str, Any]) -> str:
        match = _KEY.match(key)
        if match is None:
            raise ValueError(f"unexpected S3 key {key!r}")
        # The bug: the random suffix is uuid4().hex, without the dashes.
        return key[: match.start("suffix")] + match["suffix"].replace("-", "")


# ---- S3-1: the destination dispatched by the wrong service ------------------------------------------


class _S3ViaSnsPoller(VariantPoller):
    def __init__(self, context: PollerContext, *, new_uuid: Callable[[], UUID] = uuid.uuid4) -> None:
        super().__init__(context, new_uuid=new_uuid)
        arn = self.config.destination_arn
        if arn is not None and arn.startswith("arn:aws:s3:"):
            # The bug: the destination table sends every ARN that is not SQS to SNS. Publishing
            # to a bucket ARN is refused on every try, and the discarded batch waits for ever.
            self._destination = SnsDestination(arn, context, _Documents(context, self.config.source))


ENTRIES: tuple[GalleryPoller, ...] = (
    entry(
        "s3_document_published_to_sns",
        "S3-1",
        "an S3 destination's document is published with SNS to the bucket ARN, refused on every try",
        _S3ViaSnsPoller,
    ),
    entry(
        "one_document_per_record",
        "DLQ-2",
        "an exhausted batch is reported in one destination document per record, not one per batch",
        _PerRecordPoller,
    ),
    entry(
        "kinesis_batch_info_key_for_dynamodb",
        "DLQ-3",
        "DynamoDB documents carry KinesisBatchInfo instead of DDBStreamBatchInfo",
        _KinesisInfoKeyPoller,
    ),
    entry(
        "condition_maximum_record_age_exceeded",
        "DLQ-4",
        'the record-age condition is written "MaximumRecordAgeExceeded" instead of "RecordAgeExceeded"',
        _LongConditionPoller,
    ),
    entry(
        "response_context_on_record_age",
        "DLQ-5",
        "a RecordAgeExceeded document carries a responseContext although nothing was invoked",
        _AlwaysResponsePoller,
    ),
    entry(
        "function_error_unhandled_on_partial_failure",
        "DLQ-5",
        'functionError is "Unhandled" also for partial or invalid ReportBatchItemFailures responses',
        _UnhandledEverywherePoller,
    ),
    entry(
        "timestamp_without_milliseconds",
        "DLQ-6",
        "the document's timestamp has no milliseconds",
        _SecondsTimestampPoller,
    ),
    entry(
        "kinesis_arrivals_without_milliseconds",
        "DLQ-7",
        "KinesisBatchInfo arrival times are written without milliseconds",
        _KinesisSecondsArrivalPoller,
    ),
    entry(
        "dynamodb_arrivals_with_milliseconds",
        "DLQ-8",
        "DDBStreamBatchInfo arrival times are written with milliseconds",
        _DynamoDBMillisecondsArrivalPoller,
    ),
    entry(
        "arrivals_are_discard_time",
        "DLQ-9",
        "the batch info's arrival times are the discard time instead of the records' arrivals",
        _DiscardTimeArrivalPoller,
    ),
    entry(
        "batch_info_covers_polled_batch",
        "DLQ-10",
        "after a partial failure the batch info describes the whole polled batch, not the retried suffix",
        _PolledBatchInfoPoller,
    ),
    entry(
        "invoke_count_off_by_one",
        "DLQ-11",
        "approximateInvokeCount reports the retries (invocations - 1), not the invocations",
        _RetriesAsCountPoller,
    ),
    entry(
        "s3_object_without_payload",
        "S3-1",
        "the S3 object is the SQS document, without the payload",
        _NoPayloadPoller,
    ),
    entry(
        "s3_payload_as_string",
        "S3-2",
        "the S3 object's payload is a JSON string (serialised twice) instead of an object",
        _PayloadStringPoller,
    ),
    entry(
        "s3_key_with_colons",
        "S3KEY-1",
        "the S3 key's time is written HH:MM:SS (isoformat) instead of HH.MM.SS",
        _ColonKeyPoller,
    ),
    entry(
        "s3_key_in_local_time",
        "S3KEY-2",
        "the S3 key is dated in local time (UTC+1) instead of UTC",
        _LocalTimeKeyPoller,
    ),
    entry(
        "s3_key_dated_by_arrival",
        "S3KEY-2",
        "the S3 key is dated by the first record's arrival instead of the document's timestamp",
        _ArrivalDatedKeyPoller,
    ),
    entry(
        "s3_key_with_function_name",
        "S3KEY-3",
        "the S3 key holds the function's name where the mapping UUID belongs",
        _FunctionNameKeyPoller,
    ),
    entry(
        "s3_key_suffix_without_dashes",
        "S3KEY-4",
        "the S3 key's random suffix is uuid4().hex, without the dashes of a UUID",
        _HexSuffixKeyPoller,
    ),
)
