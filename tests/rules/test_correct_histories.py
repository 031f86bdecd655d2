"""Correct histories, written by hand the way a conforming poller behaves (SPEC.md and
SEMANTICS.md): no checker may report a violation on any of them, and together they exercise
every rule that the scenario model can exercise."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from conformance.observation import Observation
from conformance.rules import CATALOGUE, check

if TYPE_CHECKING:
    from conftest import History

Build = Callable[[type["History"]], Observation]


def kinesis_happy(history: type[History]) -> Observation:
    """Two shards, BatchSize 3: a backlog read in full batches, a later shard served on arrival."""
    h = history("kinesis", shards=2, batch_size=3)
    a = h.put_many(4, shard=0, arrival=-10)
    b = [h.put(1, arrival=2.5), h.put(1, arrival=2.5)]
    h.get_records(a[:3], 0)
    h.ok(a[:3], 0)
    h.get_records([], 0)
    h.ok(a[3:], 1)
    h.get_records([], 2)
    h.get_records(b, 3)
    h.ok(b, 3)
    return h.build()


def poison_sqs(history: type[History]) -> Observation:
    """ORD-5's test idea: poison P then good G on one shard, MaximumRetryAttempts 5, BatchSize 1;
    the other shard keeps going meanwhile; P goes to SQS after 6 invocations."""
    h = history("kinesis", shards=2, batch_size=1, retries=5, destination="sqs")
    p, g = h.put(0), h.put(0)
    others = h.put_many(4, shard=1)
    for t in range(6):
        h.fail([p], t)
        if t < 4:
            h.ok([others[t]], t)
    h.discard([p], 5, count=6)
    h.ok([g], 6)
    return h.build()


def poison_ddb_sns(history: type[History]) -> Observation:
    """DynamoDB, SNS destination, MaximumRetryAttempts 1 (the recorded DDB scenario)."""
    h = history("dynamodb", batch_size=1, retries=1, destination="sns")
    p, g = h.put(0, arrival=-3.4), h.put(0, arrival=-2.2)
    h.fail([p], 0)
    h.fail([p], 1)
    h.discard([p], 1, count=2)
    h.ok([g], 2)
    return h.build()


def ddb_batches(history: type[History]) -> Observation:
    """DynamoDB records delivered twice keep their eventIDs; a transient failure is retried."""
    h = history("dynamodb", batch_size=2)
    r = h.put_many(3)
    h.fail(r[:2], 0)
    h.ok(r[:2], 1)
    h.ok(r[2:], 2)
    return h.build()


def rbif_partial(history: type[History]) -> Observation:
    """The recorded scenario: 6 records, BatchSize 3, record 6 always reported, retries 3."""
    h = history("kinesis", batch_size=3, retries=3, rbif=True, destination="sqs")
    r = h.put_many(6)
    h.ok(r[:3], 0)
    h.partial(r[3:], 1, reported=[r[5]])
    for t in range(2, 6):
        h.partial(r[5:], t, reported=[r[5]])
    h.discard(r[5:], 5, count=4, function_error=None)
    return h.build()


def rbif_failures(history: type[History]) -> Observation:
    """ReportBatchItemFailures: an invalid response and an exception, each exhausting 1 retry;
    a success form; a partial failure whose lowest record is found numerically."""
    h = history("kinesis", shards=3, retries=1, rbif=True, destination="sqs", success_form="empty_string")
    a = h.put_many(2, shard=0)
    b = h.put(1)
    short = h.put(2, sequence_number="9000")
    long = h.put(2, sequence_number="10000")
    h.invalid(a, 0)
    h.fail([b], 0)
    h.partial([short, long], 0, reported=[long, short])
    h.invalid(a, 1)
    h.discard(a, 1, count=2, function_error=None)
    h.fail([b], 1)
    h.discard([b], 1, count=2)
    h.partial([short, long], 1, reported=[short])
    h.discard([short, long], 1, count=2, function_error=None)
    return h.build()


def bisect_sqs(history: type[History]) -> Observation:
    """Bisection of a batch of 4 with poison record 3, MaximumRetryAttempts 1, then full batches."""
    h = history("kinesis", batch_size=4, retries=1, bisect=True, destination="sqs")
    r = h.put_many(6)
    h.get_records(r, 0)
    h.fail(r[:4], 0)
    h.ok(r[:2], 1)
    h.fail(r[2:4], 2)
    h.fail(r[2:3], 3)
    h.fail(r[2:3], 4)
    h.discard(r[2:3], 4, count=2)
    h.ok(r[3:4], 5)
    h.ok(r[4:6], 6)
    return h.build()


def bisect_rbif(history: type[History]) -> Observation:
    """Bisection with ReportBatchItemFailures: a function error is split, a partial failure is
    not; a throttled batch is retried whole."""
    h = history("kinesis", shards=3, batch_size=3, bisect=True, rbif=True)
    a = h.put_many(2, shard=0)
    b = h.put_many(3, shard=1)
    c = h.put_many(2, shard=2)
    h.fail(a, 0)
    h.partial(b, 0, reported=[b[1]])
    h.throttle(c, 0)
    h.ok(a[:1], 1)
    h.ok(b[1:], 1)
    h.ok(c, 1)
    h.ok(a[1:], 2)
    return h.build()


def age_sqs(history: type[History]) -> Observation:
    """MaximumRecordAgeInSeconds 60: a record too old before any invocation, and a poison record
    retried (MaximumRetryAttempts -1) until it is too old."""
    h = history("kinesis", shards=2, max_age=60, destination="sqs", poll_gaps=(10.0,))
    old = h.put(0, arrival=-100)
    fresh = h.put_many(2, shard=0, arrival=-10)
    poison = h.put(1, arrival=-10)
    h.discard([old], 0, condition="RecordAgeExceeded", count=1)
    h.ok(fresh, 0)
    for t in range(0, 60, 10):
        h.fail([poison], t)
    h.discard([poison], 60, condition="RecordAgeExceeded", count=6)
    return h.build()


def throttles_no_destination(history: type[History]) -> Observation:
    """MaximumRetryAttempts 0, no destination: throttles are retried, a failure is skipped."""
    h = history("kinesis", shards=2, retries=0)
    t_rec = h.put(0)
    p, g = h.put(1), h.put(1)
    h.throttle([t_rec], 0)
    h.fail([p], 0)
    h.throttle([t_rec], 1)
    h.ok([g], 1)
    h.ok([t_rec], 2)
    return h.build()


def batching_window(history: type[History]) -> Observation:
    """MaximumBatchingWindowInSeconds 5: records arriving at 1 s and 2 s go together at 5 s."""
    h = history("kinesis", batch_size=10, window=5)
    r = [h.put(0, arrival=1), h.put(0, arrival=2)]
    h.ok(r, 5)
    return h.build()


def latest(history: type[History]) -> Observation:
    """LATEST: records before the start are not read, later ones are."""
    h = history("kinesis", starting_position="LATEST")
    h.put(0, arrival=-5)
    h.put(0, arrival=0)
    later = [h.put(0, arrival=2), h.put(0, arrival=3)]
    h.ok(later[:1], 2)
    h.ok(later[1:], 3)
    return h.build()


def at_timestamp(history: type[History]) -> Observation:
    """AT_TIMESTAMP: from the record that arrived exactly at the timestamp."""
    timestamp = history.START.timestamp() - 4.0
    h = history("kinesis", starting_position="AT_TIMESTAMP", starting_timestamp=timestamp)
    h.put(0, arrival=-6)
    from_here = [h.put(0, arrival=-4), h.put(0, arrival=-1)]
    h.ok(from_here, 0)
    return h.build()


def s3_destination(history: type[History]) -> Observation:
    """S3 destination, MaximumRetryAttempts 0."""
    h = history("kinesis", retries=0, destination="s3")
    p, g = h.put(0), h.put(0)
    h.fail([p], 0)
    h.discard([p], 0, count=1)
    h.ok([g], 1)
    return h.build()


def large_records(history: type[History]) -> Observation:
    """Records of 2 MB: a batch is cut at two records to stay under 6 MiB."""
    h = history("kinesis", batch_size=10)
    big = b"x" * (2 * 1024 * 1024)
    r = [h.put(0, data=big) for _ in range(3)]
    h.ok(r[:2], 0)
    h.ok(r[2:], 1)
    return h.build()


def parallel(history: type[History]) -> Observation:
    """ParallelizationFactor 2: two batches of one shard in flight, with different keys."""
    h = history("kinesis", parallelization=2, batch_size=1)
    a, b = h.put(0), h.put(0)
    h.ok([a], 0, ticks=(1, 4))
    h.ok([b], 0, ticks=(2, 3))
    return h.build()


HISTORIES: dict[str, Build] = {
    f.__name__: f
    for f in (
        kinesis_happy,
        poison_sqs,
        poison_ddb_sns,
        ddb_batches,
        rbif_partial,
        rbif_failures,
        bisect_sqs,
        bisect_rbif,
        age_sqs,
        throttles_no_destination,
        batching_window,
        latest,
        at_timestamp,
        s3_destination,
        large_records,
        parallel,
    )
}

# Rules whose checker nothing in the scenario model can exercise.
NEVER_EXERCISED = {"ORD-8"}
# The PARAM rules judge parameter probes (tests/rules/test_validation.py), not stream histories:
# a history's mapping (ParallelizationFactor 2 for "parallel") is not a probe's.
STREAM_RULES = [rule_id for rule_id, rule in CATALOGUE.items() if rule.family != "PARAM"]


@pytest.fixture(scope="module")
def gallery(history: type[History]) -> dict[str, Observation]:
    return {name: build(history) for name, build in HISTORIES.items()}


@pytest.mark.parametrize("name", list(HISTORIES))
def test_no_rule_is_violated_by_a_correct_history(name: str, gallery: dict[str, Observation]) -> None:
    messages = [v.message for rule_id in STREAM_RULES for v in check(rule_id, gallery[name]).violations]
    assert messages == []


@pytest.mark.parametrize("rule_id", [r for r in STREAM_RULES if r not in NEVER_EXERCISED])
def test_every_rule_is_exercised_by_some_correct_history(
    rule_id: str, gallery: dict[str, Observation]
) -> None:
    exercised = {name: check(rule_id, observation).exercised for name, observation in gallery.items()}
    assert any(exercised.values()), f"{rule_id} was exercised by none of the correct histories"


def test_an_unexercisable_rule_reports_nothing(gallery: dict[str, Observation]) -> None:
    assert all(check("ORD-8", observation).exercised == 0 for observation in gallery.values())
