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
