"""SIGTERM and SIGHUP end a session as Ctrl-C does: teardown runs and the record is saved.

``timeout``, systemd, ``docker stop`` and a cancelled CI job end a process with SIGTERM (a
closed terminal with SIGHUP), whose default action kills it on the spot: no fixture
teardown, so every namespace, container, domain and cgroup of the run stays until the next
session reaps it, and the figures already measured are lost with the JSON that was never
written. Raised as ``KeyboardInterrupt`` in the main thread instead, the signal takes
pytest's own path for Ctrl-C: the session's fixtures are finalized, the backend is closed,
and pytest-benchmark saves what was recorded.

Only a signal whose handler is still the default is taken over (a program embedding pytest
may have its own), and only the first one is raised: a second SIGTERM while the teardown runs
would otherwise cut it short, leaving what it had not yet removed. SIGKILL cannot be caught;
what it leaves, the next run or ``pytest-nfv cleanup`` reaps.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType

import pytest

__all__ = ["install"]

SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class _Interrupter:
    """The handler: the first signal interrupts, the later ones are only reported.

    A child forked without exec (pyroute2 runs its namespace work so) inherits the handler;
    there the signal keeps its default action, or the child would unwind the session's own
    stack as a second session while its parent waits for it to die.
    """

    def __init__(self) -> None:
        self.received: str | None = None
        self.owner = os.getpid()

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if os.getpid() != self.owner:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        name = signal.Signals(signum).name
        if self.received is not None:
            print(
                f"pytest-nfv: {name} again: the session is already tearing down after "
                f"{self.received}",
                file=sys.stderr,
                flush=True,
            )
            return
        self.received = name
        raise KeyboardInterrupt(f"{name}: ending the session as on Ctrl-C, with teardown")


def install(config: pytest.Config) -> None:
    """Take over SIGTERM and SIGHUP for this session (main thread only), and give them back
    when the session's configuration is cleaned up."""
    if threading.current_thread() is not threading.main_thread():
        return
    interrupter = _Interrupter()
    taken = [s for s in SIGNALS if signal.getsignal(s) is signal.SIG_DFL]

    def give_back() -> None:
        for signum in taken:
            signal.signal(signum, signal.SIG_DFL)

    for signum in taken:
        signal.signal(signum, interrupter)
    config.add_cleanup(give_back)
