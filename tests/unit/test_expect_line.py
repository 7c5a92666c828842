"""Waiting for a helper's line has a deadline, even when the helper wrote half a line."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from pytest_nfv.errors import BackendError
from pytest_nfv.host.processes import expect_line


def _helper(script: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, bufsize=0
    )
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


@pytest.fixture
def half_a_line() -> Iterator[subprocess.Popen[bytes]]:
    """A helper that writes "o" of "ok" and hangs."""
    yield from _helper(
        "import sys, time; sys.stdout.write('o'); sys.stdout.flush(); time.sleep(60)"
    )


@pytest.fixture
def two_lines() -> Iterator[subprocess.Popen[bytes]]:
    yield from _helper("import sys, time; print('ready'); print('ok', flush=True); time.sleep(60)")


def test_half_a_line_ends_at_the_deadline(half_a_line: subprocess.Popen[bytes]) -> None:
    raised: list[BaseException] = []

    def wait() -> None:
        try:
            expect_line(half_a_line, "ok", "the helper", timeout=0.5)
        except BaseException as exc:  # the thread reports whatever ended it
            raised.append(exc)

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    waiter.join(10)
    assert not waiter.is_alive(), "expect_line blocked on a partial line past its deadline"
    assert len(raised) == 1
    assert isinstance(raised[0], BackendError)
    assert "expected 'ok', got 'o'" in str(raised[0])


def test_lines_are_taken_one_at_a_time(two_lines: subprocess.Popen[bytes]) -> None:
    expect_line(two_lines, "ready", "the helper", timeout=10)
    expect_line(two_lines, "ok", "the helper", timeout=10)
