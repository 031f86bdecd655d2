"""The README's minimal poller must work as printed: it plugs in, passes the event-shape rules it
implements, and is caught by the retry rules it ignores (as the README says it will be)."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest

from conformance.contract import Adapter
from conformance.rules import CATALOGUE
from conformance.runner import RunOptions, Verdict, run_rule

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def naive() -> Adapter:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    source = next(b for b in blocks if "class NaivePoller" in b)
    module = types.ModuleType("readme_example")
    exec(compile(source, str(README), "exec"), module.__dict__)
    adapter = module.NAIVE
    assert isinstance(adapter, Adapter)
    return adapter


def _verdict(adapter: Adapter, rule_id: str, tmp_path: Path) -> Verdict:
    options = RunOptions(
        poller_spec="readme_example:NAIVE", profile="ci", max_examples=15, results_dir=tmp_path
    )
    return run_rule(CATALOGUE[rule_id], adapter, options).verdict


@pytest.mark.parametrize("rule_id", ["EVT-K-2", "EVT-K-4", "ORD-2"])
def test_the_readme_poller_passes_the_shape_rules_it_implements(
    naive: Adapter, rule_id: str, tmp_path: Path
) -> None:
    assert _verdict(naive, rule_id, tmp_path) is Verdict.PASS


def test_the_readme_poller_is_caught_ignoring_function_errors(naive: Adapter, tmp_path: Path) -> None:
    assert _verdict(naive, "ORD-5", tmp_path) is Verdict.FAIL


def test_the_readme_poller_skips_what_it_does_not_claim(naive: Adapter, tmp_path: Path) -> None:
    assert _verdict(naive, "EVT-D-1", tmp_path) is Verdict.SKIP
    assert _verdict(naive, "BISECT-3", tmp_path) is Verdict.SKIP
