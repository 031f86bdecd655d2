"""Public Hypothesis strategies for parameter probes: mappings a poller must refuse or accept.

``scenarios()`` promises valid parameters. The PARAM rules need the opposite as well:

* ``invalid_mapping_parameters(rule_id)``: valid parameters (within what the poller claims) with
  exactly one value CreateEventSourceMapping refuses: out of range, of the wrong type, an unknown
  enum value, a malformed destination, or (PARAM-12) a parameter of a feature the poller does not
  claim or an unknown parameter name;
* ``edge_mapping_parameters(rule_id)``: valid parameters with the rule's parameter at or inside
  the edges of its range (BatchSize 1 and 10000, retries -1, 0 and 10000 ...), sometimes with
  ``FunctionName``/``EventSourceArn`` given as well;
* ``parameter_probes(rule_id)``: a small stream of records that all succeed, mapped with one of
  the two. The oracle deciding which is which is ``conformance.rules.validation``.

Values just outside and at the edges are drawn first, so shrinking ends on them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from conformance.contract import Capabilities
from conformance.rules.validation import PARAMETER_RULES, UNCLAIMED_FEATURES, parameter_problems
from conformance.scenario import ClockPlan, RecordSpec, Scenario, ShardSpec, Source
from conformance.strategies import mapping_parameters, scenarios
from conformance.world import names

__all__ = [
    "ACCEPTING_RULES",
    "REFUSING_RULES",
    "accepted_edges",
    "edge_mapping_parameters",
    "invalid_mapping_parameters",
    "parameter_probes",
    "probe_examples",
    "refused_edges",
]

REFUSING_RULES = frozenset(PARAMETER_RULES) - {"PARAM-3"}
"""PARAM rules probed with a mapping the poller must refuse."""
ACCEPTING_RULES = frozenset(PARAMETER_RULES) - {"PARAM-9", "PARAM-12"}
"""PARAM rules probed with a valid mapping the poller must accept and serve."""

_POLL_GAP = 3.0
"""Probes poll every 3 s: a 300 s batching window then settles in about 200 polls."""
_BIG = 10**7


def _one(name: str, values: SearchStrategy[Any]) -> SearchStrategy[dict[str, Any]]:
    return values.map(lambda value: {name: value})


def _edges(name: str, values: list[Any]) -> list[dict[str, Any]]:
    return [{name: value} for value in values]


# ---- the edges: finite lists, the runner's explicit examples and every strategy's first choices --

_RANGES: Mapping[str, tuple[str, list[int], list[int], int, int]] = {
    # rule: parameter, valid edges, refused edges just outside, valid range drawn between
    "PARAM-1": ("BatchSize", [1, 10_000], [0, 10_001], 1, 10_000),  # BATCH-1
    "PARAM-2": ("MaximumBatchingWindowInSeconds", [0, 300], [-1, 301], 0, 300),  # BATCH-3
    "PARAM-4": ("MaximumRetryAttempts", [-1, 0, 10_000], [-2, 10_001], -1, 10_000),  # RETRY-1
    # RETRY-2: 0..59 lie inside the API's absolute range, yet are refused.
    "PARAM-5": ("MaximumRecordAgeInSeconds", [-1, 60, 604_800], [59, 0, 30, -2, 604_801], 60, 604_800),
    "PARAM-10": ("ParallelizationFactor", [1], [0, 11], 1, 1),  # ORD-7's range
}
_NEEDS_FEATURE = {
    # A valid value other than the default is only served by a poller claiming the feature.
    "MaximumBatchingWindowInSeconds": ("batching_window", 0),
    "MaximumRecordAgeInSeconds": ("record_age", -1),
}

_BAD_DESTINATIONS = [
    "not-an-arn",
    f"arn:aws:lambda:{names.REGION}:{names.ACCOUNT_ID}:function:{names.FUNCTION_NAME}",
    names.KINESIS_STREAM_ARN,
    f"arn:aws:sqs:{names.REGION}:123:{names.QUEUE_NAME}",
    f"arn:aws:s3:::{names.BUCKET_NAME}/prefix",
    "",
    123,
]

_UNKNOWN_NAMES: Mapping[str, Any] = {
    "Queues": ["conformance-queue"],  # Amazon MQ
    "Topics": ["conformance-topic"],  # Kafka
    "ScalingConfig": {"MaximumConcurrency": 2},  # SQS
    "BatchSizes": 10,  # a misspelling
    "MaximumRetryAttempt": 1,  # a misspelling
}

_FILTER = {"Filters": [{"Pattern": json.dumps({"data": {"kind": ["wanted"]}})}]}
_UNCLAIMED_EDGES: Mapping[str, Any] = {
    "ParallelizationFactor": 2,
    "TumblingWindowInSeconds": 1,
    "FilterCriteria": _FILTER,
}


def refused_edges(
    rule_id: str, source: str, capabilities: Capabilities | None = None
) -> list[dict[str, Any]]:
    """The changes (``{name: value}``; None removes the parameter) that make a refusal probe for
    ``rule_id`` at the edge: values just outside the range, the first wrong types and enum values."""
    claims = _claims(capabilities)
    if rule_id in _RANGES:
        name, valid, refused, _, _ = _RANGES[rule_id]
        return _edges(name, [*refused, str(valid[-1])])  # a valid number, as text
    if rule_id == "PARAM-6":  # BISECT-1
        return _edges("BisectBatchOnFunctionError", ["true", 1, 0, "yes", "false"])
    if rule_id == "PARAM-7":  # PBF-1
        values: list[Any] = [
            ["Foo"],
            "ReportBatchItemFailures",
            ["ReportBatchItemFailures", "ReportBatchItemFailures"],
            ["reportBatchItemFailures"],
            1,
        ]
        return _edges("FunctionResponseTypes", values)
    if rule_id in ("PARAM-8", "PARAM-9"):  # START-1
        out = [
            {"StartingPosition": None},
            *_edges("StartingPosition", ["invalid", "latest", "AT_SEQUENCE_NUMBER", ""]),
        ]
        if source == "dynamodb":
            out.append({"StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": 0})
        return out
    if rule_id == "PARAM-11":  # DLQ-1
        configs: list[Any] = [{"OnFailure": {"Destination": arn}} for arn in _BAD_DESTINATIONS]
        return _edges("DestinationConfig", [*configs, names.QUEUE_ARN, [names.QUEUE_ARN]])
    if rule_id == "PARAM-12":
        out = [
            {name: value}
            for name, value in _UNCLAIMED_EDGES.items()
            if UNCLAIMED_FEATURES[name] not in claims.features
        ]
        return out + [{name: value} for name, value in _UNKNOWN_NAMES.items()]
    raise ValueError(f"{rule_id!r} has no refusal probes; refusing rules are {sorted(REFUSING_RULES)}")


def accepted_edges(
    rule_id: str, source: str, capabilities: Capabilities | None = None
) -> list[dict[str, Any]]:
    """The changes that make an acceptance probe for ``rule_id`` at the edge: each valid edge
    value the poller's claims let it serve."""
    claims = _claims(capabilities)
    claimed = claims.features
    if rule_id in _RANGES:
        name, valid, _, _, _ = _RANGES[rule_id]
        feature, default = _NEEDS_FEATURE.get(name, ("", None))
        return _edges(name, [v for v in valid if not feature or feature in claimed or v == default])
    if rule_id == "PARAM-3":  # BATCH-7: no "window >= 1 when BatchSize > 10" rule for streams
        return [{"BatchSize": 11, "MaximumBatchingWindowInSeconds": 0}, {"BatchSize": 10_000}]
    if rule_id == "PARAM-6":
        return _edges("BisectBatchOnFunctionError", [False, True] if "bisect" in claimed else [False])
    if rule_id == "PARAM-7":
        types: list[Any] = [[]]
        if "report_batch_item_failures" in claimed:
            types.append(["ReportBatchItemFailures"])
        return _edges("FunctionResponseTypes", types)
    if rule_id == "PARAM-8":  # START-1, START-4: the epoch is a valid timestamp
        return [_start(name, 0) for name in _positions(source, claims)]
    if rule_id == "PARAM-11":  # DLQ-1: each destination kind claimed, or none
        configs: list[Any] = [{"OnFailure": {}}]
        configs += [
            {"OnFailure": {"Destination": arn}}
            for kind, arn in names.DESTINATION_ARNS.items()
            if f"destination_{kind}" in claimed
        ]
        return _edges("DestinationConfig", configs)
    raise ValueError(f"{rule_id!r} has no acceptance probes; accepting rules are {sorted(ACCEPTING_RULES)}")


