"""Host facts that shape a result, probed once per session: for the header and the record."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from functools import cache

import psutil

__all__ = ["HostFacts", "has_netns_capabilities", "host_facts"]

CAP_NET_ADMIN = 12
CAP_SYS_ADMIN = 21


def has_netns_capabilities() -> bool:
    """CAP_SYS_ADMIN and CAP_NET_ADMIN in the effective set: what namespaces and veths need.

    Checked on the capability set, not the uid: root in a container often lacks them, and
    that is exactly the host that must be told so plainly.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    caps = int(line.split()[1], 16)
                    return bool(caps & (1 << CAP_SYS_ADMIN)) and bool(caps & (1 << CAP_NET_ADMIN))
    except OSError:
        pass
    return os.geteuid() == 0


@dataclass(frozen=True)
class HostFacts:
    kernel: str
    cpu_model: str
    cores: int
    memory_gib: float
    root: bool
    kvm: bool

    def describe(self) -> str:
        return (
            f"kernel {self.kernel}, {self.cores} cores ({self.cpu_model}), "
            f"{self.memory_gib:.1f} GiB, root {'yes' if self.root else 'no'}, "
            f"/dev/kvm {'present' if self.kvm else 'absent'}"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "kernel": self.kernel,
            "cpu_model": self.cpu_model,
            "cores": self.cores,
            "memory_gib": round(self.memory_gib, 2),
            "root": self.root,
            "kvm": self.kvm,
        }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


@cache
def host_facts() -> HostFacts:
    return HostFacts(
        kernel=platform.release(),
        cpu_model=_cpu_model(),
        cores=os.cpu_count() or 1,
        memory_gib=psutil.virtual_memory().total / 2**30,
        root=os.geteuid() == 0,
        kvm=os.path.exists("/dev/kvm"),
    )
