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

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_nfv.errors import BackendUnavailable
from pytest_nfv.resources import proxy_vnf_dir

__all__ = ["Guest", "cache_root", "ensure_guest", "recipe_key", "relay_source", "write_cpio"]

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
_COMPRESSIONS = (  # bzImage payload magic -> decompressor argv (reads stdin)
    (b"\x02\x21\x4c\x18", ("lz4", "-dc")),
    (b"\x28\xb5\x2f\xfd", ("zstd", "-dc")),
    (b"\xfd7zXZ\x00", ("xz", "-dc")),
    (b"\x1f\x8b\x08", ("gzip", "-dc")),
)
_DOWNLOAD_TIMEOUT_S = 300


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
    source = Path(__file__).read_bytes()
    for part in (RECIPE_VERSION.encode(), source, relay_source().read_bytes()):
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
    directory = root / recipe_key()
    found = _load(directory)
    if found is not None:
        return found
    try:
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o755)
    except OSError as exc:
        raise BackendUnavailable(f"osv guest: cannot create its cache {root}: {exc}") from exc
    with _locked(root / f"{directory.name}.lock"):
        found = _load(directory)  # another session may have built it while we waited
        if found is not None:
            return found
        for stale in root.glob(f".{directory.name}-*"):  # a build killed midway; we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=root))
        try:
            _build(work)
            work.chmod(0o755)
            work.rename(directory)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    found = _load(directory)
    if found is None:
        raise BackendUnavailable(f"osv guest: built into {directory} but it is incomplete")
    return found


def _load(directory: Path) -> Guest | None:
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    kernel, initrd = directory / "vmlinux", directory / "initrd.cpio"
    if not (kernel.is_file() and initrd.is_file()):
        return None
    return Guest(kernel, initrd, {str(k): str(v) for k, v in manifest.items()})


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(argv: Sequence[str], cwd: Path | None = None, stdin: bytes | None = None) -> bytes:
    if shutil.which(argv[0]) is None:
        raise BackendUnavailable(
            f"osv guest: building it needs {argv[0]!r}, which is not installed "
            "(scripts/bootstrap tests installs it on Debian)"
        )
    try:
        done = subprocess.run(
            list(argv),
            cwd=cwd,
            input=stdin,
            capture_output=True,
            timeout=_DOWNLOAD_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BackendUnavailable(f"osv guest: {' '.join(argv)} took over {exc.timeout} s") from exc
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip()[-600:]
        raise BackendUnavailable(f"osv guest: {' '.join(argv)} failed: {tail}")
    return done.stdout


def _download(packages: Sequence[str], into: Path) -> dict[str, Path]:
    """``apt-get download`` each package into ``into``; refreshes the lists once if needed."""
    try:
        _run(["apt-get", "download", *packages], cwd=into)
    except BackendUnavailable as first:
        if os.geteuid() != 0 or "locate package" not in str(first):
            raise
        _run(["apt-get", "update", "-qq"])
        _run(["apt-get", "download", *packages], cwd=into)
    found = {}
    for package in packages:
        debs = sorted(into.glob(f"{package}_*.deb"))
        if not debs:
            raise BackendUnavailable(f"osv guest: apt-get download left no {package} .deb")
        found[package] = debs[-1]
    return found


def _deb_field(deb: Path, name: str) -> str:
    return _run(["dpkg-deb", "-f", str(deb), name]).decode().strip()


def _build(out: Path) -> None:
    work = out / "work"
    work.mkdir()
    meta = _download([KERNEL_META], work)[KERNEL_META]
    kernel_package = next(
        dep.split()[0]
        for dep in _deb_field(meta, "Depends").split(",")
        if dep.strip().startswith("linux-image-")
    ).strip()
    debs = _download([kernel_package, BUSYBOX], work)
    tree = work / "tree"
    for deb in debs.values():
        _run(["dpkg-deb", "-x", str(deb), str(tree)])
    vmlinuz = next((tree / "boot").glob("vmlinuz-*"))
    (out / "vmlinux").write_bytes(extract_vmlinux(vmlinuz.read_bytes()))
    release = vmlinuz.name.removeprefix("vmlinuz-")
    modules = {path.stem: path for path in (tree / "lib/modules" / release).rglob("*.ko")}
    missing = [m for m in MODULES if m not in modules]
    if missing:
        raise BackendUnavailable(f"osv guest: {kernel_package} lacks modules {missing}")
    relay = work / "nfv-relay"
    _run(["gcc", "-static", "-O2", "-s", "-o", str(relay), str(relay_source())])
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
        "kernel_package": f"{kernel_package} {_deb_field(debs[kernel_package], 'Version')}",
        "kernel_release": release,
        "busybox": _deb_field(debs[BUSYBOX], "Version"),
        "vmlinux_sha256": hashlib.sha256((out / "vmlinux").read_bytes()).hexdigest(),
        "initrd_sha256": hashlib.sha256((out / "initrd.cpio").read_bytes()).hexdigest(),
    }
    shutil.rmtree(work)
    for path in out.iterdir():
        path.chmod(0o644)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    (out / "manifest.json").chmod(0o644)


def extract_vmlinux(bzimage: bytes) -> bytes:
    """The ELF kernel inside a bzImage: find the payload's magic, decompress from there.

    The decompressors stop at the end of their stream; what follows (the bzImage's trailer)
    makes some of them exit non-zero, so success is judged by the ELF header instead.
    """
    for magic, argv in _COMPRESSIONS:
        start = bzimage.find(magic)
        while start != -1:
            if shutil.which(argv[0]) is None:
                break
            done = subprocess.run(
                list(argv), input=bzimage[start:], capture_output=True, timeout=120, check=False
            )
            if done.stdout[:4] == b"\x7fELF":
                return done.stdout
            start = bzimage.find(magic, start + 1)
    raise BackendUnavailable(
        "osv guest: no ELF kernel found inside the bzImage (lz4, zstd, xz and gzip tried; "
        "install the matching decompressor)"
    )


def write_cpio(entries: Sequence[tuple[str, int, bytes | str | tuple[int, int] | None]]) -> bytes:
    """A newc cpio archive of ``(path, mode, content)``, sorted, owners and mtimes zero.

    ``content`` is bytes for a file, the target for a symlink, ``(major, minor)`` for a
    device node and None for a directory. Written here rather than by ``cpio`` so the bytes
    depend on the entries only, and device nodes need no privileges.
    """
    out = bytearray()
    for inode, (path, mode, content) in enumerate(sorted(entries), start=1):
        rdev = content if isinstance(content, tuple) else (0, 0)
        if isinstance(content, bytes):
            data = content
        elif isinstance(content, str):
            data = content.encode()
        else:
            data = b""
        out += _cpio_entry(path, mode, data, inode, rdev)
    out += _cpio_entry("TRAILER!!!", 0, b"", 0, (0, 0))
    out += b"\0" * (-len(out) % 512)
    return bytes(out)


def _cpio_entry(path: str, mode: int, data: bytes, inode: int, rdev: tuple[int, int]) -> bytes:
    name = path.encode() + b"\0"
    nlink = 2 if stat.S_ISDIR(mode) else 1
    fields = (inode, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(name), 0)
    header = b"070701" + b"".join(f"{value:08x}".encode() for value in fields)
    entry = header + name
    entry += b"\0" * (-len(entry) % 4)
    entry += data
    entry += b"\0" * (-len(entry) % 4)
    return entry


def main() -> int:
    guest = ensure_guest()
    print(guest.kernel.parent)
    print(json.dumps(guest.manifest, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
