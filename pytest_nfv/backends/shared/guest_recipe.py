"""One recipe for a guest made of a Debian kernel and a busybox initramfs, built and cached.

The osv backend's guest and the ClickOS stand-in are the same pipeline with different parts:
fetch the kernel's package and a few others (``apt-get download``, nothing installed), unpack
them, take the ELF kernel out of the bzImage, check the kernel modules the guest loads, build
its C programs statically (``native``), pack an initramfs with ``debian_guest``'s
deterministic cpio, and write a manifest naming every package's version. A ``GuestRecipe``
names the parts; ``ensure`` builds it once per recipe key into a cache entry.

Every guest's scripts are shell files shipped in the package, one form for all of them:
``guest_boot.sh`` (the start every ``/init`` sources) beside this module, the guest's own
``/init`` and hooks beside its module. The key hashes everything that decides the guest's
bytes apart from the Debian packages: the recipe's version, the modules that carry its steps
(this one, ``debian_guest``, the native build and the guest's own module), those scripts and
its C sources. Changing any of them builds a new entry.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pytest_nfv.backends.shared import debian_guest
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
from pytest_nfv.native import STATIC, build, gcc, source

__all__ = ["BASE_DIRECTORIES", "BOOT", "BuiltGuest", "Entry", "GuestRecipe", "guest_cache"]

Entry = tuple[str, int, bytes | str | tuple[int, int] | None]
"""One initramfs entry: path, mode, content (see ``debian_guest.write_cpio``)."""
BASE_DIRECTORIES = ("bin", "dev", "lib", "lib/modules", "lib/nfv", "proc", "sys")
BOOT = Path(__file__).with_name("guest_boot.sh")
"""The start every guest's ``/init`` sources as ``/lib/nfv/boot.sh``."""
KERNEL_META = "linux-image-cloud-amd64"
"""The flavour for VMs: fewer drivers, a quicker boot, and built with ``XEN_PV``."""


def _no_entries(tree: Path) -> list[Entry]:
    return []


def guest_cache() -> Path:
    """``$PYTEST_NFV_GUEST_CACHE``, else ``/var/cache/pytest-nfv/guest``.

    Not under ``$HOME``: QEMU under ``qemu:///system`` runs as its own user and must be able
    to read the kernel and initramfs, which ``/root``'s mode would forbid.
    """
    return Path(os.environ.get("PYTEST_NFV_GUEST_CACHE", "/var/cache/pytest-nfv/guest"))


@dataclass(frozen=True)
class BuiltGuest:
    """A built guest: the kernel and initramfs a domain boots, and what they came from."""

    kernel: Path
    initrd: Path
    manifest: dict[str, str]

    @property
    def description(self) -> str:
        return f"guest {self.manifest.get('kernel_package', '?')} + busybox initramfs"


