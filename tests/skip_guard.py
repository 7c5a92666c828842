"""A test run that fails on any skip it was not told to expect.

A skip is how a test says "this host cannot show it", and a skip is also what a real fault
looks like when a fixture turns an error into one (an engine that does not answer, a broken
image recipe): CI would be green with the backend's tests never run. With
``--allowed-skips FILE`` every skip's reason must match one of the file's patterns (Python
regular expressions, one per line; blank lines and lines starting with ``#`` are ignored);
any other skip is listed at the end and fails the session. ``tests/conftest.py`` takes the
two hooks at the end of this module; elsewhere ``-p skip_guard`` loads them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest


def load_patterns(path: Path) -> list[re.Pattern[str]]:
    """The file's patterns, each compiled; a bad one is a usage error naming its line."""
    patterns = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            patterns.append(re.compile(text))
        except re.error as exc:
            raise pytest.UsageError(f"{path}:{number}: not a regular expression: {exc}") from None
    return patterns


def skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    """What the skip said, without pytest's ``Skipped: `` prefix."""
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix("Skipped: ")


class SkipGuard:
    """Collects every skip; fails the session if one matched none of ``patterns``."""

    def __init__(self, patterns: list[re.Pattern[str]], source: Path) -> None:
        self.patterns = patterns
        self.source = source
        self.unexpected: list[tuple[str, str]] = []

    def _seen(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        if not report.skipped or hasattr(report, "wasxfail"):
            return
        reason = skip_reason(report)
        if not any(pattern.search(reason) for pattern in self.patterns):
            self.unexpected.append((report.nodeid, reason))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._seen(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._seen(report)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.unexpected and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.unexpected:
            return
        terminalreporter.section("skips not allowed", red=True)
        terminalreporter.line(
            f"{len(self.unexpected)} skip(s) match no pattern of {self.source}: "
            "each hides a test this host was expected to run"
        )
        for nodeid, reason in self.unexpected:
            terminalreporter.line(f"{nodeid}: {reason}")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--allowed-skips",
        metavar="FILE",
        type=Path,
        help="fail the run on any skip whose reason matches no pattern in FILE "
        "(tests/skip_guard.py); CI passes tests/allowed-skips.txt",
    )


def pytest_configure(config: pytest.Config) -> None:
    source = config.getoption("--allowed-skips")
    if source is not None:
        if not source.is_file():
            raise pytest.UsageError(f"--allowed-skips: {source} is not a file")
        config.pluginmanager.register(SkipGuard(load_patterns(source), source), "allowed-skips")
