"""``scripts/engines stop`` signals only the daemons ``start`` started, never a pid's next owner."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from script_runs import pid_namespace, run_script, start_ticks


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


def _stop(state: Path) -> subprocess.CompletedProcess[str]:
    return run_script("engines", "stop", env={"NFV_ENGINE_STATE": str(state)})


def test_a_pid_whose_process_changed_since_start_is_not_signalled(
    tmp_path: Path, bystander: subprocess.Popen[bytes]
) -> None:
    # what start recorded: this pid, but a start time another process had
    wrong = int(start_ticks(bystander.pid)) + 1
    (tmp_path / "dockerd.pid").write_text(f"{bystander.pid} {wrong} {pid_namespace()}\n")
    right = start_ticks(bystander.pid)  # but read in another PID namespace: cannot tell
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
        f"{bystander.pid} {start_ticks(bystander.pid)} {pid_namespace()}\n"
    )
    done = _stop(tmp_path)
    assert done.returncode == 0, done.stderr
    assert bystander.wait(timeout=15) != 0
    assert "virtlogd: stopped" in done.stdout
