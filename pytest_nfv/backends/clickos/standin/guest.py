"""Build the ClickOS stand-in guest from Debian packages only, cached by recipe.

A ClickOS image (MiniOS + Click) cannot be built here: its build fetches newlib and lwIP
tarballs that no package registry carries. So that the clickos backend still meets the real
parts (Xen, xenstore, libvirt's libxl driver, vifs on the dom0 bridge), its instances can
boot this guest instead, which does what the backend asks of a ClickOS image (``init.sh``
beside this module says how): the stand-in replaces MiniOS and Click, nothing else, and
every record made with it says so.

The guest is a paravirtualised Linux domU:

- the kernel of ``linux-image-cloud-amd64`` (built with ``XEN_PV``), decompressed from its
  bzImage and gzip'd again: libxc's loader takes a gzip'd ELF far quicker than the xz
  bzImage under emulation;
- an initramfs (``backends.shared.debian_guest``'s deterministic cpio) holding ``busybox`` from
  ``busybox-static``, ``xen-netfront``, the xenstore client tools of ``xenstore-utils`` with
  the libraries they load (``libxenstore4``, ``libxentoolcore1``, ``libc6``), ``/init``,
  ``fields.sh`` (what it reads out of a configuration), and ``nfv-proxy``
  (``proxy_vnf/c/proxy.c``) and ``nfv-udp-command`` (``udp-command.c``), compiled with
  ``gcc -static``.

``python -m pytest_nfv.backends.clickos.standin.guest`` builds (or finds) it and prints the
kernel and initramfs paths; the domain template ``fixtures/domains/clickos-standin.xml``
boots it.
"""

from __future__ import annotations

import gzip
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

__all__ = ["StandinGuest", "cache_root", "ensure_standin", "manifest_beside", "recipe_key"]

RECIPE_VERSION = "1"
_WHAT = "clickos stand-in"
KERNEL_META = "linux-image-cloud-amd64"
PACKAGES = ("busybox-static", "xenstore-utils", "libxenstore4", "libxentoolcore1", "libc6")
MODULES = ("xen-netfront",)
XENSTORE_TOOLS = ("xenstore-read", "xenstore-write", "xenstore-watch", "xenstore-list")
APPLETS = (
    "sh", "mount", "insmod", "ip", "sleep", "cat", "mkdir", "echo", "sed", "head", "tr",
    "rm", "kill",
)  # fmt: skip
LIBRARIES = {  # what the xenstore tools load -> where its package puts it
    "libxenstore.so.4": "usr/lib/x86_64-linux-gnu",
    "libxentoolcore.so.1": "usr/lib/x86_64-linux-gnu",
    "libc.so.6": "lib/x86_64-linux-gnu",
    "ld-linux-x86-64.so.2": "lib/x86_64-linux-gnu",
}
DIRECTORIES = (
    "bin", "dev", "lib", "lib/modules", "lib/nfv-standin", "lib/x86_64-linux-gnu", "lib64",
    "proc", "sys", "tmp",
)  # fmt: skip
INIT = Path(__file__).with_name("init.sh")
FIELDS = Path(__file__).with_name("fields.sh")


@dataclass(frozen=True)
class StandinGuest:
    """A built stand-in: the kernel and initramfs a domain boots, and what they came from."""

    kernel: Path
    initrd: Path
    manifest: dict[str, str]


def cache_root() -> Path:
    """``$PYTEST_NFV_GUEST_CACHE/clickos-standin`` (default ``/var/cache/pytest-nfv/guest``)."""
    base = os.environ.get("PYTEST_NFV_GUEST_CACHE", "/var/cache/pytest-nfv/guest")
    return Path(base) / "clickos-standin"


def _sources() -> tuple[Path, ...]:
    c = proxy_vnf_dir() / "c"
    shared = Path(__file__).parents[2] / "shared" / "debian_guest.py"
    return (Path(__file__), shared, INIT, FIELDS, c / "proxy.c", c / "udp-command.c")


def recipe_key() -> str:
    """Hash of everything that decides the guest's bytes apart from the Debian packages."""
    digest = hashlib.sha256()
    for part in (RECIPE_VERSION.encode(), *(path.read_bytes() for path in _sources())):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()[:16]


def ensure_standin(root: Path | None = None) -> StandinGuest:
    """The cached stand-in for this recipe, built first if missing.

    Raises:
        BackendUnavailable: a tool or package it needs is missing (the message says which).
    """
    root = cache_root() if root is None else root
    return cached_build(_WHAT, root / recipe_key(), _build, _load)


