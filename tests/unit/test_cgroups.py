"""The run's memory cgroup: which hierarchy, how it is named, and which ones a reap takes.

The kernel's side (what it charges, v1 thread moves) is tested against the real thing in
``tests/integration/test_netns_backend.py``; here a directory tree stands for the hierarchy.
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from pytest_nfv.errors import BackendError
from pytest_nfv.host import cgroups, identity
from pytest_nfv.host.cgroups import Hierarchy, MemoryCgroup, memory_hierarchy, reap_cgroups
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.reap import ReapRule


@pytest.fixture(autouse=True)
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    runs = tmp_path / "runs"
    monkeypatch.setattr(identity, "REGISTRY_DIR", runs)
    return runs


def _v1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cgroup"
    (root / "memory").mkdir(parents=True)
    (root / "memory" / "memory.usage_in_bytes").write_text("0\n")
    monkeypatch.setattr(cgroups, "CGROUP_ROOT", root)
    return root / "memory"


def test_the_v1_memory_hierarchy_is_found_first(tmp_path: Path) -> None:
    (tmp_path / "memory").mkdir()
    (tmp_path / "memory" / "memory.usage_in_bytes").write_text("0\n")
    (tmp_path / "cgroup.subtree_control").write_text("cpu memory\n")
    found = memory_hierarchy(tmp_path)
    assert found == Hierarchy(tmp_path / "memory", 1)
    assert (found.usage_file, found.members_file) == ("memory.usage_in_bytes", "tasks")


def test_v2_needs_the_memory_controller_enabled(tmp_path: Path) -> None:
    assert memory_hierarchy(tmp_path) is None
    (tmp_path / "cgroup.subtree_control").write_text("cpu io\n")
    assert memory_hierarchy(tmp_path) is None
    (tmp_path / "cgroup.subtree_control").write_text("cpu io memory\n")
    found = memory_hierarchy(tmp_path)
    assert found == Hierarchy(tmp_path, 2)
    assert (found.usage_file, found.members_file) == ("memory.current", "cgroup.procs")


def test_the_cgroup_carries_the_run_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _v1(tmp_path, monkeypatch)
    run = RunIdentity.new()
    cgroup = MemoryCgroup.create(run)
    assert cgroup.path == root / run.name("mem")
    assert run.owns(cgroup.path.name)
    with pytest.raises(BackendError, match="cannot create memory cgroup"):
        MemoryCgroup.create(run)  # exists already: never adopt a cgroup
    cgroup.remove()
    assert not cgroup.path.exists()
    cgroup.remove()  # gone already: nothing to do


def test_no_memory_controller_is_a_backend_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cgroups, "CGROUP_ROOT", tmp_path)
    with pytest.raises(BackendError, match="no memory cgroup controller"):
        MemoryCgroup.create(RunIdentity.new())


def test_v2_usage_is_memory_current(tmp_path: Path) -> None:
    (tmp_path / "memory.current").write_text(f"{3 * 1024 * 1024}\n")
    cgroup = MemoryCgroup(tmp_path, Hierarchy(tmp_path.parent, 2))
    assert cgroup.usage_bytes() == 3 * 1024 * 1024
    assert cgroup.settled_mib() == 3.0
    (tmp_path / "memory.current").write_text("garbage")
    with pytest.raises(BackendError, match="cannot read memory of cgroup"):
        cgroup.usage_bytes()


def test_reap_takes_dead_runs_cgroups_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _v1(tmp_path, monkeypatch)
    dead_pid = max(psutil.pids()) + 10_000  # no such process
    dead = root / f"nfv-dead01-p{dead_pid}-mem"
    live = root / f"nfv-111e01-p{os.getpid()}-mem"
    foreign = root / "docker"
    for path in (dead, live, foreign):
        path.mkdir()
    dry = reap_cgroups(ReapRule(), dry_run=True)
    assert dry.removed == [f"cgroup {dead}"]
    assert dead.exists()
    report = reap_cgroups(ReapRule())
    assert report.removed == [f"cgroup {dead}"]
    assert report.left_live == [f"cgroup {live}"]
    assert not dead.exists()
    assert live.exists()
    assert foreign.exists()
