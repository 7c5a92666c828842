"""The harness's own processes run on the CPUs the plan gives them, on the real netns backend."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_nfv.backends.netns.backend import NetnsBackend
from pytest_nfv.harness.lab import Lab
from pytest_nfv.harness.probes.icmp import EchoProber
from pytest_nfv.harness.probes.response import RoundTrip
from pytest_nfv.harness.proxy_path import ProxyPath
from pytest_nfv.host.cpus import CpuPlan, configure, harness_cpus
from pytest_nfv.host.identity import RunIdentity

pytestmark = pytest.mark.skipif(
    len(os.sched_getaffinity(0)) < 2, reason="pinning apart needs two CPUs or more"
)


@pytest.fixture
def chosen() -> Iterator[CpuPlan]:
    """The path on the highest CPU and the prober on the lowest: the reverse of ``auto``."""
    cpus = sorted(os.sched_getaffinity(0))
    previous = harness_cpus()
    plan = CpuPlan(path=cpus[-1], prober=cpus[0], allowed=frozenset(cpus))
    configure(plan)
    yield plan
    configure(previous)


def pids_in(netns_path: str) -> list[int]:
    """The processes standing in the namespace at ``netns_path``."""
    wanted = os.stat(netns_path).st_ino
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.stat(entry / "ns" / "net").st_ino == wanted:
                    found.append(int(entry.name))
            except OSError:
                continue  # gone meanwhile
    return found


def test_prober_path_helpers_and_requester_run_where_chosen(
    chosen: CpuPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[set[int]] = []
    measure = RoundTrip.measure

    def watched(self: RoundTrip, *args: object, **kwargs: object) -> object:
        seen.append(os.sched_getaffinity(0))
        return measure(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(RoundTrip, "measure", watched)
    with NetnsBackend(RunIdentity.new()) as backend, EchoProber(backend.probe_netns) as prober:
        assert prober.pid is not None
        assert os.sched_getaffinity(prober.pid) == {chosen.prober}
        lab = Lab(backend, prober, boot_timeout_s=30)
        path = ProxyPath(lab)
        try:
            assert path.proxy is not None
            assert path.proxy.pids
            for pid in path.proxy.pids:  # the proxy VNF
                assert os.sched_getaffinity(pid) == {chosen.path}
            responders = pids_in(path.testbed.host_b.netns_path)
            responders += pids_in(path.testbed.host_b2.netns_path)
            assert len(responders) == 2
            for pid in responders:
                assert os.sched_getaffinity(pid) == {chosen.path}
            with lab.running(2) as instances:
                for instance in instances:  # started from the pinned thread, yet free
                    for pid in instance.pids:
                        assert os.sched_getaffinity(pid) == set(chosen.allowed)
            before = os.sched_getaffinity(0)
            assert path.round_trip(64, "proxy").seconds > 0
            assert seen == [{chosen.path}]  # host A's requester ran on the path's CPU
            assert os.sched_getaffinity(0) == before  # and its thread got its CPUs back
        finally:
            path.close()
