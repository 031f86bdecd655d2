"""Starting positions (START-2..4) and the poller's life cycle."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.exceptions import ClientError

from reference import ADAPTER, InvalidMappingParameter, make_poller
from reference.config import MappingConfig


def delivered(rig: Any) -> list[str]:
    return [seq for call in rig.function.delivered for seq in call.sequence_numbers]


@pytest.mark.parametrize("source", ["kinesis", "dynamodb"])
def test_trim_horizon_reads_old_records_then_new_ones(make_rig: Any, source: str) -> None:
    # START-2
    rig = make_rig(source)
    old = rig.put_many(3, at=rig.ago(3600))
    poller = rig.poller(StartingPosition="TRIM_HORIZON")
    rig.run(poller, polls=2)
    new = rig.put_many(2)
    rig.run(poller, polls=2)
    assert delivered(rig) == old + new


@pytest.mark.parametrize("source", ["kinesis", "dynamodb"])
def test_latest_skips_records_written_before_the_first_poll(make_rig: Any, source: str) -> None:
    # START-3: only records added after the iterator was set up (at the first poll).
    rig = make_rig(source)
    rig.put_many(3, at=rig.ago(10))
    poller = rig.poller(StartingPosition="LATEST")
    rig.run(poller, polls=2)
    assert rig.function.calls == []
    new = rig.put_many(2)
    rig.run(poller, polls=2)
    assert delivered(rig) == new


def test_latest_counts_from_the_first_poll_not_from_construction(kinesis: Any) -> None:
    poller = kinesis.poller(StartingPosition="LATEST")
    kinesis.put(b"before-first-poll")
    kinesis.run(poller, polls=2)
    assert kinesis.function.calls == []


def test_at_timestamp_starts_at_the_first_record_at_or_after_the_timestamp(kinesis: Any) -> None:
    # START-4: arrival >= timestamp, with millisecond precision.
    t = datetime(2024, 6, 1, 11, 0, 0, 500000, tzinfo=timezone.utc)
    kinesis.put(b"a", at=t - timedelta(milliseconds=1))
    exact = kinesis.put(b"b", at=t)
    later = kinesis.put(b"c", at=t + timedelta(milliseconds=1))
    poller = kinesis.poller(StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=t.timestamp())
    kinesis.run(poller, polls=2)
    assert delivered(kinesis) == [exact, later]


def test_at_timestamp_older_than_every_record_reads_from_the_oldest(kinesis: Any) -> None:
    records = kinesis.put_many(3, at=kinesis.ago(60))
    poller = kinesis.poller(StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=0)
    kinesis.run(poller, polls=2)
    assert delivered(kinesis) == records


def test_at_timestamp_in_the_future_waits_for_records_arriving_from_then(kinesis: Any) -> None:
    future = kinesis.clock.now() + timedelta(seconds=30)
    poller = kinesis.poller(StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=future.timestamp())
    kinesis.run(poller, polls=2)
    kinesis.put(b"too-early")  # arrives before the timestamp
    kinesis.run(poller, polls=30)
    on_time = kinesis.put(b"on-time")
    kinesis.run(poller, polls=2)
    assert delivered(kinesis) == [on_time]


def test_make_poller_validates_parameters_at_once(kinesis: Any) -> None:
    with pytest.raises(InvalidMappingParameter, match="BatchSize=0"):
        make_poller(kinesis.context({"StartingPosition": "LATEST", "BatchSize": 0}))


def test_adapter_is_the_reference_with_its_capabilities(kinesis: Any) -> None:
    assert ADAPTER.name == "reference"
    assert ADAPTER.make_poller is make_poller
    assert ADAPTER.capabilities.sources == frozenset({"kinesis", "dynamodb"})
    assert not ADAPTER.capabilities.lacks(frozenset({"bisect", "destination_s3", "record_age"}))
    assert ADAPTER.patches_system_clock is False
    poller = ADAPTER.make_poller(kinesis.context({"StartingPosition": "TRIM_HORIZON"}))
    assert isinstance(poller.config, MappingConfig)


def test_poll_after_close_is_an_error(kinesis: Any) -> None:
    poller = kinesis.poller()
    poller.poll()
    poller.close()
    with pytest.raises(RuntimeError, match="after close"):
        poller.poll()


def test_a_disabled_mapping_reads_nothing(kinesis: Any) -> None:
    kinesis.put(b"x")
    kinesis.run(kinesis.poller(Enabled=False), polls=3)
    assert kinesis.function.calls == []


class ExpireOnce:
    """Wraps get_records: the call numbered ``at`` (1-based) fails with ExpiredIteratorException."""

    def __init__(self, client: Any, at: int) -> None:
        self._get_records = client.get_records
        self._at = at
        self.calls = 0

    def __call__(self, **params: Any) -> Any:
        self.calls += 1
        if self.calls == self._at:
            raise ClientError(
                {"Error": {"Code": "ExpiredIteratorException", "Message": "Iterator expired."}}, "GetRecords"
            )
        return self._get_records(**params)


@pytest.mark.parametrize("source", ["kinesis", "dynamodb"])
def test_expired_iterator_resumes_after_the_last_record_read(
    make_rig: Any, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = make_rig(source)
    first = rig.put_many(2)
    poller = rig.poller()
    rig.run(poller)
    second = rig.put_many(2)
    client = rig.kinesis if source == "kinesis" else rig.streams
    expire = ExpireOnce(client, at=1)
    monkeypatch.setattr(client, "get_records", expire)
    rig.run(poller, polls=1)
    assert expire.calls == 2
    assert delivered(rig) == first + second  # no loss, no repeat, no extra poll needed


def test_expired_latest_iterator_resumes_from_the_first_poll(
    kinesis: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # START-3 after an expiry before anything was read: still only records after the first poll.
    kinesis.put(b"before")
    monkeypatch.setattr(kinesis.kinesis, "get_records", ExpireOnce(kinesis.kinesis, at=2))
    poller = kinesis.poller(StartingPosition="LATEST")
    kinesis.run(poller)
    after = kinesis.put(b"after")
    kinesis.run(poller, polls=2)
    assert delivered(kinesis) == [after]
