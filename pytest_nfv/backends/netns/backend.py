"""The embedded default backend: each instance is a Linux network namespace with a VNF process.

Every instance, the proxy VNF and hosts A, B and B2 are namespaces on the run's switch
(``pytest_nfv.backends.shared.switch``, where the topology is drawn), each joined to its bridge by a
veth::

    switch ns  "<run>-sw":  bridge br0 10.213.0.1/16  <- the ICMP prober sits here
        |-- v<k> == eth0 of "<run>-i<k>"   VNF instance k   10.213.1.0 + k
        |-- proxy ns  "<run>-proxy"        10.213.0.2   Algorithm 1 (pytest_nfv.vnf.proxy)
        `-- hosts A, B, B2                 10.213.0.3-5 the switch's testbed hosts

An instance answers once its VNF process runs and its eth0 is up with its address; that is
the last step of its start. It knows the switch's MAC from the start (a static ARP entry, as
the switch knows its MAC): a first reply that had to ask for it by broadcast would reach all
N ports, and N instances asking cost the kernel N² deliveries while the rest boot.

Longer than most modules, and one on purpose: netns has no engine to hide, so this class is
the engine as well as the backend. Its instances, the proxy, the proxy's variant B and the
path between them are processes in namespaces of one switch, and ``set_path``,
``use_proxy_b`` and ``reconfigure_proxy`` change state (which VNF forwards, whether the
proxy's kernel does) that starting and stopping either proxy read and reset; split, that
state would be shared across modules rather than kept in one class. What only builds or
computes lives elsewhere (the switch, ``vnf.proxy``, ``host.cgroups``).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib.metadata import version as dist_version

from pytest_nfv.backends.base import (
    BackendSettings,
    CleanupReport,
    EngineInfo,
    EngineTargets,
    StartCallback,
)
from pytest_nfv.backends.migration import ColdMigration, LiveMigration, ProgressCallback
from pytest_nfv.backends.shared.responder import launch_helper
from pytest_nfv.backends.shared.switch import BRIDGE_MAC, GATEWAY, Port, Switch, reap_namespaces
from pytest_nfv.backends.shared.teardown import Teardown
from pytest_nfv.backends.variant import ProxyVariant
from pytest_nfv.errors import BackendError, BackendUnavailable
from pytest_nfv.host.cgroups import MemoryCgroup, pss_anon_bytes, reap_cgroups
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.namespaces import namespace_path, write_sysctl
from pytest_nfv.host.processes import expect_line, stop_processes
from pytest_nfv.host.reap import ReapRule
from pytest_nfv.model import Instance, InstanceSpec, PathMode, Testbed
from pytest_nfv.units import MIB
from pytest_nfv.vnf.proxy import hold_from_env
from pytest_nfv.vnf.slowdown import Slowdown, slowdown_from_env

__all__ = ["MIGRATION_NOT_APPLICABLE", "NetnsBackend", "make", "reap"]

MIGRATION_NOT_APPLICABLE = (
    "not applicable: a netns instance is a process of this host's kernel in a namespace, with "
    "no machine state of its own to move; moving it means checkpointing the process with CRIU "
    "into a new namespace, the mechanism the coreos backend measures for containers "
    "(docs/backends/netns.md)"
)

DEFAULT_VNF_COMMAND = ("sleep", "infinity")
_KNOWS_THE_SWITCH = ((GATEWAY, BRIDGE_MAC),)
"""Every instance's static ARP entry for the switch, where the prober sits (see BRIDGE_MAC)."""
_PROXY_SYSCTLS = (
    ("net.ipv4.ip_forward", "0"),
    ("net.ipv4.conf.all.send_redirects", "0"),
    ("net.ipv4.conf.default.send_redirects", "0"),
    # Echo requests to the proxy's address are the VNF's to carry to B: the proxy's own
    # kernel answering them too would send A a second, shorter round trip and cost the hop.
    ("net.ipv4.icmp_echo_ignore_all", "1"),
)


