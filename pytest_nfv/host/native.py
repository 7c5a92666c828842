"""Small C helpers, compiled on this host, kept where only root can change them.

Root runs these programs, so the compiled file and every directory above it must be root's
and writable by no one else: a binary a user could have replaced would run with root's
rights. Each is built once per source (its SHA-256 names the directory), into a private
directory under ``/var/cache/pytest-nfv/native`` (``$PYTEST_NFV_NATIVE_CACHE`` elsewhere), and
checked again every time it is handed out.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from pytest_nfv.errors import BackendUnavailable
from pytest_nfv.host.private_paths import check_private

__all__ = ["compiled", "native_cache"]

GCC_FLAGS = ("-O2", "-Wall", "-Wextra", "-Werror")
GCC_TIMEOUT_S = 120.0
"""A build of one small C file that takes longer is stuck, not slow."""


def native_cache() -> Path:
    return Path(os.environ.get("PYTEST_NFV_NATIVE_CACHE", "/var/cache/pytest-nfv/native"))


def compiled(source: Path, name: str) -> Path:
    """The executable built from ``source`` with gcc; built first if missing.

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
        gcc = shutil.which("gcc")
        if gcc is None:
            raise BackendUnavailable(f"{name}: gcc is not installed (Debian: apt-get install gcc)")
        work = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
        try:
            try:
                built = subprocess.run(
                    [gcc, *GCC_FLAGS, "-o", str(work / name), str(source)],
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=GCC_TIMEOUT_S,
                )
            except subprocess.TimeoutExpired:
                raise BackendUnavailable(
                    f"{name}: gcc did not finish within {GCC_TIMEOUT_S:g} s"
                ) from None
            if built.returncode != 0:
                raise BackendUnavailable(f"{name}: gcc failed: {built.stderr.strip()[-500:]}")
            (work / name).chmod(0o700)
            try:
                work.rename(root / key)
            except OSError:  # another session built it first
                if not target.exists():
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    check_private(target)
    return target
