"""The PARAM rules: CreateEventSourceMapping parameter validation, judged on probe observations.

A *probe* is a scenario whose ``parameters`` hold either exactly one value CreateEventSourceMapping
refuses (out of range, of the wrong type, an unknown enum value, a parameter for a feature the
poller does not claim) or only valid values, some of them at the edge of their range. The
runner gives the poller those parameters unchanged (``conformance.probes``) and records what it
did; this module decides what it should have done and judges it:

* refusal expected: the poller raises (in its factory, or in ``poll()``) before invoking the
  function or writing to any destination. No error type or message is demanded, except the
  SHOULD-level PARAM-9 for START-1, whose messages AWS recordings show.
* acceptance expected: the poller neither raises nor ends the run unsettled, and every record
  arriving after the start reaches the function.

``parameter_problems`` is the oracle: SPEC's ranges, by the PARAM rule that states each one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeGuard

from conformance.observation import Observation, RunStatus
from conformance.rules.analysis import Analysis
from conformance.rules.common import Findings, checker
from conformance.scenario import Behaviour, Scenario

__all__ = [
    "PARAMETER_RULES",
    "UNCLAIMED_FEATURES",
    "judge",
    "parameter_problems",
    "refused",
]

KNOWN_PARAMETERS = frozenset(
    {
        "BatchSize",
        "BisectBatchOnFunctionError",
        "DestinationConfig",
        "Enabled",
        "EventSourceArn",
        "FilterCriteria",
        "FunctionName",
        "FunctionResponseTypes",
        "MaximumBatchingWindowInSeconds",
        "MaximumRecordAgeInSeconds",
        "MaximumRetryAttempts",
        "ParallelizationFactor",
        "StartingPosition",
        "StartingPositionTimestamp",
        "TumblingWindowInSeconds",
    }
)
"""CreateEventSourceMapping fields that apply to a stream mapping (DOC-API). Written out here, not
taken from the reference's list: a checker never imports the poller it judges."""

UNCLAIMED_FEATURES: Mapping[str, str] = {
    "ParallelizationFactor": "parallelization",
    "TumblingWindowInSeconds": "tumbling_window",
    "FilterCriteria": "filtering",
}
"""Parameters that switch on an optional feature, with the capability a poller claims for it.
PARAM-12 probes them only against pollers that do not claim the capability."""

# Which parameter each rule probes (PARAM-3 probes the pair BatchSize + window; PARAM-9 judges
# PARAM-8's refusals; PARAM-12 has no single parameter).
PARAMETER_RULES: Mapping[str, str] = {
    "PARAM-1": "BatchSize",
    "PARAM-2": "MaximumBatchingWindowInSeconds",
    "PARAM-3": "BatchSize",
    "PARAM-4": "MaximumRetryAttempts",
    "PARAM-5": "MaximumRecordAgeInSeconds",
    "PARAM-6": "BisectBatchOnFunctionError",
    "PARAM-7": "FunctionResponseTypes",
    "PARAM-8": "StartingPosition",
    "PARAM-9": "StartingPosition",
    "PARAM-10": "ParallelizationFactor",
    "PARAM-11": "DestinationConfig",
    "PARAM-12": "",
}

_DESTINATION_ARN = re.compile(
    r"^arn:aws[a-z-]*:(?:(?:sqs|sns):[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+|s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])$"
)
_STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
_MISSING = object()


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _integer_problem(value: Any, low: int, high: int, minus_one: bool = False) -> str | None:
    allowed = f"-1 or {low}..{high}" if minus_one else f"{low}..{high}"
    if not _is_int(value):
        return f"{value!r} is not an integer (allowed: {allowed})"
    if (minus_one and value == -1) or low <= value <= high:
        return None
    return f"{value!r} is out of range (allowed: {allowed})"


