"""Shared by every test directory.

Its presence also puts ``tests/`` on ``sys.path`` (pytest's default "prepend" import mode does
that for a conftest outside a package), so test modules can import ``synthetic_runs``.
"""

from __future__ import annotations

import builtins
import sys
from typing import Any

import pytest
from skip_guard import pytest_addoption, pytest_configure

__all__ = ["no_matplotlib", "pytest_addoption", "pytest_configure"]  # the last two: hooks


@pytest.fixture
def no_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import matplotlib`` fail, as on a host without the ``report`` extra."""
    real_import = builtins.__import__

    def refuse(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.split(".", maxsplit=1)[0] == "matplotlib":
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    for name in [m for m in sys.modules if m.split(".", maxsplit=1)[0] == "matplotlib"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(builtins, "__import__", refuse)
