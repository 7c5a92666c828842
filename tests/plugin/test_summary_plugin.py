"""What the terminal shows at the end of a run and while it runs, and the exit status.

Each run is a real ``pytest`` in a subprocess (``runpytest_subprocess``), since the summary,
the progress lines and the warning filters belong to a whole session.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_nfv.record import NotMeasured, read_run_facts

FIGURES_TEST = """
import time

import pytest

from pytest_nfv import Series, summarize

pytestmark = pytest.mark.nfv_requirement("instantiation")


def test_memory(nfv_record) -> None:
    nfv_record.record(
        Series("memory", summarize([30.0, 32.0, 34.0], converged=True), primary=True),
        Series("memory_pss", summarize([1.0, 2.0, 3.0])),
        n=32,
    )


def test_boot_time(nfv_record) -> None:
    nfv_record.record(
        Series("boot_makespan", summarize([0.0012, 0.0013, 0.0011], converged=True),
               primary=True),
        n=32,
    )
"""

BUDGETS = """
[instantiation.memory]
unit = "MiB"
base = 8
source = "tight on purpose"

[instantiation.boot_makespan]
unit = "ms"
base = 50
source = "generous"
"""

SLOW_TEST = """
import time


def test_slow(nfv_repeat) -> None:
    nfv_repeat(lambda: (time.sleep(0.25), 1.0 + time.monotonic() % 1e-3)[1])
"""

SLOW_ARGS = ("--nfv-ci-width", "0.000001", "--nfv-max-rounds", "48", "-p", "no:cacheprovider")

LAB_TESTS = """
def test_a(nfv_lab) -> None:
    pass


def test_b(nfv_lab) -> None:
    pass
