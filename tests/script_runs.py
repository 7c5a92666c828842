"""Running the project's bash scripts from a test, the process records they keep, and
whether a process still runs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def run_script(
    name: str,
    *args: str,
    env: dict[str, str],
    first_on_path: Path | None = None,
    timeout_s: float = 60,
) -> subprocess.CompletedProcess[str]:
    """``scripts/NAME ARGS`` under bash with only ``env`` and a system PATH (after
    ``first_on_path``, where a test puts stand-ins for programs)."""
    path = "/usr/sbin:/usr/bin:/sbin:/bin"
    if first_on_path is not None:
        path = f"{first_on_path}:{path}"
    return subprocess.run(
        ["bash", str(SCRIPTS / name), *args],
        env={**env, "PATH": path},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def start_ticks(pid: int) -> str:
    """Field 22 of ``/proc/PID/stat``: when the process started, in ticks since boot."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(") ", 1)[1].split()[19]


def pid_namespace() -> str:
    return os.readlink("/proc/self/ns/pid")


def pid_record(pid: int, namespace: str | None = None) -> str:
    """The line ``scripts/lib/processes.sh`` keeps for ``pid``."""
    return f"{pid} {start_ticks(pid)} {namespace or pid_namespace()}\n"


def running(pid: int) -> bool:
    """The process exists and has not exited: a killed process whose new parent (init, here a
    process that reaps late) has not reaped it yet is a zombie, and counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(") ", 1)[1].split()[0] != "Z"
