"""``pytest-nfv cleanup --dry-run`` names the engines it could not look at.

An engine that does not answer reaps as empty; without this, "nothing to clean up" would be
said of Docker or libvirt on a host where nobody could list their containers or domains.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nfv.cli.main import main


def test_dry_run_names_each_engine_it_could_not_inspect(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docker = f"unix://{tmp_path}/no-docker.sock"
    libvirt = f"qemu:///system?socket={tmp_path}/no-libvirt-sock"
    assert main(["cleanup", "--dry-run", "--docker-url", docker, "--libvirt-uri", libvirt]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith(f"not inspected: docker at {docker}: ") for line in lines), lines
    for backend in ("osv", "clickos"):
        assert any(
            line.startswith(f"not inspected: libvirt at {libvirt} ({backend} domains): ")
            for line in lines
        ), lines
    assert "nothing to clean up" not in lines
    if not any(line.startswith(("would remove", "left")) for line in lines):
        assert lines[-1] == "nothing to clean up in what could be inspected"
