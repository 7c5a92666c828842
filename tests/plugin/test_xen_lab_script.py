"""``scripts/xen-lab reap``: a dead lab's QEMU and share go; nothing else is signalled."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from script_runs import pid_record, run_script

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="scripts/xen-lab runs as root only")


def _dead_record() -> str:
    gone = subprocess.Popen(["sleep", "0"])
    line = pid_record(gone.pid)
    gone.wait()
    return line


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.kill()
        process.wait()


def _share(shares: Path, name: str, owner: str) -> Path:
    share = shares / f"nfv-xen-lab.{name}"
    share.mkdir(mode=0o700)
    (share / "owner").write_text(owner)
    return share


def _reap(shares: Path) -> subprocess.CompletedProcess[str]:
    return run_script("xen-lab", "reap", env={"NFV_XEN_LAB_SHARES": str(shares)})


def test_only_the_recorded_qemu_of_a_dead_lab_is_ended(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    dead = _share(tmp_path, "dead", _dead_record())
    qemu = subprocess.Popen(["sleep", "60"])  # stands for the dead lab's QEMU
    processes.append(qemu)
    (dead / "qemu").write_text(pid_record(qemu.pid))
    # a process whose command line names the same share (an operator's tail, say)
    bystander = subprocess.Popen(
        ["bash", "-c", f'exec -a "tail path={dead},mount_tag=host" sleep 60']
    )
    processes.append(bystander)
    done = _reap(tmp_path)
    assert done.returncode == 0, done.stderr
    assert qemu.wait(timeout=10) != 0
    assert bystander.poll() is None
    assert not dead.exists()


def test_a_live_lab_and_one_recorded_in_another_pid_namespace_are_left_alone(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    owner = subprocess.Popen(["sleep", "60"])
    processes.append(owner)
    live = _share(tmp_path, "live", pid_record(owner.pid))
    elsewhere = _share(tmp_path, "elsewhere", _dead_record().rsplit(" ", 1)[0] + " pid:[1]\n")
    done = _reap(tmp_path)
    assert done.returncode == 0, done.stderr
    assert live.exists()
    assert elsewhere.exists()
    assert owner.poll() is None