# ---- beyond the edges -------------------------------------------------------------------------


def _ill_typed(near: int) -> SearchStrategy[Any]:
    # A number as text, a fraction, a boolean (an int subclass in Python) and a list: each a
    # value a loosely typed poller might coerce instead of refusing.
    return st.sampled_from([str(abs(near) + 1), abs(near) + 0.5, True, [abs(near) + 1]])


def _invalid_values(rule_id: str, source: str, claims: Capabilities) -> SearchStrategy[dict[str, Any]]:
    """``{name: value}`` to set (a value of None removes the parameter) for one refusal."""
    edges = st.sampled_from(refused_edges(rule_id, source, claims))
    if rule_id in _RANGES:
        name, _, refused, low, _ = _RANGES[rule_id]
        below = min(refused) if min(refused) < low else low - 1
        far = st.one_of(st.integers(-_BIG, below), st.integers(max(refused), _BIG), _ill_typed(refused[0]))
        if name == "MaximumRecordAgeInSeconds":
            far = st.one_of(far, st.integers(0, 59))
        return st.one_of(edges, _one(name, far))
    if rule_id == "PARAM-12":
        features = [
            _one(name, values)
            for name, values in (
                ("ParallelizationFactor", st.integers(2, 10)),
                ("TumblingWindowInSeconds", st.integers(1, 900)),
            )
            if UNCLAIMED_FEATURES[name] not in claims.features
        ]
        return st.one_of(edges, *features)
    return edges


