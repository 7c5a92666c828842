"""Talking to the helper processes a backend starts (echo responders, the proxy VNF).

They speak one line at a time on stdout (``ready`` once listening, ``ok`` per command); a
backend waits for that line rather than sleeping, and a helper that died or stays silent
becomes a ``BackendError`` that says which and how it exited.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import time
from collections.abc import Sequence

from pytest_nfv.errors import BackendError
from pytest_nfv.host.namespaces import kill_and_wait

__all__ = ["expect_line", "pids_named", "read_line", "stop_processes"]


def expect_line(
    proc: subprocess.Popen[bytes],
    expected: str,
    what: str,
    timeout: float = 10.0,
    skip: tuple[str, ...] = (),
) -> None:
    """Wait for the line ``expected`` from ``proc``'s stdout.

    Lines in ``skip`` (the proxy's start-up ``ready``, which nobody waits for when its
    deployment is being timed on the wire instead) are passed over.

    Args:
        proc: a process started with ``stdout=PIPE`` and ``bufsize=0``.
        expected: the line, without its newline.
        what: the process, as the error names it.
        timeout: seconds to wait for a line.
        skip: lines to pass over.

    Raises:
        BackendError: another line came, none came in time, or the process exited.
    """
    assert proc.stdout is not None
    line = ""
    deadline = time.monotonic() + timeout
    while True:
        line = _line_within(proc.stdout.fileno(), deadline)
        if not line or line not in skip:
            break
    if line != expected:
        status = proc.poll()
        raise BackendError(
            f"{what}: expected {expected!r}, got {line!r}"
            + (f" (exited with status {status})" if status is not None else "")
        )


def read_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    """The next line of ``proc``'s stdout, or what came of it within ``timeout`` ("" if none).

    For a helper whose answer carries data, where ``expect_line`` knows only one answer.
    """
    assert proc.stdout is not None
    return _line_within(proc.stdout.fileno(), time.monotonic() + timeout)


def _line_within(fd: int, deadline: float) -> str:
    """One line from ``fd`` if all of it arrives by ``deadline``, else what came of it.

    Read a byte at a time after each ``select``: a ``readline`` after ``select`` blocks on a
    helper that wrote part of a line and then hung, whatever the deadline; and reading past
    the newline would take the next line from whoever waits for it.
    """
    data = bytearray()
    while (remaining := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            break
        byte = os.read(fd, 1)
        if not byte or byte == b"\n":  # end of file, or the end of the line
            break
        data += byte
    return data.decode(errors="replace").strip()


def stop_processes(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    """SIGKILL helper processes, reap them and close their pipes.

    Their stdin is closed first, so a helper blocked writing to us sees the end at once.

    Raises:
        BackendError: a process outlived SIGKILL (its pipes are closed all the same).
    """
    for proc in processes:
        if proc.stdin:
            with contextlib.suppress(OSError):
                proc.stdin.close()
    try:
        kill_and_wait([p.pid for p in processes])
    finally:
        for proc in processes:
            with contextlib.suppress(Exception):
                proc.wait(timeout=1)
            if proc.stdout:
                proc.stdout.close()


def pids_named(names: Sequence[str]) -> list[int]:
    """The processes on this host whose name (``comm``) is one of ``names``, to read only.

    For an engine's daemons, which the engine started and the run never signals.
    """
    import psutil

    return [p.pid for p in psutil.process_iter(["name"]) if p.info["name"] in names]
