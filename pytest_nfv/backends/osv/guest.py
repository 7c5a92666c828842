"""The osv backend's own guest: a Debian kernel and a busybox initramfs, built and cached.

Without ``--nfv-image`` every VM boots this guest, so the whole path (libvirt, QEMU, a virtio
NIC, a guest answering ICMP, Algorithm 1 in C on raw sockets) runs on any Debian machine.
It is built from Debian packages only, fetched with ``apt-get download`` (nothing installed,
nothing taken from ``/boot``):

- the kernel of ``linux-image-cloud-amd64`` (the flavour for VMs: fewer drivers, quicker
  boot), decompressed from its bzImage into an ELF ``vmlinux`` that QEMU boots directly
  through the PVH entry point, so no guest cycles go to decompressing it under TCG;
- an initramfs (newc cpio, written here, entries sorted, every mtime and owner 0, so the
  same packages give the same bytes) holding ``busybox`` from ``busybox-static``, the
  kernel's virtio NIC modules (``insmod`` by ``/init``, dependencies first), ``/init`` and
  its DHCP hook (``init.sh`` and ``dhcp.sh`` beside this module), and ``nfv-relay``,
  ``proxy_vnf/c/relay.c`` built statically by ``native``: the same program a real OSv proxy
  image runs.

The guest gets its address as an OSv image does: by DHCP from the run's switch (busybox
``udhcpc``; the backend's dnsmasq has a fixed lease for its MAC). ``/init`` reads its role
from the kernel command line, ``nfv.role=vnf|proxy``, and for the proxy
``nfv.relay=A_IP,B_IP,DATA_PORT,B_PORT,CONTROL_PORT,CONTROLLER_IP,STREAM_PORT,SINK_PORT``
(the relay's arguments).
The address comes last (the relay is already listening), so an ICMP echo reply means the
instance is complete; just before, the DHCP hook says ``nfv-guest: up`` on the serial
console (kept in a log file for diagnostics; the KVM probe waits for it).

The pipeline is ``backends.shared.guest_recipe``'s, shared with the ClickOS stand-in; the cache
directory is keyed by a hash of the recipe (the build steps, ``/init``, the module list and
the relay's source), so changing any of them rebuilds; a lock keeps two sessions from
building the same key at once. ``python -m pytest_nfv.backends.osv.guest``
builds (or finds) it and prints where it is.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pytest_nfv.backends.shared.guest_recipe import BuiltGuest, GuestRecipe

__all__ = ["RECIPE", "Guest", "ensure_guest"]

_HERE = Path(__file__).resolve().parent
RECIPE = GuestRecipe(
    what="osv guest",
    version="3",
    module=Path(__file__),
    kernel_file="vmlinux",
    packages=("busybox-static",),
    # Load order: each after what it depends on (modinfo -F depends), virtio_net last.
    modules=(
        "virtio_ring",
        "virtio",
        "virtio_pci_legacy_dev",
        "virtio_pci_modern_dev",
        "virtio_pci",
        "failover",
        "net_failover",
        "virtio_net",
    ),
    applets=("sh", "mount", "insmod", "ip", "ifconfig", "udhcpc", "sleep", "cat", "tr", "echo"),
    scripts={"init": _HERE / "init.sh", "bin/nfv-dhcp": _HERE / "dhcp.sh"},
    programs={"nfv-relay": "relay.c"},
)


Guest = BuiltGuest


def ensure_guest(root: Path | None = None) -> Guest:
    """The cached guest for this recipe, built first if missing.

    Raises:
        BackendUnavailable: a tool or package it needs is missing (the message says which).
    """
    return RECIPE.ensure(root)


def main() -> int:
    guest = ensure_guest()
    print(guest.kernel.parent)
    print(json.dumps(guest.manifest, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
