"""A helper started on the main thread dies with its parent; elsewhere it is left as it was."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from script_runs import running

from pytest_nfv.host.parent_death import SETPRIV, dying_with_parent

needs_setpriv = pytest.mark.skipif(not SETPRIV.is_file(), reason="util-linux's setpriv is missing")

PARENT = """
import subprocess, sys, time
from pytest_nfv.host.parent_death import dying_with_parent
child = subprocess.Popen(dying_with_parent(["sleep", "60"]))
print(child.pid, flush=True)
time.sleep(60)
"""


@needs_setpriv
def test_the_helper_dies_when_its_parent_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    with parent.stdout:
        child = int(parent.stdout.readline())
    # setpriv asks for the signal, then execs: once the child is sleep, it has asked
    comm = Path(f"/proc/{child}/comm")
    deadline = time.monotonic() + 5
    while comm.read_text().strip() != "sleep" and time.monotonic() < deadline:
        time.sleep(0.01)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while running(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not running(child)


def test_a_missing_program_or_a_worker_thread_leaves_argv_as_it_was() -> None:
    assert dying_with_parent(["no-such-program-here", "x"]) == ["no-such-program-here", "x"]
    seen: list[list[str]] = []
    worker = threading.Thread(target=lambda: seen.append(dying_with_parent(["sleep", "1"])))
    worker.start()
    worker.join()
    assert seen == [["sleep", "1"]]


@needs_setpriv
def test_on_the_main_thread_the_program_is_execed_by_setpriv() -> None:
    argv = dying_with_parent(["sleep", "1"])
    assert argv == [str(SETPRIV), "--pdeathsig", "KILL", "--", "sleep", "1"]
    done = subprocess.run([*argv[:-1], "0"], check=False)
    assert done.returncode == 0
    assert os.access(SETPRIV, os.X_OK)
