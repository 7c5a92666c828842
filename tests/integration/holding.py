"""Sessions for a test to end from outside: they record a figure, then hold their instances."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path


def recording_then_holding(instances: int) -> str:
    """A test module: one recorded figure (so the JSON has something to save), then a test
    that starts ``instances`` instances and the testbed and waits to be ended."""
    return f"""
import time

import pytest

from pytest_nfv import Series, summarize


@pytest.mark.nfv_requirement("monitoring")
def test_recorded(nfv_record):
    figure = summarize([100e-6, 110e-6, 120e-6])
    nfv_record.record(Series("response_time", figure, primary=True), size=64)


def test_hold(nfv_instances, nfv_testbed):
    nfv_instances({instances})
    time.sleep(600)
"""


def assert_the_record_was_saved(record: Path) -> None:
    """The JSON of an ended session holds the figure ``test_recorded`` measured."""
    saved = json.loads(record.read_text())
    assert [b["extra_info"]["metric"] for b in saved["benchmarks"]] == ["response_time"]


def assert_gone(pids: Iterable[int], within_s: float = 10.0) -> None:
    """Every one of ``pids`` has exited within ``within_s`` seconds."""
    pending = list(pids)
    deadline = time.monotonic() + within_s
    while any(Path(f"/proc/{p}").exists() for p in pending) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in pending if Path(f"/proc/{p}").exists()]


@contextlib.contextmanager
def ended_anyway(
    victim: subprocess.Popen[bytes], cleanup: Sequence[str]
) -> Iterator[subprocess.Popen[bytes]]:
    """The session for the block; after it, killed if it still runs, and ``cleanup`` run, so
    a failing test leaves nothing either."""
    try:
        yield victim
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
        subprocess.run(list(cleanup), capture_output=True, check=False)
