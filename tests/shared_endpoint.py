"""One started endpoint per test module, for modules that import these three fixtures:
``from shared_endpoint import endpoint, project, shared``. Each test still sees only its own
traffic (the log and labels are emptied before it)."""

from __future__ import annotations

import pytest
from helpers import fresh_traffic, shared_endpoint


@pytest.fixture(scope="module")
def shared(request, tmp_path_factory):
    """The module's endpoint (``m@champion`` on ``features@v1``) and its project."""
    with shared_endpoint(tmp_path_factory, request.module.__name__) as served:
        yield served


@pytest.fixture
def project(shared, monkeypatch):
    """The shared endpoint's project, as the current directory."""
    monkeypatch.chdir(shared[0])
    return shared[0]


@pytest.fixture
def endpoint(shared, project):
    """The shared endpoint, its log and labels emptied: this test's traffic only."""
    return fresh_traffic(shared[1], project)
