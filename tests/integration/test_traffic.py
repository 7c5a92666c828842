"""Traffic generators and host B's receiver against the real kernel: namespaces, a veth,
trafgen and the C sender, counted frame by frame."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_nfv.backends.netns.backend import NetnsBackend
from pytest_nfv.errors import NfvUsageError, TrafficError
from pytest_nfv.harness.lab import Lab
from pytest_nfv.harness.proxy_path import ProxyPath
from pytest_nfv.harness.traffic.generator import (
    FCS_BYTES,
    SIMPLE_IMIX,
    STREAM_PORT,
    Stream,
    TrafficGenerator,
    mix_mean,
)
from pytest_nfv.harness.traffic.pair import veth_pair
from pytest_nfv.harness.traffic.registry import make_generator
from pytest_nfv.harness.traffic.search import PROBE_FPS, SearchSettings, search_ndr_pdr
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.namespaces import entered, list_namespaces
from pytest_nfv.model import Endpoint

LENIENT_BUDGETS = Path(__file__).with_name("lenient-budgets.toml")

needs_trafgen = pytest.mark.skipif(
    shutil.which("trafgen") is None and not os.path.exists("/usr/sbin/trafgen"),
    reason="trafgen is not installed (Debian: apt-get install netsniff-ng)",
)
GENERATORS = [pytest.param("trafgen", marks=needs_trafgen), "csender"]


@pytest.fixture
def pair() -> Iterator[tuple[Endpoint, Endpoint]]:
    identity = RunIdentity.new()
    identity.register("traffic")
    try:
        with veth_pair(identity) as endpoints:
            yield endpoints
        assert list_namespaces(identity.prefix) == []
    finally:
        identity.unregister()


@pytest.fixture(params=GENERATORS)
def generator(
    request: pytest.FixtureRequest, pair: tuple[Endpoint, Endpoint]
) -> Iterator[TrafficGenerator]:
    opened = make_generator(request.param, Stream.direct(*pair))
    opened.open()
    try:
        yield opened
    finally:
        opened.close()


def test_every_frame_sent_at_a_low_rate_is_counted_once_in_order(
    generator: TrafficGenerator,
) -> None:
    trial = generator.trial(64, 2000.0, 1.0)
    assert trial.sent == 2000
    assert trial.received == 2000
    assert trial.count.duplicates == trial.count.reordered == trial.count.socket_drops == 0
    assert trial.count.highest == 2000
    assert trial.lost == 0
    assert trial.achieved_fps == pytest.approx(2000, rel=0.01)
    assert not trial.short_of_offered()
    assert trial.wire_tx is not None
    assert trial.wire_tx >= trial.sent


def test_large_frames_are_counted_too(generator: TrafficGenerator) -> None:
    trial = generator.trial(1518, 1000.0, 0.5)
    assert trial.sent == trial.received == 500


def test_an_imix_is_sent_in_its_sizes_and_counted_frame_by_frame(
    pair: tuple[Endpoint, Endpoint],
) -> None:
    """csender-imix: 7:4:1 frames of 64/570/1518 B; B counts every one, A's interface
    carries the mix's bytes (its mean frame, FCS aside, per frame sent)."""
    generator = make_generator("csender-imix", Stream.direct(*pair))
    generator.open()
    try:
        before = _tx_bytes(pair[0])
        trial = generator.trial(mix_mean(SIMPLE_IMIX), 1200.0, 0.5)
        sent_bytes = _tx_bytes(pair[0]) - before
        with pytest.raises(NfvUsageError, match="mean size 354 B"):
            generator.trial(64, 1000.0, 0.2)
    finally:
        generator.close()
    assert trial.sent == trial.received == 600
    mean_frame = sum(SIMPLE_IMIX) / len(SIMPLE_IMIX) - FCS_BYTES
    assert sent_bytes >= 600 * mean_frame  # ARP and the like may add a little
    assert sent_bytes < 600 * mean_frame * 1.05


def _tx_bytes(endpoint: Endpoint) -> int:
    from pyroute2 import IPRoute

    with entered(endpoint.netns_path):
        ipr = IPRoute()
    try:
        return int(ipr.get_links(ifname="eth0")[0].get_attr("IFLA_STATS64")["tx_bytes"])
    finally:
        ipr.close()


