"""What a killed run left on disk goes by one rule: its names, its run, nothing else."""

from __future__ import annotations

from pathlib import Path

from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.reap import ReapRule, reap_named_files

DEAD = RunIdentity("dead01", 4242, 0.0)
OTHER = RunIdentity("other1", 4243, 0.0)


def _layout(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "log": tmp_path / f"{DEAD.name('proxy')}.log",
        "other_log": tmp_path / f"{OTHER.name('proxy')}.log",
        "stranger": tmp_path / "nfv-not-one-of-ours.log",
        "unrelated": tmp_path / "notes.log",
        "checkpoint": tmp_path / DEAD.name("ckpt"),
    }
    for key, path in paths.items():
        if key == "checkpoint":
            path.mkdir()
            (path / "pages.img").write_bytes(b"x")
        else:
            path.write_text("x")
    return paths


def test_only_the_taken_runs_named_files_go(tmp_path: Path) -> None:
    paths = _layout(tmp_path)
    report = reap_named_files(tmp_path, ".log", "file", ReapRule.own_run("dead01"), dry_run=False)
    assert report.removed == [f"file {paths['log']}"]
    assert not paths["log"].exists()
    for kept in ("other_log", "stranger", "unrelated", "checkpoint"):
        assert paths[kept].exists(), kept


def test_directories_go_whole_and_a_dry_run_removes_nothing(tmp_path: Path) -> None:
    paths = _layout(tmp_path)
    rule = ReapRule.own_run("dead01")
    dry = reap_named_files(tmp_path, "", "checkpoint", rule, dry_run=True)
    assert f"checkpoint {paths['checkpoint']}" in dry.removed
    assert paths["checkpoint"].is_dir()
    done = reap_named_files(tmp_path, "", "checkpoint", rule, dry_run=False)
    assert done.removed == dry.removed
    assert not paths["checkpoint"].exists()
    for kept in ("other_log", "stranger", "unrelated"):
        assert paths[kept].exists(), kept


def test_a_missing_directory_holds_nothing(tmp_path: Path) -> None:
    report = reap_named_files(tmp_path / "absent", ".save", "file", ReapRule(), dry_run=False)
    assert report.removed == []
