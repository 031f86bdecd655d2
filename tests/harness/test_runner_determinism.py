"""A seed decides a search's scenarios: not which modules the process happens to have imported.

Hypothesis also draws literals from the source of loaded "local" modules, so without
``conformance.source_constants`` a rule's verdict could change with what ran before it (another
rule's lazy import, the test files an xdist worker collected).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import reference
from conformance.rules import CATALOGUE
from conformance.runner import ObservationCache, RunOptions, _Search, _Silent
from conformance.scenario import Scenario


def _drawn(rule_id: str) -> list[str]:
    """The scenarios a rule's search draws, as JSON, without running them."""
    search = _Search(
        CATALOGUE[rule_id],
        reference.ADAPTER,
        RunOptions(poller_spec="reference", profile="ci", max_examples=25),
        _Silent(),
        ObservationCache(size=0),
    )
    seen: list[str] = []

    def body(scenario: Scenario) -> None:
        seen.append(scenario.dumps())

    test, _ = search.hypothesis_test(body, shrink=False)
    test()
    return seen


@pytest.fixture
def module_full_of_constants(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A freshly imported local module whose source holds many literals a scenario could use."""
    name = "conformance_test_constants_module"
    integers = ", ".join(str(n) for n in range(1, 400))
    strings = ", ".join(f'"shardId-{n:012d}"' for n in range(40))
    (tmp_path / f"{name}.py").write_text(
        f"INTEGERS = ({integers})\nFLOATS = (0.25, 1.5, 2.75, 4.125)\nSTRINGS = ({strings})\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_importing_a_module_does_not_change_what_a_search_draws(module_full_of_constants: str) -> None:
    before = _drawn("ORD-5")
    importlib.import_module(module_full_of_constants)
    after = _drawn("ORD-5")
    assert len(before) == len(after) > 0
    assert before == after
