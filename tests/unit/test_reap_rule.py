"""The one reap rule: every engine of a cleanup is judged from one reading of the registry."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psutil
import pytest

from pytest_nfv.host import identity
from pytest_nfv.host.identity import RunIdentity, owner_alive
from pytest_nfv.host.reap import CleanupReport, ReapRule


@pytest.fixture(autouse=True)
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(identity, "REGISTRY_DIR", tmp_path)
    return tmp_path


def _recycled(registry: Path, run_id: str) -> int:
    """A dead run whose owner pid now belongs to a live process (ours)."""
    me = psutil.Process()
    entry = {"owner_pid": me.pid, "owner_started": me.create_time() - 1000}
    (registry / f"{run_id}.json").write_text(json.dumps(entry))
    return me.pid


def test_a_recycled_pid_stays_dead_for_every_engine_of_one_sweep(registry: Path) -> None:
    pid = _recycled(registry, "abc123")
    rule = ReapRule()
    first = CleanupReport()
    assert rule.takes("abc123", pid, "netns nfv-abc123", first)
    # Whatever happens to the registry file while the sweep goes on (an earlier engine's
    # reap, another cleanup), the later engines judge from the same reading.
    (registry / "abc123.json").unlink()
    assert owner_alive("abc123", pid)  # the pid alone would read as a live owner
    later = CleanupReport()
    assert rule.takes("abc123", pid, "container nfv-abc123-p1-i0", later)
    assert later.left_live == []


def test_registry_files_are_forgotten_once_and_only_for_dead_runs(registry: Path) -> None:
    live = RunIdentity.new()
    live.register("netns")
    _recycled(registry, "dead01")
    (registry / "dead02.json").write_text(json.dumps({"owner_pid": 2**22 + 1, "owner_started": 1}))
    rule = ReapRule()
    assert rule.forget_dead() == ["dead01", "dead02"]
    assert sorted(p.stem for p in registry.glob("*.json")) == [live.run_id]


def test_live_owners_are_left_and_listed_unless_forced(registry: Path) -> None:
    live = RunIdentity.new()
    live.register("netns")
    report = CleanupReport()
    assert not ReapRule().takes(live.run_id, live.owner_pid, "netns x", report)
    assert report.left_live == ["netns x"]
    assert ReapRule(include_live=True).takes(live.run_id, live.owner_pid, "netns x", report)
    assert ReapRule(include_live=True).forget_dead() == []


def test_own_run_takes_that_run_only_and_forgets_nothing(registry: Path) -> None:
    pid = _recycled(registry, "dead01")
    rule = ReapRule.own_run("abcdef")
    report = CleanupReport()
    assert rule.takes("abcdef", os.getpid(), "x", report)
    assert not rule.takes("dead01", pid, "y", report)
    assert report.left_live == []
    assert rule.forget_dead() == []
    assert (registry / "dead01.json").exists()


@pytest.mark.parametrize("name", ["docker0", "nfv-zzzzzz-p1-i0", "virbr0"])
def test_names_that_are_not_ours_are_never_taken(name: str) -> None:
    assert not ReapRule(include_live=True).takes_name(name, name, CleanupReport())


def test_a_reap_of_some_engines_forgets_only_their_runs(registry: Path) -> None:
    for run_id, backend in (("dead01", "netns"), ("dead02", "osv"), ("dead03", "")):
        entry = {"owner_pid": 2**22 + 1, "owner_started": 1, "backend": backend}
        (registry / f"{run_id}.json").write_text(json.dumps(entry))
    assert ReapRule().forget_dead(("netns",)) == ["dead01"]
    # the osv run's domains were not looked at: its file stays the evidence for that reap
    assert sorted(p.stem for p in registry.glob("*.json")) == ["dead02", "dead03"]
