"""Docs that name an option or a figure of the code say what the code does."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from pytest_nfv.analysis import gate_config
from pytest_nfv.cli.main import _parser
from pytest_nfv.harness.probes.icmp import DEFAULT_PROBE_INTERVAL_S
from pytest_nfv.plugin.options import _OPTIONS

README = Path(__file__).resolve().parents[2] / "README.md"


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    flags = {flag for action in parser._actions for flag in action.option_strings}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                flags |= _flags(sub)
    return flags


def _plugin_flags() -> set[str]:
    return {option.flag for option in _OPTIONS} | {"--nfv-strict"}


def test_gate_config_names_only_options_that_exist() -> None:
    named = set(re.findall(r"``(--[a-z][a-z-]+)``", gate_config.__doc__ or ""))
    assert named, "the module docstring names the options that read a gate file"
    assert named <= _flags(_parser()) | _plugin_flags()


def test_readme_states_the_probe_interval_the_prober_uses() -> None:
    text = " ".join(README.read_text(encoding="utf-8").split())
    claims = re.findall(r"probes each instance every ([0-9.]+) ms", text)
    assert claims == [f"{DEFAULT_PROBE_INTERVAL_S * 1e3:g}"]
