"""Built-in backends, by name; plugins add more through ``pytest_nfv_make_backend``.

Each built-in is a package of its own whose ``backend`` module, imported only when used, offers
two functions: ``make(name, identity, settings)`` builds the (unopened) backend, and
``reap(rule, dry_run=..., targets=...)`` removes what the runs ``rule`` takes left in its
engine. One ``ReapRule`` serves every engine of a cleanup (see ``pytest_nfv.host.reap``).
"""

from __future__ import annotations

from collections.abc import Collection
from importlib import import_module

from pytest_nfv.backends.base import (
    Backend,
    BackendSettings,
    CleanupReport,
    EngineInfo,
    EngineTargets,
)
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.reap import ReapRule

__all__ = [
    "BUILTIN_BACKENDS",
    "Backend",
    "BackendSettings",
    "CleanupReport",
    "EngineInfo",
    "EngineTargets",
    "make_builtin",
    "reap_all",
]

_MODULES = {
    "netns": "pytest_nfv.backends.netns.backend",
    "coreos": "pytest_nfv.backends.coreos.backend",
    "osv": "pytest_nfv.backends.osv.backend",
    "clickos": "pytest_nfv.backends.clickos.backend",
}
BUILTIN_BACKENDS = tuple(_MODULES)


def make_builtin(name: str, identity: RunIdentity, settings: BackendSettings) -> Backend | None:
    """The built-in backend ``name``, not yet opened; None if there is none by that name."""
    if name not in _MODULES:
        return None
    backend: Backend = import_module(_MODULES[name]).make(name, identity, settings)
    return backend


def reap_all(
    include_live: bool = False,
    dry_run: bool = False,
    targets: EngineTargets | None = None,
    backends: Collection[str] | None = None,
) -> CleanupReport:
    """Remove (or with ``dry_run`` list) what dead runs of the built-in backends left behind.

    One rule judges every engine, and the registry files of dead runs are forgotten only once
    all of their engines were reaped.

    Args:
        backends: reap only these backends' engines, plus the namespaces every switch-based
            backend leaves (a session reaps its own backend's, and never wakes an engine it
            does not use); None: every built-in (``pytest-nfv cleanup``).
    """
    if backends is None:
        chosen = BUILTIN_BACKENDS
    else:
        chosen = tuple(dict.fromkeys(("netns", *(b for b in backends if b in _MODULES))))
    rule = ReapRule(include_live=include_live)
    report = CleanupReport()
    for module in dict.fromkeys(_MODULES[name] for name in chosen):
        report.merge(
            import_module(module).reap(rule, dry_run=dry_run, targets=targets or EngineTargets())
        )
    if not dry_run:
        rule.forget_dead(None if backends is None else chosen)
    return report