def manifest_beside(image: str | None) -> dict[str, str] | None:
    """The stand-in's manifest when ``image`` is a stand-in kernel (its ``manifest.json``
    beside it names what it stands in for), else None: how a run knows it is not ClickOS."""
    if image is None:
        return None
    try:
        manifest = json.loads(Path(image).with_name("manifest.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or "stands_in_for" not in manifest:
        return None
    return {str(key): str(value) for key, value in manifest.items()}


def _load(directory: Path) -> StandinGuest | None:
    found = built_files(directory, "vmlinux.gz")
    return None if found is None else StandinGuest(*found)


def _build(out: Path) -> None:
    work = out / "work"
    work.mkdir()
    kernel = kernel_package(_WHAT, KERNEL_META, work)
    debs = download(_WHAT, [kernel, *PACKAGES], work)
    tree = work / "tree"
    for deb in debs.values():
        run_tool(_WHAT, ["dpkg-deb", "-x", str(deb), str(tree)])
    vmlinuz = next((tree / "boot").glob("vmlinuz-*"))
    vmlinux = extract_vmlinux(_WHAT, vmlinuz.read_bytes())
    (out / "vmlinux.gz").write_bytes(gzip.compress(vmlinux, compresslevel=6, mtime=0))
    release = vmlinuz.name.removeprefix("vmlinuz-")
    modules = {path.stem: path for path in (tree / "lib/modules" / release).rglob("*.ko")}
    missing = [m for m in MODULES if m not in modules]
    if missing:
        raise BackendUnavailable(f"clickos stand-in: {kernel} lacks modules {missing}")
    programs = {}
    for name, source in (("nfv-proxy", "proxy.c"), ("nfv-udp-command", "udp-command.c")):
        binary = work / name
        run_tool(
            _WHAT,
            ["gcc", "-static", "-O2", "-s", "-o", str(binary), str(proxy_vnf_dir() / "c" / source)],
        )
        programs[name] = binary.read_bytes()
    init = INIT.read_text().replace("@MODULES@", " ".join(MODULES))
    files: list[tuple[str, int, bytes | str | tuple[int, int] | None]] = [
        (directory, stat.S_IFDIR | 0o755, None) for directory in DIRECTORIES
    ]
    files += [
        ("dev/console", stat.S_IFCHR | 0o600, (5, 1)),
        ("init", stat.S_IFREG | 0o755, init.encode()),
        ("lib/nfv-standin/fields.sh", stat.S_IFREG | 0o644, FIELDS.read_bytes()),
        ("bin/busybox", stat.S_IFREG | 0o755, (tree / "bin/busybox").read_bytes()),
        ("bin/xenstore", stat.S_IFREG | 0o755, (tree / "usr/bin/xenstore").read_bytes()),
        (
            "lib64/ld-linux-x86-64.so.2",
            stat.S_IFLNK | 0o777,
            "../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        ),
    ]
    files += [(f"bin/{name}", stat.S_IFREG | 0o755, data) for name, data in programs.items()]
    files += [(f"bin/{applet}", stat.S_IFLNK | 0o777, "busybox") for applet in APPLETS]
    files += [(f"bin/{tool}", stat.S_IFLNK | 0o777, "xenstore") for tool in XENSTORE_TOOLS]
    for library, where in LIBRARIES.items():
        data = (tree / where / library).resolve().read_bytes()
        files.append((f"lib/x86_64-linux-gnu/{library}", stat.S_IFREG | 0o755, data))
    files += [
        (f"lib/modules/{name}.ko", stat.S_IFREG | 0o644, modules[name].read_bytes())
        for name in MODULES
    ]
    (out / "initrd.cpio").write_bytes(write_cpio(files))
    manifest = {
        "recipe": recipe_key(),
        "kernel_package": f"{kernel} {deb_field(_WHAT, debs[kernel], 'Version')}",
        "kernel_release": release,
        **{package: deb_field(_WHAT, debs[package], "Version") for package in PACKAGES},
        "stands_in_for": "MiniOS + Click (a ClickOS image)",
    }
    shutil.rmtree(work)
    for path in out.iterdir():
        path.chmod(0o644)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    (out / "manifest.json").chmod(0o644)


def main() -> int:
    guest = ensure_standin()
    print(guest.kernel)
    print(guest.initrd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
