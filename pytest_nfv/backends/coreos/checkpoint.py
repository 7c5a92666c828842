"""Container checkpoint and restore: Docker's experimental ``checkpoint``, which needs CRIU.

The paper keeps CoreOS for static scenarios because containers are hard to migrate. Docker
moves a container only cold: ``checkpoint create`` has CRIU dump the container's processes to
files and stop it, ``start --checkpoint`` restores them. It needs the daemon's experimental
mode and a CRIU that works on the running kernel; Docker has no live move at all (CRIU's
iterative pre-dumps need the kernel's soft-dirty page tracking, and Docker drives none).

Whether both hold is probed once, before anything is asked of the daemon: ``criu check`` run
from a root-owned directory (root never runs a binary a user could have planted), and the
daemon's own word on its experimental mode. The reason a probe gives is the probe's output,
so that "not measured" says exactly what this host lacks.
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

from pytest_nfv.errors import BackendError
from pytest_nfv.host.identity import REGISTRY_DIR
from pytest_nfv.host.reap import CleanupReport, ReapRule, reap_named_files

__all__ = [
    "CHECKPOINT_METHOD",
    "LIVE_REASON",
    "checkpoint_and_restore",
    "checkpoint_block",
    "checkpoint_dir",
    "criu_block",
    "reap_checkpoints",
    "trusted_criu",
]

CHECKPOINT_METHOD = "docker checkpoint create (CRIU dump, container stops), start --checkpoint"
LIVE_REASON = (
    "Docker has no live migration: a checkpoint stops the container (CRIU's iterative "
    "pre-dump, which a live move would need, is not driven by Docker)"
)
TRUSTED_DIRS = (Path("/usr/sbin"), Path("/usr/bin"), Path("/sbin"), Path("/bin"))
CHECK_TIMEOUT_S = 60.0
_REASON_LINES = 4
CHECKPOINT_ROOT = REGISTRY_DIR / "coreos-checkpoints"


def _root_only(path: Path) -> bool:
    """Owned by root and writable by nobody else, the file and every directory above it."""
    for part in (path, *path.parents):
        try:
            info = part.stat()
        except OSError:
            return False
        if info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return False
    return True


def trusted_criu() -> Path | None:
    """The ``criu`` binary in a root-owned system directory; None if there is none."""
    for directory in TRUSTED_DIRS:
        candidate = (directory / "criu").resolve()
        if candidate.is_file() and os.access(candidate, os.X_OK) and _root_only(candidate):
            return candidate
    return None


@functools.cache
def criu_block() -> str | None:
    """Why CRIU cannot checkpoint here (``criu check``'s own words); None: it can."""
    criu = trusted_criu()
    if criu is None:
        where = ", ".join(map(str, TRUSTED_DIRS))
        return f"no criu in a root-owned system directory ({where}): install CRIU"
    try:
        done = subprocess.run(
            [str(criu), "check"],
            check=False,
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`{criu} check` could not run: {exc}"
    if done.returncode == 0:
        return None
    said = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    version = _criu_version(criu)
    return f"`criu check` ({version}) failed: " + " | ".join(said[:_REASON_LINES])


def _criu_version(criu: Path) -> str:
    try:
        out = subprocess.run(
            [str(criu), "--version"], check=False, capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "version unknown"
    words = out.split()
    return f"CRIU {words[1]}" if len(words) > 1 and words[0] == "Version:" else "version unknown"


def checkpoint_block(version: dict[str, Any]) -> str | None:
    """Why Docker cannot checkpoint containers here, from the daemon's ``version`` answer.

    CRIU is asked first: without it the daemon's mode does not matter.
    """
    reasons = []
    criu = criu_block()
    if criu is not None:
        reasons.append(f"container checkpoint needs a working CRIU: {criu}")
    if not version.get("Experimental"):
        reasons.append(
            "container checkpoint needs the Docker daemon's experimental mode "
            '("experimental": true in daemon.json), and this daemon runs without it'
        )
    return "; ".join(reasons) or None


def checkpoint_and_restore(
    api: Any, container_id: str, name: str, directory: Path
) -> tuple[float, float, int]:
    """Checkpoint the container into ``directory`` and start it from there.

    Docker's Engine API has the calls (``POST /containers/{id}/checkpoints``, ``start`` with
    ``checkpoint``); docker-py does not wrap them, so they go through its API client's own
    session and base URL. Returns the seconds of each half and the checkpoint's bytes; the
    checkpoint's files are removed whatever happens.

    Raises:
        BackendError: the daemon refused either half.
    """
    base = f"{api.base_url}/v{api.api_version}/containers/{container_id}"
    directory.mkdir(parents=True, exist_ok=True)
    try:
        started = time.monotonic()
        answer = api.post(
            f"{base}/checkpoints",
            json={"CheckpointID": name, "CheckpointDir": str(directory), "Exit": True},
        )
        if answer.status_code >= 300:
            raise BackendError(f"docker checkpoint of {container_id[:12]}: {answer.text.strip()}")
        saved = time.monotonic()
        size = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
        answer = api.post(
            f"{base}/start", params={"checkpoint": name, "checkpoint-dir": str(directory)}
        )
        if answer.status_code >= 300:
            raise BackendError(f"docker start from checkpoint {name}: {answer.text.strip()}")
        restored = time.monotonic()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return saved - started, restored - saved, size


def checkpoint_dir(name: str) -> Path:
    """Where the container checkpoint ``name`` (a run's name) is written."""
    return CHECKPOINT_ROOT / name


def reap_checkpoints(rule: ReapRule, *, dry_run: bool) -> CleanupReport:
    """Remove the checkpoint directories of the runs ``rule`` takes (a run killed mid-move)."""
    return reap_named_files(CHECKPOINT_ROOT, "", "checkpoint", rule, dry_run=dry_run)
