"""Fixtures of the world's tests: the backend parameter and worlds closed after each test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.scenario import Scenario
from conformance.world import WORLD_BACKENDS, World, build_world

# The suite runs with --import-mode=importlib, which puts no test directory on sys.path; the
# shared scenario builders live in worldkit.py beside this file.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(params=WORLD_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_world() -> Iterator[Any]:
    """Build worlds that are closed after the test: ``open_world(scenario, backend)``."""
    worlds: list[World] = []

    def build(scenario: Scenario, backend: str = "memory") -> World:
        world = build_world(scenario, backend)
        worlds.append(world)
        return world

    yield build
    for world in worlds:
        world.close()
