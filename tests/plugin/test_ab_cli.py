"""``pytest-nfv ab`` as a CI step meets it: exit statuses, what it writes, one-line errors."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
import synthetic_runs as sr

from pytest_nfv.cli.main import main

SIZES = (64, 1400)


def _session(
    rng: random.Random, factor: float = 1.0, variant: float | None = None
) -> dict[str, Any]:
    state = rng.lognormvariate(0, 0.05)
    benches = []
    for size in SIZES:
        spec = ("monitoring", "response_time", "s", None, size, 100e-6, "noisy")
        values = [100e-6 * state * factor * rng.lognormvariate(0, 0.2) for _ in range(100)]
        bench = sr.benchmark(spec, values)
        if variant is not None:
            vvalues = [100e-6 * state * variant * rng.lognormvariate(0, 0.2) for _ in range(100)]
            bench["extra_info"]["secondary"] = {
                "variant_response_time": {"samples": vvalues, "unit": "s"}
            }
        benches.append(bench)
    return sr.run_json(benches)


def _save_sessions(out: Path, b_factor: float, n: int = 6) -> None:
    rng = random.Random(3)
    out.mkdir(mode=0o700)
    for i in range(1, n + 1):
        (out / f"a-{i:02d}.json").write_text(json.dumps(_session(rng)))
        (out / f"b-{i:02d}.json").write_text(json.dumps(_session(rng, b_factor)))


def test_judge_only_passes_same_code_and_writes_its_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ab"
    _save_sessions(out, 1.0)
    assert main(["ab", "--judge-only", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "6 sessions of A and 6 of B" in text
    assert text.splitlines()[-1].startswith("PASS: 0 of 1 families regressed")
    data = json.loads((out / "ab.json").read_text())
    assert data["failed"] is False
    assert data["families"][0]["figures"][0]["detectable_relative"] > 0
    assert (out / "ab.txt").read_text().strip() == text.strip()


def test_judge_only_fails_a_slower_b_with_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ab"
    _save_sessions(out, 1.3)
    markdown = tmp_path / "ab.md"
    assert main(["ab", "--judge-only", "--out", str(out), "--markdown", str(markdown)]) == 1
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("FAIL: 1 of 1 families regressed (monitoring/response_time (netns))")
    assert "| REGRESSION |" in markdown.read_text()


def test_paired_sessions_are_judged_paired(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ab"
    out.mkdir(mode=0o700)
    rng = random.Random(5)
    for i in range(1, 5):
        (out / f"p-{i:02d}.json").write_text(json.dumps(_session(rng, variant=1.2)))
    assert main(["ab", "--judge-only", "--out", str(out)]) == 1
    assert "paired t over the sessions" in capsys.readouterr().out


def test_an_out_dir_with_files_is_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ab"
    out.mkdir(mode=0o700)
    (out / "a-01.json").write_text("{}")
    assert main(["ab", "--out", str(out), "--", "suites/test_monitoring.py"]) == 2
    assert "already holds files" in capsys.readouterr().err


def test_an_out_dir_others_may_write_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ab"
    _save_sessions(out, 1.0)
    os.chmod(out, 0o777)
    assert main(["ab", "--judge-only", "--out", str(out)]) == 2
    assert "writable by others" in capsys.readouterr().err
    link = tmp_path / "link"
    link.symlink_to(out)
    os.chmod(out, 0o700)
    assert main(["ab", "--judge-only", "--out", str(link)]) == 2
    assert "symlink" in capsys.readouterr().err


def test_judge_only_needs_out(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ab", "--judge-only"]) == 2
    assert "--judge-only needs --out" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--floor", "abc"], "is not a share"),
        (["--alpha", "1.5"], "is not in (0, 1)"),
        (["--sessions", "2"], "at least 3 sessions"),
        (["--timeout", "0"], "a session timeout '0' is not in"),
        (["--timeout", "inf"], "is not in [1, 86400]"),
    ],
)
def test_bad_values_are_usage_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["ab", *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_a_session_that_saves_nothing_ends_the_comparison(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ab"
    code = main(["ab", "--sessions", "3", "--out", str(out), "--", str(tmp_path / "missing.py")])
    assert code == 2
    err = capsys.readouterr().err
    assert "session A1 saved no results" in err
    assert "missing.py" in err
    assert not list(out.glob("b-*.json"))


def test_a_bad_variant_env_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["ab", "--out", str(tmp_path / "ab"), "--b-env", "NOEQUALS", "--", "x.py"])
    assert code == 2
    assert "expected NAME=VALUE" in capsys.readouterr().err
