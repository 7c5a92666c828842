"""The paper's migration claims, judged on saved runs: beyond both intervals or not at all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import synthetic_runs as sr

from pytest_nfv.analysis.claims import PAPER_CLAIMS, judge, judge_all
from pytest_nfv.analysis.history import Run, run_from_json
from pytest_nfv.analysis.scorecard import render_scorecard
from pytest_nfv.cli.main import main

MOVED = PAPER_CLAIMS[0]
assert MOVED.metric == "migration_moved"


def _run(backend: str, values: list[float], *, engine: str = "", **nfv: Any) -> Run:
    spec: sr.Spec = ("deployment", "migration_moved", "MiB", None, None, 0.0, "steady")
    bench = sr.benchmark(spec, values, backend)
    if engine:
        bench["extra_info"]["engine"] = engine
    data = sr.run_json([bench])
    data["machine_info"]["nfv"].update(nfv)
    return run_from_json(data, f"{backend}.json")


def _not_measured(backend: str, reason: str) -> Run:
    spec: sr.Spec = ("deployment", "boot_time", "s", None, None, 0.0, "steady")
    data = sr.run_json([sr.benchmark(spec, [0.1, 0.11, 0.12], backend)])
    data["machine_info"]["nfv"]["not_measured"] = [
        {"requirement": "deployment", "metrics": ["migration_moved"], "reason": reason}
    ]
    return run_from_json(data, f"{backend}.json")


def test_a_claim_holds_only_beyond_both_intervals() -> None:
    small = _run("clickos", [12.0, 12.5, 12.2], engine="xen, the ClickOS stand-in, not ClickOS")
    large = _run("osv", [63.0, 63.4, 62.9])
    verdict = judge([small, large], MOVED)
    assert verdict.status == "holds"
    assert "clickos 12" in verdict.evidence
    assert "(3 rounds) on a stand-in" in verdict.evidence
    assert "osv 63" in verdict.evidence


def test_the_reverse_beyond_both_intervals_contradicts_the_claim() -> None:
    verdict = judge([_run("clickos", [80.0, 81.0, 80.5]), _run("osv", [63.0, 63.4, 62.9])], MOVED)
    assert verdict.status == "contradicted"


def test_overlapping_intervals_or_one_round_cannot_tell() -> None:
    close = judge([_run("clickos", [60.0, 66.0, 63.0]), _run("osv", [63.0, 63.4, 62.9])], MOVED)
    assert close.status == "cannot tell"
    assert "overlap" in close.evidence
    single = judge([_run("clickos", [12.0]), _run("osv", [63.0, 63.4, 62.9])], MOVED)
    assert single.status == "cannot tell"
    assert "one round" in single.evidence


def test_a_side_that_did_not_measure_gives_its_own_reason() -> None:
    reason = "criu check failed: vdso: Unexpected rt vDSO area bounds"
    verdict = judge([_run("clickos", [12.0, 12.5]), _not_measured("osv", reason)], MOVED)
    assert verdict.status == "not measured"
    assert verdict.evidence == f"osv did not measure it: {reason}"
    absent = judge([_run("clickos", [12.0, 12.5])], MOVED)
    assert absent.evidence == "no run of osv among these"


def test_the_scorecard_ends_with_the_claims_of_the_backends_it_shows() -> None:
    runs = [_run("clickos", [12.0, 12.5, 12.2]), _run("osv", [63.0, 63.4, 62.9])]
    card = render_scorecard(runs)
    assert "## The paper's claims on migration, checked" in card
    moved = "a ClickOS domain moves fewer bytes than an OSv VM when it migrates live"
    assert f"| {moved} | holds |" in card
    assert [v.claim.metric for v in judge_all([_run("netns", [1.0, 1.1])])] == []


def test_report_fails_on_a_contradicted_claim_only_when_asked(tmp_path: Path, capsys: Any) -> None:
    import json

    paths = []
    for backend, values in (("clickos", [80.0, 81.0, 80.5]), ("osv", [63.0, 63.4, 62.9])):
        spec: sr.Spec = ("deployment", "migration_moved", "MiB", None, None, 0.0, "steady")
        path = tmp_path / f"{backend}.json"
        path.write_text(json.dumps(sr.run_json([sr.benchmark(spec, values, backend)])))
        paths.append(str(path))
    common = ["report", *paths, "--out", str(tmp_path / "out"), "--no-figures"]
    assert main(common) == 0
    assert main([*common, "--fail-on-claims"]) == 1
    out = capsys.readouterr().out
    assert "claim: a ClickOS domain moves fewer bytes than an OSv VM" in out
    assert "1 of the paper's claims contradicted beyond both intervals" in out
