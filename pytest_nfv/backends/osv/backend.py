"""The osv backend: every instance is a virtual machine, defined through libvirt (QEMU/KVM).

The paper's OS^v setup: a KVM hypervisor, one VM per VNF, every VM from one configuration
template (``fixtures/domains/osv.xml``; ``--nfv-domain-template``), and Algorithm 1 in C on
raw sockets inside the proxy's guest (``proxy_vnf/c/proxy.c``). Each VM is a transient
domain (``createXML``): it exists while it runs and leaves no definition behind.

Network, all of it in namespaces this backend owns (the run's switch,
``pytest_nfv.backends.switch``; the host's root namespace ends up exactly as it was)::

    switch ns  "<run>-sw":  bridge br0 10.213.0.1/16   <- ICMP prober, proxy control
        |-- tap "nv<run>t<k>" == virtio NIC of VM "<run>-i<k>"    10.213.1.0 + k
        |-- tap "nv<run>p"    == virtio NIC of VM "<run>-proxy"   10.213.0.2  (C proxy)
        |-- host A / B / B2: the switch's namespaces with veths

libvirt creates each tap in its own (root) namespace when the domain starts; right after
``createXML`` returns, the tap is moved into the switch namespace and enslaved to the bridge.
QEMU keeps its file descriptor across the move, so the tap is in the root namespace for
milliseconds and goes with the domain (or with the switch namespace) afterwards.

Identity: domain names are the run's names (``nfv-<run>-p<pid>-i<k>``) and every domain
carries the run's tag with ``backend='osv'`` in its metadata (``pytest_nfv.backends.libvirt``);
``reap`` destroys only domains with both, of runs whose owner is gone, and their console
logs. The switch and host namespaces are reaped by the netns backend's reap.

Domain type: ``kvm`` only where ``osv.kvm.decide`` found evidence that KVM guests really
boot; otherwise ``qemu`` (TCG), and the report header says why.

Only a local ``qemu:///system`` is driven in this version: the taps must join this host's
switch namespace, which a remote hypervisor's cannot.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
from pytest_nfv.backends.libvirt import (
    LibvirtConnection,
    RunTag,
    import_libvirt,
    reap_domains,
)
from pytest_nfv.backends.osv.domain import DomainSpec, domain_xml, load_template
from pytest_nfv.backends.osv.guest import Guest, ensure_guest
from pytest_nfv.backends.osv.kvm import UP_MARKER, KvmVerdict, decide, probe_boot
from pytest_nfv.backends.switch import GATEWAY, PROXY, SUBNET, Switch
from pytest_nfv.backends.teardown import Teardown
from pytest_nfv.errors import BackendError, BackendUnavailable, NfvUsageError
from pytest_nfv.host.identity import REGISTRY_DIR, RunIdentity
from pytest_nfv.host.namespaces import entered
from pytest_nfv.host.reap import ReapRule
from pytest_nfv.model import Instance, InstanceSpec, PathMode, Testbed
from pytest_nfv.resources import fixtures_dir

__all__ = ["CONTROL_PORT", "DEFAULT_URI", "OsvBackend", "make", "reap"]

_log = logging.getLogger(__name__)
DEFAULT_URI = "qemu:///system"
SWITCH_MAC = "02:4e:46:00:00:01"
CONTROL_PORT = 7070
TAP_PREFIX = "nv"
LOG_DIR = REGISTRY_DIR / "osv"
QEMU_PIDFILES = Path("/run/libvirt/qemu")
_CONTROL_TIMEOUT_S = 5.0
_PARALLEL = max(2, os.cpu_count() or 2)
"""Domains started at once. A guest's boot is CPU-bound (all of it under TCG), so starting
more than the host has cores only makes each of them slower: on 2 cores, 16 VMs eight at a
time took 62 s each and 75 s in all, two at a time 21 s each and 39 s in all."""


@dataclass
class _Vm:
    """One running domain of ours."""

    name: str
    tap: str
    domain: Any
    pid: int | None = None


def _is_local(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme in ("qemu", "test") and not parts.netloc


class OsvBackend:
    """VNF instances are libvirt/QEMU VMs; see the module docstring for the topology."""

    name = "osv"
    probe_interval_s = 0.01
    """Probe pace: 10 ms is 0.5% of the quickest boot here, and keeps the prober (real-time
    priority, one echo per waiting VM per interval) from starving TCG guests of CPU."""

    def __init__(self, identity: RunIdentity, settings: BackendSettings) -> None:
        self.identity = identity
        self._switch = Switch(identity, self.name, bridge_mac=SWITCH_MAC)
        self._libvirt = LibvirtConnection(settings.libvirt_uri or DEFAULT_URI, self.name)
        self._template_path = settings.domain_template or fixtures_dir() / "domains" / "osv.xml"
        self._image = settings.image
        self._guest: Guest | None = None
        self._kvm: KvmVerdict | None = None
        self._template: Any = None
        self._vms: dict[str, _Vm] = {}
        self._proxy_vm: _Vm | None = None
        self._taps = 0
        self._lock = threading.Lock()  # _boot runs in worker threads: taps, on_start, _vms
        self._engine: EngineInfo | None = None  # kept after close, for the record

    # ---- lifecycle ----------------------------------------------------------------------

    def open(self) -> None:
        if self._image is not None:
            raise BackendUnavailable(
                f"osv backend: --nfv-image {self._image}: booting a user's OSv image is not "
                "driven in this version (its network is configured inside the image); "
                "without --nfv-image the backend boots the guest it builds itself"
            )
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
            self._libvirt.open()
            self._guest = ensure_guest()
            LOG_DIR.mkdir(parents=True, exist_ok=True)
            self._kvm = decide(self._libvirt.handle, self._probe_kvm)
            self._engine = self._describe()
        except BaseException:
            self.close()
            raise

    def _probe_kvm(self) -> KvmVerdict:
        name = self.identity.name("kvmprobe")
        log = LOG_DIR / f"{name}.log"
        spec = self._domain_spec(name, "kvmprobe", "kvm", None, "nfv.role=vnf")
        return probe_boot(self._libvirt.handle, domain_xml(self._template, spec), log, "kvm")

    def close(self) -> None:
        """VMs first (their taps leave the switch), then the switch, then the sweep; each runs."""
        teardown = Teardown(self.name)
        vms = list(self._vms.values())
        if self._proxy_vm is not None:
            vms.append(self._proxy_vm)
        self._vms.clear()
        self._proxy_vm = None
        teardown.step(lambda: self._destroy(vms))
        teardown.step(self._switch.close)
        if self._libvirt.opened:
            own = ReapRule.own_run(self.identity.run_id)  # on the connection still open
            teardown.note(self._libvirt.reap(own, dry_run=False).errors)
            teardown.note(_reap_console_logs(own, dry_run=False).errors)
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

    def _describe(self) -> EngineInfo:
        try:
            hypervisor, lib = self._libvirt.versions()
        except Exception as exc:
            return EngineInfo("libvirt", f"at {self._libvirt.uri}", (f"version unknown: {exc}",))
        notes = [hypervisor, f"domain type {self._domain_type()}"]
        if self._kvm is not None:
            notes.append(("KVM: " if self._kvm.usable else "TCG: ") + self._kvm.reason)
        if self._guest is not None:
            notes.append(self._guest.description)
        notes.append(f"template {self._template_path}")
        return EngineInfo("libvirt", lib, tuple(notes))

    def _domain_type(self) -> str:
        return "kvm" if self._kvm is not None and self._kvm.usable else "qemu"

    # ---- domains ------------------------------------------------------------------------

    def _domain_spec(
        self,
        name: str,
        role: str,
        domain_type: str,
        spec: InstanceSpec | None,
        cmdline: str,
        neighbours: Sequence[tuple[ipaddress.IPv4Address, str]] = (),
    ) -> DomainSpec:
        """What one domain needs; the guest learns its address and static ARP entries
        (the switch's, and for the proxy hosts A, B and B2) from the command line."""
        assert self._guest is not None
        tap = None
        if spec is not None:
            with self._lock:
                self._taps += 1
                number = self._taps
            tap = f"{TAP_PREFIX}{self.identity.run_id}{'p' if role == 'proxy' else 't'}{number}"
            address = f"{spec.address}/{SUBNET.prefixlen}"
            neigh = ",".join(f"{ip}/{mac}" for ip, mac in ((GATEWAY, SWITCH_MAC), *neighbours))
            cmdline = f"nfv.addr={address} nfv.neigh={neigh} {cmdline}"
        return DomainSpec(
            name=name,
            tag=RunTag(self.identity.run_id, self.identity.owner_pid, role, self.name),
            domain_type=domain_type,
            console_log=LOG_DIR / f"{name}.log",
            kernel=self._guest.kernel,
            initrd=self._guest.initrd,
            cmdline=f"console=ttyS0 quiet panic=-1 {cmdline}".strip(),
            mac=spec.mac if spec is not None else None,
            tap=tap,
        )

    def _boot(
        self,
        spec: InstanceSpec,
        role: str,
        cmdline: str,
        on_start: StartCallback,
        neighbours: Sequence[tuple[ipaddress.IPv4Address, str]] = (),
    ) -> Instance:
        """createXML one domain, move its tap onto the switch; the Instance is timed from here."""
        dspec = self._domain_spec(spec.name, role, self._domain_type(), spec, cmdline, neighbours)
        xml = domain_xml(self._template, dspec)
        assert dspec.tap is not None
        with self._lock:  # the prober's control channel takes one whole line at a time
            on_start(spec)
        start_ns = time.time_ns()
        domain = self._libvirt.create(xml, spec.name)
        vm = _Vm(spec.name, dspec.tap, domain)
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
            _report_silent_guest(vm.name)
            try:
                self._libvirt.destroy(vm.name, vm.domain)
            except BackendError as exc:
                failures.append(str(exc))
            finally:
                (LOG_DIR / f"{vm.name}.log").unlink(missing_ok=True)

        with ThreadPoolExecutor(min(_PARALLEL, len(vms))) as pool:
            list(pool.map(destroy, vms))
        if failures:
            raise BackendError("; ".join(failures))

    # ---- instances ----------------------------------------------------------------------

    def plan(self, count: int) -> list[InstanceSpec]:
        return self._switch.plan(count)

    def start(self, specs: Sequence[InstanceSpec], on_start: StartCallback) -> list[Instance]:
        """Start the domains together, a few createXML calls at a time."""
        if not specs:
            return []
        with ThreadPoolExecutor(min(_PARALLEL, len(specs))) as pool:
            futures = [
                pool.submit(self._boot, spec, "vnf", "nfv.role=vnf", on_start) for spec in specs
            ]
            results, failures = [], []
            for future in futures:
                try:
                    results.append(future.result())
                except BaseException as exc:
                    failures.append(exc)
        if failures:
            self._abandon(specs)
            raise failures[0]
        return results

    def _abandon(self, specs: Sequence[InstanceSpec]) -> None:
        """A start failed part-way: destroy the domains it created, free all its addresses."""
        self._remove(specs, every_address=True)

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

    # ---- testbed ------------------------------------------------------------------------

    def deploy_testbed(self) -> Testbed:
        """The switch's hosts; the proxy guest is reached from the switch namespace."""
        return self._switch.deploy_hosts(proxy_netns=self._switch.probe_netns)

    def start_proxy(self, testbed: Testbed, on_start: StartCallback) -> Instance:
        if self._proxy_vm is not None:
            raise BackendError("the proxy VNF is already running")
        spec = InstanceSpec(testbed.proxy.name, testbed.proxy.address, testbed.proxy.mac, "proxy")
        a, b = testbed.host_a, testbed.host_b
        args = (a.address, a.mac, b.address, b.mac, testbed.echo_port, CONTROL_PORT, GATEWAY)
        cmdline = f"nfv.role=proxy nfv.proxy={','.join(map(str, args))}"
        neighbours = [(e.address, e.mac) for e in (a, b, testbed.host_b2)]
        return self._boot(spec, "proxy", cmdline, on_start, neighbours)

    def stop_proxy(self, proxy: Instance) -> None:
        vm, self._proxy_vm = self._proxy_vm, None
        if vm is not None:
            self._destroy([vm])

    def set_path(self, testbed: Testbed, mode: PathMode) -> None:
        """``direct``: the C proxy pauses and the proxy guest's kernel forwards the same hop."""
        self._control("pause" if mode == "direct" else "resume")

    def reconfigure_proxy(self, testbed: Testbed, host_b_is_b2: bool) -> None:
        target = testbed.host_b2 if host_b_is_b2 else testbed.host_b
        self._control(f"set-b {target.address} {target.mac}")

    def _control(self, command: str) -> None:
        """One command to the proxy guest's UDP control port, from the switch; waits for ok."""
        if self._proxy_vm is None:
            raise BackendError("the proxy VNF is not running")
        with entered(self._switch.probe_netns):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((str(GATEWAY), 0))
            sock.settimeout(0.25)
            deadline = time.monotonic() + _CONTROL_TIMEOUT_S
            while time.monotonic() < deadline:
                sock.sendto(command.encode(), (str(PROXY), CONTROL_PORT))
                try:
                    reply = sock.recv(256).decode(errors="replace")
                except TimeoutError:
                    continue  # lost, or the guest is still booting: the command is idempotent
                if reply == "ok":
                    return
                raise BackendError(f"proxy VNF refused {command!r}: {reply}")
        finally:
            sock.close()
        raise BackendError(
            f"proxy VNF did not acknowledge {command!r} within {_CONTROL_TIMEOUT_S:g} s "
            f"(console log: {LOG_DIR / self._proxy_vm.name}.log)"
        )


def _report_silent_guest(name: str) -> None:
    """Log the console of a guest that never said it was up, before its log is removed.

    pytest shows the log records of a failed test, so a boot timeout comes with the guest's
    own last words (a kernel panic, a missing module) instead of just an address.
    """
    try:
        console = (LOG_DIR / f"{name}.log").read_text(errors="replace")
    except OSError:
        return
    if UP_MARKER not in console:
        tail = "\n".join(console.splitlines()[-25:])
        _log.error("guest %s never came up; the end of its serial console:\n%s", name, tail)


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
    report.merge(_reap_console_logs(rule, dry_run=dry_run))
    return report


def _reap_console_logs(rule: ReapRule, *, dry_run: bool) -> CleanupReport:
    """Remove the serial console logs of the runs ``rule`` takes."""
    report = CleanupReport()
    if LOG_DIR.is_dir():
        for log in sorted(LOG_DIR.glob("nfv-*.log")):
            if rule.takes_name(log.stem, f"file {log}", report):
                if not dry_run:
                    log.unlink(missing_ok=True)
                report.removed.append(f"file {log}")
    return report
