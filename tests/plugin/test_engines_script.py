"""``scripts/engines stop`` signals only the daemons ``start`` started, never a pid's next owner."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ENGINES = Path(__file__).resolve().parents[2] / "scripts" / "engines"


def _start_ticks(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(") ", 1)[1].split()[19]


def _pid_ns() -> str:
    return os.readlink("/proc/self/ns/pid")


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


def _stop(state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ENGINES), "stop"],
        env={"NFV_ENGINE_STATE": str(state), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_a_pid_whose_process_changed_since_start_is_not_signalled(
    tmp_path: Path, bystander: subprocess.Popen[bytes]
) -> None:
    # what start recorded: this pid, but a start time another process had
    wrong = int(_start_ticks(bystander.pid)) + 1
    (tmp_path / "dockerd.pid").write_text(f"{bystander.pid} {wrong} {_pid_ns()}\n")
    right = _start_ticks(bystander.pid)  # but read in another PID namespace: cannot tell
    (tmp_path / "virtlogd.pid").write_text(f"{bystander.pid} {right} pid:[1]\n")
    (tmp_path / "libvirtd.pid").write_text(f"{bystander.pid}\n")  # no start time: not ours
    done = _stop(tmp_path)
    assert done.returncode == 0, done.stderr
    assert bystander.poll() is None  # still running
    assert "dockerd: no longer running as started" in done.stdout
    assert "libvirtd: no longer running as started" in done.stdout
    assert "virtlogd: no longer running as started" in done.stdout
    assert not (tmp_path / "dockerd.pid").exists()


def test_the_process_start_recorded_is_stopped(
    tmp_path: Path, bystander: subprocess.Popen[bytes]
) -> None:
    (tmp_path / "virtlogd.pid").write_text(
        f"{bystander.pid} {_start_ticks(bystander.pid)} {_pid_ns()}\n"
    )
    done = _stop(tmp_path)
    assert done.returncode == 0, done.stderr
    assert bystander.wait(timeout=15) != 0
    assert "virtlogd: stopped" in done.stdout
