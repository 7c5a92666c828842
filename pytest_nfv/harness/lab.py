"""The paper's experiments, each as one round that returns plain numbers.

A ``Lab`` joins a backend to the probes. Its methods are single rounds; repetition belongs
to ``stats.repeat_until_converged`` and judgement to ``budgets``, so each of the three can be
read (and tested) on its own.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from pytest_nfv.backends.base import (
    Backend,
    BootDeadlines,
    Consoles,
    EngineMemory,
    KernelMemory,
    ProxyVariants,
    echo_protocol,
)
from pytest_nfv.backends.variant import ProxyVariant
from pytest_nfv.errors import BootTimeout, NfvUsageError, ProbeError
from pytest_nfv.harness.host_spend import HostSpend, host_spend, spend_baseline, spend_method
from pytest_nfv.harness.probes.icmp import EchoProber
from pytest_nfv.harness.probes.memory import pss_mib, settled_available_mib
from pytest_nfv.harness.probes.response import RoundTrip, RoundTripSample
from pytest_nfv.host.canary import timed_rounds
from pytest_nfv.host.cpus import harness_cpus, pinned_thread
from pytest_nfv.model import EchoProtocol, Instance, InstanceSpec, Testbed

__all__ = [
    "BootRound",
    "GrowthPoint",
    "Lab",
    "MemoryRound",
    "ProxyPath",
    "TimedPath",
    "instance_memory_mib",
]


@dataclass(frozen=True)
class BootRound:
    """One boot of N instances started together.

    ``makespan_s`` runs from the first start request to the last first-reply; each
    ``per_instance_s`` from that instance's own start request to its own first reply.
    """

    makespan_s: float
    per_instance_s: tuple[float, ...]
    resolution_s: float = 0.0
    """Longest gap between probes of a waiting instance: no figure here is finer than this."""
    answer_gap_s: float = 0.0
    """Largest gap before the probe an instance first answered (within ``resolution_s``)."""
    prober_cpu_share: float = 0.0
    """The prober's CPU over the round, as a share of one core (its own clock: ``probes.icmp``)."""


@dataclass(frozen=True)
class MemoryRound:
    """Host memory consumed by N running instances, and their processes' PSS.

    ``engine_mib`` is each instance's memory as the engine itself counts it (a container's
    cgroup), for backends that offer it (``EngineMemory``); empty otherwise.
    """

    host_delta_mib: float
    pss_mib: float
    engine_mib: tuple[float, ...] = ()
    kernel_mib: float | None = None
    """What the kernel accounts for the N running instances (``KernelMemory`` backends),
    kernel objects included; None for other backends."""


def instance_memory_mib(backend: Backend, instances: Sequence[Instance]) -> float:
    """What the instances themselves hold: their host processes' PSS.

    Instances with no host process at all (a Xen domain) have no PSS; for them the engine's
    own accounting (``EngineMemory``) is the only per-instance figure there is.
    """
    pids = [pid for i in instances for pid in backend.memory_pids(i)]
    if not pids and instances and isinstance(backend, EngineMemory):
        return float(sum(backend.engine_memory_mib(instances)))
    return pss_mib(pids)


