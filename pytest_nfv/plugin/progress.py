"""Progress of long tests on the terminal: which round, how many instances answered.

A TCG round at N=16 takes half a minute and a coreos round at N=128 a minute; a terminal that
stays silent that long looks hung. The harness reports steps through a plain callback (it
cannot import the plugin); this module turns them into terminal lines (the round, and the
step within it), only for a test that has run for 5 s, at most one line every 5 s, never
under ``-q``: a fast test stays as quiet as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

__all__ = ["TerminalProgress", "progress_key", "progress_of", "setup_progress"]


class TerminalProgress:
    """Throttled progress lines for the running test: its round, and the step within it.

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
        after_s: float = 5.0,
        every_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._write = write
        self._after_s = after_s
        self._every_s = every_s
        self._clock = clock
        self._test = ""
        self._round = ""
        self._started = clock()
        self._last: float | None = None

    def begin(self, test: str) -> None:
        """A new test starts: its own quiet seconds begin now."""
        self._test = test
        self._round = ""
        self._started = self._clock()
        self._last = None

    def round(self, number: int, at_most: int) -> None:
        """Round ``number`` of the running test's measurement starts."""
        self._round = f"round {number} of at most {at_most}"
        self._show("")

    def report(self, step: str) -> None:
        """One step within the round, e.g. ``12 of 16 instances answered``."""
        self._show(step)

    def _show(self, step: str) -> None:
        """Write the test's state now, unless it is too early or too soon after the last line.

        A state not written is dropped: the next line says where the test is by then.
        """
        now = self._clock()
        if now - self._started < self._after_s:
            return
        if self._last is not None and now - self._last < self._every_s:
            return
        self._last = now
        state = ": ".join(part for part in (self._round, step) if part)
        self._write(f"nfv: {self._test}: {state} ({now - self._started:.0f} s)")


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


def progress_of(config: pytest.Config) -> TerminalProgress | None:
    """The session's progress reporter, or None when progress is off (``-q``)."""
    return config.stash.get(progress_key, None)
