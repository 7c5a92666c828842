"""Hooks other plugins implement to extend pytest-nfv.

Register a backend of your own the way pytest-xdist lets you add a scheduler::

    # conftest.py or a plugin module
    def pytest_nfv_backend_names():
        return ["firecracker"]

    def pytest_nfv_make_backend(name, identity, config):
        if name == "firecracker":
            return FirecrackerBackend(identity)
        return None
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy
import pytest

if TYPE_CHECKING:
    from pytest_nfv.backends.base import Backend
    from pytest_nfv.harness.traffic.generator import Stream, TrafficGenerator
    from pytest_nfv.host.identity import RunIdentity

hookspec = pluggy.HookspecMarker("pytest")


@hookspec
def pytest_nfv_backend_names() -> list[str]:  # type: ignore[empty-body]
    """Backend names this plugin provides, so ``--backend`` accepts them.

    Example::

        def pytest_nfv_backend_names():
            return ["firecracker"]
    """


@hookspec(firstresult=True)
def pytest_nfv_make_backend(
    name: str, identity: RunIdentity, config: pytest.Config
) -> Backend | None:
    """Build the backend called ``name`` (not yet opened), or return None if it is not yours.

    The built-in backends answer last, so a plugin can also replace one of them.

    Example::

        def pytest_nfv_make_backend(name, identity, config):
            return MyBackend(identity) if name == "mine" else None
    """


@hookspec(firstresult=True)
def pytest_nfv_traffic_generator(
    name: str, stream: Stream, config: pytest.Config
) -> TrafficGenerator | None:
    """Build the traffic generator called ``name`` for ``stream`` (not yet opened), or None.

    Asked before the registry (``harness.traffic.registry``), so a hardware runner's plugin
    can bring its own generator (TRex) or replace a built-in one.

    Example::

        def pytest_nfv_traffic_generator(name, stream, config):
            return TrexGenerator(stream) if name == "trex" else None
    """
