"""A user's OSv image, in the two forms the osv backend boots, checked before anything starts.

- **Disk image** (``--nfv-image PATH`` alone): an OSv disk image, qcow2 or raw, as OSv's
  ``scripts/build`` makes it (``build/last/usr.img``) with its command line inside
  (``scripts/imgedit.py setargs``). It boots through the firmware (SeaBIOS) and, when its
  command line names no ``--ip``, asks the run's DHCP server for its address.
- **Kernel** (``--nfv-kernel PATH``, with ``--nfv-image PATH`` as its disk or without one):
  OSv's kernel ELF (``build/last/loader-stripped.elf``) booted directly, the disk attached
  read-only; the backend writes the command line: ``--ip`` and ``--defaultgw`` for the
  instance, then the program (``OSV_PROGRAM`` with its arguments).

What is checked is what the bytes say, not the file name: an ELF header for the kernel; the
qcow2 magic, else a boot sector (``55 aa`` at byte 510) for a raw disk. The files must be
readable by QEMU's user, which libvirt's ``qemu:///system`` does not run as root.

A disk image booted with its own command line is checked before any domain starts, as far as
its bytes allow: OSv keeps the command line as a NUL-terminated string at byte 512 of the
disk (``scripts/imgedit.py setargs`` writes it there; in a qcow2 file, at that offset of the
guest's disk, found through the first L1 and L2 entries). A command line with ``--ip`` would
give every instance the same address (and skip the run's DHCP): each boot would wait the
whole boot timeout for addresses no instance took. One that does not run ``/nfv-relay``
leaves the testbed's proxy without a relay: every round trip would wait out its timeout.
Both are refused at once, naming what the image says.
"""

from __future__ import annotations

import stat
import struct
from dataclasses import dataclass
from pathlib import Path

from pytest_nfv.errors import NfvUsageError

__all__ = [
    "OSV_PROGRAM",
    "OsvImage",
    "disk_cmdline",
    "disk_format",
    "kernel_cmdline",
    "resolve_image",
]

OSV_PROGRAM = "/nfv-relay"
"""Where the relay (``proxy_vnf/c/relay.c``, a Linux PIE) sits in an OSv image: every VM of
the run runs it, and the proxy VM's copy does the relaying."""
QCOW2_MAGIC = b"QFI\xfb"
BOOT_SIGNATURE = b"\x55\xaa"
ELF_MAGIC = b"\x7fELF"
CMDLINE_OFFSET = 512
CMDLINE_MAX = 4096
"""How much of the disk after byte 512 may hold the command line (OSv's own limit is lower)."""
_QCOW2_OFFSET_MASK = 0x00FF_FFFF_FFFF_FE00
_QCOW2_COMPRESSED = 1 << 62


@dataclass(frozen=True)
class OsvImage:
    """A user's OSv image: a kernel booted directly (with an optional disk), or a disk."""

    kernel: Path | None
    disk: Path | None
    disk_format: str = "raw"

    @property
    def form(self) -> str:
        if self.kernel is None:
            return f"OSv disk image {self.disk} ({self.disk_format}, its own command line)"
        disk = f" + read-only disk {self.disk} ({self.disk_format})" if self.disk else ""
        return f"OSv kernel {self.kernel}{disk}"


def _head(path: Path, option: str, size: int = 512) -> bytes:
    try:
        if not path.is_file():
            raise NfvUsageError(f"{option} {path}: no such file")
        with open(path, "rb") as handle:
            return handle.read(size)
    except OSError as exc:
        raise NfvUsageError(f"{option} {path}: cannot be read ({exc.strerror})") from exc


def _world_readable(path: Path, option: str) -> None:
    """QEMU runs as its own user: the file and every directory above it must let it in."""
    for part in (path, *path.parents):
        mode = part.stat().st_mode
        needed = stat.S_IROTH if part == path else stat.S_IXOTH
        if not mode & needed:
            raise NfvUsageError(
                f"{option} {path}: QEMU's user cannot read it ({part} has mode "
                f"{stat.filemode(mode)}); copy it somewhere like /var/lib/libvirt/images"
            )


def disk_format(path: Path, option: str = "--nfv-image") -> str:
    """``qcow2`` or ``raw``, from the file's first bytes.

    Raises:
        NfvUsageError: missing, unreadable, or neither a qcow2 file nor a bootable raw disk.
    """
    head = _head(path, option)
    if head.startswith(QCOW2_MAGIC):
        return "qcow2"
    if len(head) == 512 and head[510:512] == BOOT_SIGNATURE:
        return "raw"
    raise NfvUsageError(
        f"{option} {path}: not an OSv disk image (neither the qcow2 magic nor a raw disk's "
        "boot sector); the osv backend takes OSv's usr.img (raw or qcow2) or, with "
        "--nfv-kernel, the disk that goes with the kernel"
    )


