"""The one build path for C: gcc on one source, into root's private cache or a guest's tree.

Root runs the host helpers, so the compiled file and every directory above it must be root's
and writable by no one else: a binary a user could have replaced would run with root's
rights. Each is built once per source (its SHA-256 and the flags name the directory), into a
private directory under ``/var/cache/pytest-nfv/native`` (``$PYTEST_NFV_NATIVE_CACHE``
elsewhere), and checked again every time it is handed out. Guest programs are built the same
way with ``STATIC`` added, into the guest builder's own work directory: they run inside a
guest, never on the host, and the guest's cache is keyed by their sources.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pytest_nfv.errors import BackendUnavailable
from pytest_nfv.host.private_paths import check_private
from pytest_nfv.resources import proxy_vnf_dir

__all__ = ["GCC_FLAGS", "STATIC", "build", "compiled", "native_cache", "source"]

GCC_FLAGS = ("-O2", "-Wall", "-Wextra", "-Werror")
STATIC = ("-static", "-s")
"""Added for a guest's programs: its initramfs has no C library to link against."""
GCC_TIMEOUT_S = 120.0
"""A build of one small C file that takes longer is stuck, not slow."""
_HERE = Path(__file__).resolve().parent
_ALGORITHM_1 = frozenset({"relay.c", "proxy.c"})
"""Algorithm 1's C forms stay in ``proxy_vnf/c``, beside its other forms (see its README)."""


def source(name: str) -> Path:
    """The C source ``name`` (``prober.c``, ``relay.c``, ...) in a clone or an installed wheel.

    Raises:
        FileNotFoundError: pytest-nfv ships no such source.
    """
    path = proxy_vnf_dir() / "c" / name if name in _ALGORITHM_1 else _HERE / name
    if not path.is_file():
        raise FileNotFoundError(f"pytest-nfv ships no C source {name!r} (looked at {path})")
    return path


def native_cache() -> Path:
    return Path(os.environ.get("PYTEST_NFV_NATIVE_CACHE", "/var/cache/pytest-nfv/native"))


def build(source: Path, out: Path, *, what: str, flags: Sequence[str] = ()) -> Path:
    """Compile ``source`` into ``out`` with gcc, ``GCC_FLAGS`` and ``flags``; returns ``out``.

    Args:
        source: one self-contained C file.
        out: the executable to write.
        what: names the program (or the guest it is for) in every message.
        flags: added to ``GCC_FLAGS``: ``STATIC`` for a guest, ``-fpie -pie`` for OSv.

    Raises:
        BackendUnavailable: no gcc, the build failed, or it did not finish in time.
    """
    gcc = shutil.which("gcc")
    if gcc is None:
        raise BackendUnavailable(f"{what}: gcc is not installed (Debian: apt-get install gcc)")
    try:
        built = subprocess.run(
            [gcc, *GCC_FLAGS, *flags, "-o", str(out), str(source)],
            capture_output=True,
            text=True,
            check=False,
            timeout=GCC_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise BackendUnavailable(f"{what}: gcc did not finish within {GCC_TIMEOUT_S:g} s") from None
    if built.returncode != 0:
        raise BackendUnavailable(
            f"{what}: gcc failed on {source.name}: {built.stderr.strip()[-500:]}"
        )
    return out


def compiled(source: Path, name: str) -> Path:
    """The host helper built from ``source``, for root to run; built first if missing.

    Raises:
        BackendUnavailable: no gcc, not root, the build failed, or the cache is not private.
    """
    if os.geteuid() != 0:
        raise BackendUnavailable(f"{name}: compiled helpers are built and run by root only")
    code = source.read_bytes()
    key = hashlib.sha256(code + " ".join(GCC_FLAGS).encode()).hexdigest()[:16]
    root = native_cache()
    target = root / key / name
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    check_private(root)
    if not target.exists():
        work = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
        try:
            build(source, work / name, what=name).chmod(0o700)
            try:
                work.rename(root / key)
            except OSError:  # another session built it first
                if not target.exists():
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    check_private(target)
    return target
