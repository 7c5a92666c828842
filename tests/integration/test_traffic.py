"""Traffic generators and host B's receiver against the real kernel: namespaces, a veth,
trafgen and the C sender, counted frame by frame."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator

import pytest

from pytest_nfv.errors import TrafficError
from pytest_nfv.harness.lab import Lab
from pytest_nfv.harness.proxy_path import ProxyPath
from pytest_nfv.harness.traffic.generator import Stream, TrafficGenerator
from pytest_nfv.harness.traffic.pair import veth_pair
from pytest_nfv.harness.traffic.registry import make_generator
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.namespaces import list_namespaces
from pytest_nfv.model import Endpoint

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