def parameter_problems(parameters: Mapping[str, Any], source: str) -> dict[str, str]:
    """Why CreateEventSourceMapping refuses ``parameters`` for ``source`` (``kinesis`` or
    ``dynamodb``), by PARAM rule id; empty when every value is valid. ``None`` values count as
    omitted, as in the API. PARAM-12 lists parameters of the optional features and unknown names,
    which a poller that does not claim them must refuse as well."""
    problems: dict[str, str] = {}

    def given(name: str) -> Any:
        value = parameters.get(name, _MISSING)
        return _MISSING if value is None else value

    ranges = (
        ("PARAM-1", "BatchSize", 1, 10_000, False),  # BATCH-1
        ("PARAM-2", "MaximumBatchingWindowInSeconds", 0, 300, False),  # BATCH-3
        ("PARAM-4", "MaximumRetryAttempts", 0, 10_000, True),  # RETRY-1
        ("PARAM-5", "MaximumRecordAgeInSeconds", 60, 604_800, True),  # RETRY-2
        ("PARAM-10", "ParallelizationFactor", 1, 10, False),  # ORD-7
    )
    for rule_id, name, low, high, minus_one in ranges:
        value = given(name)
        if value is not _MISSING:
            problem = _integer_problem(value, low, high, minus_one)
            if problem:
                problems[rule_id] = f"{name}={problem}"
    bisect = given("BisectBatchOnFunctionError")
    if bisect is not _MISSING and not isinstance(bisect, bool):  # BISECT-1
        problems["PARAM-6"] = f"BisectBatchOnFunctionError={bisect!r} is not a boolean"
    types = given("FunctionResponseTypes")
    if types is not _MISSING and types not in ([], ["ReportBatchItemFailures"]):  # PBF-1
        problems["PARAM-7"] = f"FunctionResponseTypes={types!r} is not [] or ['ReportBatchItemFailures']"
    position = given("StartingPosition")  # START-1
    if position is _MISSING:
        problems["PARAM-8"] = "StartingPosition is missing (it is required for streams)"
    elif position not in _STARTING_POSITIONS:
        problems["PARAM-8"] = f"StartingPosition={position!r} is not one of {', '.join(_STARTING_POSITIONS)}"
    elif position == "AT_TIMESTAMP" and source != "kinesis":
        problems["PARAM-8"] = "StartingPosition='AT_TIMESTAMP' is not supported for DynamoDB Streams"
    destination = _destination_problem(given("DestinationConfig"))  # DLQ-1
    if destination:
        problems["PARAM-11"] = destination
    extra = _unclaimed(parameters)
    if extra:
        problems["PARAM-12"] = extra
    return problems


def _destination_problem(config: Any) -> str | None:
    if config is _MISSING:
        return None
    if not isinstance(config, Mapping) or set(config) - {"OnFailure"}:
        return f"DestinationConfig={config!r} is not {{'OnFailure': {{'Destination': <ARN>}}}}"
    on_failure = config.get("OnFailure")
    if on_failure is None or on_failure == {}:
        return None
    if not isinstance(on_failure, Mapping) or set(on_failure) != {"Destination"}:
        return f"DestinationConfig.OnFailure={on_failure!r} is not {{'Destination': <ARN>}}"
    arn = on_failure["Destination"]
    if isinstance(arn, str) and _DESTINATION_ARN.match(arn):
        return None
    return f"DestinationConfig.OnFailure.Destination={arn!r} is not an SQS queue, SNS topic or S3 bucket ARN"


def _unclaimed(parameters: Mapping[str, Any]) -> str:
    found = []
    for name in sorted(str(n) for n in parameters if n not in KNOWN_PARAMETERS):
        found.append(f"{name!r} is not a CreateEventSourceMapping parameter of stream mappings")
    factor = parameters.get("ParallelizationFactor")
    if _is_int(factor) and 2 <= factor <= 10:
        found.append(f"ParallelizationFactor={factor} asks for parallelization (ORD-7)")
    window = parameters.get("TumblingWindowInSeconds")
    if window is not None and window != 0:
        found.append(f"TumblingWindowInSeconds={window!r} asks for tumbling windows (TW-1)")
    criteria = parameters.get("FilterCriteria")
    if criteria not in (None, {}, {"Filters": []}):
        found.append(f"FilterCriteria={criteria!r} asks for event filtering (FILT-1)")
    return "; ".join(found)


# ---- judging one probe --------------------------------------------------------------------------

_RAISED = re.compile(r"^(the poller factory|poll\(\)) raised ")


def refused(observation: Observation) -> bool:
    """Whether the poller raised, in its factory or in ``poll()``."""
    return observation.status is RunStatus.INCONCLUSIVE and bool(_RAISED.match(observation.reason))


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else text


def _sent_sequence_numbers(observation: Observation) -> set[str]:
    sent: set[str] = set()
    for invocation in observation.trace.invocations():
        if invocation.throttled:
            continue
        for record in invocation.records:
            if isinstance(record, Mapping):
                inner = record.get("kinesis") or record.get("dynamodb") or {}
                number = inner.get("sequenceNumber") or inner.get("SequenceNumber")
                if isinstance(number, str):
                    sent.add(number)
    return sent


