"""Built-in backends, by name; plugins add more through ``pytest_nfv_make_backend``."""

from __future__ import annotations

from pytest_nfv.backends.base import Backend, CleanupReport, EngineInfo
from pytest_nfv.identity import RunIdentity

__all__ = ["BUILTIN_BACKENDS", "Backend", "CleanupReport", "EngineInfo", "make_builtin", "reap_all"]

BUILTIN_BACKENDS = ("netns", "coreos", "osv", "clickos")


def make_builtin(name: str, identity: RunIdentity) -> Backend | None:
    """The built-in backend ``name``, not yet opened; None if there is none by that name."""
    if name == "netns":
        from pytest_nfv.backends.netns import NetnsBackend

        return NetnsBackend(identity)
    if name in BUILTIN_BACKENDS:
        from pytest_nfv.backends.pending import PendingBackend

        return PendingBackend(name, identity)
    return None


def reap_all(include_live: bool = False, dry_run: bool = False) -> CleanupReport:
    """Remove (or with ``dry_run`` list) what dead runs of every built-in backend left behind."""
    from pytest_nfv.backends import netns

    report = CleanupReport()
    report.merge(
        netns.reap(include_live=include_live, dry_run=dry_run)
    )  # the other built-ins create nothing yet
    return report
