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


def test_a_process_cgroup_is_found_in_its_proc_lines(tmp_path: Path) -> None:
    v1 = Hierarchy(tmp_path / "memory", 1)
    lines = "12:pids:/docker/abc\n4:memory:/docker/abc\n0::/\n"
    assert cgroups._memory_cgroup_in(lines, v1) == tmp_path / "memory" / "docker" / "abc"
    v2 = Hierarchy(tmp_path, 2)
    assert cgroups._memory_cgroup_in("0::/machine.slice/qemu-1.scope\n", v2) == (
        tmp_path / "machine.slice" / "qemu-1.scope"
    )


def test_a_process_outside_any_memory_cgroup_of_its_own_is_refused(tmp_path: Path) -> None:
    hierarchy = Hierarchy(tmp_path / "memory", 1)
    with pytest.raises(BackendError, match="no memory cgroup of its own"):
        cgroups.cgroup_of_process(os.getpid(), hierarchy)  # nothing under tmp_path


@pytest.mark.parametrize(
    ("version", "usage_file", "inactive_key"),
    [(1, "memory.usage_in_bytes", "total_inactive_file"), (2, "memory.current", "inactive_file")],
)
def test_the_working_set_leaves_out_inactive_page_cache(
    tmp_path: Path, version: int, usage_file: str, inactive_key: str
) -> None:
    (tmp_path / usage_file).write_text("10485760\n")
    (tmp_path / "memory.stat").write_text(f"cache 4096\n{inactive_key} 2097152\nrss 1\n")
    hierarchy = Hierarchy(tmp_path, version)
    assert cgroups.working_set_bytes(tmp_path, hierarchy) == 8 * 1024 * 1024
    (tmp_path / "memory.stat").write_text(f"{inactive_key} 99999999\n")  # never below zero
    assert cgroups.working_set_bytes(tmp_path, hierarchy) == 10485760
    (tmp_path / usage_file).unlink()
    with pytest.raises(BackendError, match="cannot read memory"):
        cgroups.working_set_bytes(tmp_path, hierarchy)


def test_a_child_cgroup_goes_with_its_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _v1(tmp_path, monkeypatch)
    run = MemoryCgroup.create(RunIdentity.new())
    child = run.child("population1")
    assert child.path == run.path / "population1"
    assert child.path.is_dir()
    assert child.hierarchy == run.hierarchy
    run.remove(timeout_s=0.1)  # a cgroup with children cannot go: the children go first
    assert not any(root.glob("nfv-*"))


def test_anonymous_pages_are_read_from_memory_stat(tmp_path: Path) -> None:
    (tmp_path / "memory.stat").write_text("rss 4096\ntotal_rss 8192\nanon 12288\n")
    assert MemoryCgroup(tmp_path, Hierarchy(tmp_path, 1)).anon_bytes() == 8192
    assert MemoryCgroup(tmp_path, Hierarchy(tmp_path, 2)).anon_bytes() == 12288
    (tmp_path / "memory.stat").write_text("cache 1\n")
    with pytest.raises(BackendError, match="no total_rss"):
        MemoryCgroup(tmp_path, Hierarchy(tmp_path, 1)).anon_bytes()


def test_a_process_anonymous_memory_is_its_pss_anon() -> None:
    assert cgroups.pss_anon_bytes([os.getpid()]) > 0
    assert cgroups.pss_anon_bytes([]) == 0
    with pytest.raises(BackendError, match="cannot read the memory of process"):
        cgroups.pss_anon_bytes([2**22 + 1])  # above pid_max: never a process