def _positions(source: str, claims: Capabilities) -> list[str]:
    positions = ["TRIM_HORIZON"]
    if "starting_position_latest" in claims.features:
        positions.append("LATEST")
    if source == "kinesis" and "starting_position_at_timestamp" in claims.features:
        positions.append("AT_TIMESTAMP")
    return positions


def _start(position: str, stamp: float) -> dict[str, Any]:
    if position == "AT_TIMESTAMP":
        return {"StartingPosition": position, "StartingPositionTimestamp": stamp}
    return {"StartingPosition": position}


def _starts(source: str, claims: Capabilities) -> SearchStrategy[dict[str, Any]]:
    """Each claimed StartingPosition; AT_TIMESTAMP with a timestamp at or just after the epoch
    (START-4: Unix seconds, a fraction allowed), so every record is read."""
    stamps = st.one_of(st.just(0), st.floats(0, 1, exclude_max=True))
    return st.builds(_start, st.sampled_from(_positions(source, claims)), stamps)


def _edge_values(rule_id: str, source: str, claims: Capabilities) -> SearchStrategy[dict[str, Any]]:
    """``{name: value}`` of valid values at or inside the edges for one acceptance."""
    edges = st.sampled_from(accepted_edges(rule_id, source, claims))
    if rule_id in _RANGES:
        name, _, _, low, high = _RANGES[rule_id]
        feature, _ = _NEEDS_FEATURE.get(name, ("", None))
        if not feature or feature in claims.features:
            return st.one_of(edges, _one(name, st.integers(low, high)))
    if rule_id == "PARAM-3":
        inside = st.integers(11, 10_000).map(lambda size: {"BatchSize": size})
        return st.one_of(edges, inside)
    if rule_id == "PARAM-8":
        return _starts(source, claims)
    return edges


def _claims(capabilities: Capabilities | None) -> Capabilities:
    return capabilities if capabilities is not None else Capabilities()


def _valid_base(source: str, claims: Capabilities) -> SearchStrategy[dict[str, Any]]:
    """Valid parameters that use only what the poller claims (for the refusal probes)."""
    claimed = claims.features
    kinds = [k for k in ("sqs", "sns", "s3") if f"destination_{k}" in claimed]
    destinations = st.sampled_from([*kinds, "none"])
    positions = st.sampled_from(_positions(source, claims))
    return st.builds(lambda destination, position: (destination, position), destinations, positions).flatmap(
        lambda chosen: mapping_parameters(
            source,
            destination=chosen[0],
            starting_position=chosen[1],
            report_batch_item_failures=None if "report_batch_item_failures" in claimed else False,
            bisect=None if "bisect" in claimed else False,
            record_age=None if "record_age" in claimed else False,
            batching_window=None if "batching_window" in claimed else False,
        )
    )


