"""Integration tests drive the real netns backend: they need root (CAP_SYS_ADMIN/NET_ADMIN)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pytest_nfv.backends.netns.backend import NetnsBackend
from pytest_nfv.harness.lab import Lab
from pytest_nfv.harness.probes.icmp import EchoProber
from pytest_nfv.host.identity import RunIdentity


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="netns integration tests need root")
        for item in items:
            if "integration" in item.nodeid:
                item.add_marker(skip)


@pytest.fixture
def backend() -> Iterator[NetnsBackend]:
    with NetnsBackend(RunIdentity.new()) as opened:
        yield opened


@pytest.fixture
def lab(backend: NetnsBackend) -> Iterator[Lab]:
    with EchoProber(backend.probe_netns) as prober:
        yield Lab(backend, prober, boot_timeout_s=30)


LENIENT_BUDGETS = Path(__file__).with_name("lenient-budgets.toml")
HOLDING_TEST = """
import time

def test_hold(nfv_instances, nfv_testbed):
    nfv_instances(6)
    time.sleep(600)
"""


@pytest.fixture
def short_suites(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``short_suites(*options)``: a whole session of the shipped suites, as small as they go.

    Asserts that it passed and skipped nothing, so the backend really ran.
    """

    def run(*options: str) -> subprocess.CompletedProcess[str]:
        suites = Path(__file__).resolve().parents[2] / "suites"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                str(suites),
                "-p",
                "no:cacheprovider",
                "-q",
                "--nfv-instances",
                "1,3",
                "--nfv-packet-sizes",
                "64,3000",
                "--nfv-frame-sizes",
                "64",
                "--nfv-max-rounds",
                "2",
                "--nfv-max-seconds",
                "2",
                "--nfv-budgets",
                str(LENIENT_BUDGETS),
                "--rootdir",
                str(tmp_path),
                *options,
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
        assert " passed" in done.stdout
        assert "skipped" not in done.stdout
        return done

    return run


@pytest.fixture
def holding_session(tmp_path: Path) -> Callable[..., subprocess.Popen[bytes]]:
    """``holding_session(*options)``: a real pytest session of the plugin that starts six
    instances and the testbed, then waits (to be killed or interrupted)."""

    def start(*options: str, tests: str = HOLDING_TEST) -> subprocess.Popen[bytes]:
        (tmp_path / "test_hold.py").write_text(tests)
        argv = ["test_hold.py", "-p", "no:cacheprovider", "-q", *options]
        with (tmp_path / "victim.stderr").open("wb") as stderr:
            return subprocess.Popen(
                [
                    sys.executable,
                    "-X",
                    "faulthandler",  # SIGABRT dumps every thread's stack into victim.stderr
                    "-c",
                    # Ctrl-C must reach the session as at a terminal, even when whatever started
                    # this test ignores SIGINT (as a shell does for a job started with "&"),
                    # which a child would inherit.
                    "import signal, sys, pytest\n"
                    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
                    # and SIGTERM and SIGHUP as a terminal has them (nohup ignores SIGHUP)
                    "signal.signal(signal.SIGTERM, signal.SIG_DFL)\n"
                    "signal.signal(signal.SIGHUP, signal.SIG_DFL)\n"
                    f"sys.exit(pytest.main({argv!r}))",
                ],
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )

    return start
