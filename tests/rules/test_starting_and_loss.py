"""START, LOSS-1 and LIVE-1 checkers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conformance.observation import RunStatus

if TYPE_CHECKING:
    from conftest import History


def test_start2_trim_horizon_skips_the_oldest_record(history: type[History]) -> None:
    h = history("kinesis")
    r = h.put_many(2)
    h.ok(r[1:], 0)
    (message,) = h.violations("START-2")
    assert f"began at {r[1].label}, skipping record {r[0].label}" in message and "TRIM_HORIZON" in message


def test_start2_a_shard_never_processed(history: type[History]) -> None:
    h = history("kinesis", shards=2)
    a, b = h.put(0), h.put(1)
    h.ok([a], 0)
    (message,) = h.violations("START-2")
    assert f"record {b.label} was never processed" in message


def test_start2_records_that_expired_before_they_could_be_taken(history: type[History]) -> None:
    h = history("kinesis", shards=2, max_age=60)
    a = h.put(0, arrival=-10)
    h.put(1, arrival=-100)  # already too old: a poller with no destination drops it silently
    h.ok([a], 0)
    assert h.violations("START-2") == []


def test_start3_latest_reads_an_old_record(history: type[History]) -> None:
    h = history("kinesis", starting_position="LATEST")
    old, new = h.put(0, arrival=-5), h.put(0, arrival=2)
    h.ok([old, new], 2)
    (message,) = h.violations("START-3")
    assert (
        f"record {old.label} (arrived -5 s) was processed in invocation #1" in message and "LATEST" in message
    )


def test_start3_latest_misses_a_record_written_after_the_start(history: type[History]) -> None:
    h = history("kinesis", starting_position="LATEST")
    missed, later = h.put(0, arrival=1), h.put(0, arrival=2)
    h.ok([later], 2)
    (message,) = h.violations("START-3")
    assert f"skipping record {missed.label} (arrived +1 s)" in message


def test_start3_a_record_written_at_the_start_may_go_either_way(history: type[History]) -> None:
    h = history("kinesis", starting_position="LATEST")
    edge, later = h.put(0, arrival=0), h.put(0, arrival=2)
    h.ok([edge, later], 2)
    assert h.violations("START-3") == []


def test_start4_at_timestamp_reads_from_the_wrong_record(history: type[History]) -> None:
    timestamp = history.START.timestamp() - 4.0
    h = history("kinesis", starting_position="AT_TIMESTAMP", starting_timestamp=timestamp)
    before = h.put(0, arrival=-4.001)
    at = h.put(0, arrival=-4)
    h.ok([before, at], 0)
    (message,) = h.violations("START-4")
    assert f"record {before.label} (arrived -4.001 s) was processed" in message and "AT_TIMESTAMP" in message
    h2 = history("kinesis", starting_position="AT_TIMESTAMP", starting_timestamp=timestamp)
    at2, after = h2.put(0, arrival=-4), h2.put(0, arrival=-1)
    h2.ok([after], 0)
    (message,) = h2.violations("START-4")
    assert f"skipping record {at2.label}" in message


def test_loss1_skipped_with_a_destination_configured(history: type[History]) -> None:
    h = history("kinesis", batch_size=1, retries=0, destination="sqs")
    p, g = h.put(0), h.put(0)
    h.fail([p], 0)
    h.ok([g], 1)
    (message,) = h.violations("LOSS-1")
    assert f"record {p.label} was lost: skipped at +1 s" in message and "arn:aws:sqs" in message


def test_loss1_a_record_that_never_failed_is_skipped(history: type[History]) -> None:
    h = history("kinesis", batch_size=1)
    a, b = h.put(0), h.put(0)
    h.ok([b], 0)
    (message,) = h.violations("LOSS-1")
    assert f"record {a.label} was lost" in message and "it never reached the function" in message


def test_loss1_unprocessed_when_the_run_settled(history: type[History]) -> None:
    h = history("kinesis", batch_size=1)
    a, b = h.put(0), h.put(0)
    h.ok([a], 0)
    (message,) = h.violations("LOSS-1")
    assert f"record {b.label} was lost: left unprocessed when the run settled" in message


def test_loss1_pending_records_of_an_unfinished_run_are_not_lost(history: type[History]) -> None:
    h = history("kinesis", batch_size=1)
    a = h.put(0)
    h.put(0)  # not yet processed when the budget ran out: pending, not lost
    h.ok([a], 0)
    assert h.violations("LOSS-1", status=RunStatus.LIVENESS) == []


def test_live1_the_budget_ran_out(history: type[History]) -> None:
    h = history("kinesis", batch_size=1)
    a, b = h.put(0), h.put(0)
    h.ok([a], 0)
    (message,) = h.violations(
        "LIVE-1", status=RunStatus.LIVENESS, reason="the run did not settle within 2000 polls"
    )
    assert message.startswith("the run did not settle within 2000 polls")
    assert f"record {b.label} was still unresolved" in message


def test_live1_a_settled_run_passes(history: type[History]) -> None:
    h = history("kinesis")
    h.ok([h.put(0)], 0)
    assert h.violations("LIVE-1") == []
