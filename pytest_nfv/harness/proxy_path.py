"""Fig. 1's testbed as rounds: deployment, reconfiguration and round trips through the proxy.

A ``ProxyPath`` holds hosts A, B (and B2) and the proxy VNF between them for as long as a
suite times requests over it; every request goes from A's requester through one path at a
time, pinned to the harness's path CPU, and returns plain numbers as ``Lab``'s rounds do.
Apart from ``harness.lab`` because it lives as long as the testbed, not one round, and owns
its own requester and proxy instances.
"""

from __future__ import annotations

import time
from typing import Literal

from pytest_nfv.backends.base import ProxyVariants, echo_protocol
from pytest_nfv.backends.variant import ProxyVariant
from pytest_nfv.errors import NfvUsageError, ProbeError
from pytest_nfv.harness.lab import Lab, console_tail, instance_memory_mib
from pytest_nfv.harness.probes.response import RoundTrip, RoundTripSample
from pytest_nfv.host.canary import timed_rounds
from pytest_nfv.host.cpus import harness_cpus, pinned_thread
from pytest_nfv.model import EchoProtocol, Instance, Testbed

__all__ = ["CANARY_REQUESTS", "CANARY_SIZE", "WARM_UP_REQUESTS", "ProxyPath", "TimedPath"]


TimedPath = Literal["proxy", "direct", "proxy_b"]
"""A path ``ProxyPath`` times: through the proxy VNF, through its variant B
(``--nfv-proxy-b``), or the same hop forwarded by the kernel."""

WARM_UP_REQUESTS = 10
"""Round trips per path sent and discarded before a series is timed."""
CANARY_REQUESTS = 40
CANARY_SIZE = 64


