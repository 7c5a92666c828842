"""``index.html`` of ``pytest-nfv report`` as a reader sees it: opened in headless Chromium.

The page is loaded from disk with the network of the browser left unused (every link is a
file beside the page), and the DOM after the load event is read back: the inline check marks
how many images really decoded, so a figure that is missing or broken cannot pass as shown.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import synthetic_runs as sr

from pytest_nfv.cli.main import main

CHROMIUM = next(
    (path for name in ("chromium", "chromium-browser") if (path := shutil.which(name))), None
)
FIGURES = 5
WIDTH = 1280


def _dom(page: Path, tmp_path: Path) -> str:
    """The page's DOM after its load event, as headless Chromium renders it."""
    if CHROMIUM is None:
        pytest.skip("needs Chromium (Debian: apt-get install chromium)")
    command = [CHROMIUM, "--headless", "--disable-gpu", "--dump-dom", f"--window-size={WIDTH},900"]
    command += ["--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"]
    if os.geteuid() == 0:
        command.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    command.append(page.as_uri())
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture
def report(tmp_path: Path) -> Path:
    run = sr.make_run(1, count=5)
    budgets = {"kept": 10.0, "blown": 1e-9}
    verdicts = iter(["kept", "blown", "inconclusive"])
    for bench in run["benchmarks"][:3]:  # one of each judged verdict, the rest not judged
        word = next(verdicts)
        info = bench["extra_info"]
        limit = budgets.get(word, 10.0)
        info["budget"] = {"limit": limit, "unit": info["unit"], "statistic": "mean"}
        info["verdict"] = word
    path = tmp_path / "run.json"
    path.write_text(json.dumps(run), encoding="utf-8")
    out = tmp_path / "report"
    assert main(["report", str(path), "--out", str(out)]) == 0
    return out


def test_page_shows_every_figure_the_scorecard_and_the_verdicts(
    report: Path, tmp_path: Path
) -> None:
    dom = _dom(report / "index.html", tmp_path)
    assert f'data-images="{FIGURES}/{FIGURES}"' in dom
    assert "missing" not in re.findall(r'<img[^>]*class="([^"]*)"', dom)
    assert '<table class="scorecard">' in dom
    assert '<table class="verdicts">' in dom
    for word in ("kept", "blown", "inconclusive", "not-judged"):
        assert f'<td class="{word}">' in dom
    assert "1 kept, 1 blown, 1 inconclusive," in dom
    width = re.search(r'data-width="(\d+)"', dom)
    assert width is not None
    assert int(width.group(1)) <= WIDTH  # nothing runs off a 1280 px wide window


def test_page_marks_a_figure_that_did_not_load(report: Path, tmp_path: Path) -> None:
    (report / "memory.png").unlink()
    dom = _dom(report / "index.html", tmp_path)
    assert f'data-images="{FIGURES - 1}/{FIGURES}"' in dom
    assert re.search(r'<img[^>]*src="memory.png"[^>]*class="missing"', dom) or re.search(
        r'<img[^>]*class="missing"[^>]*src="memory.png"', dom
    )
