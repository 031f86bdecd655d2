"""DLQ, S3, S3KEY: the on-failure destination documents and S3 objects (SPEC §7, §8).

Document checks (DLQ-3 to DLQ-11) apply to every destination kind: an S3 object holds the same
metadata plus ``payload`` (S3-1).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Collection, Mapping
from datetime import datetime, timezone
from typing import Any

from conformance.rules.analysis import Analysis, Doc, seconds
from conformance.rules.common import Findings, acceptable_retries, checker, doc_subject
from conformance.rules.events import (
    dynamodb_envelope_problems,
    dynamodb_stream_record_problems,
    kinesis_data_problems,
    kinesis_envelope_problems,
    kinesis_id_problems,
)
from conformance.rules.responses import OutcomeKind, describe_value

__all__: list[str] = []

_CONDITIONS = ("RetryAttemptsExhausted", "RecordAgeExceeded")
_MILLIS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_WHOLE_SECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_INFO_KEYS = frozenset(
    {
        "shardId",
        "startSequenceNumber",
        "endSequenceNumber",
        "approximateArrivalOfFirstRecord",
        "approximateArrivalOfLastRecord",
        "batchSize",
        "streamArn",
    }
)
_S3_KEY = re.compile(
    r"^aws/lambda/(?P<uuid>[^/]+)/(?P<shard>[^/]+)/(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/"
    r"(?P<y2>\d{4})-(?P<m2>\d{2})-(?P<d2>\d{2})T(?P<H>\d{2})\.(?P<M>\d{2})\.(?P<S>\d{2})-(?P<suffix>.+)$"
)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _parse_instant(text: Any, pattern: re.Pattern[str]) -> datetime | None:
    if not isinstance(text, str) or not pattern.match(text):
        return None
    shape = "%Y-%m-%dT%H:%M:%S.%fZ" if "." in text else "%Y-%m-%dT%H:%M:%SZ"
    try:
        return datetime.strptime(text, shape).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _key_problems(value: Mapping[str, Any], expected: frozenset[str], what: str) -> list[str]:
    problems = []
    missing = sorted(expected - set(value))
    extra = sorted(set(value) - expected)
    if missing:
        problems.append(f"{what} lacks {', '.join(missing)}")
    if extra:
        problems.append(f"{what} has unexpected {', '.join(extra)}")
    return problems


def _expected_info_key(an: Analysis) -> str:
    return "KinesisBatchInfo" if an.kinesis else "DDBStreamBatchInfo"


def _documents(an: Analysis) -> list[Doc]:
    """Documents of a mapping with a destination (stray writes without one are RETRY-11's)."""
    return list(an.docs) if an.settings.destination_kind is not None else []


# ---- DLQ -----------------------------------------------------------------------------------------


def _target_problem(an: Analysis, service: str, target: str) -> str | None:
    """What is wrong with a document written with ``service`` to ``target`` (a queue URL, topic
    ARN or bucket name), or None when that is the on-failure destination."""
    arn = an.settings.destination_arn or ""
    kind = an.settings.destination_kind
    if service != kind:
        return f"it went to {service} ({target}), but the on-failure destination is {arn}"
    parts = arn.split(":")
    if kind == "sqs" and len(parts) >= 6:
        if not target.rstrip("/").endswith(f"/{parts[4]}/{parts[5]}"):
            return f"it went to queue {target}, not to the destination queue {arn}"
    elif kind == "sns" and target != arn:
        return f"it was published to {target}, not to the destination topic {arn}"
    elif kind == "s3" and target != arn.split(":::")[-1]:
        return f"it was put in bucket {target}, not in the destination bucket {arn}"
    return None


def _misdirected_refusals(an: Analysis, out: Findings, kinds: Collection[str]) -> None:
    """Destination writes the service refused because they went somewhere other than the
    on-failure destination (for a mapping whose destination is one of ``kinds``). A refused
    write is no document, so the document checks never see it; and the batch waits for a
    delivery that cannot succeed (DLQ-1: the destination is the configured queue, topic or
    bucket). Writes that succeeded are judged as documents."""
    if an.settings.destination_kind not in kinds:
        return
    for write in an.observation.trace.refused_destination_writes():
        out.exercise()
        problem = _target_problem(an, write.kind, write.target)
        if problem is None:
            continue
        doc = an.document_of(write)
        call = write.call
        described = f" for {an.labels(doc.shard_id, doc.positions)}" if doc.shard_id and doc.positions else ""
        out.violate(
            f"the document{described} was written with {call.service}.{call.operation} at "
            f"{seconds(doc.at)}, refused with {call.error_code}: {problem}"
        )
        return


@checker("DLQ-2")
def one_document_per_batch(an: Analysis, out: Findings) -> None:
    """One JSON document per discarded batch, sent to the configured destination (SQS message
    body, SNS Message, S3 object)."""
    _misdirected_refusals(an, out, ("sqs", "sns", "s3"))
    docs = _documents(an)
    by_record: dict[tuple[str, int], Doc] = {}
    by_batch: dict[tuple[str, int], list[Doc]] = {}
    for doc in docs:
        out.exercise()
        problem = _target_problem(an, doc.kind, doc.write.target)
        if problem is not None:
            out.violate(f"{doc_subject(an, doc)}: {problem}")
        if doc.document is None:
            out.violate(
                f"{doc.name} is not a JSON object ({describe_value(doc.write.text)}); the "
                "destination gets the document as JSON text"
            )
            continue
        if doc.shard_id is None or not doc.positions:
            continue
        for position in doc.positions:
            earlier = by_record.setdefault((doc.shard_id, position), doc)
            if earlier is not doc:
                out.violate(
                    f"record {an.label(an.record(doc.shard_id, position))} is described by "
                    f"{earlier.name} and again by {doc.name}; one document is sent per discarded batch"
                )
                break
        if doc.condition == "RetryAttemptsExhausted" and not an.settings.bisect:
            last = an.last_reaching_attempt(doc.shard_id, doc.positions[0], doc.index)
            if last is not None and set(doc.positions) <= set(last.positions):
                by_batch.setdefault((doc.shard_id, last.number), []).append(doc)
    for (shard_id, number), batch_docs in by_batch.items():
        if len(batch_docs) > 1:
            names = ", ".join(f"#{d.number}" for d in batch_docs)
            first = batch_docs[0]
            out.violate(
                f"the batch discarded after invocation #{number} "
                f"({an.labels(shard_id, first.positions)} and more) "
                f"was reported in {len(batch_docs)} documents ({names}); one document is sent per "
                "discarded batch"
            )


@checker("DLQ-3")
def document_keys(an: Analysis, out: Findings) -> None:
    """The document has exactly requestContext, responseContext (RetryAttemptsExhausted only),
    version, timestamp and the source's batch info; SQS/SNS documents hold no records, S3 objects
    add payload."""
    info_key = _expected_info_key(an)
    for doc in _documents(an):
        if doc.document is None:
            continue
        out.exercise()
        expected = {"requestContext", "version", "timestamp", info_key}
        if doc.condition != "RecordAgeExceeded":
            expected.add("responseContext")
        if doc.kind == "s3":
            expected.add("payload")
        present = set(doc.document)
        if doc.condition == "RecordAgeExceeded":
            present.discard("responseContext")  # DLQ-5 judges its presence
        problems = _key_problems({k: None for k in present}, frozenset(expected), "it")
        if problems:
            out.violate(f"{doc_subject(an, doc)} has the wrong top-level keys: {'; '.join(problems)}")


@checker("DLQ-4")
def request_context(an: Analysis, out: Findings) -> None:
    """requestContext holds exactly requestId (a UUID), functionArn (the mapping's function),
    condition (RetryAttemptsExhausted or RecordAgeExceeded) and approximateInvokeCount (an
    integer)."""
    for doc in _documents(an):
        if doc.document is None:
            continue
        out.exercise()
        context = doc.document.get("requestContext")
        if not isinstance(context, Mapping):
            out.violate(f"{doc_subject(an, doc)} has no requestContext object")
            continue
        problems = _key_problems(
            context,
            frozenset({"requestId", "functionArn", "condition", "approximateInvokeCount"}),
            "requestContext",
        )
        request_id = context.get("requestId")
        if "requestId" in context and not _is_uuid(request_id):
            problems.append(f"requestId {request_id!r} is not a UUID")
        if "functionArn" in context and context["functionArn"] != an.observation.function_arn:
            problems.append(
                f"functionArn {context['functionArn']!r} is not the mapping's {an.observation.function_arn!r}"
            )
        if "condition" in context and context["condition"] not in _CONDITIONS:
            problems.append(f"condition {context['condition']!r} is not one of {', '.join(_CONDITIONS)}")
        count = context.get("approximateInvokeCount")
        if "approximateInvokeCount" in context and not _is_int(count):
            problems.append(f"approximateInvokeCount {count!r} is not an integer")
        if problems:
            out.violate(f"{doc_subject(an, doc)}: {'; '.join(problems)}")


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@checker("DLQ-5")
def response_context(an: Analysis, out: Findings) -> None:
    """responseContext is present only when the batch was invoked and failed (absent for
    RecordAgeExceeded), with exactly statusCode, executedVersion and functionError ("Unhandled"
    for an exception, null for a partial or invalid response)."""
    for doc in _documents(an):
        if doc.document is None or doc.condition not in _CONDITIONS:
            continue
        out.exercise()
        response = doc.document.get("responseContext")
        if doc.condition == "RecordAgeExceeded":
            if "responseContext" in doc.document:
                out.violate(
                    f"{doc_subject(an, doc)} has a responseContext although its condition is "
                    "RecordAgeExceeded"
                )
            continue
        if not isinstance(response, Mapping):
            out.violate(f"{doc_subject(an, doc)} (RetryAttemptsExhausted) has no responseContext object")
            continue
        problems = _key_problems(
            response, frozenset({"statusCode", "executedVersion", "functionError"}), "responseContext"
        )
        last = (
            an.last_reaching_attempt(doc.shard_id, doc.positions[0], doc.index)
            if doc.shard_id is not None and doc.positions
            else None
        )
        if last is not None and last.reached:
            invocation = last.view.invocation
            status = invocation.status_code if invocation.status_code is not None else 200
            if response.get("statusCode") != status or not _is_int(response.get("statusCode")):
                problems.append(
                    f"statusCode {response.get('statusCode')!r} instead of {status} ({last.name})"
                )
            reply = invocation.call.response if isinstance(invocation.call.response, Mapping) else {}
            version = reply.get("ExecutedVersion") or "$LATEST"
            if response.get("executedVersion") != version:
                problems.append(f"executedVersion {response.get('executedVersion')!r} instead of {version!r}")
            expected_error = last.outcome.function_error
            failed = last.kind is not OutcomeKind.SUCCESS
            if failed and "functionError" in response and response["functionError"] != expected_error:
                cause = (
                    f"the function raised ({expected_error})"
                    if expected_error
                    else "the failure came from the response, not an exception"
                )
                problems.append(
                    f"functionError {response['functionError']!r} instead of {expected_error!r}: {cause} in "
                    f"{last.name}"
                )
        if problems:
            out.violate(f"{doc_subject(an, doc)}: {'; '.join(problems)}")


@checker("DLQ-6")
def version_and_timestamp(an: Analysis, out: Findings) -> None:
    """version is "1.0"; timestamp is the discard time, UTC ISO-8601 with exactly three
    fractional digits and Z."""
    for doc in _documents(an):
        if doc.document is None:
            continue
        out.exercise()
        problems = []
        if doc.document.get("version") != "1.0":
            problems.append(f"version {doc.document.get('version')!r} instead of '1.0'")
        text = doc.document.get("timestamp")
        instant = _parse_instant(text, _MILLIS)
        if instant is None:
            problems.append(
                f"timestamp {text!r} is not UTC ISO-8601 with milliseconds, like 2019-11-14T00:38:06.021Z"
            )
        else:
            at = an.offset(instant)
            # The discard follows the last invocation of the described records (if any).
            described = set(doc.positions)
            earlier = [
                a.at
                for a in an.attempts.get(doc.shard_id or "", ())
                if a.index < doc.index and described & set(a.positions)
            ]
            lower = max(earlier) if earlier else an.started_at
            if not lower - 0.001 <= at <= doc.at + 0.001:
                problems.append(
                    f"timestamp {text} ({seconds(at)}) is not the discard time (between the records' last "
                    f"invocation at {seconds(lower)} and the write at {seconds(doc.at)})"
                )
        if problems:
            out.violate(f"{doc_subject(an, doc)}: {'; '.join(problems)}")


def _batch_info_check(an: Analysis, out: Findings, pattern: re.Pattern[str], shape: str) -> None:
    expected_key = _expected_info_key(an)
    for doc in _documents(an):
        if doc.document is None:
            continue
        out.exercise()
        info = doc.document.get(expected_key)
        if not isinstance(info, Mapping):
            out.violate(f"{doc.name} has no {expected_key} object")
            continue
        problems = _key_problems(info, _INFO_KEYS, expected_key)
        shard_id = info.get("shardId")
        if shard_id not in an.shards:
            problems.append(f"shardId {shard_id!r} is not a shard of the stream")
        else:
            for key in ("startSequenceNumber", "endSequenceNumber"):
                value = info.get(key)
                record = an.find(shard_id, value) if isinstance(value, str) else None
                if record is None or record.sequence_number != value:
                    problems.append(f"{key} {value!r} is not the sequence number of a record of {shard_id}")
        for key in ("approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord"):
            if key in info and _parse_instant(info[key], pattern) is None:
                problems.append(f"{key} {info[key]!r} is not {shape}")
        if "batchSize" in info and not _is_int(info["batchSize"]):
            problems.append(f"batchSize {info['batchSize']!r} is not an integer")
        if "streamArn" in info and info["streamArn"] != an.observation.event_source_arn:
            problems.append(
                f"streamArn {info['streamArn']!r} is not the stream {an.observation.event_source_arn!r}"
            )
        if problems:
            out.violate(f"{doc_subject(an, doc)}: {'; '.join(problems)}")


@checker("DLQ-7")
def kinesis_batch_info(an: Analysis, out: Findings) -> None:
    """KinesisBatchInfo has exactly its seven keys; arrivals are UTC ISO-8601 with milliseconds."""
    if an.kinesis:
        _batch_info_check(an, out, _MILLIS, "UTC ISO-8601 with milliseconds (2019-11-14T00:38:04.835Z)")


@checker("DLQ-8")
def dynamodb_batch_info(an: Analysis, out: Findings) -> None:
    """DDBStreamBatchInfo has the same seven keys; arrivals are UTC ISO-8601 without fraction."""
    if not an.kinesis:
        _batch_info_check(an, out, _WHOLE_SECONDS, "UTC ISO-8601 without fraction (2019-11-14T00:13:19Z)")


@checker("DLQ-9")
def arrivals_from_records(an: Analysis, out: Findings) -> None:
    """The approximateArrivalOf… values are the first and last described records' arrival times
    (not the discard time)."""
    tolerance = 0.0015 if an.kinesis else 1.0
    for doc in _documents(an):
        if doc.info is None or doc.shard_id is None or not doc.positions:
            continue
        out.exercise()
        ends = (
            ("approximateArrivalOfFirstRecord", doc.positions[0]),
            ("approximateArrivalOfLastRecord", doc.positions[-1]),
        )
        for key, position in ends:
            text = doc.info.get(key)
            instant = _parse_instant(text, _MILLIS) or _parse_instant(text, _WHOLE_SECONDS)
            if instant is None:
                continue  # the format is DLQ-7/DLQ-8's
            record = an.record(doc.shard_id, position)
            if abs((instant - record.arrival).total_seconds()) > tolerance:
                out.violate(
                    f"{doc.name} gives {key} {text}, but record {an.label(record)} arrived at "
                    f"{record.arrival.isoformat(timespec='milliseconds')}; the value is the "
                    "record's arrival time"
                )
                break


@checker("DLQ-10")
def describes_discarded_range(an: Analysis, out: Findings) -> None:
    """The batch info describes exactly the discarded records: batchSize matches the range, no
    described record was acknowledged, and after a partial failure the range starts at the
    lowest reported record."""
    for doc in _documents(an):
        info = doc.info
        if info is None or doc.shard_id is None:
            continue
        start = an.find(doc.shard_id, info.get("startSequenceNumber"))
        end = an.find(doc.shard_id, info.get("endSequenceNumber"))
        if start is None or end is None:
            continue
        out.exercise()
        subject = doc_subject(an, doc)
        if an.position_of(end) < an.position_of(start):
            out.violate(
                f"{doc.name} gives endSequenceNumber {an.label(end)} before startSequenceNumber "
                f"{an.label(start)}"
            )
            continue
        size = info.get("batchSize")
        if _is_int(size) and size != len(doc.positions):
            out.violate(
                f"{subject} gives batchSize {size}, but the range holds {len(doc.positions)} record(s)"
            )
            continue
        acked = next(
            (an.fate(doc.shard_id, p) for p in doc.positions if _acked_before(an, doc, p)),
            None,
        )
        if acked is not None and acked.acked_by is not None:
            out.violate(
                f"{subject} describes record {acked.label}, which had been acknowledged in "
                f"{acked.acked_by.name}; a document describes only discarded records"
            )
            continue
        if doc.condition != "RetryAttemptsExhausted" or an.settings.bisect:
            continue
        last = an.last_reaching_attempt(doc.shard_id, doc.positions[0], doc.index)
        if last is None or not last.retry:
            continue
        earlier = {
            p for d in an.docs if d.index < doc.index and d.shard_id == doc.shard_id for p in d.positions
        }
        # The records still to process, less any already described, or less a leading run that
        # grew too old and went (or goes) in a RecordAgeExceeded document of its own (RETRY-7).
        expected = [tuple(p for p in last.retry if p not in earlier), *acceptable_retries(an, last, doc.at)]
        if doc.positions not in expected:
            out.violate(
                f"{subject} does not describe the discarded batch: after {last.name} the records still to "
                f"process were {an.labels(doc.shard_id, last.retry)}"
            )


def _acked_before(an: Analysis, doc: Doc, position: int) -> bool:
    acked = an.fate(doc.shard_id or "", position).acked_by
    return acked is not None and acked.index < doc.index


@checker("DLQ-11")
def invoke_count(an: Analysis, out: Findings) -> None:
    """For RetryAttemptsExhausted, approximateInvokeCount is the number of invocations of the
    discarded batch: MaximumRetryAttempts + 1."""
    quota = an.settings.quota
    for doc in _documents(an):
        if doc.condition != "RetryAttemptsExhausted" or doc.shard_id is None or not doc.positions:
            continue
        last = an.last_reaching_attempt(doc.shard_id, doc.positions[0], doc.index)
        if last is None or not last.reached:
            continue
        out.exercise()
        run = an.run_of(last)
        count = (doc.request_context or {}).get("approximateInvokeCount")
        allowed = {run.real, run.real + run.inherited}
        if quota is not None:
            allowed.add(quota)
        if an.settings.bisect:
            # BISECT-5 is uncertain whether halves start a fresh count: a count that includes the
            # record's invocations in the larger batches it was split from is accepted too.
            delivered = an.fate(doc.shard_id, doc.positions[0]).failed_deliveries
            allowed.update(range(run.real, delivered + 1))
        if not _is_int(count) or count not in allowed:
            expected = " or ".join(str(n) for n in sorted(allowed))
            out.violate(
                f"{doc_subject(an, doc)} gives approximateInvokeCount {count!r}, but the discarded batch was "
                f"invoked {run.real} time(s) (expected {expected}; MaximumRetryAttempts "
                f"{an.settings.max_retries})"
            )


# ---- S3 ------------------------------------------------------------------------------------------


def _s3_docs(an: Analysis) -> list[Doc]:
    return [d for d in _documents(an) if d.kind == "s3"]


def _payload(doc: Doc) -> tuple[Any, bool]:
    """(the payload as a JSON value, whether it was embedded as a string)."""
    if doc.document is None:
        return None, False
    value = doc.document.get("payload")
    if isinstance(value, str):
        try:
            return json.loads(value), True
        except ValueError:
            return value, True
    return value, False


def _record_problems(an: Analysis, raw: Any, record: Any) -> list[str]:
    if an.kinesis:
        return [
            *kinesis_envelope_problems(raw, an),
            *kinesis_data_problems(raw, record),
            *kinesis_id_problems(raw, record),
        ]
    return [
        *dynamodb_envelope_problems(raw, an),
        *dynamodb_stream_record_problems(raw, record, wide_items=an.scenario.world.wide_items),
    ]


def _last_sent(an: Analysis, shard_id: str, position: int, before: int) -> Any:
    fate = an.fate(shard_id, position)
    for attempt in reversed(fate.sends):
        if attempt.index < before:
            for sent in attempt.view.sent:
                if sent.record is fate.record:
                    return sent.raw
    return None


@checker("S3-1")
def s3_payload(an: Analysis, out: Findings) -> None:
    """An S3 object adds "payload": the invocation event {"Records": [...]} of the discarded
    records, exactly as they were (or would have been) sent; so it is an S3 object, put in the
    destination bucket."""
    _misdirected_refusals(an, out, ("s3",))
    for doc in _s3_docs(an):
        if doc.document is None:
            continue
        out.exercise()
        payload, _ = _payload(doc)
        subject = doc_subject(an, doc)
        records = payload.get("Records") if isinstance(payload, Mapping) else None
        if not isinstance(records, list):
            out.violate(f'{subject} has payload {describe_value(payload)}, not an event {{"Records": [...]}}')
            continue
        if doc.shard_id is None or not doc.positions:
            continue
        if len(records) != len(doc.positions):
            out.violate(
                f"{subject} has {len(records)} payload record(s) for the {len(doc.positions)} described"
            )
            continue
        for raw, position in zip(records, doc.positions, strict=False):
            record = an.record(doc.shard_id, position)
            sent = _last_sent(an, doc.shard_id, position, doc.index)
            if sent is not None:
                if raw != sent:
                    out.violate(
                        f"{subject}: the payload record for {an.label(record)} differs from the record "
                        "sent to the function"
                    )
                    break
                continue
            inner_key, number_key = (
                ("kinesis", "sequenceNumber") if an.kinesis else ("dynamodb", "SequenceNumber")
            )
            inner = raw.get(inner_key) if isinstance(raw, Mapping) else None
            named = inner.get(number_key) if isinstance(inner, Mapping) else None
            problems = _record_problems(an, raw, record if named == record.sequence_number else None)
            if problems:
                out.violate(f"{subject}: the payload record for {an.label(record)} has {'; '.join(problems)}")
                break


@checker("S3-2")
def s3_payload_object(an: Analysis, out: Findings) -> None:
    """The payload SHOULD be embedded as a JSON object (a JSON string is accepted by S3-1)."""
    for doc in _s3_docs(an):
        if doc.document is None or "payload" not in doc.document:
            continue
        out.exercise()
        _, as_string = _payload(doc)
        if as_string:
            out.violate(f"{doc_subject(an, doc)} embeds payload as a JSON string; it should be a JSON object")


def _key_match(doc: Doc) -> re.Match[str] | None:
    return _S3_KEY.match(doc.write.s3_key or "")


@checker("S3KEY-1")
def s3_key_format(an: Analysis, out: Findings) -> None:
    """The object key is aws/lambda/<mapping UUID>/<shardId>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>."""
    for doc in _s3_docs(an):
        out.exercise()
        if _key_match(doc) is None:
            out.violate(
                f"{doc_subject(an, doc)} was stored under key {doc.write.s3_key!r}, not "
                "aws/lambda/<mapping UUID>/<shardId>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>"
            )


@checker("S3KEY-2")
def s3_key_time(an: Analysis, out: Findings) -> None:
    """The key's date and time are the document's timestamp (UTC), truncated to the second."""
    for doc in _s3_docs(an):
        match = _key_match(doc)
        if match is None or doc.document is None:
            continue
        instant = _parse_instant(doc.document.get("timestamp"), _MILLIS) or _parse_instant(
            doc.document.get("timestamp"), _WHOLE_SECONDS
        )
        if instant is None:
            continue
        out.exercise()
        path = instant.strftime("%Y/%m/%d")
        stamp = instant.strftime("%Y-%m-%dT%H.%M.%S")
        got_path = f"{match['y']}/{match['m']}/{match['d']}"
        got_stamp = f"{match['y2']}-{match['m2']}-{match['d2']}T{match['H']}.{match['M']}.{match['S']}"
        if (got_path, got_stamp) != (path, stamp):
            out.violate(
                f"{doc_subject(an, doc)} has timestamp {doc.document.get('timestamp')}, so its key "
                f"{doc.write.s3_key!r} holds {path}/{stamp}, but the key has {got_path}/{got_stamp}"
            )


@checker("S3KEY-3")
def s3_key_ids(an: Analysis, out: Findings) -> None:
    """The key holds the mapping's UUID and the full shard id of the batch info."""
    for doc in _s3_docs(an):
        match = _key_match(doc)
        if match is None:
            continue
        out.exercise()
        problems = []
        if match["uuid"] != an.observation.mapping_uuid:
            problems.append(f"{match['uuid']!r} instead of the mapping UUID {an.observation.mapping_uuid!r}")
        shard = doc.info.get("shardId") if doc.info is not None else None
        if shard is not None and match["shard"] != shard:
            problems.append(f"{match['shard']!r} instead of the batch info's shardId {shard!r}")
        if problems:
            out.violate(f"{doc_subject(an, doc)} has key {doc.write.s3_key!r} with {'; '.join(problems)}")


@checker("S3KEY-4")
def s3_key_suffix(an: Analysis, out: Findings) -> None:
    """The key ends in a random lowercase UUID, different for every object."""
    seen: dict[str, Doc] = {}
    for doc in _s3_docs(an):
        match = _key_match(doc)
        if match is None:
            continue
        out.exercise()
        suffix = match["suffix"]
        if not _UUID.match(suffix):
            out.violate(
                f"{doc_subject(an, doc)} has key suffix {suffix!r}, not a lowercase UUID (8-4-4-4-12)"
            )
            continue
        earlier = seen.setdefault(suffix, doc)
        if earlier is not doc:
            out.violate(
                f"{doc_subject(an, doc)} reuses the key suffix {suffix} of {earlier.name}; it is random"
            )
