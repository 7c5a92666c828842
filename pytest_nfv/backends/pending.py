"""Backends the paper compares whose engines pytest-nfv does not drive yet.

They are registered names so that ``--backend=coreos`` is understood, reported in the header
and skipped with a reason that says exactly why, instead of failing as an unknown word; under
``--nfv-strict`` the same reason fails the run. They create nothing, so there is nothing to
clean up.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version as dist_version
from typing import TYPE_CHECKING

from pytest_nfv.backends.base import CleanupReport, EngineInfo, EngineTargets, StartCallback
from pytest_nfv.errors import BackendUnavailable
from pytest_nfv.identity import RunIdentity
from pytest_nfv.model import Instance, InstanceSpec, PathMode, Testbed

if TYPE_CHECKING:
    from pytest_nfv.options import NfvSettings

__all__ = ["PENDING", "PendingBackend", "make", "reap"]

PENDING = {
    "coreos": ("CoreOS", "Docker containers with an iptables proxy VNF", "Docker engine"),
    "clickos": ("ClickOS", "Xen domains running a Click proxy configuration", "Xen toolstack"),
}


class PendingBackend:
    """A named backend whose ``open`` always explains why it cannot run in this version."""

    def __init__(self, name: str, identity: RunIdentity) -> None:
        if name not in PENDING:
            raise ValueError(f"no pending backend called {name!r}")
        self.name = name
        self.identity = identity

    def reason(self) -> str:
        label, what, engine = PENDING[self.name]
        return (
            f"backend {self.name!r} ({label}: {what}) is registered but pytest-nfv "
            f"{dist_version('pytest-nfv')} does not drive the {engine} yet"
        )

    def open(self) -> None:
        raise BackendUnavailable(self.reason())

    def close(self) -> None:
        return None

    def engine(self) -> EngineInfo:
        return EngineInfo(PENDING[self.name][2], "not supported in this version")

    @property
    def probe_netns(self) -> str | None:
        raise BackendUnavailable(self.reason())

    def plan(self, count: int) -> list[InstanceSpec]:
        raise BackendUnavailable(self.reason())

    def start(self, specs: Sequence[InstanceSpec], on_start: StartCallback) -> list[Instance]:
        raise BackendUnavailable(self.reason())

    def stop(self, instances: Sequence[Instance]) -> None:
        return None

    def deploy_testbed(self) -> Testbed:
        raise BackendUnavailable(self.reason())

    def start_proxy(self, testbed: Testbed, on_start: StartCallback) -> Instance:
        raise BackendUnavailable(self.reason())

    def stop_proxy(self, proxy: Instance) -> None:
        return None

    def set_path(self, testbed: Testbed, mode: PathMode) -> None:
        raise BackendUnavailable(self.reason())

    def reconfigure_proxy(self, testbed: Testbed, host_b_is_b2: bool) -> None:
        raise BackendUnavailable(self.reason())

    def memory_pids(self, instance: Instance) -> Sequence[int]:
        return ()


def make(name: str, identity: RunIdentity, settings: NfvSettings) -> PendingBackend:
    return PendingBackend(name, identity)


def reap(*, include_live: bool, dry_run: bool, targets: EngineTargets) -> CleanupReport:
    """Pending backends create nothing, so there is nothing to reap."""
    return CleanupReport()
