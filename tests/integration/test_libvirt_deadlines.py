"""No wait on a libvirtd that stopped answering is endless: ``open``, a call, ``cleanup``.

The daemon is the real one CI starts (scripts/engines), stopped with SIGSTOP: its socket
still accepts connections, and nothing answers on them, as with a hung daemon.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest

from pytest_nfv.backends.shared.libvirt import OPEN_DEADLINE_S, LibvirtConnection
from pytest_nfv.errors import BackendUnavailable
from pytest_nfv.host.reap import ReapRule

libvirt = pytest.importorskip("libvirt")
URI = "qemu:///system"


def _libvirtd() -> psutil.Process:
    found = [p for p in psutil.process_iter(["name"]) if p.info["name"] == "libvirtd"]
    if len(found) != 1:
        pytest.skip(f"libvirtd does not answer at {URI} (scripts/engines start libvirt)")
    return found[0]


@pytest.fixture
def libvirtd() -> Iterator[psutil.Process]:
    daemon = _libvirtd()
    with LibvirtConnection(URI, "osv"):
        pass  # it answers now
    yield daemon
    daemon.send_signal(signal.SIGCONT)  # whatever the test did


def _stopped(daemon: psutil.Process) -> None:
    daemon.send_signal(signal.SIGSTOP)
    for _ in range(50):
        if daemon.status() == psutil.STATUS_STOPPED:
            return
        time.sleep(0.02)
    raise AssertionError("libvirtd did not stop")


def test_open_gives_up_on_a_silent_daemon_and_says_so(libvirtd: psutil.Process) -> None:
    _stopped(libvirtd)
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match=r"did not answer within 1\.5 s"):
        LibvirtConnection(URI, "osv", open_deadline_s=1.5).open()
    assert time.monotonic() - started < 10


def test_a_call_on_a_daemon_that_stopped_answering_ends_by_keepalive(
    libvirtd: psutil.Process,
) -> None:
    connection = LibvirtConnection(URI, "osv", keepalive=(1, 1)).open()
    try:
        _stopped(libvirtd)
        started = time.monotonic()
        with pytest.raises(BackendUnavailable, match="did not list its domains"):
            connection.reap(ReapRule(), dry_run=True)
        assert time.monotonic() - started < 15
    finally:
        libvirtd.send_signal(signal.SIGCONT)
        connection.close()


def test_cleanup_returns_and_names_the_silent_daemon(libvirtd: psutil.Process) -> None:
    _stopped(libvirtd)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest_nfv.cli.main", "cleanup", "--dry-run"],
        capture_output=True,
        text=True,
        timeout=4 * OPEN_DEADLINE_S,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    took = time.monotonic() - started
    assert f"libvirt at {URI}" in done.stdout + done.stderr
    assert f"did not answer within {OPEN_DEADLINE_S:g} s" in done.stdout + done.stderr
    assert took < 3 * OPEN_DEADLINE_S
