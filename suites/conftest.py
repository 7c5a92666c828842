"""Shared fixtures of the shipped suites (the plugin provides the rest)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_nfv.harness.growth import SharedGrowth
from pytest_nfv.harness.lab import Lab
from pytest_nfv.harness.proxy_path import ProxyPath
from pytest_nfv.model import Instance
from pytest_nfv.plugin.options import NfvSettings


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


@pytest.fixture(scope="session")
def nfv_memory_growth(nfv_lab: Lab, nfv_settings: NfvSettings) -> SharedGrowth:
    """One growing population per round, serving instantiation memory at every N and the
    per-instance slope (measured when the first of those tests asks)."""
    return SharedGrowth(nfv_lab, nfv_settings.instances)


@pytest.fixture(scope="session")
def nfv_memory_growth_beside_testbed(
    nfv_testbed: ProxyPath, nfv_lab: Lab, nfv_settings: NfvSettings
) -> SharedGrowth:
    """The same, grown while Fig. 1's testbed and proxy VNF run (coexistence)."""
    return SharedGrowth(nfv_lab, nfv_settings.instances, with_slope=False)
