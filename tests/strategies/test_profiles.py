"""The ci, dev and deep Hypothesis profiles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import Phase, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from conformance import profiles
from conformance.profiles import (
    PROFILES,
    UnknownProfileError,
    default_profile_name,
    load_default_profile,
    load_profile,
    profile_settings,
)


@pytest.fixture(autouse=True)
def _restore_active_profile() -> Iterator[None]:
    before = settings.get_current_profile_name()
    yield
    settings.load_profile(before)


def test_three_profiles() -> None:
    assert PROFILES == ("ci", "dev", "deep", "mutation")


def test_ci_is_derandomized_bounded_and_prints_the_blob() -> None:
    ci = profile_settings("ci")
    assert ci.derandomize is True
    assert ci.database is None
    assert ci.deadline is None
    assert 20 <= ci.max_examples <= 100
    assert ci.print_blob is True
    assert Phase.explain not in ci.phases and Phase.shrink in ci.phases


def test_dev_is_random_with_a_local_example_database() -> None:
    dev = profile_settings("dev")
    assert dev.derandomize is False
    assert dev.max_examples == 100
    assert isinstance(dev.database, DirectoryBasedExampleDatabase)
    assert Path(dev.database.path) == Path(".hypothesis/examples")


def test_deep_searches_far_and_keeps_failures_to_replay() -> None:
    deep = profile_settings("deep")
    assert deep.max_examples >= 1000
    assert deep.derandomize is False
    assert isinstance(deep.database, DirectoryBasedExampleDatabase)
    assert Phase.explain in deep.phases


def test_load_profile_makes_it_active() -> None:
    load_profile("deep")
    assert settings().max_examples == profile_settings("deep").max_examples
    load_profile("ci")
    assert settings().derandomize is True


def test_profiles_do_not_take_over_a_projects_own_profile_names() -> None:
    # A project's conftest often registers its own "ci"; loading ours must not replace it.
    settings.register_profile("ci", max_examples=3)
    load_profile("ci")
    assert settings().max_examples == profile_settings("ci").max_examples
    assert settings.get_profile("ci").max_examples == 3


def test_the_mutation_profile_is_ci_with_few_examples_and_no_shrinking() -> None:
    mutation, ci = profile_settings("mutation"), profile_settings("ci")
    assert mutation.derandomize and mutation.database is None and mutation.max_examples == 8
    assert Phase.shrink in ci.phases and Phase.shrink not in mutation.phases


def test_an_unknown_profile_names_the_valid_ones() -> None:
    with pytest.raises(UnknownProfileError) as error:
        load_profile("nightly")
    assert str(error.value) == (
        "unknown Hypothesis profile 'nightly': stream-conformance profiles are 'ci', 'dev', 'deep', "
        "'mutation'"
    )
    with pytest.raises(ValueError, match="'ci', 'dev', 'deep', 'mutation'"):
        profile_settings("CI")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "dev"),
        ({"CI": "true"}, "ci"),
        ({"CI": "1"}, "ci"),
        ({"CI": "false"}, "dev"),
        ({"CI": "0"}, "dev"),
        ({"CI": ""}, "dev"),
        ({"STREAM_CONFORMANCE_PROFILE": "deep"}, "deep"),
        ({"STREAM_CONFORMANCE_PROFILE": "dev", "CI": "true"}, "dev"),
    ],
)
def test_the_default_profile_follows_the_environment(environ: dict[str, str], expected: str) -> None:
    assert default_profile_name(environ) == expected


def test_a_bad_profile_in_the_environment_says_where_it_came_from() -> None:
    with pytest.raises(UnknownProfileError) as error:
        default_profile_name({"STREAM_CONFORMANCE_PROFILE": "fast"})
    assert str(error.value).startswith("STREAM_CONFORMANCE_PROFILE='fast': unknown Hypothesis profile 'fast'")


def test_load_default_profile_loads_ci_on_ci() -> None:
    assert load_default_profile({"CI": "true"}) == "ci"
    assert settings().derandomize is True
    assert settings.get_current_profile_name() == "stream-conformance-ci"


def test_the_database_directory_can_be_moved(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(profiles.DATABASE_ENV, str(tmp_path / "examples"))
    database = profiles._database()
    assert Path(database.path) == tmp_path / "examples"
