"""The coreos backend's checkpoint probe: what it asks, and the reason it gives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_nfv.backends.coreos import checkpoint


def test_both_reasons_are_given_criu_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkpoint, "criu_block", lambda: "`criu check` (CRIU 3.17.1) failed: x")
    reason = checkpoint.checkpoint_block({"Version": "20.10.24"})
    assert reason is not None
    criu, daemon = reason.split("; ")
    assert criu == "container checkpoint needs a working CRIU: `criu check` (CRIU 3.17.1) failed: x"
    assert "experimental mode" in daemon


def test_nothing_lacking_is_no_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkpoint, "criu_block", lambda: None)
    assert checkpoint.checkpoint_block({"Experimental": True}) is None


def test_a_file_others_may_write_is_not_trusted(tmp_path: Path) -> None:
    planted = tmp_path / "criu"
    planted.write_text("#!/bin/sh\n")
    planted.chmod(0o777)
    assert not checkpoint._root_only(planted)
    if os.geteuid() == 0 and Path("/usr/bin/env").exists():
        assert checkpoint._root_only(Path("/usr/bin/env").resolve())
