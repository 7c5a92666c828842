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
  its DHCP hook below, and ``nfv-relay``, ``proxy_vnf/c/relay.c`` compiled with
  ``gcc -static -O2``: the same program a real OSv proxy image runs.

The guest gets its address as an OSv image does: by DHCP from the run's switch (busybox
``udhcpc``; the backend's dnsmasq has a fixed lease for its MAC). ``/init`` reads its role
from the kernel command line, ``nfv.role=vnf|proxy``, and for the proxy
``nfv.relay=A_IP,B_IP,DATA_PORT,B_PORT,CONTROL_PORT,CONTROLLER_IP`` (the relay's arguments).
The address comes last (the relay is already listening), so an ICMP echo reply means the
instance is complete; just before, the DHCP hook says ``nfv-guest: up`` on the serial
console (kept in a log file for diagnostics; the KVM probe waits for it).

The cache directory is keyed by a hash of the recipe (this module's build steps, ``/init``,
the module list and the relay's source), so changing any of them rebuilds; a lock keeps two
sessions from building the same key at once. ``python -m pytest_nfv.backends.osv.guest``
builds (or finds) it and prints where it is.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from pytest_nfv.backends.shared.debian_guest import (
    built_files,
    cached_build,
    deb_field,
    download,
    extract_vmlinux,
    kernel_package,
    run_tool,
    write_cpio,
)
from pytest_nfv.errors import BackendUnavailable
from pytest_nfv.resources import proxy_vnf_dir

__all__ = ["Guest", "cache_root", "ensure_guest", "recipe_key", "relay_source"]

RECIPE_VERSION = "2"
KERNEL_META = "linux-image-cloud-amd64"
BUSYBOX = "busybox-static"
# Load order: each after what it depends on (modinfo -F depends), virtio_net last.
MODULES = (
    "virtio_ring",
    "virtio",
    "virtio_pci_legacy_dev",
    "virtio_pci_modern_dev",
    "virtio_pci",
    "failover",
    "net_failover",
    "virtio_net",
)
APPLETS = ("sh", "mount", "insmod", "ip", "ifconfig", "udhcpc", "sleep", "cat", "tr", "echo")
DHCP_SCRIPT = r"""#!/bin/sh
# udhcpc's hook: the lease's address on the interface, nothing else.
# It speaks first: once the address is on, the boot is over and the VM may be gone.
case "$1" in
  bound|renew)
    echo "nfv-guest: up $ip role $role" > /dev/console
    ifconfig "$interface" "$ip" netmask "$subnet" ;;
esac
"""
INIT = r"""#!/bin/sh
# pytest-nfv guest init: the NIC up, the relay for the proxy, then the address by DHCP.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
for m in @MODULES@; do
  insmod /lib/modules/$m.ko || echo "nfv-guest: insmod $m failed"
done
role=vnf; relay=
for word in $(cat /proc/cmdline); do
  case "$word" in
    nfv.role=*) role="${word#nfv.role=}" ;;
    nfv.relay=*) relay="${word#nfv.relay=}" ;;
  esac
done
echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6
echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6
echo 0 > /proc/sys/net/ipv4/conf/all/send_redirects
echo 0 > /proc/sys/net/ipv4/conf/default/send_redirects
echo 0 > /proc/sys/net/ipv4/conf/all/accept_redirects
ip link set lo up
ip link set eth0 up
if [ "$role" = proxy ]; then
  /bin/nfv-relay $(echo "$relay" | tr , ' ') &
fi
export role
udhcpc -i eth0 -f -q -n -t 60 -T 1 -s /bin/nfv-dhcp >/dev/null 2>&1 ||
  echo "nfv-guest: up without an address (no DHCP lease) role $role"
while :; do sleep 3600; done
""".replace("@MODULES@", " ".join(MODULES))
_WHAT = "osv guest"


@dataclass(frozen=True)
class Guest:
    """A built guest: what the domain XML boots, and what it was built from."""

    kernel: Path
    initrd: Path
    manifest: dict[str, str]

    @property
    def description(self) -> str:
        return f"guest {self.manifest.get('kernel_package', '?')} + busybox initramfs"


def cache_root() -> Path:
    """``$PYTEST_NFV_GUEST_CACHE``, else ``/var/cache/pytest-nfv/guest``.

    Not under ``$HOME``: QEMU under ``qemu:///system`` runs as its own user and must be able
    to read the kernel and initramfs, which ``/root``'s mode would forbid.
    """
    return Path(os.environ.get("PYTEST_NFV_GUEST_CACHE", "/var/cache/pytest-nfv/guest"))


def recipe_key() -> str:
    """Hash of everything that decides the guest's bytes apart from the Debian packages."""
    digest = hashlib.sha256()
    sources = (
        Path(__file__),
        Path(__file__).parents[1] / "shared" / "debian_guest.py",
        relay_source(),
    )
    for part in (RECIPE_VERSION.encode(), *(path.read_bytes() for path in sources)):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()[:16]


def relay_source() -> Path:
    """The UDP relay (Algorithm 1 on sockets) every osv proxy VM runs, stand-in or OSv."""
    return proxy_vnf_dir() / "c" / "relay.c"


def ensure_guest(root: Path | None = None) -> Guest:
    """The cached guest for this recipe, built first if missing.

    Raises:
        BackendUnavailable: a tool or package it needs is missing (the message says which).
    """
    root = cache_root() if root is None else root
    return cached_build(_WHAT, root / recipe_key(), _build, _load)


def _load(directory: Path) -> Guest | None:
    found = built_files(directory, "vmlinux")
    return None if found is None else Guest(*found)


def _build(out: Path) -> None:
    work = out / "work"
    work.mkdir()
    kernel = kernel_package(_WHAT, KERNEL_META, work)
    debs = download(_WHAT, [kernel, BUSYBOX], work)
    tree = work / "tree"
    for deb in debs.values():
        run_tool(_WHAT, ["dpkg-deb", "-x", str(deb), str(tree)])
    vmlinuz = next((tree / "boot").glob("vmlinuz-*"))
    (out / "vmlinux").write_bytes(extract_vmlinux(_WHAT, vmlinuz.read_bytes()))
    release = vmlinuz.name.removeprefix("vmlinuz-")
    modules = {path.stem: path for path in (tree / "lib/modules" / release).rglob("*.ko")}
    missing = [m for m in MODULES if m not in modules]
    if missing:
        raise BackendUnavailable(f"osv guest: {kernel} lacks modules {missing}")
    relay = work / "nfv-relay"
    run_tool(_WHAT, ["gcc", "-static", "-O2", "-s", "-o", str(relay), str(relay_source())])
    files: list[tuple[str, int, bytes | str | tuple[int, int] | None]] = [
        ("bin", stat.S_IFDIR | 0o755, None),
        ("dev", stat.S_IFDIR | 0o755, None),
        ("dev/console", stat.S_IFCHR | 0o600, (5, 1)),
        ("init", stat.S_IFREG | 0o755, INIT.encode()),
        ("lib", stat.S_IFDIR | 0o755, None),
        ("lib/modules", stat.S_IFDIR | 0o755, None),
        ("proc", stat.S_IFDIR | 0o755, None),
        ("sys", stat.S_IFDIR | 0o755, None),
        ("bin/busybox", stat.S_IFREG | 0o755, (tree / "bin/busybox").read_bytes()),
        ("bin/nfv-dhcp", stat.S_IFREG | 0o755, DHCP_SCRIPT.encode()),
        ("bin/nfv-relay", stat.S_IFREG | 0o755, relay.read_bytes()),
    ]
    files += [(f"bin/{applet}", stat.S_IFLNK | 0o777, "busybox") for applet in APPLETS]
    files += [
        (f"lib/modules/{name}.ko", stat.S_IFREG | 0o644, modules[name].read_bytes())
        for name in MODULES
    ]
    (out / "initrd.cpio").write_bytes(write_cpio(files))
    manifest = {
        "recipe": recipe_key(),
        "kernel_package": f"{kernel} {deb_field(_WHAT, debs[kernel], 'Version')}",
        "kernel_release": release,
        "busybox": deb_field(_WHAT, debs[BUSYBOX], "Version"),
        "vmlinux_sha256": hashlib.sha256((out / "vmlinux").read_bytes()).hexdigest(),
        "initrd_sha256": hashlib.sha256((out / "initrd.cpio").read_bytes()).hexdigest(),
    }
    shutil.rmtree(work)
    for path in out.iterdir():
        path.chmod(0o644)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    (out / "manifest.json").chmod(0o644)


def main() -> int:
    guest = ensure_guest()
    print(guest.kernel.parent)
    print(json.dumps(guest.manifest, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