def test_a_stream_from_a_finished_trial_is_not_counted_in_the_next(
    generator: TrafficGenerator,
) -> None:
    generator.trial(64, 1000.0, 0.2)
    second = generator.trial(64, 1000.0, 0.2)
    assert second.received == second.sent == 200


@pytest.mark.parametrize("name", GENERATORS)
def test_a_dead_receiver_fails_the_trial_promptly(
    name: str, pair: tuple[Endpoint, Endpoint]
) -> None:
    with_receiver = make_generator(name, Stream.direct(*pair))
    with_receiver.open()
    try:
        receiver = with_receiver._receiver  # type: ignore[attr-defined]
        os.kill(receiver.pid, signal.SIGKILL)
        started = time.monotonic()
        with pytest.raises(TrafficError, match=r"receiver .* exited with status -9"):
            with_receiver.trial(64, 1000.0, 0.2)
        assert time.monotonic() - started < 6.0
    finally:
        with_receiver.close()


@needs_trafgen
def test_trafgen_streams_through_the_proxy_vnf_to_host_b(lab: Lab) -> None:
    """Addressed to the proxy, the frames reach B only if Algorithm 1 forwards them."""
    path = ProxyPath(lab)  # returns once the proxy VNF carried a first reply
    try:
        generator = make_generator("trafgen", Stream.through_proxy(path.testbed))
        generator.open()
        try:
            trial = generator.trial(64, 1000.0, 1.0)
        finally:
            generator.close()
    finally:
        path.close()
    assert trial.sent == 1000
    assert trial.received == 1000


def test_a_stream_counted_at_b_finds_the_proxy_pointed_back_at_b(lab: Lab) -> None:
    """A reconfiguration test of an odd number of rounds leaves the proxy at B2: a stream
    counted at B's receiver then loses everything, until ``back_to_b`` undoes it."""
    path = ProxyPath(lab)
    try:
        path.reconfigure()  # now at B2
        generator = make_generator("csender", Stream.through_proxy(path.testbed))
        generator.open()
        try:
            at_b2 = generator.trial(64, 1000.0, 0.5)
            path.back_to_b()
            path.back_to_b()  # at B already: nothing to do
            at_b = generator.trial(64, 1000.0, 0.5)
        finally:
            generator.close()
    finally:
        path.close()
    assert at_b2.sent == at_b.sent == 500
    assert at_b2.received == 0
    assert at_b.received == 500


def test_a_loss_free_pair_has_its_ndr_at_the_search_maximum_and_says_so(
    pair: tuple[Endpoint, Endpoint],
) -> None:
    """A veth pair loses nothing well below the sender's ceiling: the NDR is the maximum
    offered, marked a lower bound; a maximum no sender reaches stops at the generator."""
    generator = make_generator("csender", Stream.direct(*pair))
    generator.open()
    try:
        found = search_ndr_pdr(generator, SearchSettings(64, max_fps=20_000.0, min_fps=2000.0))
        beyond = search_ndr_pdr(generator, SearchSettings(64, max_fps=PROBE_FPS))
    finally:
        generator.close()
    assert found.stopped is None
    assert found.ndr is not None
    assert found.ndr.at_ceiling
    assert found.ndr.fps == pytest.approx(20_000.0, rel=0.02)
    assert "at the generator ceiling (a lower bound)" in found.describe()
    assert beyond.ndr is None
    assert beyond.stopped is not None
    assert beyond.stopped.startswith("generator limit: offered 100,000,000 fps, achieved ")
    assert beyond.trial_count == 1


def _iptables(netns_path: str, *rule: str) -> None:
    subprocess.run(["nsenter", f"--net={netns_path}", "iptables", *rule], check=True)


CLEAN_FPS = 2500
"""What the dropping hop passes untouched each second: xt_limit's rates are 10,000/s divided
by a whole number (iptables rounds 4000/s to 5000/s)."""


