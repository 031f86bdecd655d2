"""Resolving --poller: import paths, registered names, the environment variable, and the exact
errors users see when they get it wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.contract import Adapter
from conformance.discovery import ENV_VAR, DiscoveryError, registered_pollers, resolve_poller

POLLER_MODULE = """
from conformance.contract import Adapter

def make_poller(context):
    raise NotImplementedError

ADAPTER = Adapter(name="mine", make_poller=make_poller)

class Nested:
    factory = staticmethod(make_poller)

NOT_CALLABLE = 42
"""


@pytest.fixture
def poller_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "discovery_sample.py").write_text(POLLER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(ENV_VAR, raising=False)
    return "discovery_sample"


def test_a_factory_becomes_an_adapter_named_after_the_spec(poller_module: str) -> None:
    adapter = resolve_poller(f"{poller_module}:make_poller")
    assert adapter.name == "discovery_sample:make_poller"
    assert adapter.make_poller.__name__ == "make_poller"
    assert not adapter.patches_system_clock


def test_an_adapter_is_used_as_it_is(poller_module: str) -> None:
    adapter = resolve_poller(f"{poller_module}:ADAPTER")
    assert isinstance(adapter, Adapter) and adapter.name == "mine"


def test_dotted_attributes_are_followed(poller_module: str) -> None:
    assert resolve_poller(f"{poller_module}:Nested.factory").name == "discovery_sample:Nested.factory"


def test_a_registered_name_loads_its_entry_point() -> None:
    assert "reference" in registered_pollers()
    assert resolve_poller("reference").name == "reference"


def test_the_environment_variable_is_the_fallback(
    poller_module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, f"{poller_module}:ADAPTER")
    assert resolve_poller(None).name == "mine"
    assert resolve_poller("reference").name == "reference"  # an explicit --poller wins


def test_no_poller_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(DiscoveryError) as info:
        resolve_poller(None)
    assert str(info.value) == (
        "no poller was named: pass --poller module:attribute (an Adapter, or a factory "
        "make_poller(context) -> Poller), or the name of a registered poller ("
        "localstack-dynamodb, localstack-kinesis, "
        "reference), or set the "
        "environment variable STREAM_CONFORMANCE_POLLER to either form"
    )


def test_an_unknown_name_lists_the_registered_ones() -> None:
    with pytest.raises(DiscoveryError) as info:
        resolve_poller("referense")
    assert str(info.value) == (
        "--poller 'referense' is not a registered poller name (registered: "
        "localstack-dynamodb, localstack-kinesis, "
        "reference); name your own "
        "poller as module:attribute (for example mypackage.testing:make_poller), or register it in the "
        "entry-point group 'stream_conformance.pollers' of your package"
    )


def test_a_module_that_cannot_be_imported() -> None:
    with pytest.raises(DiscoveryError) as info:
        resolve_poller("no_such_package.testing:make_poller")
    assert str(info.value) == (
        "--poller 'no_such_package.testing:make_poller': the module 'no_such_package.testing' could not be "
        "imported (ModuleNotFoundError: No module named 'no_such_package'); check the spelling, and that the "
        "package is installed in this environment (pip install -e .) or that its directory is on PYTHONPATH"
    )


def test_a_module_that_fails_while_importing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "broken_poller_module.py").write_text("raise RuntimeError('needs a database')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(DiscoveryError) as info:
        resolve_poller("broken_poller_module:make_poller")
    assert str(info.value).startswith(
        "--poller 'broken_poller_module:make_poller': importing the module 'broken_poller_module' raised "
        "RuntimeError: needs a database; the module was found but fails when imported"
    )


def test_a_missing_attribute_lists_what_the_module_offers(poller_module: str) -> None:
    with pytest.raises(DiscoveryError) as info:
        resolve_poller(f"{poller_module}:make_pollr")
    assert str(info.value) == (
        "--poller 'discovery_sample:make_pollr': discovery_sample has no attribute 'make_pollr'; "
        "it defines: ADAPTER, Nested, make_poller"
    )


def test_a_missing_nested_attribute_names_where_it_looked(poller_module: str) -> None:
    with pytest.raises(DiscoveryError, match=r"discovery_sample:Nested has no attribute 'factroy'"):
        resolve_poller(f"{poller_module}:Nested.factroy")


def test_something_not_callable(poller_module: str) -> None:
    with pytest.raises(DiscoveryError) as info:
        resolve_poller(f"{poller_module}:NOT_CALLABLE")
    assert str(info.value) == (
        "--poller 'discovery_sample:NOT_CALLABLE' is a int, not a poller factory: it must be a "
        "conformance.contract.Adapter, or a callable make_poller(context) -> Poller"
    )


@pytest.mark.parametrize("spec", [":make_poller", "module:", ":"])
def test_half_a_spec(spec: str) -> None:
    with pytest.raises(DiscoveryError, match=r"is not of the form module:attribute"):
        resolve_poller(spec)
