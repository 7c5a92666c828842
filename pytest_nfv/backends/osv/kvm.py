"""Whether KVM really works here: decided on evidence, never on libvirt's word alone.

On nested hosts ``/dev/kvm`` can exist and libvirt list ``kvm`` domains while no guest boots
under it: QEMU starts and the guest hangs silently. So the verdict is, in order: the CPU
advertises ``vmx`` or ``svm``; ``/dev/kvm`` opens read-write; libvirt offers kvm domains;
and a probe boot of the backend's own guest as a kvm domain prints its ``up`` line on the
serial console within a bounded time (the domain is destroyed whatever happens). The first
failure is the reason the backend falls back to TCG, and the report header says so.

A probe costs up to its timeout, so its verdict is cached per boot of the host
(``/run/pytest-nfv/kvm-<boot_id>.json``): a reboot, a kernel module reload or a new CPU is
a new boot id, hence a new probe.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_nfv.host.identity import REGISTRY_DIR, boot_id

__all__ = ["KvmVerdict", "cpu_has_virtualization", "decide", "probe_boot", "quick_verdict"]

UP_MARKER = "nfv-guest: up"


@dataclass(frozen=True)
class KvmVerdict:
    """``usable``: boot kvm domains; otherwise ``reason`` says why TCG is used."""

    usable: bool
    reason: str


def cpu_has_virtualization(cpuinfo: str) -> bool:
    """``vmx`` (Intel VT-x) or ``svm`` (AMD-V) among the CPU flags of ``/proc/cpuinfo``."""
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            if flags & {"vmx", "svm"}:
                return True
    return False


def _cache_path() -> Path:
    return REGISTRY_DIR / f"kvm-{boot_id() or 'unknown'}.json"


def _host_says_no() -> KvmVerdict | None:
    """A TCG verdict from the host alone (CPU flags, /dev/kvm), or None if those allow KVM."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError as exc:
        return KvmVerdict(False, f"cannot read /proc/cpuinfo ({exc})")
    if not cpu_has_virtualization(cpuinfo):
        return KvmVerdict(False, "the CPU flags lack vmx/svm")
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        return KvmVerdict(False, f"/dev/kvm cannot be opened ({exc.strerror})")
    os.close(fd)
    return None


def quick_verdict() -> KvmVerdict | None:
    """The verdict without libvirt or a probe boot: the host's own no, else this boot's
    cached probe; None when only a probe can tell (the session's header is written before
    the backend opens)."""
    verdict = _host_says_no()
    return verdict if verdict is not None else _cached()


def _cached() -> KvmVerdict | None:
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        cached = json.loads(_cache_path().read_text())
        return KvmVerdict(bool(cached["usable"]), str(cached["reason"]))
    return None


def decide(conn: Any, probe: Callable[[], KvmVerdict]) -> KvmVerdict:
    """The verdict for this host: cheap checks first, then the (cached) probe boot."""
    verdict = _host_says_no()
    if verdict is not None:
        return verdict
    try:
        conn.getDomainCapabilities(None, None, None, "kvm", 0)
    except Exception as exc:  # libvirt.libvirtError, without importing libvirt here
        return KvmVerdict(False, f"libvirt offers no kvm domains ({exc})")
    cached = _cached()
    if cached is not None:
        return cached
    cache = _cache_path()
    verdict = probe()
    with contextlib.suppress(OSError):
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"usable": verdict.usable, "reason": verdict.reason}))
    return verdict


def probe_boot(
    conn: Any, xml: str, console_log: Path, domain_type: str, timeout_s: float = 15.0
) -> KvmVerdict:
    """Boot ``xml`` (a transient domain without NIC) and wait for the guest's ``up`` line.

    Never waits longer than ``timeout_s`` (plus libvirt's own destroy), and always destroys
    the domain and removes its log.
    """
    started = time.monotonic()
    try:
        domain = conn.createXML(xml, 0)
    except Exception as exc:
        return KvmVerdict(False, f"libvirt refused a {domain_type} domain ({exc})")
    try:
        deadline = started + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if UP_MARKER in console_log.read_text(errors="replace"):
                    took = time.monotonic() - started
                    return KvmVerdict(True, f"a {domain_type} probe guest booted in {took:.1f} s")
            if not domain.isActive():
                return KvmVerdict(False, f"the {domain_type} probe guest stopped while booting")
            time.sleep(0.1)
        return KvmVerdict(
            False,
            f"a {domain_type} probe guest printed nothing in {timeout_s:g} s "
            "(/dev/kvm is there but guests hang under it)",
        )
    finally:
        with contextlib.suppress(Exception):
            domain.destroy()
        console_log.unlink(missing_ok=True)
