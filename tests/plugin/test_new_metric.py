"""Adding a metric is one catalogue entry and the code that measures it, nothing in analysis/.

The run under test gets a catalogue with one more entry (``deployment/failover_downtime``,
as a branch adding failover would write it in ``pytest_nfv.model.METRICS``) from its
conftest, and a test that measures and records it. The terminal summary judges it against its
budget; the saved JSON is then read back *in this process*, whose catalogue has never heard of
the metric, and the regression gate, the report's figures and the scorecard handle it from what
its record says it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_nfv import model

CONFTEST = """
from types import MappingProxyType

from pytest_nfv import model

DOWNTIME = model.Metric(
    "time",
    "failover downtime",
    "Failover of the proxy VNF: from its last reply on the old host to its first on "
    "the new one",
    role="primary",
    axis="n",
    panel="failover_downtime",
)
model.METRICS = MappingProxyType(
    {
        **model.METRICS,
        "deployment": MappingProxyType(
            {**model.METRICS["deployment"], "failover_downtime": DOWNTIME}
        ),
    }
)
"""

MEASURING_TEST = """
import os

import pytest

from pytest_nfv import Series, summarize

pytestmark = pytest.mark.nfv_requirement("deployment")

SCALE = float(os.environ.get("DOWNTIME_SCALE", "1"))


def test_migration(nfv_record) -> None:
    downtime = [SCALE * (0.120 + 0.002 * (i % 5)) for i in range(12)]
    nfv_record.record(
        Series("failover_downtime", summarize(downtime, converged=True), primary=True), n=1
    )
"""

BUDGETS = """
[deployment.failover_downtime]
unit = "ms"
base = 400
source = "the operator's limit for a migration"
"""


def _run(pytester: pytest.Pytester, out: Path, scale: float) -> tuple[pytest.RunResult, Any]:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_migration=MEASURING_TEST)
    budgets = pytester.path / "budgets.toml"
    budgets.write_text(BUDGETS, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DOWNTIME_SCALE", str(scale))
        result = pytester.runpytest_subprocess(
            "--nfv-budgets", str(budgets), f"--benchmark-json={out}", "-p", "no:cacheprovider"
        )
    return result, json.loads(out.read_text(encoding="utf-8"))


def test_a_metric_added_to_the_catalogue_reaches_summary_gate_report_and_scorecard(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    from pytest_nfv.analysis.gate import compare_runs
    from pytest_nfv.analysis.gate_config import GateConfig
    from pytest_nfv.analysis.history import run_from_json
    from pytest_nfv.analysis.report import write_figures
    from pytest_nfv.analysis.scorecard import render_scorecard

    assert "failover_downtime" not in model.METRICS["deployment"]  # this process: unknown

    result, saved = _run(pytester, pytester.path / "base.json", 1.0)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.re_match_lines(
        [
            r"=+ nfv: figures and budget verdicts =+",
            r"deployment:",
            r"  failover_downtime +N=1 +mean 124 ms ± .* 12 rounds, converged"
            r" +budget 400 ms +kept",
        ]
    )
    info = saved["benchmarks"][0]["extra_info"]
    assert info["unit"] == "s"
    assert info["figure"]["label"] == "failover downtime"

    slower, saved_slower = _run(pytester, pytester.path / "slower.json", 2.0)
    assert slower.ret == pytest.ExitCode.OK, slower.stdout.str()  # 247 ms: still in budget
    baseline = run_from_json(saved, "base.json")
    current = run_from_json(saved_slower, "slower.json")

    gate = compare_runs(baseline, current, GateConfig())
    assert [c.key.metric for c in gate.regressions] == ["failover_downtime"]
    assert gate.failed

    figures = {f.path.name: f for f in write_figures([baseline, current], tmp_path)}
    drawn = figures["failover_downtime.png"]
    assert drawn.title.startswith("Failover of the proxy VNF")
    assert [s.label for s in drawn.series] == ["netns"]
    assert "trend_deployment_failover_downtime.png" in figures  # the first panel with data
    assert drawn.series[0].points[0][1] == pytest.approx(2.0 * 123.5)  # ms, the newest run

    card = render_scorecard([baseline, current])
    assert "| deployment | netns | the only backend in these runs |" in card.splitlines()
    assert any(
        line.startswith("| failover downtime (N=1) | 247 ms ± ") for line in card.splitlines()
    )
