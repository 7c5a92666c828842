"""Backends share by composition (a switch, a libvirt layer), never by subclassing another
backend: a backend that inherits one reaches into its privates, and every change to the
parent's internals then breaks it silently."""

from __future__ import annotations

import importlib

import pytest

from pytest_nfv.backends import BUILTIN_BACKENDS, BackendSettings, make_builtin
from pytest_nfv.backends.shared.switch import Switch
from pytest_nfv.host.identity import RunIdentity

CLASSES = {
    "netns": ("pytest_nfv.backends.netns.backend", "NetnsBackend"),
    "coreos": ("pytest_nfv.backends.coreos.backend", "CoreosBackend"),
    "osv": ("pytest_nfv.backends.osv.backend", "OsvBackend"),
    "clickos": ("pytest_nfv.backends.clickos.backend", "ClickosBackend"),
}


def _classes() -> dict[str, type]:
    return {
        name: getattr(importlib.import_module(module), cls)
        for name, (module, cls) in CLASSES.items()
    }


def test_every_builtin_backend_is_checked() -> None:
    assert set(CLASSES) == set(BUILTIN_BACKENDS)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_no_backend_class_subclasses_another(name: str) -> None:
    classes = _classes()
    backend = classes[name]
    assert backend.__mro__ == (backend, object)
    others = [other for key, other in classes.items() if key != name]
    assert not [other for other in others if issubclass(backend, other)]


@pytest.mark.parametrize("name", ["netns", "osv", "clickos"])
def test_the_switch_backends_hold_a_switch_and_are_not_one(name: str) -> None:
    backend = make_builtin(name, RunIdentity.new(), BackendSettings())  # not opened
    assert not isinstance(backend, Switch)
    assert [v for v in vars(backend).values() if isinstance(v, Switch)]