class ProxyPath:
    """Fig. 1's testbed with its proxy VNF running, and host A's requester.

    Every request it sends -- timed, warm-up, canary, and the first replies of a deployment
    and a reconfiguration -- is of one ``protocol``: ICMP echo answered by B's own kernel where
    the backend's proxy carries it, so that a figure is the path's and not B's responder's;
    otherwise UDP to B's echo responder. Either way only a reply from the B the path leads to
    (``Testbed.replier``) ends an interval or proves a (re)deployment.

    Args:
        lab: the lab whose backend hosts the testbed.
        path_timeout_s: how long the proxied path may take to carry its first reply.
        echo: ``auto``, ``udp`` or ``icmp`` (``backends.base.echo_protocol``).
        proxy_b: a second variant of the proxy VNF to run beside the first, paused while
            the first forwards (``round_trip(size, "proxy_b")``); None: no variant B.

    Raises:
        NfvUsageError: ``icmp`` on a backend whose proxy does not carry it, or a variant B on
            a backend that cannot run one (``ProxyVariants``).
    """

    def __init__(
        self,
        lab: Lab,
        path_timeout_s: float = 10.0,
        echo: str = "auto",
        proxy_b: ProxyVariant | None = None,
    ) -> None:
        self.lab = lab
        self.backend = lab.backend
        self.path_timeout_s = path_timeout_s
        self.protocol: EchoProtocol = echo_protocol(self.backend, echo)
        if proxy_b is not None and not isinstance(self.backend, ProxyVariants):
            raise NfvUsageError(
                f"the {self.backend.name} backend cannot run a second proxy VNF (variant B)"
            )
        self.variant_b = proxy_b
        self.proxy_b: Instance | None = None
        self.testbed: Testbed = self.backend.deploy_testbed()
        self.requester = RoundTrip(self.testbed.host_a.netns_path, self.protocol)
        self.proxy: Instance | None = None
        self._mode: TimedPath = "proxy"
        self._to_b2 = False
        try:
            self.deploy()
        except BaseException:
            self.close()  # the caller gets no object to close: leave no socket or proxy
            raise

    def close(self) -> None:
        self.requester.close()
        self._stop_b()
        if self.proxy is not None:
            self.backend.stop_proxy(self.proxy)
            self.proxy = None

    def deploy(self) -> float:
        """Start the proxy VNF; seconds from its start request to the first proxied reply.

        Variant B, if any, is started again after that (the proxy's namespace goes with A),
        and shown to carry a reply before A forwards again; its start is not in the figure.
        """
        self._stop_b()
        if self.proxy is not None:
            self.backend.stop_proxy(self.proxy)
            self.proxy = None
        self._mode, self._to_b2 = "proxy", False
        self.proxy = self.backend.start_proxy(self.testbed, lambda spec: None)
        try:
            replied = self._first_reply()
        except ProbeError as exc:
            console = console_tail(self.backend, self.proxy)
            if not console:
                raise
            raise ProbeError(f"{exc}{console}") from exc
        if self.variant_b is not None:
            self._start_b(self.variant_b)
        return (replied - self.proxy.start_ns) / 1e9

    def _first_reply(self) -> int:
        tb = self.testbed
        responder = tb.host_b2 if self._to_b2 else tb.host_b
        with pinned_thread(harness_cpus().path):
            return self.requester.first_reply_ns(
                tb.proxy.address,
                tb.echo_port,
                tb.replier(responder, through_proxy=True).address,
                self.path_timeout_s,
            )

    def _start_b(self, variant: ProxyVariant) -> None:
        assert isinstance(self.backend, ProxyVariants)  # checked in __init__
        self.proxy_b = self.backend.start_proxy_b(self.testbed, variant)
        self.set_mode("proxy_b")
        self._first_reply()
        self.set_mode("proxy")

    def _stop_b(self) -> None:
        proxy_b, self.proxy_b = self.proxy_b, None
        if proxy_b is not None:
            assert isinstance(self.backend, ProxyVariants)
            self.backend.stop_proxy_b(proxy_b)
            if self._mode == "proxy_b":
                self._mode = "proxy"  # A forwards in B's place

    def set_mode(self, mode: TimedPath) -> bool:
        """Put the proxy (or its variant B) on or off the path; whether that changed anything.

        Raises:
            ProbeError: ``proxy_b`` without a variant B running.
        """
        if mode == self._mode:
            return False
        if mode == "proxy_b" and self.proxy_b is None:
            raise ProbeError("no variant B of the proxy VNF runs (--nfv-proxy-b)")
        if mode != "direct" and self.proxy_b is not None:
            assert isinstance(self.backend, ProxyVariants)
            self.backend.use_proxy_b(self.testbed, mode == "proxy_b")
        if mode == "direct" or self._mode == "direct":
            self.backend.set_path(self.testbed, "direct" if mode == "direct" else "proxy")
        self._mode = mode
        return True

    def round_trip(self, size: int, mode: TimedPath) -> RoundTripSample:
        """One request of ``size`` bytes from A, through the proxy VNF or the plain hop.

        After a switch of path one request goes first, untimed: a resumed VNF opens its
        packet socket again and a paused one has just closed it, and the first frame after
        that would time the switch, not the path. Alternating paths request by request (as
        the monitoring suite does) would otherwise put that cost into every proxied sample.
        """
        if self.set_mode(mode):
            self._request(size, mode)
        return self._request(size, mode)

    def round_trips(self, size: int, mode: TimedPath, count: int) -> list[RoundTripSample]:
        """``count`` requests in a row on one path, after at most one switch to it.

        A switch of path costs about a hundred round trips (the VNF paused or resumed, a
        sysctl written), so a series that switched for every request would spend its time
        switching; a block of requests per switch gives the interval its samples for a
        fraction of that.
        """
        if count < 1:
            raise NfvUsageError(f"a block of round trips needs at least one, got {count}")
        return [self.round_trip(size, mode) for _ in range(count)]

    def _request(self, size: int, mode: TimedPath) -> RoundTripSample:
        tb = self.testbed
        responder = tb.host_b2 if self._to_b2 else tb.host_b
        proxied = mode != "direct"
        target = tb.proxy.address if proxied else responder.address
        replier = tb.replier(responder, through_proxy=proxied)
        # Host A's requester runs on the CPU of B's responder and the proxy VNF: each hand-off
        # wakes a process on the CPU already carrying the packet (see host.cpus).
        with pinned_thread(harness_cpus().path):
            return self.requester.measure(target, tb.echo_port, size, replier.address)

    def warm_up(self, size: int, requests: int = WARM_UP_REQUESTS) -> None:
        """``requests`` round trips of ``size`` bytes on each path, discarded.

        The first requests of a size pay for what later ones find ready (buffers of that
        size, the VNF's code paths, the caches); timing them would put a start-up cost into a
        figure about steady forwarding, in whatever amount each run happened to pay it.
        """
        modes: tuple[TimedPath, ...] = ("proxy", "direct")
        if self.proxy_b is not None:
            modes += ("proxy_b",)
        for mode in modes:
            for _ in range(requests):
                self.round_trip(size, mode)

    def canary(self, count: int = CANARY_REQUESTS) -> tuple[float, ...]:
        """Seconds of ``count`` 64-byte round trips over the kernel-forwarded path, after a
        warm-up: the host canary of the testbed (``host.canary``), untouched by the VNF."""
        return timed_rounds(
            lambda: self.round_trip(CANARY_SIZE, "direct").seconds, count, WARM_UP_REQUESTS
        )

    def reconfigure(self) -> float:
        """Switch the running proxy between B and B2; seconds until the new B answers."""
        self.set_mode("proxy")
        self._to_b2 = not self._to_b2
        tb = self.testbed
        responder = tb.host_b2 if self._to_b2 else tb.host_b
        requested = time.time_ns()
        self.backend.reconfigure_proxy(tb, self._to_b2)
        replier = tb.replier(responder, through_proxy=True)
        with pinned_thread(harness_cpus().path):
            replied = self.requester.first_reply_ns(
                tb.proxy.address, tb.echo_port, replier.address, self.path_timeout_s
            )
        return (replied - requested) / 1e9

    def back_to_b(self) -> None:
        """Point the proxy at B again if a reconfiguration left it at B2 (untimed).

        A reconfiguration test with an odd number of rounds ends at B2; what measures next
        through the proxy (a stream counted at B's receiver, a migration's probe stream that
        expects B's replies) must find the path as the testbed describes it.
        """
        if self._to_b2:
            self.reconfigure()

    def proxy_memory_mib(self) -> float:
        assert self.proxy is not None
        return instance_memory_mib(self.backend, [self.proxy])
