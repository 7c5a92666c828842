"""``pytest-nfv compare`` and ``pytest-nfv report`` as a CI step meets them: exit statuses,
one-line errors naming the file, and the files a report writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import synthetic_runs as sr

from pytest_nfv.cli.main import main

FLAT = {("instantiation", "boot_makespan"): 1.0}
SLOWER = {("instantiation", "boot_makespan"): 1.8}  # beyond the one-baseline floor of 65%


def _save(path: Path, data: dict[str, Any]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


@pytest.fixture
def base(tmp_path: Path) -> str:
    return _save(tmp_path / "base.json", sr.make_run(1, count=30))


def test_no_regression_exits_0(
    base: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current = _save(tmp_path / "cur.json", sr.make_run(2, factor=FLAT, count=30))
    assert main(["compare", base, current]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith(
        "PASS: 0 regression(s), 36 compared, 1 not gated (pooled or repeated reads)"
    )


def test_regression_exits_1_with_the_table(
    base: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current = _save(tmp_path / "cur.json", sr.make_run(2, factor=SLOWER, count=30))
    markdown = tmp_path / "summary.md"
    assert main(["compare", base, current, "--markdown", str(markdown)]) == 1
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("REGRESSION")]
    assert len(rows) == 4
    assert all("instantiation/boot_makespan N=" in row for row in rows)
    assert out.splitlines()[-1].startswith("FAIL: 4 regression(s)")
    assert "| REGRESSION | instantiation/boot_makespan" in markdown.read_text(encoding="utf-8")


def test_floor_flag_can_absorb_a_known_change(
    base: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current = _save(tmp_path / "cur.json", sr.make_run(2, factor=SLOWER, count=30))
    assert main(["compare", base, current, "--floor", "boot_makespan=100%"]) == 0
    assert "ok (< floor)" in capsys.readouterr().out


def test_two_sided_fails_on_an_improvement(
    base: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    faster = {("instantiation", "boot_makespan"): 0.3}
    current = _save(tmp_path / "cur.json", sr.make_run(2, factor=faster, count=30))
    assert main(["compare", base, current]) == 0
    assert main(["compare", base, current, "--two-sided"]) == 1
    assert "improved" in capsys.readouterr().out


def test_hosts_refused_by_default_and_marked_on_request(
    base: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = sr.make_run(2, factor=FLAT, count=30)
    data["machine_info"]["nfv"]["host"] = {**sr.HOST, "kernel": "6.9.0-other"}
    current = _save(tmp_path / "cur.json", data)
    assert main(["compare", base, current]) == 2
    err = capsys.readouterr().err
    assert "different hosts or methods (kernel: 6.9.0-other vs 6.1.0-test)" in err
    assert main(["compare", base, current, "--hosts", "mark"]) == 0
    assert "DIFFERENT HOSTS" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        pytest.param(None, "no such file", id="missing"),
        pytest.param("", "empty file", id="empty"),
        pytest.param('{"benchmarks": [{"name"', "not valid JSON", id="truncated"),
    ],
)
def test_bad_history_is_exit_2_naming_the_file_without_traceback(
    base: str, tmp_path: Path, content: str | None, problem: str
) -> None:
    current = tmp_path / "cur.json"
    if content is not None:
        current.write_text(content, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest_nfv.cli.main", "compare", base, str(current)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"pytest-nfv compare: error: {current}: {problem}")
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_storage_names_and_require_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    machine = tmp_path / ".benchmarks" / "Linux-CPython-3.11-64bit"
    _save(machine / "0001_base.json", sr.make_run(1, count=30))
    fewer = sr.make_run(2, count=30)
    fewer["benchmarks"] = fewer["benchmarks"][1:]
    _save(machine / "0002_now.json", fewer)
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "0001", "0002"]) == 0
    assert "1 only in baseline" in capsys.readouterr().out
    assert main(["compare", "0001", "0002", "--require-all"]) == 1
    assert main(["compare", "0001", "0003"]) == 2
    assert "0003: no such file or saved run" in capsys.readouterr().err


def test_report_writes_the_scorecard_and_figures(
    base: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    later = _save(tmp_path / "later.json", sr.make_run(2, count=30))
    out = tmp_path / "report"
    assert main(["report", base, later, "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "boot_time.png",
        "index.html",
        "memory.png",
        "memory_parts.png",
        "response_time.png",
        "scorecard.md",
        "trend_instantiation_boot_makespan.png",
    ]
    written = capsys.readouterr().out
    assert f"wrote {out / 'scorecard.md'}" in written
    assert f"wrote {out / 'index.html'}" in written
    assert main(["report", base, "--out", str(out), "--trend", "nonsense"]) == 2
    assert "--trend 'nonsense'" in capsys.readouterr().err


@pytest.mark.usefixtures("no_matplotlib")
def test_report_without_matplotlib_writes_the_scorecard_and_says_what_to_install(
    base: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    assert main(["report", base, "--out", str(out)]) == 2
    assert "pip install 'pytest-nfv[report]'" in capsys.readouterr().err
    assert (out / "scorecard.md").is_file()
    assert main(["report", base, "--out", str(out), "--no-figures"]) == 0
    assert "No figures" in (out / "index.html").read_text(encoding="utf-8")


def test_history_flag_takes_earlier_runs(
    base: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current = _save(tmp_path / "cur.json", sr.make_run(2, count=30))
    earlier = _save(tmp_path / "earlier.json", sr.make_run(3, count=30))
    assert main(["compare", base, current, "--history", earlier]) == 0
    assert "the medians of the baseline and 1 earlier run(s)" in capsys.readouterr().out
    assert main(["compare", base, current, "--history", str(tmp_path / "gone.json")]) == 2
    assert "gone.json: no such file" in capsys.readouterr().err


@pytest.mark.parametrize("module", ["pytest_nfv.cli", "pytest_nfv.cli.main"])
def test_the_command_runs_as_a_module(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", module, "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert done.stdout.startswith("usage: pytest-nfv")
    for command in ("cleanup", "suites", "run", "compare", "report"):
        assert command in done.stdout
