"""The GitHub Actions examples are safe as written: trusted events only, nothing of root's
left in the workspace. Read as text (the project carries no YAML parser): each rule is a line
the workflow must, or must not, have."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "github-actions"
HARDWARE = EXAMPLES / "nfv-hardware.yml"


def _code(path: Path) -> list[str]:
    """The workflow's lines without comments (a comment may well name what it avoids)."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        code = line.split(" #", 1)[0].rstrip() if not line.lstrip().startswith("#") else ""
        if code:
            lines.append(code)
    return lines


def _events(path: Path) -> set[str]:
    lines = _code(path)
    start = lines.index("on:")
    events = set()
    for line in lines[start + 1 :]:
        if not line.startswith(" "):
            break
        if re.match(r"^  [a-z_]+:", line):
            events.add(line.strip().rstrip(":").split(":")[0])
    return events


@pytest.mark.parametrize("workflow", sorted(EXAMPLES.glob("*.yml")), ids=lambda p: p.name)
def test_examples_run_only_on_trusted_events(workflow: Path) -> None:
    events = _events(workflow)
    assert events
    assert events <= {"push", "workflow_dispatch", "schedule"}
    assert not [line for line in _code(workflow) if "pull_request" in line]


def test_hardware_jobs_refuse_any_other_event_too() -> None:
    assert (
        "    if: github.event_name == 'push' || github.event_name == 'workflow_dispatch' "
        "|| github.event_name == 'schedule'" in _code(HARDWARE)
    )


def test_the_gate_compares_with_a_reference_set_not_a_rolling_baseline() -> None:
    """The newest accepted run is the baseline and the others its history; only a run that
    passed is accepted; the set changes on the schedule; inconclusive verdicts fail."""
    code = "\n".join(_code(HARDWARE))
    assert 'history+=(--history "$ref")' in code
    assert '"$RUNNER_TEMP/venv/bin/pytest-nfv" compare "${refs[-1]}" "$OUT/current.json"' in code
    assert "--nfv-inconclusive=fail" in code
    assert 'cron: "' in code
    assert "nfv-accepted-${{ matrix.backend }}" in code
    assert "nfv-reference-${{ matrix.backend }}" in code
    assert "name: nfv-history-${{ matrix.backend }}\n          path: baseline" not in code
    # the runner's own calibration, from its A/A sessions, on the schedule
    assert '"$nfv" calibrate --from "${sessions[@]}" --arguments "$SUITE_ARGS"' in code
    assert "--calibration reference/nfv-calibration.json" in code


def test_root_writes_nothing_into_the_workspace() -> None:
    code = _code(HARDWARE)
    venv = next(line for line in code if line.strip().startswith("NFV_VENV:"))
    assert venv.split(":", 1)[1].strip().startswith("/var/lib/")
    sudo = [line.strip() for line in code if re.search(r"\bsudo\b", line)]
    assert sudo == ['sudo chown -R "$(id -u):$(id -g)" "$OUT"']
    assert 'run: echo "OUT=$RUNNER_TEMP/nfv" >> "$GITHUB_ENV"' in [line.strip() for line in code]
    assert any("scripts/bootstrap suites" in line for line in code)
    records = [line for line in code if "--benchmark-" in line]
    assert records
    assert all("$OUT/" in line for line in records)
    assert "persist-credentials: false" in [line.strip() for line in code]
    final = code[code.index("      - name: Nothing in the workspace belongs to root") :]
    assert any('find "$GITHUB_WORKSPACE" -xdev -uid 0' in line for line in final)
