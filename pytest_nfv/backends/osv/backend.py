"""The osv backend: every instance is a virtual machine, defined through libvirt (QEMU/KVM).

The paper's OS^v setup: a KVM hypervisor, one VM per VNF, every VM from one configuration
template (``fixtures/domains/osv.xml``; ``--nfv-domain-template``), and Algorithm 1 in C on
raw sockets inside the proxy's guest (``proxy_vnf/c/proxy.c``). Each VM is a transient
domain (``createXML``): it exists while it runs and leaves no definition behind.

Network, all of it in namespaces this backend owns (the run's switch,
``pytest_nfv.backends.shared.switch``; the host's root namespace ends up exactly as it was)::

    switch ns  "<run>-sw":  bridge br0 10.213.0.1/16   <- ICMP prober, proxy control
        |-- tap "nv<run>t<k>" == virtio NIC of VM "<run>-i<k>"    10.213.1.0 + k
        |-- tap "nv<run>p"    == virtio NIC of VM "<run>-proxy"   10.213.0.2  (C proxy)
        |-- host A / B / B2: the switch's namespaces with veths

libvirt creates each tap in its own (root) namespace when the domain starts; right after
``createXML`` returns, the tap is moved into the switch namespace and enslaved to the bridge.
QEMU keeps its file descriptor across the move, so the tap is in the root namespace for
milliseconds and goes with the domain (or with the switch namespace) afterwards.

Identity: domain names are the run's names (``nfv-<run>-p<pid>-i<k>``) and every domain
carries the run's tag with ``backend='osv'`` in its metadata
(``pytest_nfv.backends.shared.libvirt``); ``reap`` destroys only domains with both, of runs
whose owner is gone, and their console logs. The switch and host namespaces are reaped by
the netns backend's reap.

Domain type: ``kvm`` only where ``osv.kvm.decide`` found evidence that KVM guests really
boot; otherwise ``qemu`` (TCG), and the report header says why.

Only a local ``qemu:///system`` is driven in this version: the taps must join this host's
switch namespace, which a remote hypervisor's cannot.

Longer than its siblings: ``OsvBackend`` keeps the domains' state (``_vms``, the proxy's
domain) and every step that changes it (lifecycle, instances, testbed) in one class, so
that one lock guards it; what only reads or computes lives in the modules beside it.
"""

from __future__ import annotations

import copy
import ipaddress
import logging
import os
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pytest_nfv.backends.base import (
    BackendSettings,
    CleanupReport,
    EngineInfo,
    EngineTargets,
    StartCallback,
)
from pytest_nfv.backends.migration import ColdMigration, LiveMigration, ProgressCallback
from pytest_nfv.backends.osv import capacity, consoles, memory
from pytest_nfv.backends.osv.consoles import LOG_DIR
from pytest_nfv.backends.osv.control import CONTROL_PORT, send_command
from pytest_nfv.backends.osv.domain import (
    DomainSpec,
    domain_xml,
    load_template,
    osv_domain,
    standin_domain,
)
from pytest_nfv.backends.osv.guest import Guest, ensure_guest
from pytest_nfv.backends.osv.image import OSV_PROGRAM, OsvImage, resolve_image
from pytest_nfv.backends.osv.kvm import KvmVerdict, decide, probe_boot
from pytest_nfv.backends.osv.migration import (
    LIVE_METHOD,
    SAVE_METHOD,
    QmpMove,
    live_figures,
    reap_save_images,
    save_image,
    save_restore,
    source_running,
)
from pytest_nfv.backends.shared.addressing import FIRST_INSTANCE_OFFSET, mac_for
from pytest_nfv.backends.shared.dhcp import PREWRITTEN, DhcpServer, reap_dhcp
from pytest_nfv.backends.shared.libvirt import (
    LibvirtConnection,
    RunTag,
    import_libvirt,
    reap_domains,
)
from pytest_nfv.backends.shared.parallel import all_or_nothing, map_together
from pytest_nfv.backends.shared.switch import (
    BRIDGE,
    BRIDGE_MAC,
    ECHO_PORT,
    GATEWAY,
    HOST_A,
    HOST_B,
    MAC_PREFIX,
    PROXY,
    SUBNET,
    Switch,
)
from pytest_nfv.backends.shared.teardown import Teardown
from pytest_nfv.backends.shared.topology import STREAM_PORT
from pytest_nfv.errors import BackendError, BackendUnavailable, NfvUsageError
from pytest_nfv.host.cgroups import (
    kernel_bytes,
    working_set_bytes,
)
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.processes import pids_named
from pytest_nfv.host.reap import ReapRule
from pytest_nfv.model import Instance, InstanceSpec, PathMode, Testbed
from pytest_nfv.resources import fixtures_dir

