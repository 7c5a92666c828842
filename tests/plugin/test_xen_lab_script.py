"""``scripts/xen-lab reap``: a dead lab's QEMU and share go; nothing else is signalled."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
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


def _tools_present() -> bool:
    tools = ("debootstrap", "mke2fs", "dpkg-deb", "apt-get", "qemu-system-x86_64", "flock")
    return all(shutil.which(tool) for tool in tools)


needs_build_tools = pytest.mark.skipif(
    not _tools_present(), reason="the lab's build tools are not installed (scripts/bootstrap tests)"
)


@needs_build_tools
def test_a_session_waits_a_bounded_time_for_another_building_the_image(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o755)
    key = run_script("xen-lab", "key", env={}).stdout.strip()
    assert len(key) == 16
    with open(cache / f"{key}.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another session building it
        done = run_script(
            "xen-lab",
            "build",
            env={"NFV_XEN_LAB_CACHE": str(cache), "NFV_XEN_LAB_LOCK_WAIT": "1"},
        )
    assert done.returncode == 2
    assert f"another session held {cache}/{key}.lock for 1 s" in done.stderr


@needs_build_tools
def test_an_image_cache_others_can_write_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    done = run_script("xen-lab", "build", env={"NFV_XEN_LAB_CACHE": str(shared / "cache")})
    assert done.returncode == 2
    assert f"{shared} is writable by others (mode 777)" in done.stderr


FAKE_QEMU = """#!/bin/sh
# stands for QEMU: writes to the serial file it is given, then ends before dom0 finishes
for arg in "$@"; do
  case "$arg" in file:*) printf 'xen console line\\n' > "${arg#file:}" ;; esac
done
exit 1
"""


@needs_build_tools
def test_the_console_is_written_in_the_private_share_and_copied_out_through_no_link(
    tmp_path: Path,
) -> None:
    """QEMU runs as root: a console.log link planted in OUT must not be written through."""
    key = run_script("xen-lab", "key", env={}).stdout.strip()
    cache = tmp_path / "cache"
    (cache / key).mkdir(parents=True, mode=0o755)
    cache.chmod(0o755)
    (cache / key / "manifest").write_text("recipe (a stand-in entry)\n")
    fakes = tmp_path / "bin"
    fakes.mkdir()
    (fakes / "qemu-system-x86_64").write_text(FAKE_QEMU)
    (fakes / "qemu-system-x86_64").chmod(0o755)
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    (out / "console.log").symlink_to(victim)
    done = run_script(
        "xen-lab", "run", str(out), "--", "-q",
        env={"NFV_XEN_LAB_CACHE": str(cache), "NFV_XEN_LAB_SHARES": str(tmp_path),
             "NFV_PYTHON": sys.executable},
        first_on_path=fakes,
        timeout_s=600,  # the stand-in guest is built once if no run built it yet
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "QEMU ended before dom0 finished" in done.stderr
    assert victim.read_text() == "keep\n"
    assert not (out / "console.log").is_symlink()
    assert (out / "console.log").read_text() == "xen console line\n"
    assert list(tmp_path.glob("nfv-xen-lab.*")) == []  # the share went with the lab


@pytest.mark.parametrize(
    ("mode", "owner", "refusal"),
    [
        (0o666, 0, "is writable by others (mode 666)"),
        (0o644, 65534, "is not root's"),
    ],
)
def test_a_user_given_hypervisor_others_could_have_planted_is_refused(
    tmp_path: Path, mode: int, owner: int, refusal: str
) -> None:
    """Root boots the image: one a non-root user could have written is never started."""
    image = tmp_path / "xen.elf"
    image.write_bytes(b"not booted\n")
    image.chmod(mode)
    os.chown(image, owner, -1)
    out = tmp_path / "out"
    done = run_script(
        "xen-lab", "run", str(out), "--", "-q",
        env={"NFV_XEN_LAB_HYPERVISOR": str(image), "NFV_XEN_LAB_SHARES": str(tmp_path),
             "NFV_XEN_LAB_CACHE": str(tmp_path / "cache")},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"xen-lab: {image} {refusal}" in done.stderr
    assert not out.exists()  # refused before anything was built, booted or written


def test_a_relative_user_given_hypervisor_path_is_refused(tmp_path: Path) -> None:
    done = run_script(
        "xen-lab", "run", str(tmp_path / "out"), "--", "-q",
        env={"NFV_XEN_LAB_HYPERVISOR": "xen.elf", "NFV_XEN_LAB_SHARES": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 2
    assert "NFV_XEN_LAB_HYPERVISOR must be an absolute path, not xen.elf" in done.stderr
