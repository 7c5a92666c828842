"""``scripts/xen-lab reap``: a dead lab's QEMU and share go; nothing else is signalled."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

XEN_LAB = Path(__file__).resolve().parents[2] / "scripts" / "xen-lab"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="scripts/xen-lab runs as root only")


def _record(pid: int, namespace: str | None = None) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    ticks = stat.rsplit(") ", 1)[1].split()[19]
    return f"{pid} {ticks} {namespace or os.readlink('/proc/self/ns/pid')}\n"


def _dead_record() -> str:
    gone = subprocess.Popen(["sleep", "0"])
    line = _record(gone.pid)
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
    return subprocess.run(
        ["bash", str(XEN_LAB), "reap"],
        env={"NFV_XEN_LAB_SHARES": str(shares), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_only_the_recorded_qemu_of_a_dead_lab_is_ended(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    dead = _share(tmp_path, "dead", _dead_record())
    qemu = subprocess.Popen(["sleep", "60"])  # stands for the dead lab's QEMU
    processes.append(qemu)
    (dead / "qemu").write_text(_record(qemu.pid))
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
    live = _share(tmp_path, "live", _record(owner.pid))
    elsewhere = _share(tmp_path, "elsewhere", _dead_record().rsplit(" ", 1)[0] + " pid:[1]\n")
    done = _reap(tmp_path)
    assert done.returncode == 0, done.stderr
    assert live.exists()
    assert elsewhere.exists()
    assert owner.poll() is None
