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
- an initramfs (``backends.shared.guest_recipe``'s pipeline, shared with the osv guest) holding
  ``busybox`` from ``busybox-static``, ``xen-netfront``, the xenstore client tools of
  ``xenstore-utils`` with the libraries they load (``libxenstore4``, ``libxentoolcore1``,
  ``libc6``), ``/init``, ``fields.sh`` (what it reads out of a configuration), and
  ``nfv-proxy`` (``proxy_vnf/c/proxy.c``) and ``nfv-udp-command``
  (``pytest_nfv/native/udp-command.c``), built statically by ``native``.

``python -m pytest_nfv.backends.clickos.standin.guest`` builds (or finds) it and prints the
kernel and initramfs paths; the domain template ``fixtures/domains/clickos-standin.xml``
boots it.
"""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

from pytest_nfv.backends.shared.guest_recipe import BuiltGuest, Entry, GuestRecipe

__all__ = [
    "FIELDS",
    "INIT",
    "RECIPE",
    "ensure_standin",
    "manifest_beside",
]

XENSTORE_TOOLS = ("xenstore-read", "xenstore-write", "xenstore-watch", "xenstore-list")
LIBRARIES = {  # what the xenstore tools load -> where its package puts it
    "libxenstore.so.4": "usr/lib/x86_64-linux-gnu",
    "libxentoolcore.so.1": "usr/lib/x86_64-linux-gnu",
    "libc.so.6": "lib/x86_64-linux-gnu",
    "ld-linux-x86-64.so.2": "lib/x86_64-linux-gnu",
}
INIT = Path(__file__).with_name("init.sh")
FIELDS = Path(__file__).with_name("fields.sh")


def _xenstore(tree: Path) -> list[Entry]:
    """The xenstore client (one binary, a link per tool) and the libraries it loads."""
    files: list[Entry] = [
        ("bin/xenstore", stat.S_IFREG | 0o755, (tree / "usr/bin/xenstore").read_bytes()),
        (
            "lib64/ld-linux-x86-64.so.2",
            stat.S_IFLNK | 0o777,
            "../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        ),
    ]
    files += [(f"bin/{tool}", stat.S_IFLNK | 0o777, "xenstore") for tool in XENSTORE_TOOLS]
    for library, where in LIBRARIES.items():
        data = (tree / where / library).resolve().read_bytes()
        files.append((f"lib/x86_64-linux-gnu/{library}", stat.S_IFREG | 0o755, data))
    return files


APPLETS = (
    "sh", "mount", "insmod", "ip", "sleep", "cat", "mkdir", "echo", "sed", "head", "tr",
    "rm", "kill",
)  # fmt: skip
RECIPE = GuestRecipe(
    what="clickos stand-in",
    version="2",
    module=Path(__file__),
    kernel_file="vmlinux.gz",
    packages=("busybox-static", "xenstore-utils", "libxenstore4", "libxentoolcore1", "libc6"),
    modules=("xen-netfront",),
    applets=APPLETS,
    scripts={"init": INIT, "lib/nfv-standin/fields.sh": FIELDS},
    programs={"nfv-proxy": "proxy.c", "nfv-udp-command": "udp-command.c"},
    directories=("lib/nfv-standin", "lib/x86_64-linux-gnu", "lib64", "tmp"),
    entries=_xenstore,
    manifest={"stands_in_for": "MiniOS + Click (a ClickOS image)"},
    cache="clickos-standin",
)


def ensure_standin(root: Path | None = None) -> BuiltGuest:
    """The cached stand-in for this recipe, built first if missing.

    Raises:
        BackendUnavailable: a tool or package it needs is missing (the message says which).
    """
    return RECIPE.ensure(root)


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


def main() -> int:
    guest = ensure_standin()
    print(guest.kernel)
    print(guest.initrd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