__all__ = ["CONTROL_PORT", "DEFAULT_URI", "LOG_DIR", "OsvBackend", "make", "reap"]

_log = logging.getLogger(__name__)
DEFAULT_URI = "qemu:///system"
SWITCH_MAC = BRIDGE_MAC
TAP_PREFIX = "nv"
QEMU_PIDFILES = Path("/run/libvirt/qemu")
RELAY_ARGS = (HOST_A, HOST_B, ECHO_PORT, ECHO_PORT, CONTROL_PORT, GATEWAY, STREAM_PORT, STREAM_PORT)
"""The relay's arguments (``proxy_vnf/c/relay.c``): A, B, its data port, B's port, its control
port, who may control it, and the throughput stream's port on the relay and at B (passed on
one way, to B's receiver rather than its echo responder). Fixed by the switch's plan, so an
OSv disk image can carry them in its own command line; instances run the same program, idle."""
_BYPASS_NOTE = (
    "direct path: the guest cannot forward IP, so A and B route to each other on the switch "
    "without the proxy VM"
)
_PARALLEL = max(2, os.cpu_count() or 2)
"""Domains started at once. A guest's boot is CPU-bound (all of it under TCG), so starting
more than the host has cores only makes each of them slower, and the whole population no
sooner done (benchmarks/RESULTS.md, "Boot time and memory, N VMs started together, next to
a `virsh create` + `ping` loop")."""


@dataclass
class _Vm:
    """One running domain of ours; after a live migration, the domain it moved to.

    ``spec``, ``role`` and ``relay_args`` are the recipe a migration's destination is made
    from; ``moved`` says its console never saw the boot (it began as the migration's end).
    """

    name: str
    tap: str
    domain: Any
    pid: int | None = None
    spec: InstanceSpec | None = None
    role: str = "vnf"
    relay_args: tuple[object, ...] = RELAY_ARGS
    moved: bool = False


