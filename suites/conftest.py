"""Shared fixtures of the shipped suites (the plugin provides the rest)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_nfv.harness.lab import Lab
from pytest_nfv.model import Instance


@pytest.fixture(scope="session")
def warmed_lab(nfv_lab: Lab) -> Lab:
    """The lab after one boot of one instance, not timed.

    The first boot of a session pays for what every later one finds ready (the engine's
    caches, the VNF's files in the page cache, the prober's first replies); a boot-time
    series that began with it would carry that cost in whichever round came first.
    """
    nfv_lab.boot_round(1)
    return nfv_lab


@pytest.fixture(scope="module")
def nfv_population(nfv_lab: Lab, nfv_n: int) -> Iterator[list[Instance]]:
    """N running instances shared by a module's tests for that N (started once per N)."""
    instances = nfv_lab.start_ready(nfv_n)
    try:
        yield instances
    finally:
        nfv_lab.backend.stop(instances)
