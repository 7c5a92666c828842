"""Traffic generators' pure parts: frame sizes, trafgen's configuration, the registry."""

from __future__ import annotations

import ipaddress

import pytest

from pytest_nfv.errors import NfvUsageError
from pytest_nfv.harness.traffic.generator import (
    ReceiverCount,
    Stream,
    TrafficGenerator,
    Trial,
    payload_bytes,
)
from pytest_nfv.harness.traffic.registry import generator_names, make_generator, register_generator
from pytest_nfv.harness.traffic.trafgen import MODULI, packet_config
from pytest_nfv.model import Endpoint

A = Endpoint("a", ipaddress.IPv4Address("10.214.0.1"), "02:4e:47:00:00:01", "/run/netns/a")
B = Endpoint("b", ipaddress.IPv4Address("10.214.0.2"), "02:4e:47:00:00:02", "/run/netns/b")


def test_a_64_byte_frame_leaves_18_bytes_of_payload() -> None:
    assert payload_bytes(64) == 18
    assert payload_bytes(1518) == 1472
    with pytest.raises(NfvUsageError):
        payload_bytes(63)


def test_trafgen_frames_carry_the_tag_and_four_coprime_counters() -> None:
    config = packet_config(Stream.direct(A, B), 64, 1234)
    assert "eth(da=02:4e:47:00:00:02, sa=02:4e:47:00:00:01)" in config
    assert "ipv4(sa=10.214.0.1, da=10.214.0.2, ttl=64)" in config
    assert "udp(sp=9, dp=9, csum=0)" in config
    assert "const32(1234)" in config
    assert all(f"dinc(0, {m - 1}, 1)" in config for m in MODULI)
    assert config.rstrip().endswith("fill(0, 2) }")  # 18 B of payload: 16 of stamp, 2 of pad


def test_loss_is_counted_against_what_was_sent() -> None:
    count = ReceiverCount(990, 3, 1, 1000, 0, 0)
    trial = Trial("g", 64, 2000.0, 1.0, 1000, 1000.0, count, "")
    assert trial.lost == 10
    assert trial.loss_ratio == 0.01
    assert trial.short_of_offered()


def test_a_hardware_runner_registers_its_own_generator() -> None:
    made: list[Stream] = []

    def factory(stream: Stream) -> TrafficGenerator:
        made.append(stream)
        return make_generator("csender", stream)

    register_generator("test-trex", factory)
    stream = Stream.direct(A, B)
    assert isinstance(make_generator("test-trex", stream), TrafficGenerator)
    assert made == [stream]
    assert {"trafgen", "csender", "test-trex"} <= set(generator_names())
    with pytest.raises(NfvUsageError, match="registered already"):
        register_generator("test-trex", factory)
    with pytest.raises(NfvUsageError, match="no traffic generator called 'nope'"):
        make_generator("nope", stream)
