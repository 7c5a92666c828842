"""What pytest-nfv takes from pytest-benchmark beyond its documented API, pinned by a test.

The recorder feeds the fixture's own statistics object (``_make_stats``) and marks the
fixture used (``_mode``); the plugin implements some of its hooks and filters one of its
warnings by its text. Each is checked against the installed version, and that version
against the range ``pyproject.toml`` declares, so a new major release fails here, in one
place, instead of in an operator's run. The lower bound is the first release that runs
under pytest 9: 4.0 to 5.3.0 read ``node._nodeid``, which pytest 9 no longer has (tried:
every fixture errors at setup).
"""

from __future__ import annotations

import inspect
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _requirement() -> Requirement:
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    found = [
        Requirement(spec)
        for spec in data["project"]["dependencies"]
        if Requirement(spec).name == "pytest-benchmark"
    ]
    assert len(found) == 1
    return found[0]


def test_the_declared_range_has_an_upper_bound_and_holds_the_installed_version() -> None:
    requirement = _requirement()
    assert any(spec.operator == "<" for spec in requirement.specifier)
    assert requirement.specifier.contains(version("pytest-benchmark"))


def test_the_internals_the_recorder_uses_are_there() -> None:
    from pytest_benchmark.fixture import BenchmarkFixture

    assert callable(BenchmarkFixture._make_stats)
    assert "self._mode = None" in inspect.getsource(BenchmarkFixture.__init__)
    stats = BenchmarkFixture._make_stats.__code__.co_varnames
    assert "iterations" in stats


def test_the_hooks_and_the_warning_the_plugin_relies_on_are_there() -> None:
    from pytest_benchmark import hookspec, session
    from pytest_benchmark.logger import PytestBenchmarkWarning

    for name in ("pytest_benchmark_group_stats", "pytest_benchmark_update_machine_info"):
        assert callable(getattr(hookspec, name))
    assert issubclass(PytestBenchmarkWarning, Warning)
    assert "Not saving anything, no benchmarks have been run" in inspect.getsource(session)
