"""``pytest-nfv calibrate`` and ``pytest-nfv compare --calibration`` as a CI step meets them:
the file written, the thresholds the gate says it used, one-line errors, and one real run of
A/A sessions on the netns backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import synthetic_runs as sr

from pytest_nfv.analysis.calibration_file import load_calibration
from pytest_nfv.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SLOWER = {("instantiation", "boot_makespan"): 1.3}


def _save(path: Path, data: dict[str, Any]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


@pytest.fixture
def sessions(tmp_path: Path) -> list[str]:
    """Eight A/A sessions of the synthetic suite."""
    return [
        _save(tmp_path / "aa" / f"aa-{i}.json", sr.make_run(100 + i, count=30)) for i in range(8)
    ]


def test_calibrate_from_saved_sessions_writes_the_file(sessions: list[str], tmp_path: Path) -> None:
    out = tmp_path / ".benchmarks" / "nfv-calibration.json"  # the default: under the storage
    done = subprocess.run(
        [
            sys.executable, "-m", "pytest_nfv.cli", "calibrate", "--from", *sessions,
            "--arguments", "suites/ --backend=netns",
        ],
        cwd=tmp_path, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("calibration of Synthetic CPU 3.6 GHz, 8 cores, 31.2 GiB")
    assert "from 8 A/A sessions; thresholds keep 99.9% of same-code pairs" in lines[0]
    assert any(
        line.startswith("  netns instantiation/boot_makespan: sd ") and "flags beyond x" in line
        for line in lines
    )
    assert lines[-1] == "wrote .benchmarks/nfv-calibration.json (1 calibration(s) in it)"
    (entry,) = load_calibration(out).entries
    assert entry.arguments == "suites/ --backend=netns"
    assert entry.sessions == 8


def test_compare_uses_the_calibration_under_the_storage_unless_told_not_to(
    sessions: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = tmp_path / "storage"
    assert main(["calibrate", "--from", *sessions, "--storage", str(storage)]) == 0
    capsys.readouterr()
    base = _save(tmp_path / "base.json", sr.make_run(1, count=30))
    cur = _save(tmp_path / "cur.json", sr.make_run(2, factor=SLOWER, count=30))
    # +30%: under the shipped 65% floor, beyond this runner's calibrated threshold
    assert main(["compare", base, cur, "--storage", str(storage)]) == 1
    out = capsys.readouterr().out
    assert f"thresholds: calibrated on this runner ({storage}/nfv-calibration.json, 8 A/A" in out
    assert "REGRESSION" in out
    assert out.splitlines()[-2].startswith("could have missed: effects up to +")
    assert main(["compare", base, cur, "--storage", str(storage), "--no-calibration"]) == 0
    out = capsys.readouterr().out
    assert "shipped coarse floors: no calibration given" in out
    assert "could have missed: unknown for 36 record(s): no run-to-run spread" in out
    assert main(["compare", base, cur, "--storage", str(tmp_path / "empty")]) == 0
    assert (
        f"shipped coarse floors: no calibration file at {tmp_path}/empty/nfv-calibration.json"
        in capsys.readouterr().out
    )


def test_a_named_calibration_must_exist_and_be_sound(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _save(tmp_path / "base.json", sr.make_run(1, count=30))
    assert main(["compare", base, base, "--calibration", str(tmp_path / "gone.json")]) == 2
    assert "gone.json: no such calibration file" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "pytest-nfv-calibration", "version": 7}', encoding="utf-8")
    assert main(["compare", base, base, "--calibration", str(bad)]) == 2
    assert "calibration format version 7; this pytest-nfv reads version 1" in (
        capsys.readouterr().err
    )


def test_calibrate_refuses_contradictions_and_a_symlinked_file(
    sessions: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["calibrate", "--from", *sessions, "--", "suites/"]) == 2
    assert "--from calibrates from saved sessions" in capsys.readouterr().err
    assert main(["calibrate"]) == 2
    assert "name the pytest arguments of the sessions after --" in capsys.readouterr().err
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "target.json")
    assert main(["calibrate", "--from", *sessions, "--out", str(link)]) == 2
    assert "link.json: a symlink or not a regular file" in capsys.readouterr().err
    assert not (tmp_path / "target.json").exists()
    with pytest.raises(SystemExit):
        main(["calibrate", "--sessions", "2", "--", "suites/"])
    assert "at least 3 sessions, not 2" in capsys.readouterr().err


def test_calibrate_runs_real_a_a_sessions_on_netns(tmp_path: Path) -> None:
    """Three real sessions of the monitoring suite, back to back, one packet size."""
    if os.geteuid() != 0:
        pytest.skip("the netns backend needs root")
    out = tmp_path / "cal.json"
    done = subprocess.run(
        [
            sys.executable, "-m", "pytest_nfv.cli", "calibrate", "--sessions", "3",
            "--out", str(out), "--runs-dir", str(tmp_path / "runs"), "--",
            "suites/test_monitoring.py", "--backend=netns", "--nfv-packet-sizes", "64",
            "--deselect=suites/test_monitoring.py::test_throughput",
        ],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "session 3/3: " in done.stdout
    (entry,) = load_calibration(out).entries
    assert entry.sessions == 3
    assert entry.arguments == (
        "suites/test_monitoring.py --backend=netns --nfv-packet-sizes 64"
        " --deselect=suites/test_monitoring.py::test_throughput"
    )
    assert ("netns", "monitoring", "response_time") in entry.families
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "aa-01.json",
        "aa-02.json",
        "aa-03.json",
    ]
