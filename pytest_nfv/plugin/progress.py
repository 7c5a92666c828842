"""Progress of long tests on the terminal: which round, how many instances answered.

A TCG round at N=16 takes half a minute and a coreos round at N=128 a minute; a terminal that
stays silent that long looks hung. The harness reports steps through a plain callback (it
cannot import the plugin); this module turns them into terminal lines, and only for a test
that has run for a few seconds, at most one line a second, never under ``-q``: a fast run
stays as quiet as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

__all__ = ["TerminalProgress", "progress_key", "reporter_of", "setup_progress"]


class TerminalProgress:
    """Throttled progress lines for the running test.

    Args:
        write: writes one line to the terminal (outside output capture).
        after_s: say nothing until the test has run this long.
        every_s: at most one line per this many seconds.
        clock: monotonic seconds (a test passes a fake one).
    """

    def __init__(
        self,
        write: Callable[[str], None],
        *,
        after_s: float = 3.0,
        every_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._write = write
        self._after_s = after_s
        self._every_s = every_s
        self._clock = clock
        self._test = ""
        self._started = clock()
        self._last: float | None = None

    def begin(self, test: str) -> None:
        """A new test starts: its own few quiet seconds begin now."""
        self._test = test
        self._started = self._clock()
        self._last = None

    def report(self, step: str) -> None:
        """One step of the running test, e.g. ``round 3 of at most 30``.

        A step that comes less than ``every_s`` after the last line shown is dropped: the
        next one says where the test is by then.
        """
        now = self._clock()
        if now - self._started < self._after_s:
            return
        if self._last is not None and now - self._last < self._every_s:
            return
        self._last = now
        elapsed = now - self._started
        self._write(f"nfv: {self._test}: {step} ({elapsed:.0f} s)")


progress_key = pytest.StashKey[TerminalProgress]()


class ProgressHooks:
    """Keeps the progress reporter told which test runs; registered unless ``-q``."""

    def __init__(self, progress: TerminalProgress) -> None:
        self._progress = progress

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self._progress.begin(nodeid.rsplit("::", 1)[-1])


def terminal_writer(config: pytest.Config) -> Callable[[str], None] | None:
    """A line writer that reaches the terminal while output is captured; None under -q."""
    if config.get_verbosity() < 0:
        return None

    def write(line: str) -> None:
        # looked up when a line is written: at configure time the reporter may not exist yet
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        capture = config.pluginmanager.get_plugin("capturemanager")
        if reporter is None:
            return
        if capture is None:
            reporter.write_line(line)
            return
        with capture.global_and_fixture_disabled():
            reporter.ensure_newline()
            reporter.write_line(line)

    return write


def setup_progress(config: pytest.Config) -> None:
    """Register the progress reporter when the terminal shows progress at all."""
    write = terminal_writer(config)
    if write is None:
        return
    progress = TerminalProgress(write)
    config.stash[progress_key] = progress
    config.pluginmanager.register(ProgressHooks(progress), "nfv-progress")


def reporter_of(config: pytest.Config) -> Callable[[str], None] | None:
    """The callback the harness reports its steps to, or None when progress is off."""
    progress = config.stash.get(progress_key, None)
    return None if progress is None else progress.report
