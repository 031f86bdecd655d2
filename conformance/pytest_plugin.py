"""pytest plugin (placeholder until the runner lands): registers the kit's command-line options."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stream-conformance")
    group.addoption("--poller", default=None, help="the poller under test: module:attribute or a registered name")
