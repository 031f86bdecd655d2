"""The analysis of an observation (the derived views every checker shares) lives only as long
as the observation: the cache of analyses never keeps a trace alive."""

from __future__ import annotations

import weakref
from typing import Any

import pytest


def test_the_analysis_of_an_observation_dies_with_it(history: Any) -> None:
    from conformance.rules import CATALOGUE, check
    from conformance.rules.analysis import _CACHE, analyse

    h = history("kinesis")
    h.ok([h.put(0)], 0)
    observation = h.build()
    for rule_id in CATALOGUE:
        check(rule_id, observation)
    analysis = analyse(observation)
    assert analysis.observation is observation
    ref = weakref.ref(observation)
    del observation
    assert ref() is None  # freed at once: neither the cache nor the analysis holds it
    assert all(entry[1] is not analysis for entry in _CACHE.values())
    with pytest.raises(ReferenceError, match="no longer exists"):
        analysis.observation  # noqa: B018
