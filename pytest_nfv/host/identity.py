"""Run identity: every resource a run creates is named after it, so cleanup takes only ours.

A name looks like ``nfv-3f9a1c-p4242-i007``: the fixed prefix, a random run id, the owner's
pid, and the resource's role. A small registry file per run (``/run/pytest-nfv/<run>.json``)
records the owner's process start, so a recycled pid is not mistaken for a live owner.

The start is kept as the kernel counts it, in clock ticks since boot (``/proc/PID/stat``),
with the boot's id: a wall-clock start time (boot time plus ticks) moves whenever the clock
is stepped (an NTP step, a resumed VM), and a live run would then read as dead and have its
resources taken by another session's sweep. Entries written before carry only the wall-clock
time and are judged by it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import psutil

__all__ = [
    "PREFIX",
    "REGISTRY_DIR",
    "Registration",
    "RunIdentity",
    "boot_id",
    "forget_run",
    "owner_alive",
    "parse_name",
    "read_registry",
    "start_ticks",
]

PREFIX = "nfv-"
REGISTRY_DIR = Path(os.environ.get("PYTEST_NFV_RUN_DIR", "/run/pytest-nfv"))
_NAME = re.compile(r"^nfv-(?P<run>[0-9a-f]{6})-p(?P<pid>\d+)-(?P<role>[a-z0-9]+)$")


def start_ticks(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot; None if it is gone.

    ``/proc/PID/stat`` field 22, read after the command name's closing parenthesis, since
    the name itself may hold spaces and parentheses.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def boot_id() -> str:
    """This boot's id: ticks since boot compare only within one boot."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


@dataclass(frozen=True)
class RunIdentity:
    """Who owns the resources of one run."""

    run_id: str
    owner_pid: int
    owner_started: float
    owner_ticks: int | None = None
    """The owner's start in clock ticks since boot (``start_ticks``), which no clock step moves."""
    boot: str = ""

    @classmethod
    def new(cls) -> RunIdentity:
        me = psutil.Process()
        return cls(secrets.token_hex(3), me.pid, me.create_time(), start_ticks(me.pid), boot_id())

    @property
    def prefix(self) -> str:
        return f"{PREFIX}{self.run_id}-p{self.owner_pid}-"

    def name(self, role: str) -> str:
        """Resource name for ``role`` (lowercase letters and digits only)."""
        if not re.fullmatch(r"[a-z0-9]+", role):
            raise ValueError(f"role must be lowercase alphanumeric, got {role!r}")
        return self.prefix + role

    def owns(self, name: str) -> bool:
        return name.startswith(self.prefix)

    def register(self, backend: str) -> Path:
        """Write the registry file; cleanup reads it to tell a live owner from a dead one."""
        REGISTRY_DIR.mkdir(parents=True, exist_ok=True)
        path = REGISTRY_DIR / f"{self.run_id}.json"
        payload: dict[str, object] = {
            "owner_pid": self.owner_pid,
            "owner_started": self.owner_started,
            "backend": backend,
        }
        if self.owner_ticks is not None and self.boot:
            payload |= {"owner_ticks": self.owner_ticks, "boot_id": self.boot}
        path.write_text(json.dumps(payload))
        return path

    def unregister(self) -> None:
        forget_run(self.run_id)


def parse_name(name: str) -> tuple[str, int, str] | None:
    """``(run_id, owner_pid, role)`` of one of our names, or None for anything else."""
    match = _NAME.match(name)
    if match is None:
        return None
    return match["run"], int(match["pid"]), match["role"]


class Registration(NamedTuple):
    """A run's registry entry: who owns it, when that process started, and its backend."""

    owner_pid: int
    owner_started: float
    backend: str = ""
    owner_ticks: int | None = None
    boot_id: str = ""


def read_registry() -> dict[str, Registration]:
    """Every registered run, by run id (unreadable files are skipped)."""
    found: dict[str, Registration] = {}
    if not REGISTRY_DIR.is_dir():
        return found
    for path in REGISTRY_DIR.glob("*.json"):
        try:
            data = json.loads(path.read_text())
            ticks = data.get("owner_ticks")
            found[path.stem] = Registration(
                int(data["owner_pid"]),
                float(data["owner_started"]),
                str(data.get("backend", "")),
                int(ticks) if isinstance(ticks, int) and not isinstance(ticks, bool) else None,
                str(data.get("boot_id", "")),
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return found


def owner_alive(
    run_id: str, owner_pid: int, registry: Mapping[str, Registration] | None = None
) -> bool:
    """Whether the run that made a resource is still running.

    The pid alone could have been recycled; the registry's start settles it: in clock ticks
    since boot where the entry has them (a clock step cannot move them; another boot means
    another process), else the wall-clock start within half a second. Without a registry
    entry the pid is all we have, and a live pid is taken as a live owner (erring on the side
    of not deleting). ``registry`` is a snapshot from ``read_registry``; without one,
    this run's file is read now.
    """
    if owner_pid <= 0:
        return False
    try:
        proc = psutil.Process(owner_pid)
        started = proc.create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True
    if registry is None:
        registry = {k: v for k, v in read_registry().items() if k == run_id}
    recorded = registry.get(run_id)
    if recorded is None:
        return True
    if recorded.owner_ticks is not None and recorded.boot_id:
        return recorded.boot_id == boot_id() and start_ticks(owner_pid) == recorded.owner_ticks
    return bool(abs(recorded.owner_started - float(started)) < 0.5)


def forget_run(run_id: str) -> None:
    """Remove one run's registry file (the reap rule does this once its resources are gone)."""
    (REGISTRY_DIR / f"{run_id}.json").unlink(missing_ok=True)
