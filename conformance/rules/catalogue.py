"""The rule catalogue: data, one entry per rule id, in SPEC order.

Levels follow the evidence: MUST where SPEC.md has recorded (REC) or documented (DOC) evidence,
SHOULD where it marks the behaviour uncertain (⚠). ``needs`` names the capabilities a rule
needs (an implementation that does not claim them gets a SKIP); ``focus`` holds the keyword
arguments of ``conformance.strategies.scenarios`` that make the rule likely to be exercised.

Parameter validation (BATCH-1, BATCH-3, BATCH-7, RETRY-1, RETRY-2, BISECT-1, PBF-1's values,
START-1, ORD-7's range, DLQ-1) is the PARAM family: kit ids, because PBF-1 and ORD-7 already name
behaviour rules, each citing its SPEC id. PARAM rules are not judged on ``focus`` scenarios but on
parameter probes (``conformance.probes``: one refused value, or valid edge values) and need the
``parameter_validation`` capability: a poller validated by an API layer in front of it (as
LocalStack's is) does not claim it and is skipped.

Not catalogued, and why:
* FILT-4, CFG-*: create-time behaviour outside the poller (filter patterns, the create response,
  duplicate mappings, missing streams).
* BATCH-8, EVT-K-5, DLQ-12, S3-3, RETRY-12: informational in SPEC.md (no testable statement).
* RETRY-13: function timeouts cannot be produced: the scripted function never times out.
* START-5, TW-*, FILT-*: re-enabling, tumbling windows and filters are outside the scenario model.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from conformance.rules.model import Level, Rule, family_of

__all__ = ["CATALOGUE"]

MUST = Level.MUST
SHOULD = Level.SHOULD

_SECTIONS = {
    "ORD": "§1",
    "BATCH": "§2",
    "EVT-K": "§3",
    "EVT-D": "§3",
    "RETRY": "§4",
    "BISECT": "§5",
    "PBF": "§6",
    "DLQ": "§7",
    "S3": "§8",
    "S3KEY": "§8",
    "START": "§11",
}

_FAILING: dict[str, Any] = {"failures": True}
_SQS: dict[str, Any] = {"destination": "sqs", "failures": True, "reported_pair": True}
_S3: dict[str, Any] = {"destination": "s3", "failures": True}
_BISECT: dict[str, Any] = {"bisect": True, "failures": True}
# Partial batch responses: a response reporting two records with an unreported one after them, so
# which record is the lowest, what is acknowledged before it and what the retry holds all show.
_RBIF: dict[str, Any] = {"report_batch_item_failures": True, "failures": True, "reported_pair": True}


def _rule(
    rule_id: str,
    level: Level,
    title: str,
    needs: tuple[str, ...] = (),
    focus: Mapping[str, Any] | None = None,
    spec: str | None = None,
) -> Rule:
    family = family_of(rule_id)
    return Rule(
        id=rule_id,
        family=family,
        level=level,
        title=title,
        spec=spec or f"SPEC {_SECTIONS[family]} {rule_id}",
        needs=frozenset(needs),
        focus=MappingProxyType(dict(focus or {})),
    )


def _param(rule_id: str, level: Level, title: str, spec_rule: str) -> Rule:
    # Probes, not focus scenarios, exercise these; the capability gates the whole family.
    return _rule(rule_id, level, title, needs=("parameter_validation",), spec=f"SPEC {spec_rule} ({rule_id})")


_RULES = (
    # ---- §1 ordering -------------------------------------------------------------------------
    _rule("ORD-1", MUST, "every batch holds records of one shard only"),
    _rule("ORD-2", MUST, "records in a batch ascend by sequence number, compared as integers"),
    _rule("ORD-3", MUST, "with ParallelizationFactor 1, one batch per shard is in flight", focus=_FAILING),
    _rule("ORD-4", MUST, "after a successful batch, the next batch starts right after its last record"),
    _rule(
        "ORD-5", MUST, "a failing batch blocks its shard until it succeeds or is discarded", focus=_FAILING
    ),
    _rule("ORD-6", MUST, "an error on one shard does not block the other shards", focus=_FAILING),
    _rule(
        "ORD-7",
        SHOULD,
        "with ParallelizationFactor > 1, order is kept per partition key",
        needs=("parallelization",),
    ),
    _rule(
        "ORD-8",
        SHOULD,
        "after resharding, a parent's records come before its children's",
        needs=("resharding",),
    ),
    _rule(
        "ORD-9",
        MUST,
        "delivery is at least once: a record discarded as failed reached the function first",
        # A discarded record is only seen as discarded in a destination document (or when it was
        # sent only in throttled invocations), so the focus always configures one.
        needs=("destination_sqs",),
        focus={**_SQS, "throttles": True},
    ),
    # ---- §2 batching -------------------------------------------------------------------------
    _rule("BATCH-2", MUST, "a batch never holds more than BatchSize records"),
    _rule(
        "BATCH-4",
        MUST,
        "with no batching window, records are invoked as soon as they are available",
        focus={"batching_window": False},
    ),
    _rule(
        "BATCH-5",
        SHOULD,
        "with a batching window, a partial batch waits for the window and no longer",
        needs=("batching_window",),
        focus={"batching_window": True},
    ),
    _rule(
        "BATCH-6",
        MUST,
        "the invocation payload never exceeds 6 MiB; batches are cut short for it",
        focus={"large_records": True},
    ),
    _rule("BATCH-9", MUST, "the function is never invoked with zero records"),
    # ---- §3 event shape ----------------------------------------------------------------------
    _rule(
        "EVT-K-1",
        MUST,
        'Kinesis: invoked synchronously with {"Records": [...]}',
        needs=("kinesis",),
        focus={"source": "kinesis"},
    ),
    _rule(
        "EVT-K-2",
        MUST,
        "Kinesis: each record has exactly the eight keys with the mapping's values",
        needs=("kinesis",),
        focus={"source": "kinesis"},
    ),
    _rule(
        "EVT-K-3",
        MUST,
        "Kinesis: the kinesis object carries the record (base64 data, arrival in epoch seconds)",
        needs=("kinesis",),
        focus={"source": "kinesis", "large_records": False},
    ),
    _rule(
        "EVT-K-4",
        MUST,
        "Kinesis: eventID is <shardId>:<sequenceNumber>",
        needs=("kinesis",),
        focus={"source": "kinesis"},
    ),
    _rule(
        "EVT-D-1",
        MUST,
        'DynamoDB: {"Records": [...]} with the seven record keys and the stream eventID',
        needs=("dynamodb",),
        focus={"source": "dynamodb"},
    ),
    _rule(
        "EVT-D-2",
        MUST,
        "DynamoDB: the dynamodb object has numeric ApproximateCreationDateTime and base64 binaries",
        needs=("dynamodb",),
        focus={"source": "dynamodb"},
    ),
    # ---- §4 retries --------------------------------------------------------------------------
    _rule(
        "RETRY-3",
        MUST,
        "a failed batch is retried whole, at most MaximumRetryAttempts + 1 times, then discarded",
        focus={"failures": True, "bisect": False},
    ),
    _rule("RETRY-4", MUST, "with MaximumRetryAttempts 0 a failed batch is discarded at once", focus=_FAILING),
    _rule(
        "RETRY-5",
        MUST,
        "with MaximumRetryAttempts -1 a failing batch is retried until its records are too old",
        focus=_FAILING,
    ),
    _rule(
        "RETRY-6",
        MUST,
        "throttles are retried and do not count toward MaximumRetryAttempts",
        # Failing batches too: a throttle only shows as miscounted while a batch is being retried.
        focus={"throttles": True, "failures": True},
    ),
    _rule(
        "RETRY-7",
        MUST,
        "records older than MaximumRecordAgeInSeconds are discarded, not invoked",
        needs=("record_age",),
        focus={"record_age": True},
    ),
    _rule(
        "RETRY-8",
        SHOULD,
        "a record too old when first polled is reported with count 1 and no responseContext",
        needs=("record_age", "destination_sqs"),
        focus={"record_age": True, "destination": "sqs"},
    ),
    _rule(
        "RETRY-9",
        MUST,
        "whichever limit is reached first ends the retries, and the condition says which",
        needs=("record_age", "destination_sqs"),
        focus={"record_age": True, "failures": True, "destination": "sqs"},
    ),
    _rule(
        "RETRY-10",
        MUST,
        "a discard moves the checkpoint past the batch and unblocks the shard",
        needs=("destination_sqs",),
        focus=_SQS,
    ),
    _rule(
        "RETRY-11",
        MUST,
        "with no destination, discarded records are skipped silently and processing continues",
        focus={"failures": True, "destination": "none"},
    ),
    # ---- §5 bisection ------------------------------------------------------------------------
    _rule(
        "BISECT-2",
        MUST,
        "a batch failing with a function error is split, and its lower part goes first",
        needs=("bisect",),
        focus=_BISECT,
    ),
    _rule(
        "BISECT-3",
        MUST,
        "a split does not use up the retry quota",
        needs=("bisect",),
        focus=_BISECT,
    ),
    _rule(
        "BISECT-4",
        SHOULD,
        "splits are halves, repeated until the failing record is alone; succeeded halves are not redelivered",
        needs=("bisect",),
        focus=_BISECT,
    ),
    _rule(
        "BISECT-5",
        SHOULD,
        "an isolated record gets MaximumRetryAttempts + 1 invocations, then RetryAttemptsExhausted",
        needs=("bisect",),
        focus=_BISECT,
    ),
    _rule(
        "BISECT-6",
        MUST,
        "bisection does not change BatchSize for later batches",
        needs=("bisect",),
        focus={**_BISECT, "batching_window": False, "record_age": False},
    ),
    _rule(
        "BISECT-7",
        MUST,
        "with ReportBatchItemFailures, function errors are bisected and partial failures are not",
        needs=("bisect", "report_batch_item_failures"),
        focus={**_BISECT, "report_batch_item_failures": True},
    ),
    _rule(
        "BISECT-8",
        SHOULD,
        "a merged destination document describes only records that failed",
        needs=("bisect", "destination_sqs"),
        focus={**_BISECT, "destination": "sqs"},
    ),
    _rule(
        "BISECT-9",
        MUST,
        "throttled batches are retried whole, never bisected",
        needs=("bisect",),
        focus={"bisect": True, "throttles": True},
    ),
    # ---- §6 partial batch responses ----------------------------------------------------------
    _rule(
        "PBF-1",
        MUST,
        "with ReportBatchItemFailures off, any return without an error is complete success",
        focus={"report_batch_item_failures": False},
    ),
    _rule(
        "PBF-2",
        MUST,
        "itemIdentifier is the record's sequence number: naming batch records is a partial failure",
        needs=("report_batch_item_failures",),
        focus=_RBIF,
    ),
    _rule(
        "PBF-3",
        MUST,
        "the retry begins at the lowest reported record and holds every later record",
        needs=("report_batch_item_failures",),
        focus=_RBIF,
    ),
    _rule(
        "PBF-4",
        MUST,
        'null, {}, [], "" and empty or null batchItemFailures are complete success',
        needs=("report_batch_item_failures",),
        focus={"report_batch_item_failures": True},
    ),
    _rule(
        "PBF-5",
        MUST,
        "invalid item identifiers make a complete failure, reported whole with functionError null",
        needs=("report_batch_item_failures",),
        focus=_RBIF,
    ),
    _rule(
        "PBF-6",
        MUST,
        'with ReportBatchItemFailures, an exception is a complete failure ("Unhandled")',
        needs=("report_batch_item_failures",),
        focus=_RBIF,
    ),
    _rule(
        "PBF-7",
        MUST,
        "partial-failure retries count against MaximumRetryAttempts; the suffix is then discarded",
        needs=("report_batch_item_failures",),
        focus=_RBIF,
    ),
    _rule(
        "PBF-8",
        SHOULD,
        "a batch shrunk by a partial failure gets MaximumRetryAttempts + 1 invocations of its own",
        needs=("report_batch_item_failures",),
        focus=_RBIF,
    ),
    # ---- §7 SQS/SNS documents ----------------------------------------------------------------
    _rule(
        "DLQ-2",
        MUST,
        "one JSON document per discarded batch, sent to the configured destination",
        needs=("destination_sns",),
        focus={"destination": "sns", "failures": True},
    ),
    _rule(
        "DLQ-3",
        MUST,
        "the document has exactly the top-level keys for its condition and source",
        needs=("destination_sqs",),
        focus=_SQS,
    ),
    _rule(
        "DLQ-4",
        MUST,
        "requestContext: requestId, functionArn, condition and approximateInvokeCount",
        needs=("destination_sqs",),
        focus=_SQS,
    ),
    _rule(
        "DLQ-5",
        MUST,
        "responseContext only for invoked failures, with statusCode, executedVersion, functionError",
        needs=("destination_sqs",),
        focus=_SQS,
    ),
    _rule(
        "DLQ-6",
        MUST,
        'version "1.0" and timestamp: the discard time in UTC with milliseconds',
        needs=("destination_sqs",),
        focus={**_SQS, "clock_edges": True},
    ),
    _rule(
        "DLQ-7",
        MUST,
        "KinesisBatchInfo has its seven keys, arrivals with milliseconds",
        needs=("destination_sqs", "kinesis"),
        focus={**_SQS, "source": "kinesis"},
    ),
    _rule(
        "DLQ-8",
        MUST,
        "DDBStreamBatchInfo has its seven keys, arrivals without fraction",
        needs=("destination_sqs", "dynamodb"),
        focus={**_SQS, "source": "dynamodb"},
    ),
    _rule(
        "DLQ-9",
        SHOULD,
        "the arrival times in the batch info are the records' own",
        needs=("destination_sqs",),
        focus=_SQS,
    ),
    _rule(
        "DLQ-10",
        MUST,
        "the batch info describes exactly the discarded records",
        needs=("destination_sqs",),
        focus=_SQS,
    ),
    _rule(
        "DLQ-11",
        MUST,
        "approximateInvokeCount is the number of invocations of the discarded batch",
        needs=("destination_sqs",),
        focus=_SQS,
    ),
    # ---- §8 S3 destination -------------------------------------------------------------------
    _rule(
        "S3-1",
        MUST,
        "an S3 object adds the payload: the discarded records exactly as sent",
        needs=("destination_s3",),
        focus=_S3,
    ),
    _rule(
        "S3-2",
        SHOULD,
        "the S3 payload is embedded as a JSON object, not a string",
        needs=("destination_s3",),
        focus=_S3,
    ),
    _rule(
        "S3KEY-1",
        MUST,
        "the object key is aws/lambda/<UUID>/<shardId>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>",
        needs=("destination_s3",),
        focus={**_S3, "clock_edges": True},
    ),
    _rule(
        "S3KEY-2",
        MUST,
        "the key's date and time are the document's timestamp truncated to the second",
        needs=("destination_s3",),
        focus={**_S3, "clock_edges": True},
    ),
    _rule(
        "S3KEY-3",
        MUST,
        "the key holds the mapping UUID and the full shard id",
        needs=("destination_s3",),
        focus={**_S3, "clock_edges": True},
    ),
    _rule(
        "S3KEY-4",
        SHOULD,
        "the key ends in a random lowercase UUID",
        needs=("destination_s3",),
        focus={**_S3, "clock_edges": True},
    ),
    # ---- §11 starting position ---------------------------------------------------------------
    _rule(
        "START-2",
        MUST,
        "TRIM_HORIZON reads every shard from its oldest record",
        focus={"starting_position": "TRIM_HORIZON"},
    ),
    _rule(
        "START-3",
        MUST,
        "LATEST reads only (and all) records added after the start",
        needs=("starting_position_latest",),
        focus={"starting_position": "LATEST"},
    ),
    _rule(
        "START-4",
        MUST,
        "AT_TIMESTAMP reads from the first record arrived at or after the timestamp",
        needs=("starting_position_at_timestamp", "kinesis"),
        focus={"starting_position": "AT_TIMESTAMP", "source": "kinesis"},
    ),
    # ---- parameter validation (conformance.probes; the SPEC id each one checks is its spec) ----
    _param("PARAM-1", MUST, "BatchSize outside 1..10000 is refused; 1 and 10000 are served", "§2 BATCH-1"),
    _param(
        "PARAM-2",
        MUST,
        "MaximumBatchingWindowInSeconds outside 0..300 is refused; 0 and 300 are served",
        "§2 BATCH-3",
    ),
    _param("PARAM-3", SHOULD, "BatchSize > 10 with no batching window is served (streams)", "§2 BATCH-7"),
    _param("PARAM-4", MUST, "MaximumRetryAttempts other than -1 or 0..10000 is refused", "§4 RETRY-1"),
    _param("PARAM-5", MUST, "MaximumRecordAgeInSeconds other than -1 or 60..604800 is refused", "§4 RETRY-2"),
    _param("PARAM-6", MUST, "BisectBatchOnFunctionError must be a boolean", "§5 BISECT-1"),
    _param(
        "PARAM-7",
        MUST,
        "FunctionResponseTypes other than [] or [ReportBatchItemFailures] is refused",
        "§6 PBF-1",
    ),
    _param(
        "PARAM-8",
        MUST,
        "StartingPosition is required, one of three, AT_TIMESTAMP for Kinesis only",
        "§11 START-1",
    ),
    _param("PARAM-9", SHOULD, "a refused StartingPosition is named in the error", "§11 START-1"),
    _param("PARAM-10", MUST, "ParallelizationFactor outside 1..10 is refused", "§1 ORD-7"),
    _param(
        "PARAM-11",
        MUST,
        "an OnFailure destination that is not an SQS, SNS or S3 ARN is refused; each kind is served",
        "§7 DLQ-1",
    ),
    _param(
        "PARAM-12",
        SHOULD,
        "unknown parameters, and parameters of features the poller does not claim, are refused",
        "§1 ORD-7, §9 TW-1, §10 FILT-1",
    ),
    # ---- kit rules ---------------------------------------------------------------------------
    _rule(
        "LOSS-1",
        MUST,
        "no record is lost: each is acknowledged, in a destination document, or discarded per the spec",
        focus=_FAILING,
        spec="kit rule: SPEC ORD-9, RETRY-10, RETRY-11, DLQ-2",
    ),
    _rule(
        "LIVE-1",
        MUST,
        "the run settles within its step and virtual-time budget",
        spec="kit rule: the harness budget (DESIGN, harness)",
        # Runs fail to settle mostly while failing records are retried (a limit ignored, a
        # retry loop that never ends); failing scenarios still carry records that succeed.
        focus=_FAILING,
    ),
)

CATALOGUE: Mapping[str, Rule] = MappingProxyType({rule.id: rule for rule in _RULES})
"""Every rule, keyed by id, ordered by family then number (SPEC order)."""
