"""Helpers that die with the session: a parent-death signal on every process the run starts.

A session killed with SIGKILL (the OOM killer, a lost CI runner, ``kill -9``) runs no
teardown; its namespaces stay until the next run or ``pytest-nfv cleanup`` reaps them, but
its processes (VNFs, responders, the proxy VNF, the prober, dnsmasq) need not wait for that:
each is started through util-linux's ``setpriv --pdeathsig KILL``, which asks the kernel to
kill it when the thread that started it exits, then execs the program itself (no process
sits in between, the pid and the name stay the program's). Every such start runs on the
session's main thread, which exits only with the session: a helper started from a worker
thread would die with that thread, so none is.

``setpriv`` is taken from ``/usr/bin`` only (root runs it); where it is missing the program
starts as before, and the reap still finds it.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

__all__ = ["SETPRIV", "dying_with_parent"]

SETPRIV = Path("/usr/bin/setpriv")


def dying_with_parent(argv: Sequence[str]) -> list[str]:
    """``argv`` started so that the kernel kills it when the session dies (see the module).

    From a thread other than the main one, ``argv`` unchanged: the signal would come when
    that thread ends, not the session.
    """
    if threading.current_thread() is not threading.main_thread():
        return list(argv)
    if shutil.which(argv[0]) is None:
        return list(argv)  # let Popen say the program is missing, as it would without us
    if not SETPRIV.is_file() or not os.access(SETPRIV, os.X_OK):
        return list(argv)
    return [str(SETPRIV), "--pdeathsig", "KILL", "--", *argv]