def test_a_proxy_hop_dropping_every_100th_frame_above_a_rate_has_its_ndr_below_its_pdr(
    lab: Lab, backend: NetnsBackend
) -> None:
    """The proxy's hop forwarded by its kernel, told by netfilter to pass ``CLEAN_FPS``
    frames a second and drop every 100th frame beyond: loss is 0 up to that rate and 0.5%
    at twice it, so MLRsearch must put the NDR near the one and the PDR near the other,
    neither at the search's maximum."""
    path = ProxyPath(lab)
    try:
        testbed = path.testbed
        backend.set_path(testbed, "direct")
        forward = ("-A", "FORWARD", "-p", "udp", "--dport", str(STREAM_PORT))
        limit = ("-m", "limit", "--limit", f"{CLEAN_FPS}/second", "--limit-burst", "20")
        _iptables(testbed.proxy.netns_path, *forward, *limit, "-j", "ACCEPT")
        nth = ("-m", "statistic", "--mode", "nth", "--every", "100", "--packet", "0")
        _iptables(testbed.proxy.netns_path, *forward, *nth, "-j", "DROP")
        stream = Stream(testbed.host_a, testbed.host_b.address, testbed.proxy.mac, testbed.host_b)
        generator = make_generator("csender", stream)
        generator.open()
        try:
            settings = SearchSettings(
                64, 4.0 * CLEAN_FPS, CLEAN_FPS / 4, relative_width=0.05, duration_sum_s=2.0
            )
            result = search_ndr_pdr(generator, settings)
        finally:
            generator.close()
    finally:
        path.close()
    assert result.stopped is None, result.describe()
    assert result.ndr is not None
    assert result.pdr is not None
    assert not result.ndr.at_ceiling
    assert not result.pdr.at_ceiling
    assert result.ndr.fps < result.pdr.fps
    assert 0.8 * CLEAN_FPS <= result.ndr.fps <= 1.1 * CLEAN_FPS, result.describe()
    assert 1.8 * CLEAN_FPS <= result.pdr.fps <= 2.2 * CLEAN_FPS, result.describe()
    lossy = [t for t in result.trials if t.offered_fps > 1.2 * CLEAN_FPS and t.duration_s >= 1]
    assert lossy
    assert all(t.lost > 0 for t in lossy)


DYING_GENERATOR = '''
from pytest_nfv.errors import NfvUsageError, TrafficError
from pytest_nfv.harness.traffic.sender import CSender


class DyingAtLargeFrames(CSender):
    """The C sender, whose receiver is gone for 1518 B frames through the proxy."""

    def trial(self, frame_size, offered_fps, duration_s):
        if frame_size == 1518 and self.stream.destination != self.stream.sink.address:
            raise TrafficError("host B's receiver exited with status -9")
        return super().trial(frame_size, offered_fps, duration_s)


def pytest_nfv_traffic_generator(name, stream, config):
    return DyingAtLargeFrames(stream) if name == "dying" else None
'''


def test_the_throughput_suite_fails_the_round_whose_receiver_died_not_the_session(
    tmp_path: Path,
) -> None:
    """A plugin's generator (through the hook) loses host B's receiver at 1518 B only: that
    test fails with the reason, the 64 B one still measures and records through the real
    netns proxy, and the session ends as a test failure."""
    (tmp_path / "dying_generator.py").write_text(DYING_GENERATOR)
    suite = Path(__file__).resolve().parents[2] / "suites" / "test_monitoring.py"
    out = tmp_path / "run.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            f"{suite}::test_throughput",
            *("-p", "no:cacheprovider", "-p", "dying_generator", "-q"),
            *("--nfv-generator", "dying", "--nfv-frame-sizes", "64,1518"),
            *("--nfv-max-rounds", "2", "--nfv-max-seconds", "2"),
            *("--nfv-budgets", str(LENIENT_BUDGETS), "--rootdir", str(tmp_path)),
            f"--benchmark-json={out}",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        timeout=300,
    )
    assert done.returncode == int(pytest.ExitCode.TESTS_FAILED), done.stdout[-3000:]
    assert "1 failed, 1 passed" in done.stdout
    assert "TrafficError: host B's receiver exited with status -9" in done.stdout
    (bench,) = json.loads(out.read_text())["benchmarks"]
    info = bench["extra_info"]
    assert bench["name"] == "test_throughput[64B]"
    assert info["metric"] == "ndr_frame_interval"
    assert info["generator"] == "csender"
    assert len(info["searches"]) == 2
    assert all(s["ndr"]["fps"] > 0 for s in info["searches"])
    assert [t["share_of_ndr"] for t in info["latency_under_load"]] == [0.1, 0.5, 0.9]
    assert "ndr_frame_interval" in done.stdout  # the terminal summary shows the figure