def _is_local(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme in ("qemu", "test") and not parts.netloc


class OsvBackend:
    """VNF instances are libvirt/QEMU VMs; see the module docstring for the topology."""

    name = "osv"
    proxy_carries_icmp_echo = False
    """The proxy is a UDP relay (OSv has no packet sockets): echo sent to it is answered by the
    guest's own stack, never carried to B (``IcmpEchoProxy``)."""
    probe_interval_s = 0.01
    """Probe pace (``ProbeInterval``): 10 ms is a small share of the quickest boot here, and
    keeps the prober (real-time priority, one echo per waiting VM per interval) from starving
    TCG guests of CPU."""

    def __init__(self, identity: RunIdentity, settings: BackendSettings) -> None:
        """Checks the user's image options at once: a wrong file is a usage error, not a skip.

        Raises:
            NfvUsageError: ``--nfv-image``/``--nfv-kernel`` name no usable OSv image.
        """
        self.identity = identity
        self._switch = Switch(identity, self.name, bridge_mac=SWITCH_MAC)
        self._libvirt = LibvirtConnection(settings.libvirt_uri or DEFAULT_URI, self.name)
        self._image: OsvImage | None = resolve_image(settings.image, settings.kernel)
        default_template = "osv-image.xml" if self._image is not None else "osv.xml"
        self._template_path = settings.domain_template or fixtures_dir() / "domains" / (
            default_template
        )
        self._guest: Guest | None = None
        self._kvm: KvmVerdict | None = None
        self._template: Any = None
        self._dhcp: DhcpServer | None = None
        self._vms: dict[str, _Vm] = {}
        self._proxy_vm: _Vm | None = None
        self._taps = 0
        self._moves = 0
        self._lock = threading.Lock()  # _boot runs in worker threads: taps, on_start, _vms
        self._direct_bypasses_proxy = False
        self._engine: EngineInfo | None = None  # kept after close, for the record

    # ---- lifecycle ----------------------------------------------------------------------

    def open(self) -> None:
        if not _is_local(self._libvirt.uri):
            raise BackendUnavailable(
                f"osv backend: libvirt URI {self._libvirt.uri} is remote; this version drives "
                "only a local hypervisor (the VMs' taps must join this host's switch namespace)"
            )
        try:
            self._template = load_template(Path(self._template_path))
        except NfvUsageError as exc:
            raise BackendUnavailable(f"osv backend: {exc}") from exc
        import_libvirt(self.name)  # refuse before anything is created
        self.identity.register(self.name)
        try:
            self._switch.open()
            self._dhcp = DhcpServer(
                self._switch.namespace, self._switch.probe_netns, BRIDGE, SUBNET, GATEWAY
            )
            self._dhcp.start(_leases_to_prewrite())
            self._libvirt.open()
            if self._image is None:
                self._guest = ensure_guest()
            consoles.LOG_DIR.mkdir(parents=True, exist_ok=True)
            self._kvm = decide(self._libvirt.handle, self._probe_kvm)
            self._engine = self._describe()
        except BaseException:
            self.close()
            raise

    def _probe_kvm(self) -> KvmVerdict:
        """Boot the stand-in guest once as a kvm domain (built here if an image runs)."""
        if self._guest is None:
            self._guest = ensure_guest()
        name = self.identity.name("kvmprobe")
        log = consoles.console_log(name)
        spec = self._standin_spec(name, "kvmprobe", "kvm", None, "nfv.role=vnf")
        return probe_boot(self._libvirt.handle, domain_xml(self._template, spec), log, "kvm")

    def close(self) -> None:
        """VMs first (their taps leave the switch), DHCP, the switch, then the sweep; each runs."""
        teardown = Teardown(self.name)
        vms = list(self._vms.values())
        if self._proxy_vm is not None:
            vms.append(self._proxy_vm)
        self._vms.clear()
        self._proxy_vm = None
        teardown.step(lambda: self._destroy(vms))
        if self._dhcp is not None:
            teardown.step(self._dhcp.stop)
            self._dhcp = None
        teardown.step(self._switch.close)
        if self._libvirt.opened:
            own = ReapRule.own_run(self.identity.run_id)  # on the connection still open
            teardown.note(self._libvirt.reap(own, dry_run=False).errors)
            teardown.note(consoles.reap_console_logs(own, dry_run=False).errors)
            teardown.note(reap_save_images(LOG_DIR, own, dry_run=False).errors)
            teardown.note(reap_dhcp(own).errors)
            self._libvirt.close()
        self.identity.unregister()
        teardown.finish()

    def __enter__(self) -> OsvBackend:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def engine(self) -> EngineInfo:
        """Before ``open`` only the target (no connection); after, versions, type and why."""
        if self._engine is not None:
            return self._engine
        return EngineInfo("libvirt", f"at {self._libvirt.uri}", ("not connected yet",))

    @property
    def probe_netns(self) -> str | None:
        return self._switch.probe_netns

    @property
    def libvirt_uri(self) -> str:
        """The hypervisor the domains run on, for tools driven beside the backend (``virsh``)."""
        return self._libvirt.uri

    @property
    def domain_template(self) -> ET.Element:
        """A copy of the parsed domain template (``domain.load_template``) every instance's
        domain is made from: give it to ``domain.domain_xml`` with ``instance_domain``'s spec.

        Raises:
            BackendError: the backend is not open (the template is read by ``open``).
        """
        if self._template is None:
            raise BackendError("osv backend is not open")
        return copy.deepcopy(self._template)

    def _describe(self) -> EngineInfo:
        try:
            hypervisor, lib = self._libvirt.versions()
        except Exception as exc:
            return EngineInfo("libvirt", f"at {self._libvirt.uri}", (f"version unknown: {exc}",))
        notes = [hypervisor, f"domain type {self._domain_type()}"]
        if self._kvm is not None:
            notes.append(("KVM: " if self._kvm.usable else "TCG: ") + self._kvm.reason)
        if self._image is not None:
            notes.append(self._image.form)
        elif self._guest is not None:
            notes.append(f"stand-in {self._guest.description}, not OSv")
        notes.append(f"template {self._template_path}")
        notes.append("addresses by DHCP (dnsmasq on the switch)")
        notes.append("proxy: UDP relay (proxy_vnf/c/relay.c)")
        return EngineInfo("libvirt", lib, tuple(notes))

    def _domain_type(self) -> str:
        return "kvm" if self._kvm is not None and self._kvm.usable else "qemu"

    def budget_choice(self) -> tuple[Path, str] | None:
        """The shipped budgets that fit what runs, and why (``capacity.budget_choice``)."""
        return capacity.budget_choice(self._image is None, self._kvm)

    # ---- domains ------------------------------------------------------------------------

    def _new_tap(self, role: str) -> str:
        with self._lock:
            self._taps += 1
            number = self._taps
        return f"{TAP_PREFIX}{self.identity.run_id}{'p' if role == 'proxy' else 't'}{number}"

    def _base(self, name: str, role: str, domain_type: str) -> DomainSpec:
        """What every domain of the run has: its name, the run's tag, its console log."""
        tag = RunTag(self.identity.run_id, self.identity.owner_pid, role, self.name)
        return DomainSpec(name, tag, domain_type, consoles.console_log(name))

    def _standin_spec(
        self,
        name: str,
        role: str,
        domain_type: str,
        spec: InstanceSpec | None,
        cmdline: str,
    ) -> DomainSpec:
        """The stand-in guest (``domain.standin_domain``), on a new tap if it is an instance."""
        assert self._guest is not None
        dspec = standin_domain(self._base(name, role, domain_type), self._guest, cmdline)
        if spec is None:
            return dspec
        return replace(dspec, mac=spec.mac, tap=self._new_tap(role))

    def instance_domain(
        self,
        spec: InstanceSpec,
        role: str,
        relay_args: Sequence[object] = RELAY_ARGS,
        name: str | None = None,
    ) -> DomainSpec:
        """What one instance's domain is: the stand-in or the user's OSv image, a new tap.

        ``relay_args`` are the relay's arguments: the stand-in reads them from its command
        line (its proxy only), an OSv kernel boot gets them as its program's, an OSv disk
        image has its own. ``name`` overrides the domain's name (benchmarks).
        """
        name = spec.name if name is None else name
        if self._image is None:
            words = ",".join(map(str, relay_args))
            cmdline = f"nfv.role={role}" + (f" nfv.relay={words}" if role == "proxy" else "")
            return self._standin_spec(name, role, self._domain_type(), spec, cmdline)
        program = " ".join(map(str, (OSV_PROGRAM, *relay_args)))
        base = self._base(name, role, self._domain_type())
        dspec = osv_domain(base, self._image, str(spec.address), program)
        return replace(dspec, mac=spec.mac, tap=self._new_tap(role))

    def _boot(
        self,
        spec: InstanceSpec,
        role: str,
        relay_args: Sequence[object],
        on_start: StartCallback,
    ) -> Instance:
        """createXML one domain, move its tap onto the switch; the Instance is timed from here."""
        dspec = self.instance_domain(spec, role, relay_args)
        xml = domain_xml(self._template, dspec)
        assert dspec.tap is not None
        with self._lock:  # the prober's control channel takes one whole line at a time
            on_start(spec)
        return self._create(spec, role, dspec.tap, xml, tuple(relay_args))

    def _create(
        self, spec: InstanceSpec, role: str, tap: str, xml: str, relay_args: tuple[object, ...]
    ) -> Instance:
        start_ns = time.time_ns()
        domain = self._libvirt.create(xml, spec.name)
        vm = _Vm(spec.name, tap, domain, spec=spec, role=role, relay_args=relay_args)
        with self._lock:
            if role == "proxy":
                self._proxy_vm = vm
            else:
                self._vms[spec.name] = vm
        self._switch.plug_tap(vm.tap, spec)
        vm.pid = _qemu_pid(spec.name)
        return Instance(
            spec, start_ns, self._switch.probe_netns, () if vm.pid is None else (vm.pid,)
        )

    def _destroy(self, vms: Sequence[_Vm]) -> None:
        """Destroy domains together (each destroy waits for its QEMU to exit)."""
        if not vms:
            return
        failures: list[str] = []

        def destroy(vm: _Vm) -> None:
            if self._image is None and not vm.moved:  # only the stand-in says it is up
                consoles.report_silent_guest(vm.name)
            console = consoles.console_tail(vm.name, 15)
            try:
                if not self._libvirt.destroy(vm.name, vm.domain):
                    # A transient domain that is gone before we destroy it stopped on its
                    # own: an OSv guest powers off when its program fails to load, after it
                    # answered the boot's echo. The round that timed it must not pass.
                    shown = f"; its console ended:\n{console}" if console else ""
                    failures.append(
                        f"domain {vm.name} had stopped on its own before the run stopped it "
                        f"(it answered, then powered off or crashed){shown}"
                    )
            except BackendError as exc:
                failures.append(str(exc))
            finally:
                consoles.console_log(vm.name).unlink(missing_ok=True)

        with ThreadPoolExecutor(min(_PARALLEL, len(vms))) as pool:
            list(pool.map(destroy, vms))
        if failures:
            raise BackendError("; ".join(failures))

    def boot_deadline_s(self, starting: int) -> float:
        """Under TCG (``BootDeadlines``): three times the CPU the new guests need to boot over
        the CPUs the running ones leave idle; under KVM, nothing beyond the floor."""
        running = len(self._vms) + (self._proxy_vm is not None)
        return capacity.boot_deadline_s(self._kvm, starting, running)

    @property
    def boot_deadline_rule(self) -> str:
        return capacity.boot_deadline_rule(self._kvm)

    def most_instances(self) -> tuple[int, str] | None:
        """Under TCG (``HostCapacity``): where idle guests would take half the CPUs."""
        return capacity.most_instances(self._kvm)

    def console_tail(self, instance: Instance, lines: int = 20) -> str | None:
        """The end of the domain's serial console log (``Consoles``): what OSv printed
        before it went silent, a program it could not load, say."""
        return consoles.console_tail(instance.spec.name, lines)

    # ---- instances ----------------------------------------------------------------------

    def plan(self, count: int) -> list[InstanceSpec]:
        """The switch's plan; each planned MAC has its fixed DHCP lease before it boots."""
        specs = self._switch.plan(count)
        if self._dhcp is not None:
            self._dhcp.add((spec.mac, spec.address) for spec in specs)
        return specs

    def release(self, specs: Sequence[InstanceSpec]) -> None:
        """The DHCP leases stay: a planned address comes back with its MAC, and its lease."""
        self._switch.release_planned(specs, self._vms)

    def start(self, specs: Sequence[InstanceSpec], on_start: StartCallback) -> list[Instance]:
        """Start the domains together, a few createXML calls at a time."""

        def boot(spec: InstanceSpec) -> Instance:
            return self._boot(spec, "vnf", RELAY_ARGS, on_start)

        with all_or_nothing(specs, self._remove_created, self._switch.release):
            return map_together(boot, specs, _PARALLEL)

    def _remove_created(self, specs: Sequence[InstanceSpec]) -> None:
        """Destroy the domains of ``specs`` that were created (a start that failed)."""
        self._remove(specs, every_address=False)

    def stop(self, instances: Sequence[Instance]) -> None:
        self._remove([i.spec for i in instances], every_address=False)

    def _remove(self, specs: Sequence[InstanceSpec], *, every_address: bool) -> None:
        """Destroy the domains of ``specs`` that run; free their addresses (or all of them)."""
        vms = [vm for s in specs if (vm := self._vms.pop(s.name, None)) is not None]
        destroyed = {vm.name for vm in vms}
        try:
            self._destroy(vms)
        finally:
            for spec in specs:
                if every_address or spec.name in destroyed:
                    self._switch.release(spec.address)

    def memory_pids(self, instance: Instance) -> Sequence[int]:
        """The instance's QEMU process (from libvirt's pidfile, read when it started)."""
        return instance.pids

    @property
    def kernel_memory_method(self) -> str | None:
        return memory.kernel_memory_method(_is_local(self._libvirt.uri))

    def kernel_memory_mib(self, instances: Sequence[Instance]) -> float:
        """What the kernel charges to each domain's cgroup (libvirt's, holding its QEMU), in MiB.

        Raises:
            BackendError: no memory controller, or a domain's QEMU is gone.
        """
        return memory.sum_over_domains(instances, working_set_bytes)

    def charged_kernel_mib(self, instances: Sequence[Instance]) -> float:
        """``ChargedKernelMemory``: the kernel memory charged to the domains' cgroups.

        Raises:
            BackendError: no memory controller, or a domain's QEMU is gone.
        """
        return memory.sum_over_domains(instances, kernel_bytes)

    def engine_daemon_pids(self) -> Sequence[int]:
        """``EngineProcesses``: libvirt's daemons on this host (none to read for a remote
        libvirt)."""
        return pids_named(memory.ENGINE_DAEMONS) if _is_local(self._libvirt.uri) else []

    def engine_helper_pids(self, instances: Sequence[Instance]) -> Sequence[int]:
        """``EngineProcesses``: none; each domain's QEMU is the instance, in its own cgroup."""
        return []

    # ---- testbed ------------------------------------------------------------------------

    def deploy_testbed(self) -> Testbed:
        """The switch's hosts; the proxy guest is reached from the switch namespace.

        The proxy is a UDP relay: A addresses it, and its replies come from its address.
        """
        return self._switch.deploy_hosts(proxy_netns=self._switch.probe_netns, proxy_relays=True)

    def start_proxy(self, testbed: Testbed, on_start: StartCallback) -> Instance:
        if self._proxy_vm is not None:
            raise BackendError("the proxy VNF is already running")
        spec = InstanceSpec(testbed.proxy.name, testbed.proxy.address, testbed.proxy.mac, "proxy")
        if self._dhcp is not None:
            self._dhcp.add([(spec.mac, spec.address)])
        a, b = testbed.host_a, testbed.host_b
        args = (
            *(a.address, b.address, testbed.echo_port, testbed.echo_port, CONTROL_PORT, GATEWAY),
            *(STREAM_PORT, STREAM_PORT),
        )
        self._direct_bypasses_proxy = False
        return self._boot(spec, "proxy", args, on_start)

    def stop_proxy(self, proxy: Instance) -> None:
        vm, self._proxy_vm = self._proxy_vm, None
        if vm is not None:
            self._destroy([vm])

    def set_path(self, testbed: Testbed, mode: PathMode) -> None:
        """``direct``: the relay pauses and the proxy guest's kernel forwards the same hop.

        A guest that cannot forward IP (OSv) answers ``error no-forwarding``; the direct
        path then leaves the proxy VM out altogether: hosts A, B and B2 route to each other
        on the switch, and the engine notes say so.
        """
        if mode == "proxy":
            if self._direct_bypasses_proxy:
                self._switch.route_hosts_via(PROXY)
            self._control("resume")
            return
        reply = self._control("pause", refusals_ok=("error no-forwarding",))
        if reply != "ok":
            self._direct_bypasses_proxy = True
            self._switch.route_hosts_via(None)
            if self._engine is not None and _BYPASS_NOTE not in self._engine.notes:
                self._engine = EngineInfo(
                    self._engine.name, self._engine.version, (*self._engine.notes, _BYPASS_NOTE)
                )

    def reconfigure_proxy(self, testbed: Testbed, host_b_is_b2: bool) -> None:
        target = testbed.host_b2 if host_b_is_b2 else testbed.host_b
        self._control(f"set-b {target.address} {target.mac}")

    def _control(self, command: str, refusals_ok: tuple[str, ...] = ()) -> str:
        """One command to the proxy guest's UDP control port (``control``); its answer.

        Raises:
            BackendError: no answer, or one other than ``ok`` and ``refusals_ok``'s prefixes.
        """
        if self._proxy_vm is None:
            raise BackendError("the proxy VNF is not running")
        console = str(consoles.console_log(self._proxy_vm.name))
        return send_command(self._switch.probe_netns, command, refusals_ok, console)

    # ---- migration (``Migratable``; the engine's side is in ``osv.migration``) ----------

    def migration_block(self) -> str | None:
        return None if self._libvirt.opened else "the osv backend is not open"

    def migrate_live(
        self, instance: Instance, on_progress: ProgressCallback | None = None
    ) -> LiveMigration:
        """To a new domain of the run on this host (``osv.migration``); the old one goes."""
        vm = self._running_vm(instance)
        assert vm.spec is not None
        spec = vm.spec
        with self._lock:
            self._moves += 1
            name = f"{spec.name}m{self._moves}"
        dspec = self.instance_domain(spec, vm.role, vm.relay_args, name=name)
        tap = dspec.tap
        assert tap is not None
        move = QmpMove(
            self._libvirt,
            vm.domain,
            (name, domain_xml(self._template, dspec)),
            plug=lambda: self._switch.plug_tap(tap, spec, learn=False),
            switch_over=lambda: self._switch.learn_tap(tap, spec),
            pid_of=_qemu_pid,
        )
        try:
            domain, info, parameters = move.run(on_progress)
        except BackendError as exc:
            (LOG_DIR / f"{name}.log").unlink(missing_ok=True)
            if source_running(vm.domain):
                raise
            self._forget(vm)
            self._destroy([vm])
            raise BackendError(f"{exc}; the source did not run again and was destroyed") from exc
        moved = _Vm(name, tap, domain, _qemu_pid(name), spec, vm.role, vm.relay_args, True)
        self._replace(vm, moved)
        self._destroy([vm])
        return LiveMigration(
            moved=self._instance(instance, moved),
            method=LIVE_METHOD,
            **live_figures(info, parameters),
        )

    def save_restore(self, instance: Instance) -> ColdMigration:
        """libvirt's save and restore of the domain; its tap goes back on the switch."""
        vm = self._running_vm(instance)
        assert vm.spec is not None
        domain, save_s, restore_s, size = save_restore(
            self._libvirt, vm.domain, vm.name, save_image(LOG_DIR, vm.name)
        )
        replugged = time.monotonic()
        self._switch.plug_tap(vm.tap, vm.spec)
        restored = _Vm(vm.name, vm.tap, domain, _qemu_pid(vm.name), vm.spec, vm.role)
        restored.relay_args, restored.moved = vm.relay_args, vm.moved
        self._replace(vm, restored)
        return ColdMigration(
            moved=self._instance(instance, restored),
            save_s=save_s,
            restore_s=restore_s + time.monotonic() - replugged,
            image_bytes=size,
            method=SAVE_METHOD,
        )

    def _running_vm(self, instance: Instance) -> _Vm:
        with self._lock:
            proxy = self._proxy_vm
            if proxy is not None and proxy.spec is not None and proxy.spec == instance.spec:
                return proxy
            vm = self._vms.get(instance.spec.name)
        if vm is None:
            raise BackendError(f"{instance.name} is not an instance this backend runs")
        return vm

    def _replace(self, old: _Vm, new: _Vm) -> None:
        with self._lock:
            if self._proxy_vm is old:
                self._proxy_vm = new
            elif old.spec is not None:
                self._vms[old.spec.name] = new

    def _forget(self, vm: _Vm) -> None:
        with self._lock:
            if self._proxy_vm is vm:
                self._proxy_vm = None
            elif vm.spec is not None:
                self._vms.pop(vm.spec.name, None)

    def _instance(self, instance: Instance, vm: _Vm) -> Instance:
        pids = () if vm.pid is None else (vm.pid,)
        return Instance(instance.spec, instance.start_ns, self._switch.probe_netns, pids)


def _leases_to_prewrite() -> list[tuple[str, ipaddress.IPv4Address]]:
    """The proxy's lease and those of the first instance addresses of the plan."""
    offsets = range(FIRST_INSTANCE_OFFSET, FIRST_INSTANCE_OFFSET + PREWRITTEN)
    addresses = [PROXY, *(SUBNET[offset] for offset in offsets)]
    return [(mac_for(address, MAC_PREFIX), address) for address in addresses]


def _qemu_pid(name: str) -> int | None:
    try:
        return int((QEMU_PIDFILES / f"{name}.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def make(name: str, identity: RunIdentity, settings: BackendSettings) -> OsvBackend:
    return OsvBackend(identity, settings)


def reap(
    rule: ReapRule, *, dry_run: bool = False, targets: EngineTargets | None = None
) -> CleanupReport:
    """Destroy the transient domains (and remove the console logs) of the runs ``rule`` takes.

    A domain is ours only if its name is one of our names and its metadata tags it an osv
    domain of the same run. A missing libvirt-python, a remote URI or a libvirtd that does not
    answer reaps as empty: cleanup must never hang on an engine that is not there.
    """
    report = CleanupReport()
    uri = (targets.libvirt_uri if targets else None) or DEFAULT_URI
    if _is_local(uri):
        report.merge(reap_domains(uri, rule, dry_run=dry_run, backend=OsvBackend.name))
    report.merge(consoles.reap_console_logs(rule, dry_run=dry_run))
    report.merge(reap_save_images(LOG_DIR, rule, dry_run=dry_run))
    report.merge(reap_dhcp(rule, dry_run=dry_run))
    return report
