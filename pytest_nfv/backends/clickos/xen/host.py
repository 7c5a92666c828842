"""Is this host a Xen dom0 that can run ClickOS? Every probe is reported, passed or not.

A skip reason that says only "no Xen" sends a user hunting; this one lists what was looked
at and what each look found, so that a runner which lost its hypervisor, its xenstore tools,
its image or its libvirt driver says which.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["XENSTORE_TOOLS", "Probe", "probe_dom0", "unavailable_reason"]

XENSTORE_TOOLS = ("xenstore-exists", "xenstore-list", "xenstore-write")
HYPERVISOR_TYPE = Path("/sys/hypervisor/type")
XEN_CAPABILITIES = Path("/proc/xen/capabilities")


@dataclass(frozen=True)
class Probe:
    what: str
    ok: bool
    found: str


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def probe_dom0(
    image: str | None,
    which: Callable[[str], str | None] = shutil.which,
    hypervisor_type: Path = HYPERVISOR_TYPE,
    capabilities: Path = XEN_CAPABILITIES,
) -> list[Probe]:
    """The host-side probes (the libvirt connection is probed by opening it)."""
    probes = []
    kind = _read(hypervisor_type)
    probes.append(
        Probe(
            str(hypervisor_type),
            kind == "xen",
            "absent" if kind is None else repr(kind),
        )
    )
    caps = _read(capabilities)
    probes.append(
        Probe(
            str(capabilities),
            caps is not None and "control_d" in caps.split(),
            "absent (xenfs not mounted, or not Xen)"
            if caps is None
            else f"{caps!r} (dom0 has control_d)",
        )
    )
    missing = [tool for tool in XENSTORE_TOOLS if which(tool) is None]
    probes.append(
        Probe(
            "xenstore tools on PATH",
            not missing,
            f"missing {', '.join(missing)} (Debian: xenstore-utils)" if missing else "all present",
        )
    )
    if image is None:
        probes.append(Probe("--nfv-image", False, "not given (a ClickOS kernel image is required)"))
    else:
        path = Path(image).expanduser()
        probes.append(
            Probe(
                "--nfv-image",
                path.is_file(),
                f"{path} {'exists' if path.is_file() else 'is not a file'}",
            )
        )
    return probes


def unavailable_reason(probes: list[Probe]) -> str | None:
    """None when every probe passed; else one line naming every probe and its finding."""
    if all(p.ok for p in probes):
        return None
    shown = "; ".join(f"{p.what}: {'ok' if p.ok else 'MISSING'}, {p.found}" for p in probes)
    return f"clickos backend needs a Xen dom0 with a ClickOS image. Probed {shown}"
