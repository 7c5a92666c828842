"""Integration tests drive the real netns backend: they need root (CAP_SYS_ADMIN/NET_ADMIN)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from pytest_nfv.backends.netns import NetnsBackend
from pytest_nfv.experiments import Lab
from pytest_nfv.identity import RunIdentity
from pytest_nfv.probes.icmp import EchoProber


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="netns integration tests need root")
        for item in items:
            if "integration" in item.nodeid:
                item.add_marker(skip)


@pytest.fixture
def backend() -> Iterator[NetnsBackend]:
    with NetnsBackend(RunIdentity.new()) as opened:
        yield opened


@pytest.fixture
def lab(backend: NetnsBackend) -> Iterator[Lab]:
    with EchoProber(backend.probe_netns) as prober:
        yield Lab(backend, prober, boot_timeout_s=30)