@dataclass(frozen=True)
class GuestRecipe:
    """What one guest is made of.

    Args:
        what: names the guest in every message.
        version: bumped when a step changes in a way its sources do not show.
        module: the guest's own module, hashed into the key.
        kernel_file: the kernel's name in the entry; a ``.gz`` name is gzip'd again.
        packages: Debian packages besides the kernel; ``busybox-static`` must be one.
        modules: kernel modules ``/init`` loads, in load order (``@MODULES@`` in scripts).
        applets: busybox applets linked into ``/bin``.
        scripts: initramfs path -> shipped shell file (``init`` among them), all executable.
        programs: ``/bin`` name -> C source name (``native.source``), built statically.
        directories: directories besides ``BASE_DIRECTORIES``.
        entries: more entries taken from the unpacked packages' tree.
        manifest: more manifest fields.
        cache: its directory under ``guest_cache()``, if not that directory itself.
    """

    what: str
    version: str
    module: Path
    kernel_file: str
    packages: tuple[str, ...]
    modules: tuple[str, ...]
    applets: tuple[str, ...]
    scripts: Mapping[str, Path]
    programs: Mapping[str, str]
    directories: tuple[str, ...] = ()
    entries: Callable[[Path], list[Entry]] = _no_entries
    manifest: Mapping[str, str] = field(default_factory=dict)
    cache: str = ""

    def sources(self) -> tuple[Path, ...]:
        steps = (Path(__file__), Path(debian_guest.__file__), Path(gcc.__file__))
        programs = tuple(source(name) for name in self.programs.values())
        return (*steps, BOOT, self.module, *self.scripts.values(), *programs)

    def key(self) -> str:
        """Hash of everything that decides the guest's bytes apart from the Debian packages."""
        digest = hashlib.sha256()
        for part in (self.version.encode(), *(path.read_bytes() for path in self.sources())):
            digest.update(len(part).to_bytes(8, "big") + part)
        return digest.hexdigest()[:16]

    def ensure(self, root: Path | None = None) -> BuiltGuest:
        """The guest cached under ``root`` (default: its cache), built first if missing.

        Raises:
            BackendUnavailable: a tool or package it needs is missing (the message says which).
        """
        root = guest_cache() / self.cache if root is None else root
        return cached_build(self.what, root / self.key(), self._build, self._load)

    def script(self, path: Path) -> bytes:
        return path.read_text().replace("@MODULES@", " ".join(self.modules)).encode()

    def _load(self, directory: Path) -> BuiltGuest | None:
        found = built_files(directory, self.kernel_file)
        return None if found is None else BuiltGuest(*found)

    def _build(self, out: Path) -> None:
        work = out / "work"
        work.mkdir()
        kernel = kernel_package(self.what, KERNEL_META, work)
        debs = download(self.what, [kernel, *self.packages], work)
        tree = work / "tree"
        for deb in debs.values():
            run_tool(self.what, ["dpkg-deb", "-x", str(deb), str(tree)])
        vmlinuz = next((tree / "boot").glob("vmlinuz-*"))
        vmlinux = extract_vmlinux(self.what, vmlinuz.read_bytes())
        if self.kernel_file.endswith(".gz"):  # libxc's loader takes a gzip'd ELF quicker
            vmlinux = gzip.compress(vmlinux, compresslevel=6, mtime=0)
        (out / self.kernel_file).write_bytes(vmlinux)
        release = vmlinuz.name.removeprefix("vmlinuz-")
        initrd = write_cpio(self._entries(tree, release, kernel, work))
        (out / "initrd.cpio").write_bytes(initrd)
        manifest = {
            "recipe": self.key(),
            "kernel_package": f"{kernel} {deb_field(self.what, debs[kernel], 'Version')}",
            "kernel_release": release,
            **{name: deb_field(self.what, debs[name], "Version") for name in self.packages},
            "kernel_sha256": hashlib.sha256(vmlinux).hexdigest(),
            "initrd_sha256": hashlib.sha256(initrd).hexdigest(),
            **self.manifest,
        }
        shutil.rmtree(work)
        for path in out.iterdir():
            path.chmod(0o644)
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        (out / "manifest.json").chmod(0o644)

    def _entries(self, tree: Path, release: str, kernel: str, work: Path) -> list[Entry]:
        found = {path.stem: path for path in (tree / "lib/modules" / release).rglob("*.ko")}
        missing = [m for m in self.modules if m not in found]
        if missing:
            raise BackendUnavailable(f"{self.what}: {kernel} lacks modules {missing}")
        files: list[Entry] = [
            (directory, stat.S_IFDIR | 0o755, None)
            for directory in (*BASE_DIRECTORIES, *self.directories)
        ]
        files.append(("dev/console", stat.S_IFCHR | 0o600, (5, 1)))
        files.append(("bin/busybox", stat.S_IFREG | 0o755, (tree / "bin/busybox").read_bytes()))
        files += [(f"bin/{applet}", stat.S_IFLNK | 0o777, "busybox") for applet in self.applets]
        files += [
            (path, stat.S_IFREG | 0o755, self.script(script))
            for path, script in {"lib/nfv/boot.sh": BOOT, **self.scripts}.items()
        ]
        for name, program in self.programs.items():
            binary = build(source(program), work / name, what=self.what, flags=STATIC)
            files.append((f"bin/{name}", stat.S_IFREG | 0o755, binary.read_bytes()))
        files += [
            (f"lib/modules/{name}.ko", stat.S_IFREG | 0o644, found[name].read_bytes())
            for name in self.modules
        ]
        return files + self.entries(tree)
