"""Click configurations for ClickOS: parser, element allow-list, executable model, templates."""

from __future__ import annotations

from pytest_nfv.backends.clickos.click.language import ClickConfigError, ClickConfiguration, parse
from pytest_nfv.backends.clickos.click.model import Router, check

__all__ = ["ClickConfigError", "ClickConfiguration", "Router", "check", "parse"]
