"""The guests' serial console logs: where they are written, what a failure shows of them, reap.

Every domain of the run writes its serial console to ``LOG_DIR/<domain name>.log`` (the
run's name, so the reap rule knows the run). A guest that never came up, or stopped on its
own, is explained by its own last words, so the log is read before it is removed.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pytest_nfv.backends.base import CleanupReport
from pytest_nfv.backends.osv.kvm import UP_MARKER
from pytest_nfv.host.identity import REGISTRY_DIR
from pytest_nfv.host.reap import ReapRule, reap_named_files

__all__ = ["LOG_DIR", "console_log", "console_tail", "reap_console_logs", "report_silent_guest"]

_log = logging.getLogger(__name__)
LOG_DIR = REGISTRY_DIR / "osv"


def console_log(name: str) -> Path:
    """Where domain ``name`` writes its serial console."""
    return LOG_DIR / f"{name}.log"


def console_tail(name: str, lines: int) -> str | None:
    try:
        console = console_log(name).read_text(errors="replace")
    except OSError:
        return None
    return "\n".join(console.splitlines()[-lines:]) or None


def report_silent_guest(name: str) -> None:
    """Log the console of a guest that never said it was up, before its log is removed.

    pytest shows the log records of a failed test, so a boot timeout comes with the guest's
    own last words (a kernel panic, a missing module) instead of just an address.
    """
    try:
        console = console_log(name).read_text(errors="replace")
    except OSError:
        return
    if UP_MARKER not in console:
        tail = "\n".join(console.splitlines()[-25:])
        _log.error("guest %s never came up; the end of its serial console:\n%s", name, tail)


def reap_console_logs(rule: ReapRule, *, dry_run: bool) -> CleanupReport:
    """Remove the serial console logs of the runs ``rule`` takes."""
    return reap_named_files(LOG_DIR, ".log", "file", rule, dry_run=dry_run)
