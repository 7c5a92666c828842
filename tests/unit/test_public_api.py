"""The names pytest_nfv exports are real, lazy, and stay what they are."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pytest_nfv


@pytest.mark.parametrize("name", pytest_nfv.__all__)
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(pytest_nfv, name) is not None


def test_dir_is_the_public_api() -> None:
    assert dir(pytest_nfv) == sorted(pytest_nfv.__all__)


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        pytest_nfv.nope  # noqa: B018


def test_exported_errors_are_one_hierarchy() -> None:
    for name in (
        "BackendError",
        "BackendUnavailable",
        "BootTimeout",
        "BudgetExceeded",
        "BudgetFileError",
        "HistoryError",
        "NfvUsageError",
        "ProbeError",
    ):
        assert issubclass(getattr(pytest_nfv, name), pytest_nfv.NfvError)
    assert issubclass(pytest_nfv.BudgetExceeded, AssertionError)


def test_importing_the_vnf_programs_stays_light() -> None:
    """VNF processes import pytest_nfv.vnf.*: they must not pull pytest or scipy in."""
    code = (
        "import sys, pytest_nfv.vnf.proxy, pytest_nfv.vnf.echo; "
        "print(sorted(m for m in ('pytest', 'scipy', 'psutil', 'pyroute2') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
