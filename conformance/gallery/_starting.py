"""Broken pollers for the START rules: where reading begins (SPEC §11)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from conformance.gallery._base import GalleryPoller, VariantPoller, entry
from reference.config import MappingConfig
from reference.source import ShardReader, StreamSource

__all__ = ["ENTRIES"]


class _MisreadingReader(ShardReader):
    """A shard reader that reads the starting position wrongly (``misread``)."""

    def __init__(self, source: StreamSource, shard_id: str, config: MappingConfig) -> None:
        super().__init__(source, shard_id, self.misread(config))

    def misread(self, config: MappingConfig) -> MappingConfig:
        return config


class _LatestFromHorizonReader(_MisreadingReader):
    def misread(self, config: MappingConfig) -> MappingConfig:
        if config.starting_position != "LATEST":
            return config
        # The bug: LATEST is served with a TRIM_HORIZON iterator, so old records are read.
        return dataclasses.replace(config, starting_position="TRIM_HORIZON")


class _LatestFromHorizonPoller(VariantPoller):
    reader = _LatestFromHorizonReader


class _HorizonAsLatestReader(_MisreadingReader):
    def misread(self, config: MappingConfig) -> MappingConfig:
        if config.starting_position != "TRIM_HORIZON":
            return config
        # The bug: the poller's own default, LATEST, wins over the TRIM_HORIZON asked for.
        return dataclasses.replace(config, starting_position="LATEST")


class _HorizonAsLatestPoller(VariantPoller):
    reader = _HorizonAsLatestReader


class _StrictlyAfterReader(ShardReader):
    def __init__(self, source: StreamSource, shard_id: str, config: MappingConfig) -> None:
        super().__init__(source, shard_id, config)
        start = config.starting_position_timestamp
        if config.starting_position == "AT_TIMESTAMP" and start is not None:
            # The bug: `arrival > timestamp` where `>=` was meant, so a record that arrived at
            # the very timestamp is skipped.
            self._skip_before = lambda record: record.arrival <= start


class _StrictlyAfterPoller(VariantPoller):
    reader = _StrictlyAfterReader


class _WholeSecondReader(_MisreadingReader):
    def misread(self, config: MappingConfig) -> MappingConfig:
        start = config.starting_position_timestamp
        if config.starting_position != "AT_TIMESTAMP" or start is None:
            return config
        # The bug: StartingPositionTimestamp is truncated to whole seconds (int(timestamp)),
        # so records of that second from before the timestamp are read too.
        whole = start - timedelta(microseconds=start.microsecond)
        return dataclasses.replace(config, starting_position_timestamp=whole)


class _WholeSecondPoller(VariantPoller):
    reader = _WholeSecondReader


ENTRIES: tuple[GalleryPoller, ...] = (
    entry(
        "trim_horizon_read_as_latest",
        "START-2",
        "TRIM_HORIZON is served from LATEST (the poller's own default wins), missing the older records",
        _HorizonAsLatestPoller,
    ),
    entry(
        "latest_read_as_trim_horizon",
        "START-3",
        "LATEST is served with a TRIM_HORIZON iterator, so records older than the mapping are read",
        _LatestFromHorizonPoller,
    ),
    entry(
        "at_timestamp_strictly_after",
        "START-4",
        "AT_TIMESTAMP skips a record that arrived at the very timestamp (> where >= was meant)",
        _StrictlyAfterPoller,
    ),
    entry(
        "at_timestamp_whole_seconds",
        "START-4",
        "StartingPositionTimestamp is truncated to whole seconds, so earlier records of that second are read",
        _WholeSecondPoller,
    ),
)
