"""``scripts/bootstrap`` up to its first real step: who may run it, and which virtualenv.

The README's two commands are ``scripts/bootstrap suites`` and ``scripts/bootstrap tests``:
as root they run directly; as another user they run again through sudo; root never runs a
virtualenv someone else could have changed. Each case stops before anything is installed.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

BOOTSTRAP = Path(__file__).resolve().parents[2] / "scripts" / "bootstrap"
NOBODY = 65534

CHECK_TOOLS = ("id", "dirname", "stat", "find", "readlink")

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown, another uid)")


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory another uid can enter (pytest's own tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="nfv-bootstrap-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)


def _tools(where: Path, *names: str) -> Path:
    """A PATH of only the tools named: the script must not find what is not there."""
    bin_dir = where / "bin"
    bin_dir.mkdir()
    for name in names:
        found = shutil.which(name)
        assert found, name
        (bin_dir / name).symlink_to(found)
    return bin_dir


def _bootstrap(
    path: Path, *args: str, uid: int | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [shutil.which("bash") or "bash", str(BOOTSTRAP), *args]
    if uid is not None:
        command = [
            shutil.which("setpriv") or "setpriv",
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            *command,
        ]
    return subprocess.run(
        command,
        env={"PATH": str(path), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@needs_root
@pytest.mark.parametrize("job", ["suites", "tests"])
def test_root_refuses_a_venv_another_user_owns(shared_dir: Path, job: str) -> None:
    venv = shared_dir / "venv"
    (venv / "bin").mkdir(parents=True)
    os.chown(venv, NOBODY, NOBODY)
    done = _bootstrap(
        _tools(shared_dir, "id", "dirname", "stat", "find"), job, env={"NFV_VENV": str(venv)}
    )
    assert done.returncode == 2
    assert f"{venv} is not root's alone" in done.stderr
    assert "Remove it" in done.stderr


@needs_root
@pytest.mark.parametrize("mode", [0o666, 0o664], ids=["anyone", "group"])
def test_root_refuses_a_venv_with_a_file_others_may_write(shared_dir: Path, mode: int) -> None:
    venv = shared_dir / "venv"
    (venv / "bin").mkdir(parents=True)
    planted = venv / "bin" / "activate"
    planted.write_text("", encoding="utf-8")
    planted.chmod(mode)
    done = _bootstrap(_tools(shared_dir, *CHECK_TOOLS), "suites", env={"NFV_VENV": str(venv)})
    assert done.returncode == 2
    assert "not root's alone" in done.stderr


@needs_root
def test_a_sudoer_is_taken_through_sudo(shared_dir: Path) -> None:
    bin_dir = _tools(shared_dir, "id", "dirname")
    fake_sudo = bin_dir / "sudo"
    fake_sudo.write_text('#!/bin/sh\necho "sudo $*"\nexit 7\n', encoding="utf-8")
    fake_sudo.chmod(fake_sudo.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    done = _bootstrap(bin_dir, "suites", "--nfv-instances", "1", uid=NOBODY)
    assert done.returncode == 7
    assert done.stdout.strip() == (
        f"sudo --preserve-env=NFV_VENV,PYTHON -- {BOOTSTRAP} suites --nfv-instances 1"
    )
    assert "running again through sudo" in done.stderr


@needs_root
def test_a_user_without_sudo_is_told_to_be_root(shared_dir: Path) -> None:
    done = _bootstrap(_tools(shared_dir, "id", "dirname"), "tests", uid=NOBODY)
    assert done.returncode == 2
    assert "run as root" in done.stderr
    assert "sudo is not installed" in done.stderr


@needs_root
def test_root_refuses_a_venv_another_user_could_swap(shared_dir: Path) -> None:
    """A root-owned venv in a directory anyone may write: it can be renamed away and replaced
    between the check and the run."""
    open_dir = shared_dir / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    venv = open_dir / "venv"
    (venv / "bin").mkdir(parents=True)
    done = _bootstrap(_tools(shared_dir, *CHECK_TOOLS), "suites", env={"NFV_VENV": str(venv)})
    assert done.returncode == 2
    assert f"{open_dir} is writable by group or others (mode 777)" in done.stderr


@needs_root
def test_root_refuses_a_python_another_user_owns(shared_dir: Path) -> None:
    """``PYTHON`` is kept through sudo: it must not name a program another user can change."""
    theirs = shared_dir / "their-python"
    shutil.copy(shutil.which("true") or "/bin/true", theirs)
    os.chown(theirs, NOBODY, NOBODY)
    done = _bootstrap(
        _tools(shared_dir, *CHECK_TOOLS),
        "suites",
        env={"NFV_VENV": str(shared_dir / "venv"), "PYTHON": str(theirs)},
    )
    assert done.returncode == 2
    assert f"{theirs} (PYTHON) is not root's alone" in done.stderr