def _guest_bytes(path: Path, fmt: str, offset: int, size: int) -> bytes | None:
    """``size`` bytes at ``offset`` of the guest's disk (within its first cluster for
    qcow2); None where the file does not say (a compressed or encrypted qcow2 cluster)."""
    with open(path, "rb") as handle:
        if fmt == "raw":
            handle.seek(offset)
            return handle.read(size)
        header = handle.read(48)
        if len(header) < 48:
            return None
        (cluster_bits,) = struct.unpack(">I", header[20:24])
        crypt_method, l1_size = struct.unpack(">II", header[32:40])
        (l1_offset,) = struct.unpack(">Q", header[40:48])
        if crypt_method or l1_size == 0 or offset + size > 1 << cluster_bits:
            return None
        handle.seek(l1_offset)
        l2_offset = struct.unpack(">Q", handle.read(8))[0] & _QCOW2_OFFSET_MASK
        if l2_offset == 0:
            return bytes(size)  # unallocated: reads as zeros
        handle.seek(l2_offset)
        entry = struct.unpack(">Q", handle.read(8))[0]
        if entry & _QCOW2_COMPRESSED:
            return None
        cluster = entry & _QCOW2_OFFSET_MASK
        if cluster == 0:
            return bytes(size)
        handle.seek(cluster + offset)
        return handle.read(size)


def disk_cmdline(path: Path, fmt: str) -> str | None:
    """The command line OSv finds on its disk (``imgedit.py setargs``); None where the bytes
    cannot say (see ``_guest_bytes``)."""
    try:
        found = _guest_bytes(path, fmt, CMDLINE_OFFSET, CMDLINE_MAX)
    except (OSError, struct.error):
        return None
    if found is None:
        return None
    return found.split(b"\0", 1)[0].decode("ascii", errors="replace").strip()


def _check_cmdline(disk: Path, fmt: str) -> None:
    """Refuse a disk whose own command line cannot serve the run (see the module note)."""
    cmdline = disk_cmdline(disk, fmt)
    if cmdline is None:
        return
    words = cmdline.split()
    if any(word.startswith("--ip") for word in words):
        raise NfvUsageError(
            f"--nfv-image {disk}: its command line sets an address ({cmdline!r}); every "
            "instance would take that one address, and the run gives each its own by DHCP. "
            "Remove --ip from it (OSv's scripts/imgedit.py setargs), or boot it with "
            "--nfv-kernel, which writes each instance's --ip itself"
        )
    if OSV_PROGRAM not in words:
        raise NfvUsageError(
            f"--nfv-image {disk}: its command line ({cmdline!r}) does not run {OSV_PROGRAM}, "
            f"the relay every instance of the run runs (proxy_vnf/README.md says how it goes "
            "into an OSv image)"
        )


def resolve_image(image: str | None, kernel: Path | None) -> OsvImage | None:
    """The user's OSv image from ``--nfv-image`` and ``--nfv-kernel``; None for neither.

    Raises:
        NfvUsageError: a file is missing, unreadable by QEMU, or not what its option takes;
            a disk booted with its own command line that sets ``--ip`` or does not run
            ``OSV_PROGRAM``.
    """
    if image is None and kernel is None:
        return None
    disk = Path(image).expanduser().absolute() if image is not None else None
    fmt = "raw"
    if disk is not None:
        fmt = disk_format(disk)
        _world_readable(disk, "--nfv-image")
    if disk is not None and kernel is None:  # the disk boots with its own command line
        _check_cmdline(disk, fmt)
    if kernel is not None:
        kernel = kernel.expanduser().absolute()
        if not _head(kernel, "--nfv-kernel", 4).startswith(ELF_MAGIC):
            raise NfvUsageError(
                f"--nfv-kernel {kernel}: not an ELF file; the osv backend boots OSv's "
                "loader-stripped.elf directly"
            )
        _world_readable(kernel, "--nfv-kernel")
    return OsvImage(kernel, disk, fmt)


def kernel_cmdline(address: str, netmask: str, gateway: str, program: str) -> str:
    """OSv's command line for one instance: its address, the gateway, then the program."""
    return f"--ip=eth0,{address},{netmask} --defaultgw={gateway} {program}"