def _probed(rule_id: str, parameters: Mapping[str, Any]) -> bool:
    """Whether a probe with only valid ``parameters`` puts ``rule_id``'s parameter to the test."""
    if rule_id == "PARAM-3":  # BATCH-7: BatchSize > 10 with no batching window
        size, window = parameters.get("BatchSize"), parameters.get("MaximumBatchingWindowInSeconds")
        return _is_int(size) and size > 10 and window in (None, 0)
    name = PARAMETER_RULES[rule_id]
    return bool(name) and rule_id != "PARAM-9" and name in parameters


def judge(rule_id: str, observation: Observation, findings: Findings) -> None:
    """Judge the probe ``observation`` for PARAM rule ``rule_id``."""
    parameters = observation.scenario.parameters
    problems = parameter_problems(parameters, observation.scenario.source.value)
    if problems:
        if rule_id == "PARAM-9":
            _judge_message(observation, problems, findings)
        elif rule_id in problems:
            _judge_refusal(observation, problems[rule_id], findings)
    elif _probed(rule_id, parameters):
        _judge_acceptance(observation, parameters, findings, rule_id)


def _judge_refusal(observation: Observation, problem: str, findings: Findings) -> None:
    findings.exercise()
    invoked = len(observation.trace.invocations())
    written = len(observation.trace.destination_writes())
    if refused(observation) and not invoked and not written:
        return
    what = f"invoked the function {invoked} time(s)" if invoked else "served the stream"
    if written:
        what += f" and wrote {written} destination document(s)"
    if refused(observation):
        what += " before it raised"
    findings.violate(f"the poller accepted a mapping it must refuse ({problem}): it {what}")


def _judge_message(observation: Observation, problems: Mapping[str, str], findings: Findings) -> None:
    # START-1 records the messages AWS gives ("... at 'startingPosition' ...", "Unsupported
    # starting position for arn type"): a refusal SHOULD at least name the parameter.
    if "PARAM-8" not in problems or not refused(observation):
        return
    findings.exercise()
    said = re.sub(r"[\s_-]", "", observation.reason.split("\n  File ")[0]).lower()
    if "startingposition" not in said:
        findings.violate(
            f"the refusal of a mapping with {problems['PARAM-8']} does not name StartingPosition: "
            f"{_first_line(observation.reason)!r}"
        )


def _judge_acceptance(
    observation: Observation, parameters: Mapping[str, Any], findings: Findings, rule_id: str
) -> None:
    findings.exercise()
    name = PARAMETER_RULES[rule_id]
    setting = ", ".join(
        f"{key}={parameters[key]!r}"
        for key in (name, "MaximumBatchingWindowInSeconds" if rule_id == "PARAM-3" else "")
        if key in parameters
    )
    if refused(observation):
        findings.violate(f"the poller refused a valid mapping ({setting}): {_first_line(observation.reason)}")
        return
    if observation.status is not RunStatus.COMPLETED:
        findings.violate(f"the poller accepted {setting} but the run did not settle: {observation.reason}")
        return
    if not _must_reach_function(observation.scenario):
        return
    sent = _sent_sequence_numbers(observation)
    start = observation.started_at_offset
    missed = [
        record.label
        for record in observation.records
        if (record.arrival - observation.scenario.clock.start).total_seconds() > start
        and record.sequence_number not in sent
    ]
    if missed:
        findings.violate(
            f"the poller accepted {setting} but did not serve the stream: {', '.join(missed)} "
            "never reached the function"
        )


def _must_reach_function(scenario: Scenario) -> bool:
    """Whether every record arriving after the start must reach the function: true of probes
    (records that all succeed), not of a scenario whose failures may hold a record back until it
    is too old, or whose batching window may outlast the age limit (RETRY-7)."""
    parameters = scenario.parameters
    age = parameters.get("MaximumRecordAgeInSeconds")
    aged = age not in (None, -1) and bool(parameters.get("MaximumBatchingWindowInSeconds"))
    calm = all(record.behaviour is Behaviour.OK for shard in scenario.shards for record in shard.records)
    return calm and not aged


def _register(rule_id: str) -> None:
    @checker(rule_id)
    def check(an: Analysis, findings: Findings) -> None:
        judge(rule_id, an.observation, findings)


for _rule_id in PARAMETER_RULES:
    _register(_rule_id)
