"""Broken pollers for the PBF rules: ReportBatchItemFailures responses (SPEC §6)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from conformance.gallery._base import GalleryPoller, VariantPoller, entry
from reference.events import PolledRecord
from reference.invoker import Invoker
from reference.responses import CompleteFailure, Outcome, PartialFailure, Success, classify_payload
from reference.shard import Batch, ShardProcessor

__all__ = ["ENTRIES"]


def _failure_entries(payload: bytes) -> list[Any] | None:
    """The ``batchItemFailures`` list of a response, or None if it has none."""
    try:
        value = json.loads(payload) if payload.strip() else None
    except ValueError:
        return None
    failures = value.get("batchItemFailures") if isinstance(value, dict) else None
    return failures if isinstance(failures, list) and failures else None


def _has_function_error(response: Mapping[str, Any]) -> bool:
    return bool(response.get("FunctionError"))


# ---- PBF-1 ---------------------------------------------------------------------------------------


class _AlwaysReadResponseInvoker(Invoker):
    def classify(
        self, response: Mapping[str, Any], payload: bytes, records: Sequence[PolledRecord]
    ) -> Outcome:
        if _has_function_error(response):
            return super().classify(response, payload, records)
        # The bug: the response is read as a partial batch response whatever
        # FunctionResponseTypes says.
        return classify_payload(payload, {r.sequence_number for r in records})


class _AlwaysReadResponsePoller(VariantPoller):
    invoker = _AlwaysReadResponseInvoker


# ---- PBF-2 ---------------------------------------------------------------------------------------


class _EventIdInvoker(Invoker):
    def classify(
        self, response: Mapping[str, Any], payload: bytes, records: Sequence[PolledRecord]
    ) -> Outcome:
        if not self._report_batch_item_failures or _has_function_error(response):
            return super().classify(response, payload, records)
        # The bug: itemIdentifier is looked up among the records' eventIDs (as SQS's
        # messageId is), so no sequence number is ever recognised.
        return classify_payload(payload, {str(r.event_record.get("eventID")) for r in records})


class _EventIdPoller(VariantPoller):
    invoker = _EventIdInvoker


class _RestartWholeBatchProcessor(ShardProcessor):
    def _partial_failure(self, batch: Batch, lowest: str) -> None:
        # The bug: the checkpoint is not moved; the whole batch is retried, redelivering the
        # records before the reported one although they succeeded.
        super()._partial_failure(batch, batch.records[0].sequence_number)


class _RestartWholeBatchPoller(VariantPoller):
    processor = _RestartWholeBatchProcessor


# ---- PBF-3 ---------------------------------------------------------------------------------------


class _ReportedInvoker(Invoker):
    """Classifies as the reference does, remembering which valid identifiers were reported."""

    reported: tuple[str, ...] = ()

    def classify(
        self, response: Mapping[str, Any], payload: bytes, records: Sequence[PolledRecord]
    ) -> Outcome:
        outcome = super().classify(response, payload, records)
        entries = _failure_entries(payload) or []
        self.reported = tuple(
            e["itemIdentifier"]
            for e in entries
            if isinstance(e, dict) and isinstance(e.get("itemIdentifier"), str)
        )
        if isinstance(outcome, PartialFailure):
            return self.choose(outcome, self.reported)
        return outcome

    def choose(self, outcome: PartialFailure, reported: tuple[str, ...]) -> Outcome:
        return outcome


class _HighestInvoker(_ReportedInvoker):
    def choose(self, outcome: PartialFailure, reported: tuple[str, ...]) -> Outcome:
        # The bug: the checkpoint goes to the highest reported record, not the lowest.
        return PartialFailure(max(reported, key=int))


class _HighestPoller(VariantPoller):
    invoker = _HighestInvoker


class _TextOrderInvoker(_ReportedInvoker):
    def choose(self, outcome: PartialFailure, reported: tuple[str, ...]) -> Outcome:
        # The bug: the lowest reported record is found with min() on the strings.
        return PartialFailure(min(reported))


class _TextOrderPoller(VariantPoller):
    invoker = _TextOrderInvoker


class _OnlyReportedProcessor(ShardProcessor):
    def _partial_failure(self, batch: Batch, lowest: str) -> None:
        invoker = self._invoker
        reported = set(invoker.reported) if isinstance(invoker, _ReportedInvoker) else {lowest}
        retry = tuple(r for r in batch.records if r.sequence_number in reported)
        if len(retry) == len(batch.records):
            return super()._partial_failure(batch, lowest)
        # The bug: only the reported records are retried; the records after the lowest one
        # that were not reported are taken as processed.
        self._acknowledge([r for r in batch.records if r.sequence_number not in reported])
        self._replace_current(Batch(retry))
        return None


class _OnlyReportedPoller(VariantPoller):
    invoker = _ReportedInvoker
    processor = _OnlyReportedProcessor


# ---- PBF-4, PBF-5, PBF-6 -------------------------------------------------------------------------


class _EmptyStringFailsInvoker(Invoker):
    def classify(
        self, response: Mapping[str, Any], payload: bytes, records: Sequence[PolledRecord]
    ) -> Outcome:
        if (
            self._report_batch_item_failures
            and not _has_function_error(response)
            and payload.strip() == b'""'
        ):
            # The bug: a response that is a JSON string is not a partial batch response, so it
            # is taken as invalid, although "" is one of the success forms.
            return CompleteFailure(None, 'the response "" is not an object')
        return super().classify(response, payload, records)


class _EmptyStringFailsPoller(VariantPoller):
    invoker = _EmptyStringFailsInvoker


class _SkipInvalidEntriesInvoker(Invoker):
    """Drops the ``batchItemFailures`` entries ``keep`` rejects before the reference reads the
    response."""

    def classify(
        self, response: Mapping[str, Any], payload: bytes, records: Sequence[PolledRecord]
    ) -> Outcome:
        entries = _failure_entries(payload)
        if not self._report_batch_item_failures or _has_function_error(response) or entries is None:
            return super().classify(response, payload, records)
        numbers = {r.sequence_number for r in records}
        kept = [e for e in entries if self.keep(e, numbers)]
        if not kept:
            return Success()
        return super().classify(response, json.dumps({"batchItemFailures": kept}).encode(), records)

    def keep(self, entry: Any, numbers: set[str]) -> bool:
        return True


class _EmptyIdentifierSucceedsInvoker(_SkipInvalidEntriesInvoker):
    def keep(self, entry: Any, numbers: set[str]) -> bool:
        # The bug: `if not entry.get("itemIdentifier"): continue`, so an empty (or null)
        # identifier is skipped instead of failing the batch.
        return not isinstance(entry, dict) or bool(entry.get("itemIdentifier"))


class _EmptyIdentifierSucceedsPoller(VariantPoller):
    invoker = _EmptyIdentifierSucceedsInvoker


class _UnknownIdentifierSucceedsInvoker(_SkipInvalidEntriesInvoker):
    def keep(self, entry: Any, numbers: set[str]) -> bool:
        # The bug: identifiers that name no record of the batch are ignored.
        return not isinstance(entry, dict) or entry.get("itemIdentifier") in numbers


class _UnknownIdentifierSucceedsPoller(VariantPoller):
    invoker = _UnknownIdentifierSucceedsInvoker


class _PayloadFirstInvoker(Invoker):
    def classify(
        self, response: Mapping[str, Any], payload: bytes, records: Sequence[PolledRecord]
    ) -> Outcome:
        if self._report_batch_item_failures:
            # The bug: the response body is read before FunctionError is looked at; the error
            # body {"errorMessage": ..., "errorType": ...} has no batchItemFailures: success.
            outcome = classify_payload(payload, {r.sequence_number for r in records})
            if not isinstance(outcome, CompleteFailure):
                return outcome
        return super().classify(response, payload, records)


class _PayloadFirstPoller(VariantPoller):
    invoker = _PayloadFirstInvoker


# ---- PBF-7, PBF-8 --------------------------------------------------------------------------------


class _PartialNotCountedProcessor(ShardProcessor):
    def _partial_failure(self, batch: Batch, lowest: str) -> None:
        if batch.records[0].sequence_number == lowest:
            # The bug: only function errors count toward MaximumRetryAttempts; a batch retried
            # for a partial failure is retried for as long as the record is reported.
            batch.invocations -= 1
        super()._partial_failure(batch, lowest)


class _PartialNotCountedPoller(VariantPoller):
    processor = _PartialNotCountedProcessor


class _ShrunkKeepsCountProcessor(ShardProcessor):
    def _partial_failure(self, batch: Batch, lowest: str) -> None:
        count = batch.invocations
        super()._partial_failure(batch, lowest)
        shrunk = self._queue[0] if self._queue else None
        if shrunk is not None and shrunk is not batch and shrunk.records[0].sequence_number == lowest:
            # The bug: the shrunken batch keeps the count of the batch it came from.
            shrunk.invocations = count


class _ShrunkKeepsCountPoller(VariantPoller):
    processor = _ShrunkKeepsCountProcessor


ENTRIES: tuple[GalleryPoller, ...] = (
    entry(
        "response_read_with_rbif_off",
        "PBF-1",
        "the function's response is read as a partial batch response although ReportBatchItemFailures is off",
        _AlwaysReadResponsePoller,
    ),
    entry(
        "item_identifier_as_event_id",
        "PBF-2",
        "itemIdentifier is looked up among eventIDs (as for SQS), so a valid partial failure fails the batch",
        _EventIdPoller,
    ),
    entry(
        "partial_failure_retries_whole_batch",
        "PBF-2",
        "after a partial failure the whole batch is retried, redelivering records that succeeded",
        _RestartWholeBatchPoller,
    ),
    entry(
        "checkpoint_at_highest_reported",
        "PBF-3",
        "the checkpoint goes to the highest reported record instead of the lowest",
        _HighestPoller,
    ),
    entry(
        "lowest_reported_compared_as_strings",
        "PBF-3",
        "the lowest reported record is found comparing sequence numbers as strings",
        _TextOrderPoller,
    ),
    entry(
        "retries_only_reported_records",
        "PBF-3",
        "only the reported records are retried; unreported records after the lowest are dropped",
        _OnlyReportedPoller,
    ),
    entry(
        "empty_string_response_is_failure",
        "PBF-4",
        'the response "" is taken as an invalid response (complete failure) instead of success',
        _EmptyStringFailsPoller,
    ),
    entry(
        "empty_item_identifier_is_success",
        "PBF-5",
        'an entry {"itemIdentifier": ""} (or null) is skipped, so the batch counts as a success',
        _EmptyIdentifierSucceedsPoller,
    ),
    entry(
        "unknown_item_identifier_is_success",
        "PBF-5",
        "an itemIdentifier that names no record of the batch is ignored instead of failing the batch",
        _UnknownIdentifierSucceedsPoller,
    ),
    entry(
        "error_body_read_as_response",
        "PBF-6",
        "with ReportBatchItemFailures the body is read before FunctionError: an exception counts as success",
        _PayloadFirstPoller,
    ),
    entry(
        "partial_retries_not_counted",
        "PBF-7",
        "retries after a partial failure do not count toward MaximumRetryAttempts",
        _PartialNotCountedPoller,
    ),
    entry(
        "shrunk_batch_keeps_count",
        "PBF-8",
        "the batch left by a partial failure keeps the attempt count of the batch it came from",
        _ShrunkKeepsCountPoller,
    ),
)
