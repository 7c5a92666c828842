"""Guests built from Debian packages: fetched, unpacked, packed into a reproducible initramfs.

The osv backend's stand-in guest and the ClickOS stand-in are both a Debian kernel with a
busybox initramfs, built from ``apt-get download`` (nothing installed, nothing taken from
``/boot``). What they share is here: running the Debian tools (a missing one, or a failure,
is ``BackendUnavailable`` naming the guest), fetching packages, the ELF kernel inside a
bzImage, a newc cpio written byte for byte, and the lock that keeps two sessions from
building one cache entry at once. ``what`` names the guest in every message. The pipeline
both run on these parts is ``guest_recipe``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from pytest_nfv.errors import BackendUnavailable
from pytest_nfv.host.private_paths import check_private

__all__ = [
    "build_lock",
    "built_files",
    "cached_build",
    "deb_field",
    "download",
    "extract_vmlinux",
    "kernel_package",
    "run_tool",
    "write_cpio",
]

T = TypeVar("T")

_COMPRESSIONS = (  # bzImage payload magic -> decompressor argv (reads stdin)
    (b"\x02\x21\x4c\x18", ("lz4", "-dc")),
    (b"\x28\xb5\x2f\xfd", ("zstd", "-dc")),
    (b"\xfd7zXZ\x00", ("xz", "-dc")),
    (b"\x1f\x8b\x08", ("gzip", "-dc")),
)
_TOOL_TIMEOUT_S = 300


BUILD_LOCK_WAIT_S = 1800.0
"""How long a session waits for another one building the same guest: a build fetches and
packs a kernel and a few packages (a minute or two here); a holder past this is stuck."""


@contextlib.contextmanager
def build_lock(
    path: Path,
    what: str = "a guest build",
    wait_s: float = BUILD_LOCK_WAIT_S,
    poll_s: float = 0.2,
) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the block.

    The file is opened without following a symbolic link (root would otherwise create or
    touch whatever a planted link names) and must be a regular file root owns. The holder
    writes its pid into it, so a session that gives up can say who held it.

    Raises:
        BackendUnavailable: ``path`` is a link or not root's regular file, or another holder
            kept it for ``wait_s`` seconds.
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        raise BackendUnavailable(f"{what}: cannot open its lock {path}: {exc}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            raise BackendUnavailable(f"{what}: its lock {path} is not a file of this user")
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                    raise BackendUnavailable(
                        f"{what}: another build held its lock {path} for {wait_s:g} s "
                        f"(pid {holder}); stuck, or remove the lock once it has ended"
                    ) from None
                time.sleep(poll_s)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def cached_build(
    what: str,
    directory: Path,
    build: Callable[[Path], None],
    load: Callable[[Path], T | None],
) -> T:
    """What ``load`` finds in ``directory``, built there first by ``build`` if missing.

    ``directory`` is named after the recipe's hash under a cache root. The build runs in a
    temporary sibling under a lock and is renamed into place only when complete, so a build
    killed midway is never taken for a finished one (the next build removes its remains), and
    two sessions never build the same entry at once. Run as root, the cache and every
    directory above it must be root's alone (``host.private_paths``): an entry someone else
    could have planted is never booted.

    Raises:
        BackendUnavailable: the cache cannot be created or is not private, its lock is held
            too long, or the build left it incomplete.
    """
    root = directory.parent
    if os.geteuid() == 0 and root.exists():
        check_private(root)  # an entry in a cache others can write is theirs, not ours
    found = load(directory)
    if found is not None:
        return found
    try:
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o755)
    except OSError as exc:
        raise BackendUnavailable(f"{what}: cannot create its cache {root}: {exc}") from exc
    if os.geteuid() == 0:
        check_private(root)
    with build_lock(root / f"{directory.name}.lock", what):
        found = load(directory)  # another session may have built it while we waited
        if found is not None:
            return found
        for stale in root.glob(f".{directory.name}-*"):  # a build killed midway; we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=root))
        try:
            build(work)
            work.chmod(0o755)
            work.rename(directory)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    found = load(directory)
    if found is None:
        raise BackendUnavailable(f"{what}: built into {directory} but it is incomplete")
    return found


def built_files(directory: Path, kernel: str) -> tuple[Path, Path, dict[str, str]] | None:
    """A finished cache entry's kernel, ``initrd.cpio`` and manifest; None if incomplete."""
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    kernel_path, initrd = directory / kernel, directory / "initrd.cpio"
    if not (kernel_path.is_file() and initrd.is_file()):
        return None
    return kernel_path, initrd, {str(k): str(v) for k, v in manifest.items()}


def kernel_package(what: str, meta: str, into: Path) -> str:
    """The versioned ``linux-image-*`` package a kernel meta-package depends on now."""
    deb = download(what, [meta], into)[meta]
    return next(
        dep.split()[0]
        for dep in deb_field(what, deb, "Depends").split(",")
        if dep.strip().startswith("linux-image-")
    ).strip()


def run_tool(
    what: str, argv: Sequence[str], cwd: Path | None = None, stdin: bytes | None = None
) -> bytes:
    """Run one build tool (argv, no shell); its stdout, or ``BackendUnavailable`` saying why."""
    if shutil.which(argv[0]) is None:
        raise BackendUnavailable(
            f"{what}: building it needs {argv[0]!r}, which is not installed "
            "(scripts/bootstrap tests installs it on Debian)"
        )
    try:
        done = subprocess.run(
            list(argv),
            cwd=cwd,
            input=stdin,
            capture_output=True,
            timeout=_TOOL_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BackendUnavailable(f"{what}: {' '.join(argv)} took over {exc.timeout} s") from exc
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip()[-600:]
        raise BackendUnavailable(f"{what}: {' '.join(argv)} failed: {tail}")
    return done.stdout


def download(what: str, packages: Sequence[str], into: Path) -> dict[str, Path]:
    """``apt-get download`` each package into ``into``; refreshes the lists once if needed."""
    try:
        run_tool(what, ["apt-get", "download", *packages], cwd=into)
    except BackendUnavailable as first:
        if os.geteuid() != 0 or "locate package" not in str(first):
            raise
        run_tool(what, ["apt-get", "update", "-qq"])
        run_tool(what, ["apt-get", "download", *packages], cwd=into)
    found = {}
    for package in packages:
        debs = sorted(into.glob(f"{package}_*.deb"))
        if not debs:
            raise BackendUnavailable(f"{what}: apt-get download left no {package} .deb")
        found[package] = debs[-1]
    return found


def deb_field(what: str, deb: Path, name: str) -> str:
    """One control field of a .deb (``Version``, ``Depends``)."""
    return run_tool(what, ["dpkg-deb", "-f", str(deb), name]).decode().strip()


def extract_vmlinux(what: str, bzimage: bytes) -> bytes:
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
        f"{what}: no ELF kernel found inside the bzImage (lz4, zstd, xz and gzip tried; "
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
