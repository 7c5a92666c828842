"""``--nfv-compare=REF``: the regression gate at the end of the run that measured.

The baseline is read and the gate settings parsed at configure time, so a missing or corrupt
baseline is a usage error before a single instance starts, not a surprise after twenty minutes
of measuring. At session end this run's records (kept by ``nfv_record`` as they are made, in
the same shape pytest-benchmark saves) are compared with it; a regression, or a comparison
that cannot be made, turns the exit status into "tests failed" and the table goes into the
terminal summary. Registered by ``hooks.py`` only when the option is given.

With one baseline, the gate uses this runner's calibration (``pytest-nfv calibrate``) when
the run carries its host fingerprint: the gate settings' ``calibration`` key names the file,
else ``nfv-calibration.json`` under the benchmark storage is used when it is there. No
option of its own: where the thresholds come from is a setting of the gate.
"""

from __future__ import annotations

import datetime
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pytest_nfv.analysis.calibration_file import find_calibration
from pytest_nfv.analysis.gate import compare_runs
from pytest_nfv.analysis.gate_config import GateConfig, load_gate_config
from pytest_nfv.analysis.gate_render import format_text
from pytest_nfv.analysis.history import Run, load_run, resolve_ref, run_from_json, storage_dir
from pytest_nfv.errors import HistoryError, NfvUsageError
from pytest_nfv.plugin.state import GateState, gate_state_key, nfv_state_key, recorded_key
from pytest_nfv.record import write_run_info

__all__ = ["setup_gate"]


def _machine_id() -> str | None:
    try:
        from pytest_benchmark.utils import get_machine_id
    except ImportError:  # pragma: no cover  (a dependency; guarded for a broken install)
        return None
    return str(get_machine_id())  # type: ignore[no-untyped-call]


def setup_gate(config: pytest.Config, ref: str, gate_file: Path | None) -> None:
    """Read the baseline and the settings now; register the session-end hooks.

    Raises:
        pytest.UsageError: the baseline cannot be found or read, or the settings are bad.
    """
    try:
        storage = storage_dir(config.getoption("benchmark_storage", None))
        path = resolve_ref(ref, storage, _machine_id())
        baseline = load_run(path)
        gate = load_gate_config(gate_file) if gate_file else GateConfig()
        # This runner's A/A thresholds: the settings' ``calibration``, else the default file
        # beside the saved runs; read now, so a corrupt one stops the run before it starts.
        gate = replace(gate, calibration=find_calibration(gate.calibration_path, storage))
    except (HistoryError, NfvUsageError) as exc:
        raise pytest.UsageError(f"--nfv-compare: {exc}") from None
    config.stash[gate_state_key] = GateState(baseline, gate)
    config.stash[recorded_key] = []
    config.pluginmanager.register(_GateHooks(), "nfv-gate")


def _this_run(config: pytest.Config) -> Run:
    from pytest_nfv.host.capabilities import host_facts

    state = config.stash[nfv_state_key]
    machine_info: dict[str, Any] = {}
    write_run_info(
        machine_info,
        host=host_facts().as_dict(),
        echo=state.echo,
        conditions=state.run_conditions(),
    )
    data = {
        "machine_info": machine_info,
        "benchmarks": config.stash.get(recorded_key, []),
        "datetime": datetime.datetime.now(datetime.UTC).isoformat(),
    }
    return run_from_json(data, "this run", "this run")


class _GateHooks:
    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        state = session.config.stash[gate_state_key]
        if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            return
        try:
            state.result = compare_runs(state.baseline, _this_run(session.config), state.config)
        except HistoryError as exc:
            state.error = str(exc)
        if state.error or (state.result is not None and state.result.failed):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        state = terminalreporter.config.stash[gate_state_key]
        if state.result is None and state.error is None:
            return
        failed = state.error is not None or (state.result is not None and state.result.failed)
        terminalreporter.write_sep("=", "nfv regression gate", red=failed, green=not failed)
        if state.error is not None:
            terminalreporter.write_line(f"nfv gate: cannot compare: {state.error}", red=True)
            return
        assert state.result is not None
        for line in format_text(state.result).splitlines():
            terminalreporter.write_line(line)