class NetnsBackend:
    """Instances are network namespaces on the run's switch; see the module docstring."""

    name = "netns"
    proxy_carries_icmp_echo = True
    """The VNF rewrites any IP packet on its frames (``IcmpEchoProxy``); the proxy namespace
    ignores echo requests itself (``_PROXY_SYSCTLS``)."""

    def __init__(
        self, identity: RunIdentity, vnf_command: Sequence[str] = DEFAULT_VNF_COMMAND
    ) -> None:
        self.identity = identity
        self._vnf_command = tuple(vnf_command)
        self._switch = Switch(identity, self.name, bridge_mac=BRIDGE_MAC)
        self._instances: dict[str, Port] = {}
        self._proxy: Port | None = None
        self._proxy_b: subprocess.Popen[bytes] | None = None
        """Variant B of the proxy VNF (``ProxyVariants``): a second process in A's namespace."""
        self._proxied = True
        """Whether a proxy VNF forwards the hop (else the proxy's kernel does: ``direct``)."""
        self._b_forwards = False
        """Whether B, not A, is the variant that forwards when the path is proxied."""
        self._memory: MemoryCgroup | None = None
        self._population: MemoryCgroup | None = None
        self._populations = 0
        self._population_fresh = False
        self.memory_unavailable = ""
        """Why there is no kernel-accounted memory figure, when there is none."""

    # ---- lifecycle ----------------------------------------------------------------------

    def open(self) -> None:
        self.identity.register(self.name)
        try:
            self._switch.open()
            try:
                self._memory = MemoryCgroup.create(self.identity)
            except BackendError as exc:  # the figure is missing, with its reason; no skip
                self.memory_unavailable = str(exc)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop everything, then remove the switch; each step runs even if one before failed."""
        teardown = Teardown(self.name)
        self._instances.clear()
        teardown.step(self._stop_b)
        self._proxy = None
        teardown.step(self._switch.close)
        self._population = None
        if self._memory is not None:
            teardown.step(self._memory.remove)
            self._memory = None
        self.identity.unregister()
        teardown.finish()

    def __enter__(self) -> NetnsBackend:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def engine(self) -> EngineInfo:
        return EngineInfo(
            "linux-netns",
            platform.release(),
            (
                f"pyroute2 {dist_version('pyroute2')}",
                f"VNF: {' '.join(self._vnf_command)}",
                f"responder: {self._switch.responder.kind}",
            ),
        )

    @property
    def probe_netns(self) -> str | None:
        return self._switch.probe_netns

    # ---- instances ----------------------------------------------------------------------

    def plan(self, count: int) -> list[InstanceSpec]:
        return self._switch.plan(count)

    def release(self, specs: Sequence[InstanceSpec]) -> None:
        self._switch.release_planned(specs, self._instances)

    def start(self, specs: Sequence[InstanceSpec], on_start: StartCallback) -> list[Instance]:
        """Create each instance from inside a memory cgroup of the run, so the kernel charges
        its namespace, veth and VNF process there (see ``kernel_memory_mib``).

        Instances started while none runs begin a new population, in a fresh cgroup: what an
        earlier population's asynchronous teardown still holds stays charged to that one's.
        """
        if self._memory is None:
            return self._start(specs, on_start)
        if self._population is None or (not self._instances and not self._population_fresh):
            self._new_population(self._memory)
        assert self._population is not None
        self._population_fresh = False
        with self._population.charged():
            return self._start(specs, on_start)

    def _new_population(self, run: MemoryCgroup) -> None:
        old, self._population = self._population, None
        if old is not None:
            old.remove(timeout_s=1.0)  # its processes are gone; leftovers go to the parent
        self._populations += 1
        self._population = run.child(f"population{self._populations}")

    @property
    def kernel_memory_method(self) -> str | None:
        if self._memory is None:
            return None
        return (
            "what the kernel charged to the population's memory cgroup "
            f"({self._memory.hierarchy.usage_file}), kernel memory included, less the "
            "harness's own heap pages charged there while it created the instances"
        )

    def kernel_memory_mib(self, instances: Sequence[Instance]) -> float:
        """What the kernel charged for the running population, settled, in MiB.

        Less the harness's own heap: its main thread creates the instances inside the cgroup,
        and v1 charges the anonymous pages a process faults in to its address space owner's
        cgroup, so the harness's heap growth meanwhile lands there too. What the cgroup holds
        in anonymous pages beyond the instances' own processes' is that, and is left out.

        Raises:
            BackendError: no cgroup, or ``instances`` are not the whole running population
                (the count covers every instance of it and cannot single out a part).
        """
        if self._memory is None or self._population is None:
            raise BackendError(f"no kernel-accounted memory: {self.memory_unavailable}")
        if {i.name for i in instances} != set(self._instances):
            raise BackendError(
                "the kernel's count covers the whole running population "
                f"({len(self._instances)} instances), not {len(instances)} of them"
            )
        charged = self._population.settled_mib()
        own_anon = pss_anon_bytes([pid for i in instances for pid in i.pids])
        harness_heap = max(0, self._population.anon_bytes() - own_anon)
        return charged - harness_heap / MIB

    def charged_kernel_mib(self, instances: Sequence[Instance]) -> float:
        """``ChargedKernelMemory``: the kernel memory charged to the population's cgroup.

        Raises:
            BackendError: no cgroup, or not the whole running population.
        """
        self.kernel_memory_mib(instances)  # the same checks
        assert self._population is not None
        return self._population.kernel_mib()

    def _start(self, specs: Sequence[InstanceSpec], on_start: StartCallback) -> list[Instance]:
        """Start the namespaces one after another; all of them, or (on a refusal) none."""
        started: list[Instance] = []
        try:
            for spec in specs:
                on_start(spec)
                start_ns = time.time_ns()
                port = self._switch.add_namespace(
                    spec, self._vnf_command, neighbours=_KNOWS_THE_SWITCH
                )
                self._instances[spec.name] = port
                started.append(
                    Instance(
                        spec,
                        start_ns,
                        namespace_path(spec.name),
                        tuple(p.pid for p in port.processes),
                    )
                )
        except BaseException:
            try:
                self.stop(started)
            finally:
                running = {instance.name for instance in started}
                for spec in specs:
                    if spec.name not in running:
                        self._switch.release(spec.address)
            raise
        return started

    def stop(self, instances: Sequence[Instance]) -> None:
        ports, addresses = [], []
        for instance in instances:
            port = self._instances.pop(instance.name, None)
            if port is not None:  # stopping twice is harmless, and frees nothing twice
                ports.append(port)
                addresses.append(instance.address)
        try:
            self._switch.remove(ports)
        finally:
            for address in addresses:
                self._switch.release(address)
        if ports and not self._instances and self._memory is not None:
            # The population's last instance is gone: its cgroup goes now and a fresh one
            # waits, so that the kernel frees the one and allocates the other before the next
            # population's baseline is read (``harness.host_spend``), not while it grows.
            # A task still leaving keeps the old one busy: then the next start makes the
            # fresh one, and closing removes the old with the run's cgroup; a stop that
            # unwinds a refused start must not fail on it in place of the refusal.
            try:
                self._new_population(self._memory)
                self._population_fresh = True
            except BackendError:
                self._population_fresh = False

    def memory_pids(self, instance: Instance) -> Sequence[int]:
        return instance.pids

    # ---- testbed ------------------------------------------------------------------------

    def deploy_testbed(self) -> Testbed:
        return self._switch.deploy_hosts()

    def _proxy_argv(
        self, testbed: Testbed, hold_us: int, slowdown: Slowdown | None, paused: bool = False
    ) -> list[str]:
        argv = [
            sys.executable,
            "-m",
            "pytest_nfv.vnf.proxy",
            "--iface",
            "eth0",
            "--host-a",
            str(testbed.host_a.address),
            "--mac-a",
            testbed.host_a.mac,
            "--host-b",
            str(testbed.host_b.address),
            "--mac-b",
            testbed.host_b.mac,
            "--sink-port",
            str(testbed.echo_port),
            "--hold-us",
            str(hold_us),
        ]
        if slowdown is not None:
            argv += ["--slowdown", slowdown.spec]
        if paused:  # variant B: A's sink socket serves both (the port would be taken twice)
            argv += ["--paused", "--sink-port", "0"]
        return argv

    def start_proxy(self, testbed: Testbed, on_start: StartCallback) -> Instance:
        if self._proxy is not None:
            raise BackendError("the proxy VNF is already running")
        spec = InstanceSpec(testbed.proxy.name, testbed.proxy.address, testbed.proxy.mac, "proxy")
        argv = self._proxy_argv(testbed, hold_from_env(os.environ), slowdown_from_env(os.environ))
        on_start(spec)
        start_ns = time.time_ns()
        self._proxy = self._switch.add_namespace(spec, argv, (), _PROXY_SYSCTLS)
        self._proxied, self._b_forwards = True, False
        return Instance(
            spec, start_ns, testbed.proxy.netns_path, tuple(p.pid for p in self._proxy.processes)
        )

    def stop_proxy(self, proxy: Instance) -> None:
        self._stop_b()
        port, self._proxy = self._proxy, None
        if port is not None:
            self._switch.remove([port])

    # ---- variant B of the proxy VNF (ProxyVariants) -------------------------------------

    def start_proxy_b(self, testbed: Testbed, variant: ProxyVariant) -> Instance:
        """Variant B: the proxy VNF's program with ``variant``'s differences, started paused
        in A's namespace; what the variant does not name it takes from A's environment."""
        if self._proxy is None:
            raise BackendError("variant B of the proxy VNF needs the proxy VNF running")
        if self._proxy_b is not None:
            raise BackendError("variant B of the proxy VNF is already running")
        hold_us = variant.hold_us if variant.hold_us is not None else hold_from_env(os.environ)
        slowdown = variant.slowdown or slowdown_from_env(os.environ)
        argv = self._proxy_argv(testbed, hold_us, slowdown, paused=True)
        start_ns = time.time_ns()
        self._proxy_b = launch_helper(
            argv,
            testbed.proxy.netns_path,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            bufsize=0,
        )
        try:
            expect_line(self._proxy_b, "ready", f"variant B of the proxy VNF ({variant.spec})")
        except BaseException:
            self._stop_b()
            raise
        spec = InstanceSpec(
            f"{testbed.proxy.name}-b", testbed.proxy.address, testbed.proxy.mac, "proxy"
        )
        return Instance(spec, start_ns, testbed.proxy.netns_path, (self._proxy_b.pid,))

    def stop_proxy_b(self, proxy_b: Instance) -> None:
        forwarded = self._b_forwards and self._proxied
        self._stop_b()
        if forwarded and self._proxy is not None:
            self._proxy_command("resume")

    def _stop_b(self) -> None:
        proc, self._proxy_b = self._proxy_b, None
        self._b_forwards = False
        if proc is not None:
            stop_processes([proc])

    def use_proxy_b(self, testbed: Testbed, use: bool) -> None:
        if use and self._proxy_b is None:
            raise BackendError("variant B of the proxy VNF is not running")
        if use == self._b_forwards:
            return
        if self._proxied:  # one pauses before the other resumes: never both on the wire
            self._proxy_command("pause", variant_b=self._b_forwards)
            self._proxy_command("resume", variant_b=use)
        self._b_forwards = use

    # ---- the path -----------------------------------------------------------------------

    def _proxy_command(self, command: str, variant_b: bool = False) -> None:
        port = self._proxy
        if port is None or not port.processes:
            raise BackendError("the proxy VNF is not running")
        proc = self._proxy_b if variant_b else port.processes[0]
        what = "variant B of the proxy VNF" if variant_b else "the proxy VNF"
        if proc is None:
            raise BackendError(f"{what} is not running")
        assert proc.stdin is not None
        try:
            proc.stdin.write(command.encode() + b"\n")
            proc.stdin.flush()
        except BrokenPipeError as exc:
            raise BackendError(f"{what} exited (status {proc.poll()})") from exc
        expect_line(proc, "ok", f"{what}: command {command!r}", skip=("ready",))

    def set_path(self, testbed: Testbed, mode: PathMode) -> None:
        if mode == "direct":
            self._proxy_command("pause", variant_b=self._b_forwards)
            write_sysctl(testbed.proxy.netns_path, "net.ipv4.ip_forward", "1")
            self._proxied = False
        else:
            write_sysctl(testbed.proxy.netns_path, "net.ipv4.ip_forward", "0")
            self._proxy_command("resume", variant_b=self._b_forwards)
            self._proxied = True

    def reconfigure_proxy(self, testbed: Testbed, host_b_is_b2: bool) -> None:
        """Point A, and variant B where it runs, at the new B."""
        target = testbed.host_b2 if host_b_is_b2 else testbed.host_b
        self._proxy_command(f"set-b {target.address} {target.mac}")
        if self._proxy_b is not None:
            self._proxy_command(f"set-b {target.address} {target.mac}", variant_b=True)

    # ---- migration (``Migratable``): not applicable, see MIGRATION_NOT_APPLICABLE ----------

    def migration_block(self) -> str | None:
        return MIGRATION_NOT_APPLICABLE

    def migrate_live(
        self, instance: Instance, on_progress: ProgressCallback | None = None
    ) -> LiveMigration:
        raise BackendUnavailable(MIGRATION_NOT_APPLICABLE)

    def save_restore(self, instance: Instance) -> ColdMigration:
        raise BackendUnavailable(MIGRATION_NOT_APPLICABLE)


def make(name: str, identity: RunIdentity, settings: BackendSettings) -> NetnsBackend:
    """The plugin's netns backend; a bad injected slowdown is a usage error before any start.

    Raises:
        NfvUsageError: ``NFV_PROXY_HOLD_US`` or ``NFV_PROXY_SLOWDOWN`` is not a valid value.
    """
    hold_from_env(os.environ)
    slowdown_from_env(os.environ)
    return NetnsBackend(identity)


def reap(
    rule: ReapRule, *, dry_run: bool = False, targets: EngineTargets | None = None
) -> CleanupReport:
    """Remove the namespaces (and their processes) of the runs ``rule`` takes.

    They are the switch's, whichever backend used it: netns, osv and clickos alike. The
    run's memory cgroup goes with them, once their processes are gone.

    Args:
        rule: which runs go (see ``pytest_nfv.host.reap``).
        dry_run: only report what would be removed (``cleanup --dry-run``).
        targets: unused; namespaces are always local.
    """
    report = reap_namespaces(rule, dry_run=dry_run)
    report.merge(reap_cgroups(rule, dry_run=dry_run))
    return report
