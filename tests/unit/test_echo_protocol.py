"""Which protocol the testbed's requests use: ICMP echo only where the proxy VNF carries it."""

from __future__ import annotations

import pytest

from pytest_nfv.backends import BUILTIN_BACKENDS, BackendSettings, make_builtin
from pytest_nfv.backends.base import IcmpEchoProxy, echo_protocol
from pytest_nfv.errors import NfvUsageError
from pytest_nfv.harness.probes.response import RoundTrip
from pytest_nfv.host.identity import RunIdentity

UDP_ONLY = ("osv", "clickos")
ICMP_CARRIED = ("netns", "coreos")


def _backend(name: str) -> object:
    return make_builtin(name, RunIdentity.new(), BackendSettings())  # not opened


def test_every_builtin_backend_says_whether_its_proxy_carries_echo() -> None:
    assert set(UDP_ONLY) | set(ICMP_CARRIED) == set(BUILTIN_BACKENDS)
    for name in BUILTIN_BACKENDS:
        assert isinstance(_backend(name), IcmpEchoProxy), name


@pytest.mark.parametrize("name", ICMP_CARRIED)
def test_a_proxy_that_carries_echo_gets_icmp_by_default(name: str) -> None:
    assert echo_protocol(_backend(name), "auto") == "icmp"
    assert echo_protocol(_backend(name), "icmp") == "icmp"


@pytest.mark.parametrize("name", UDP_ONLY)
def test_a_proxy_that_does_not_carry_echo_gets_udp_under_auto(name: str) -> None:
    assert echo_protocol(_backend(name), "auto") == "udp"


@pytest.mark.parametrize("name", UDP_ONLY)
def test_icmp_where_the_proxy_does_not_carry_it_is_a_usage_error(name: str) -> None:
    with pytest.raises(NfvUsageError, match=rf"icmp: the {name} backend's proxy VNF does not"):
        echo_protocol(_backend(name), "icmp")


@pytest.mark.parametrize("name", BUILTIN_BACKENDS)
def test_udp_is_udp_on_every_backend(name: str) -> None:
    assert echo_protocol(_backend(name), "udp") == "udp"


def test_a_plugin_backend_that_says_nothing_gets_udp() -> None:
    class Silent:
        name = "silent"

    assert echo_protocol(Silent(), "auto") == "udp"
    with pytest.raises(NfvUsageError, match="silent"):
        echo_protocol(Silent(), "icmp")


def test_an_unknown_choice_is_a_usage_error() -> None:
    with pytest.raises(NfvUsageError, match="auto, udp, icmp"):
        echo_protocol(_backend("netns"), "tcp")


def test_requesters_of_one_process_tell_their_echo_replies_apart() -> None:
    """A raw socket gets every echo reply of its namespace: two requesters of one process
    (the suites' and a benchmark's) need identifiers of their own."""
    requesters = [RoundTrip(None) for _ in range(3)]
    try:
        assert len({r._ident for r in requesters}) == 3
    finally:
        for requester in requesters:
            requester.close()
