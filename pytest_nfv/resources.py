"""Where the shipped suites and budget files are, in a clone and in an installed wheel.

A wheel carries ``suites/``, ``fixtures/`` and ``proxy_vnf/`` inside the package
(``pytest_nfv/suites`` and so on); a clone or editable install has them at the repository root.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["budgets_file", "fixtures_dir", "proxy_vnf_dir", "suites_dir"]

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"pytest-nfv's {name}/ directory is missing from {_PACKAGE}")


def suites_dir() -> Path:
    return _find("suites")


def fixtures_dir() -> Path:
    return _find("fixtures")


def proxy_vnf_dir() -> Path:
    """Algorithm 1 in each backend's own form (iptables rules, C source, Click template)."""
    return _find("proxy_vnf")


def budgets_file(backend: str) -> Path | None:
    """The default budgets of ``backend``, if pytest-nfv ships one."""
    path = fixtures_dir() / "budgets" / f"{backend}.toml"
    return path if path.is_file() else None