def _apply(parameters: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(parameters)
    for name, value in changes.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def invalid_mapping_parameters(
    rule_id: str, source: str = "kinesis", capabilities: Capabilities | None = None
) -> SearchStrategy[dict[str, Any]]:
    """Valid mapping parameters within ``capabilities`` (default: the kit's default claims) with
    exactly one value that PARAM rule ``rule_id`` says CreateEventSourceMapping refuses."""
    claims = _claims(capabilities)
    values = _invalid_values(rule_id, source, claims)
    judged = "PARAM-8" if rule_id == "PARAM-9" else rule_id

    def only_this_problem(parameters: dict[str, Any]) -> bool:
        return set(parameter_problems(parameters, source)) == {judged}

    return st.builds(_apply, _valid_base(source, claims), values).filter(only_this_problem)


def edge_mapping_parameters(
    rule_id: str, source: str = "kinesis", capabilities: Capabilities | None = None
) -> SearchStrategy[dict[str, Any]]:
    """Valid mapping parameters with PARAM rule ``rule_id``'s parameter at or inside the edges of
    its range; the other parameters are omitted (their defaults), except sometimes
    ``FunctionName`` and ``EventSourceArn``, given with the values of the mapping served."""
    claims = _claims(capabilities)
    start = _starts(source, claims)
    identity: list[dict[str, Any]] = [
        {},
        {"FunctionName": names.FUNCTION_NAME},
        {"FunctionName": names.FUNCTION_ARN},
    ]
    if source == "kinesis":
        identity.append({"EventSourceArn": names.KINESIS_STREAM_ARN})
    return st.builds(
        lambda base, edge, extra: {**base, **edge, **extra},
        start,
        _edge_values(rule_id, source, claims),
        st.sampled_from(identity),
    )


def _stream(source: str) -> Scenario:
    """The stream of the explicit probes: one shard, two records arriving after the start."""
    if source == "kinesis":
        shard_id, first = "shardId-000000000000", 49590338271490256608559692538361571095921575989136588800
    else:
        shard_id, first = "shardId-00000001709251200000-0a1b2c3d", 4421584500000000017450439091
    records = tuple(RecordSpec(str(first + i), f"pk-{i}", b"{}", 1.0 + i) for i in range(2))
    start = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
    return Scenario(Source(source), (ShardSpec(shard_id, records),), {}, ClockPlan(start, (_POLL_GAP,)))


def probe_examples(rule_id: str, capabilities: Capabilities | None = None) -> list[Scenario]:
    """Every edge of ``rule_id`` as a probe over a small fixed stream, for each claimed source:
    the searches run these first (Hypothesis explicit examples), so no edge is left to chance."""
    claims = _claims(capabilities)
    out = []
    for source in _sources(claims):
        stream = _stream(source)
        edges = []
        if rule_id in REFUSING_RULES:
            edges += refused_edges(rule_id, source, claims)
        if rule_id in ACCEPTING_RULES:
            edges += accepted_edges(rule_id, source, claims)
        for edge in edges:
            out.append(
                dataclasses.replace(stream, parameters=_apply({"StartingPosition": "TRIM_HORIZON"}, edge))
            )
    return out


def _sources(claims: Capabilities) -> list[str]:
    sources = sorted(claims.sources & {"kinesis", "dynamodb"}, reverse=True)  # kinesis first
    if not sources:
        raise ValueError("the capabilities claim no source (kinesis or dynamodb) to probe")
    return sources


def parameter_probes(rule_id: str, capabilities: Capabilities | None = None) -> SearchStrategy[Scenario]:
    """Scenarios for PARAM rule ``rule_id``: one or two shards of a few records that all
    succeed, mapped with ``invalid_mapping_parameters`` or ``edge_mapping_parameters``, polled
    every few seconds."""
    if rule_id not in PARAMETER_RULES:
        raise ValueError(f"{rule_id!r} is not a PARAM rule; they are {', '.join(PARAMETER_RULES)}")
    claims = _claims(capabilities)
    sources = _sources(claims)
    kinds: list[Callable[..., SearchStrategy[dict[str, Any]]]] = []
    if rule_id in REFUSING_RULES:
        kinds.append(invalid_mapping_parameters)
    if rule_id in ACCEPTING_RULES:
        kinds.append(edge_mapping_parameters)

    @st.composite
    def build(draw: st.DrawFn) -> Scenario:
        source = draw(st.sampled_from(sources))
        stream = draw(
            scenarios(
                source=source,
                destination="none",
                report_batch_item_failures=False,
                bisect=False,
                failures=False,
                throttles=False,
                record_age=False,
                batching_window=False,
                starting_position="TRIM_HORIZON",
                large_records=False,
                max_shards=2,
                max_records=3,
            )
        )
        kind = draw(st.sampled_from(kinds))
        parameters = draw(kind(rule_id, source, claims))
        # A fresh scenario: only the stream is kept, with the world's defaults (no injected
        # faults), so what the poller does is down to the parameters.
        return Scenario(
            source=stream.source,
            shards=stream.shards,
            parameters=parameters,
            clock=ClockPlan(stream.clock.start, (_POLL_GAP,)),
        )

    return build()
