"""Which budgets judge a session: the user's file, else the backend's pick, else its default.

A backend may know better than its name which figures fit (osv: the paper's OS^v figures
for OSv on KVM, figures measured under TCG, or the stand-in guest's); it says so through an
optional ``budget_choice()`` (``BudgetChoice``) returning the file and the reason, asked once
when the session is configured and again once the backend is open and knows what runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nfv.backends.base import Backend, BudgetChoice
from pytest_nfv.errors import NfvUsageError
from pytest_nfv.harness.budget_file import load_budgets
from pytest_nfv.harness.budgets import BudgetBook
from pytest_nfv.plugin.options import NfvSettings
from pytest_nfv.resources import budgets_file

__all__ = ["budget_choice", "load_chosen_budgets"]


def budget_choice(settings: NfvSettings, backend: Backend) -> tuple[Path | None, str]:
    """Which budgets judge the run, and why: ``--nfv-budgets``, else the backend's own pick
    (``budget_choice()``: osv picks by accelerator and guest), else its default file."""
    if settings.budgets is not None:
        return settings.budgets, "--nfv-budgets"
    chosen = backend.budget_choice() if isinstance(backend, BudgetChoice) else None
    if chosen is not None:
        return Path(chosen[0]), str(chosen[1])
    return budgets_file(settings.backend), f"default budgets of {settings.backend}"


def load_chosen_budgets(path: Path | None, why: str, backend: str) -> BudgetBook:
    """The budgets at ``path`` (none for None); a malformed file, or one whose ``backend``
    key names another backend than ``backend``, is a usage error."""
    if path is None:
        return BudgetBook.empty()
    try:
        return load_budgets(Path(path), backend)
    except NfvUsageError as exc:
        raise pytest.UsageError(f"{why}: {exc}") from None
