"""Host facts that shape a result, probed once per session: for the header and the record."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from functools import cache

import psutil

__all__ = ["HostFacts", "host_facts"]


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
