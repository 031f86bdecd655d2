"""Broken pollers for the PARAM rules: mapping parameters accepted or refused wrongly.

Each one checks a parameter with a bound that is off, then lets the reference validate the rest,
so the one loose (or strict) bound is the only difference a probe can see.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from typing import Any, TypeGuard
from uuid import UUID

from conformance.contract import PollerContext
from conformance.gallery._base import GalleryPoller, VariantPoller, entry
from reference.config import InvalidMappingParameter

__all__ = ["ENTRIES"]


def _without(context: PollerContext, name: str) -> PollerContext:
    parameters = {key: value for key, value in context.parameters.items() if key != name}
    return dataclasses.replace(context, parameters=parameters)


def _integer(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


class _ZeroBatchSizePoller(VariantPoller):
    def __init__(self, context: PollerContext, *, new_uuid: Callable[[], UUID] = uuid.uuid4) -> None:
        # The bug: `BatchSize < 0` where `< 1` was meant, and 0 then means "the default".
        if context.parameters.get("BatchSize") == 0 and _integer(context.parameters["BatchSize"]):
            context = _without(context, "BatchSize")
        super().__init__(context, new_uuid=new_uuid)


class _ShortRecordAgePoller(VariantPoller):
    def __init__(self, context: PollerContext, *, new_uuid: Callable[[], UUID] = uuid.uuid4) -> None:
        # The bug: MaximumRecordAgeInSeconds is checked against the API's absolute range
        # (-1..604800), so 0..59 are taken, which RETRY-2 says AWS refuses.
        age = context.parameters.get("MaximumRecordAgeInSeconds")
        if _integer(age) and 0 <= age < 60:
            super().__init__(_without(context, "MaximumRecordAgeInSeconds"), new_uuid=new_uuid)
            self.config = dataclasses.replace(self.config, maximum_record_age_seconds=age)
        else:
            super().__init__(context, new_uuid=new_uuid)


class _RetryCapOffByOnePoller(VariantPoller):
    def __init__(self, context: PollerContext, *, new_uuid: Callable[[], UUID] = uuid.uuid4) -> None:
        # The bug: `MaximumRetryAttempts < 10000` where `<= 10000` was meant.
        retries = context.parameters.get("MaximumRetryAttempts")
        if _integer(retries) and retries == 10_000:
            raise InvalidMappingParameter(
                "MaximumRetryAttempts",
                retries,
                "-1 or an integer from 0 to 9999",
                "MaximumRetryAttempts=10000 is out of range: it must be -1 or an integer from 0 to 9999",
            )
        super().__init__(context, new_uuid=new_uuid)


ENTRIES: tuple[GalleryPoller, ...] = (
    entry(
        "batch_size_zero_accepted",
        "PARAM-1",
        "BatchSize 0 is accepted (and read as the default) instead of refused",
        _ZeroBatchSizePoller,
    ),
    entry(
        "record_age_under_a_minute_accepted",
        "PARAM-5",
        "MaximumRecordAgeInSeconds 0..59 is accepted (the API's absolute range) instead of refused",
        _ShortRecordAgePoller,
    ),
    entry(
        "retry_cap_10000_refused",
        "PARAM-4",
        "MaximumRetryAttempts 10000, the largest valid value, is refused (< where <= was meant)",
        _RetryCapOffByOnePoller,
    ),
)