class Lab:
    """The harness for one backend: boots, memory, and the proxy testbed.

    Args:
        backend: an opened backend.
        prober: a running ``EchoProber`` in ``backend.probe_netns``.
        boot_timeout_s: how long N instances may take to answer before ``BootTimeout``.
        progress: told each step of a boot (``5 of 16 instances answered``), for a person
            watching a round that takes a minute; it must not block.
    """

    def __init__(
        self,
        backend: Backend,
        prober: EchoProber,
        boot_timeout_s: float,
        progress: Callable[[str], None] | None = None,
        backend_deadlines: bool = False,
    ) -> None:
        self.backend = backend
        self.prober = prober
        self.boot_timeout_s = boot_timeout_s
        self.progress = progress
        self.backend_deadlines = backend_deadlines

    def boot_deadline_s(self, starting: int) -> float:
        """How long ``starting`` new instances may take: ``boot_timeout_s``, or the backend's
        longer deadline for them where it has one and ``backend_deadlines`` lets it."""
        if self.backend_deadlines and isinstance(self.backend, BootDeadlines):
            return max(self.boot_timeout_s, self.backend.boot_deadline_s(starting))
        return self.boot_timeout_s

    def boot(self, specs: Sequence[InstanceSpec]) -> tuple[list[Instance], BootRound]:
        """Start ``specs`` together, probing each from its start request to its first reply.

        Raises:
            BootTimeout: some never answered (those started are stopped first).
            BackendError: the engine refused a start; the backend has stopped what it had
                started and freed every address of ``specs``, and the prober waits no more.
        """
        deadline_s = self.boot_deadline_s(len(specs))
        self.prober.begin(deadline_s)
        first_request: list[int] = []
        report = self.progress
        total = len(specs)
        requested = 0

        def on_start(spec: InstanceSpec) -> None:
            nonlocal requested
            if not first_request:
                first_request.append(time.time_ns())
            self.prober.started(spec.address)
            requested += 1
            if report is not None:
                report(f"{requested} of {total} instances started")

        def on_reply(answered: int) -> None:
            if report is not None:
                report(f"{answered} of {total} instances answered")

        try:
            # The starts run on the path's CPU, off the prober's (see host.cpus).
            with pinned_thread(harness_cpus().path):
                instances = self.backend.start(specs, on_start)
        except BaseException:
            # The backend took back what it started; do not wait out the timeout for
            # addresses that were announced but never came up.
            with contextlib.suppress(ProbeError):
                self.prober.cancel()
            raise
        result = self.prober.finish(on_reply)
        if result.unanswered or len(result.replies_ns) < len(instances):
            silent = [i for i in instances if i.address in set(result.unanswered)]
            console = _console_tail(self.backend, silent[0]) if silent else ""
            self.backend.stop(instances)
            shown = ", ".join(str(a) for a in result.unanswered[:5])
            raise BootTimeout(
                f"{len(result.unanswered)} of {len(specs)} instances did not answer "
                f"ICMP echo within {deadline_s:.0f} s ({shown}){console}"
            )
        per_instance = tuple((result.replies_ns[i.address] - i.start_ns) / 1e9 for i in instances)
        makespan = (max(result.replies_ns.values()) - first_request[0]) / 1e9
        return instances, BootRound(
            makespan,
            per_instance,
            result.max_probe_gap_s,
            result.resolution_s,
            result.prober_cpu_share,
        )

    def start_ready(self, n: int) -> list[Instance]:
        """N new instances, started together and all answering; the caller stops them."""
        instances, _ = self.boot(self.backend.plan(n))
        return instances

    def boot_round(self, n: int) -> BootRound:
        """Start N instances together, time them to their first echo reply, stop them."""
        instances, round_ = self.boot(self.backend.plan(n))
        self.backend.stop(instances)
        return round_

    @contextlib.contextmanager
    def running(self, n: int) -> Iterator[list[Instance]]:
        """N instances, started and answering, for as long as the body runs."""
        instances, _ = self.boot(self.backend.plan(n))
        try:
            yield instances
        finally:
            self.backend.stop(instances)

    def _pss(self, instances: Sequence[Instance]) -> float:
        return instance_memory_mib(self.backend, instances)

    def _engine(self, instances: Sequence[Instance]) -> tuple[float, ...]:
        if not isinstance(self.backend, EngineMemory):
            return ()
        return tuple(self.backend.engine_memory_mib(instances))

    def _kernel(self, instances: Sequence[Instance]) -> float | None:
        if not isinstance(self.backend, KernelMemory) or self.kernel_memory_method is None:
            return None
        return self.backend.kernel_memory_mib(instances)

    @property
    def kernel_memory_method(self) -> str | None:
        """How the kernel's figure of the instances' memory is taken; None where there is none."""
        if not isinstance(self.backend, KernelMemory):
            return None
        return self.backend.kernel_memory_method

    @property
    def host_spend_method(self) -> str | None:
        """How the figure of what the host spends for the instances is made (``memory_growth``);
        None where the kernel does not account them."""
        method = self.kernel_memory_method
        return None if method is None else spend_method(self.backend, method)

    @property
    def counts_kernel_memory(self) -> bool:
        """Whether the kernel (or hypervisor) accounts the backend's instances' memory here."""
        return self.kernel_memory_method is not None

    def memory_round(self, n: int) -> MemoryRound:
        """Available memory before, N instances up and answering, available memory after;
        what the kernel accounts for the N instances while they run."""
        before = settled_available_mib()
        with self.running(n) as instances:
            after = settled_available_mib()
            kernel = self._kernel(instances)
            pss = self._pss(instances)
            engine = self._engine(instances)
        return MemoryRound(before - after, pss, engine, kernel)

    def memory_growth(self, counts: Sequence[int]) -> list[GrowthPoint]:
        """Grow one population through ``counts`` (ascending), reading memory at each step.

        Returns a ``GrowthPoint`` per step: the points a per-instance slope is fitted to,
        taken in one pass so that every point shares the same baseline. Where the kernel
        accounts the instances, the figure is what the host spends for them
        (``harness.host_spend``: the instances' cgroups and the engine's per-instance cost),
        and the engine's own count (the same cgroups through a slower API) is not read again.
        """
        points: list[GrowthPoint] = []
        started: list[Instance] = []
        by_kernel = self.counts_kernel_memory
        baseline = settled_available_mib()
        since = spend_baseline(self.backend) if by_kernel else None
        try:
            for count in sorted(set(counts)):
                more, _ = self.boot(self.backend.plan(count - len(started)))
                started += more
                now = settled_available_mib()
                kernel = self._kernel(started)
                spend = (
                    host_spend(self.backend, started, kernel, since)
                    if kernel is not None and since is not None
                    else None
                )
                pss = self._pss(started)
                engine = () if by_kernel else self._engine(started)
                points.append(
                    GrowthPoint(
                        count,
                        baseline - now,
                        pss,
                        sum(engine) if engine else None,
                        spend.total_mib if spend is not None else kernel,
                        spend,
                    )
                )
        finally:
            self.backend.stop(started)
        return points


def _console_tail(backend: Backend, instance: Instance) -> str:
    """The end of ``instance``'s console, as lines to append to a failure's message; empty
    where the backend keeps none (``Consoles``)."""
    if not isinstance(backend, Consoles):
        return ""
    tail = backend.console_tail(instance)
    if not tail:
        return ""
    indented = "\n".join(f"    {line}" for line in tail.splitlines())
    return f"\nthe console of {instance.spec.name} ends:\n{indented}"


class GrowthPoint(NamedTuple):
    """One step of ``Lab.memory_growth`` (MiB); a field is None where it is not counted."""

    n: int
    host_mib: float
    """The host's ``MemAvailable`` drop since before the population."""
    pss_mib: float
    """The instances' own processes."""
    engine_mib: float | None
    """The instances as their engine counts them."""
    kernel_mib: float | None
    """What the host spends for the instances, kernel-accounted where it can be: the total of
    ``spend`` where there is one."""
    spend: HostSpend | None = None
    """``kernel_mib`` by part."""


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
            console = _console_tail(self.backend, self.proxy)
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

    def proxy_memory_mib(self) -> float:
        assert self.proxy is not None
        return instance_memory_mib(self.backend, [self.proxy])
