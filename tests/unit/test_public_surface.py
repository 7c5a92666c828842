"""Benchmarks and suites drive a backend through its public names only (style rule 13).

A benchmark that reads a backend's privates breaks silently when the backend's internals
change, and measures something the suites cannot rely on. So everything under ``benchmarks/``
and ``suites/`` is parsed and no ``x._name`` may appear there. An object's own state
(``self._proc`` in a class of the script) is not another's private and is allowed; tests may
use privates (they check the internals on purpose).
"""

from __future__ import annotations

import ast
import ipaddress
from pathlib import Path
from typing import Any

import pytest

from pytest_nfv.backends import BUILTIN_BACKENDS, BackendSettings, make_builtin
from pytest_nfv.backends.base import Backend, BudgetChoice, ProbeInterval
from pytest_nfv.backends.coreos.containers import Containers, Held
from pytest_nfv.backends.shared.addressing import AddressPool
from pytest_nfv.host.identity import RunIdentity

ROOT = Path(__file__).resolve().parents[2]
HELD_TO_IT = ("benchmarks", "suites")
OWN = frozenset({"self", "cls"})


def private_accesses(source: str, filename: str) -> list[str]:
    """``file:line: x._name`` for every access to a single-underscore attribute of another
    object (dunders and ``self``/``cls`` accesses excepted)."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Attribute):
            continue
        name = node.attr
        if not name.startswith("_") or (name.startswith("__") and name.endswith("__")):
            continue
        if isinstance(node.value, ast.Name) and node.value.id in OWN:
            continue
        found.append(f"{filename}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_benchmarks_and_suites_use_only_public_names() -> None:
    files = sorted(p for folder in HELD_TO_IT for p in (ROOT / folder).rglob("*.py"))
    assert files, "nothing to check: the folders moved?"
    found = [
        line
        for path in files
        for line in private_accesses(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert not found, "private names used outside the package:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ("backend._client", ["x.py:1: backend._client"]),
        ("backend.switch._addresses.release(a)", ["x.py:1: backend.switch._addresses"]),
        ("self._backend._network", ["x.py:1: self._backend._network"]),
        ("self._proc.kill()", []),
        ("cls._cache", []),
        ("type(backend).__name__", []),
        ("backend.docker_client", []),
        ("from x import _private", []),
    ],
)
def test_the_check_flags_other_objects_privates_only(source: str, flagged: list[str]) -> None:
    assert private_accesses(source, "x.py") == flagged


def _unopened(name: str) -> Any:
    backend = make_builtin(name, RunIdentity.new(), BackendSettings())
    assert backend is not None
    return backend


@pytest.mark.parametrize("name", sorted(BUILTIN_BACKENDS))
def test_every_backend_offers_every_verb_of_the_protocol(name: str) -> None:
    verbs = {
        key
        for key, value in vars(Backend).items()
        if not key.startswith("_") and (callable(value) or isinstance(value, property))
    }
    assert "release" in verbs
    missing = [verb for verb in sorted(verbs) if not hasattr(type(_unopened(name)), verb)]
    assert not missing


@pytest.mark.parametrize("name", ["netns", "osv", "clickos"])
def test_release_frees_planned_addresses_and_keeps_those_of_running_instances(
    name: str,
) -> None:
    backend = _unopened(name)
    specs = backend.plan(3)
    running = vars(backend)["_vms" if name == "osv" else "_instances"]
    running[specs[0].name] = object()  # as if started
    backend.release(specs)
    again = backend.plan(3)
    assert [s.address for s in again[:2]] == [s.address for s in specs[1:]]
    assert specs[0].address not in {s.address for s in again}


def test_coreos_release_frees_planned_addresses_and_keeps_those_of_running_instances() -> None:
    backend = _unopened("coreos")
    pool = AddressPool(ipaddress.IPv4Network("10.214.0.0/20"), "02:4e:44")
    backend._addresses = pool  # as ``open`` makes it, with the run's containers
    backend._containers = Containers(backend.identity, None, "net", "image")
    specs = pool.plan(3, backend.identity)
    backend._containers.held[specs[0].name] = Held(specs[0].name, "id")  # as if started
    backend.release(specs)
    again = pool.plan(3, backend.identity)
    assert [s.address for s in again[:2]] == [s.address for s in specs[1:]]
    assert specs[0].address not in {s.address for s in again}


def test_optional_capabilities_are_protocols_a_backend_declares() -> None:
    osv, netns, clickos = _unopened("osv"), _unopened("netns"), _unopened("clickos")
    assert isinstance(osv, ProbeInterval)
    assert not isinstance(netns, ProbeInterval)
    assert isinstance(osv, BudgetChoice)
    assert isinstance(clickos, BudgetChoice)
    assert not isinstance(netns, BudgetChoice)