"""


def _figures_run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_figures=FIGURES_TEST)
    budgets = pytester.path / "budgets.toml"
    budgets.write_text(BUDGETS, encoding="utf-8")
    return pytester.runpytest_subprocess(
        "--nfv-budgets", str(budgets), "-p", "no:cacheprovider", *args
    )


def test_summary_shows_each_figure_in_its_unit_with_budget_and_verdict(
    pytester: pytest.Pytester,
) -> None:
    result = _figures_run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the memory budget is blown
    result.stdout.re_match_lines(
        [
            r"=+ nfv: figures and budget verdicts =+",
            r"instantiation:",
            r"  memory +N=32 +mean 32 MiB ± 4\.97 MiB +3 rounds, converged +budget 8 MiB +blown",
            r"      blown: instantiation/memory on netns, N=32: mean 32 MiB .*tight on purpose\]",
            r"  memory_pss +N=32 +mean 2 MiB ± 2\.48 MiB +3 rounds, not converged +no budget"
            r" +not judged",
            r"  boot_makespan +N=32 +mean 1\.2 ms ± 0\.248 ms +3 rounds, converged"
            r" +budget 50 ms +kept",
            r"verdicts: 1 kept, 1 blown, 0 inconclusive, 1 not judged",
        ]
    )


def test_benchmark_table_shows_no_memory_as_time_and_compare_reads_the_json(
    pytester: pytest.Pytester,
) -> None:
    out = pytester.path / "run.json"
    result = _figures_run(pytester, f"--benchmark-json={out}")
    table = [line.split()[0] for line in result.stdout.lines if line.startswith("test_")]
    assert "test_boot_time" in table
    assert "test_memory" not in table
    assert "benchmark 'instantiation/boot_makespan [s]'" in result.stdout.str()
    assert "instantiation/memory [MiB]" not in result.stdout.str()
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert sorted(b["name"] for b in saved["benchmarks"]) == ["test_boot_time", "test_memory"]
    memory = next(b for b in saved["benchmarks"] if b["name"] == "test_memory")
    assert memory["extra_info"]["verdict"] == "blown"
    assert memory["extra_info"]["secondary"]["memory_pss"]["verdict"] == "not judged"
    compare = shutil.which("pytest-benchmark", path=str(Path(sys.executable).parent))
    assert compare is not None
    done = subprocess.run(
        [compare, "compare", str(out)], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "test_boot_time" in done.stdout
    assert "test_memory" in done.stdout


def test_a_long_test_shows_its_rounds_one_line_every_5_s_at_most(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_slow=SLOW_TEST)
    result = pytester.runpytest_subprocess(*SLOW_ARGS)
    assert result.ret == pytest.ExitCode.OK
    progress = [line for line in result.stdout.lines if line.startswith("nfv: test_slow: ")]
    assert progress, result.stdout.str()
    assert all(
        line.split(": ", 2)[2].startswith("round ") and " of at most 48 (" in line
        for line in progress
    )
    rounds = [int(line.split("round ")[1].split()[0]) for line in progress]
    assert rounds == sorted(set(rounds))
    elapsed = [int(line.rsplit("(", 1)[1].split()[0]) for line in progress]
    assert elapsed[0] >= 5  # quiet for the first 5 s
    # 0.25 s rounds, 4 a second, 12 s in all: at most one line every 5 s
    assert len(progress) <= (elapsed[-1] - elapsed[0]) // 4 + 1
    quiet = pytester.runpytest_subprocess("-q", *SLOW_ARGS)
    assert not [line for line in quiet.stdout.lines if line.startswith("nfv: ")]


@pytest.fixture
def strict_warnings(pytester: pytest.Pytester) -> None:
    """The project's own setting, which a clone's ``suites/`` run inherits."""
    pytester.makeini("[pytest]\nfilterwarnings =\n    error\n")
    pytester.makepyfile(test_lab=LAB_TESTS)


@pytest.mark.usefixtures("strict_warnings")
@pytest.mark.parametrize("json_out", [False, True], ids=["no-json", "benchmark-json"])
def test_an_all_skipped_run_says_why_and_passes(pytester: pytest.Pytester, json_out: bool) -> None:
    out = pytester.path / "run.json"
    args = [f"--benchmark-json={out}"] if json_out else []
    result = pytester.runpytest_subprocess("--backend", "clickos", "-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.OK
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(
        [
            "*nfv: figures and budget verdicts: none recorded*",
            "skipped (2): clickos backend needs a Xen dom0*",
            *(["no figure was recorded, so no benchmark record was saved"] if json_out else []),
            "*2 skipped*",
        ]
    )
    assert not out.exists()


@pytest.mark.usefixtures("strict_warnings")
@pytest.mark.parametrize("json_out", [False, True], ids=["no-json", "benchmark-json"])
def test_a_failed_run_shows_its_reasons_and_fails(
    pytester: pytest.Pytester, json_out: bool
) -> None:
    args = [f"--benchmark-json={pytester.path / 'run.json'}"] if json_out else []
    result = pytester.runpytest_subprocess(
        "--backend", "clickos", "--nfv-strict", "-p", "no:cacheprovider", *args
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(
        [
            "*nfv: figures and budget verdicts: none recorded*",
            "2 test(s) failed or errored before recording a figure:",
            "failed (2): --nfv-strict: clickos backend needs a Xen dom0 with a ClickOS image.*"
            " --nfv-image: MISSING, not given (a ClickOS kernel image is required)",
            "*short test summary info*",
            "ERROR test_lab.py::test_a - Failed: --nfv-strict: clickos backend needs*",
            "*2 errors*",
        ]
    )


NOT_MEASURED_TEST = """
import pytest

from pytest_nfv import Series, summarize

pytestmark = pytest.mark.nfv_requirement("deployment")


def test_moved(nfv_record) -> None:
    nfv_record.not_measured(
        ("migration_seen_downtime", "migration_time"), "not applicable: no machine to move"
    )


def test_deployed(nfv_record) -> None:
    nfv_record.record(
        Series("boot_time", summarize([0.05, 0.06, 0.055], converged=True), primary=True)
    )
"""


def test_a_figure_not_measured_is_listed_with_its_reason(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_moves=NOT_MEASURED_TEST)
    saved = pytester.path / "run.json"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--benchmark-json={saved}")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*nfv: figures and budget verdicts*",
            "deployment:",
            "*boot_time*",
            "verdicts: *",
            "not measured: deployment/migration_seen_downtime, migration_time: "
            "not applicable: no machine to move",
        ]
    )
    # The saved run keeps it too: pytest-benchmark saves no entry for a test that timed nothing.
    facts = read_run_facts(json.loads(saved.read_text())["machine_info"], str(saved))
    assert facts.not_measured == (
        NotMeasured(
            "deployment",
            ("migration_seen_downtime", "migration_time"),
            "not applicable: no machine to move",
        ),
    )
