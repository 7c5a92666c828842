"""pytest-nfv: benchmark NFV virtualization backends as pytest suites.

Names are resolved lazily: VNF helper processes import ``pytest_nfv.vnf.*`` and must not pay
for pytest, scipy and the rest on start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_nfv.backends.base import Backend, EngineInfo
    from pytest_nfv.errors import (
        BackendError,
        BackendUnavailable,
        BootTimeout,
        BudgetExceeded,
        BudgetFileError,
        HistoryError,
        NfvError,
        NfvUsageError,
        ProbeError,
    )
    from pytest_nfv.harness.budgets import Budget, BudgetBook
    from pytest_nfv.harness.lab import Lab
    from pytest_nfv.harness.proxy_path import ProxyPath
    from pytest_nfv.harness.repeat import StopRule
    from pytest_nfv.harness.stats import Summary, summarize
    from pytest_nfv.model import Endpoint, Instance, InstanceSpec, Testbed
    from pytest_nfv.plugin.fixtures import Repeater as Repeat
    from pytest_nfv.plugin.options import NfvSettings
    from pytest_nfv.plugin.recorder import Recorder, Series

__all__ = [
    "Backend",
    "BackendError",
    "BackendUnavailable",
    "BootTimeout",
    "Budget",
    "BudgetBook",
    "BudgetExceeded",
    "BudgetFileError",
    "Endpoint",
    "EngineInfo",
    "HistoryError",
    "Instance",
    "InstanceSpec",
    "Lab",
    "NfvError",
    "NfvSettings",
    "NfvUsageError",
    "ProbeError",
    "ProxyPath",
    "Recorder",
    "Repeat",
    "Series",
    "StopRule",
    "Summary",
    "Testbed",
    "summarize",
]

_HOME = {
    "Backend": "backends.base",
    "EngineInfo": "backends.base",
    "Budget": "harness.budgets",
    "BudgetBook": "harness.budgets",
    "BackendError": "errors",
    "BackendUnavailable": "errors",
    "BootTimeout": "errors",
    "BudgetExceeded": "errors",
    "BudgetFileError": "errors",
    "HistoryError": "errors",
    "NfvError": "errors",
    "NfvUsageError": "errors",
    "ProbeError": "errors",
    "Lab": "harness.lab",
    "ProxyPath": "harness.proxy_path",
    "Recorder": "plugin.recorder",
    "Series": "plugin.recorder",
    "Endpoint": "model",
    "Instance": "model",
    "InstanceSpec": "model",
    "Testbed": "model",
    "NfvSettings": "plugin.options",
    "StopRule": "harness.repeat",
    "Summary": "harness.stats",
    "summarize": "harness.stats",
}


def __getattr__(name: str) -> Any:
    if name == "Repeat":  # the type of the ``nfv_repeat`` fixture
        return importlib.import_module("pytest_nfv.plugin.fixtures").Repeater
    if name in _HOME:
        return getattr(importlib.import_module(f"pytest_nfv.{_HOME[name]}"), name)
    raise AttributeError(f"module 'pytest_nfv' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
