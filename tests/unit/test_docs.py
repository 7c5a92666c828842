"""Docs that name an option or a figure of the code say what the code does."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from pytest_nfv.analysis import gate_config
from pytest_nfv.cli.main import _parser
from pytest_nfv.harness.probes.icmp import DEFAULT_PROBE_INTERVAL_S
from pytest_nfv.plugin.options import _OPTIONS

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
NETNS_DOC = ROOT / "docs" / "backends" / "netns.md"
DOCS = (README, *sorted((ROOT / "docs").rglob("*.md")))

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


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


def test_docs_state_the_probe_interval_the_prober_uses() -> None:
    """The netns page states it, and no other page states another."""
    claims = {
        doc.relative_to(ROOT).as_posix(): re.findall(
            r"probes each instance every ([0-9.]+) ms",
            " ".join(doc.read_text(encoding="utf-8").split()),
        )
        for doc in DOCS
    }
    stated = f"{DEFAULT_PROBE_INTERVAL_S * 1e3:g}"
    assert claims.pop(NETNS_DOC.relative_to(ROOT).as_posix()) == [stated]
    assert all(found in ([], [stated]) for found in claims.values()), claims


def _anchors(doc: Path) -> set[str]:
    """GitHub's anchors for the headings of ``doc``: lower case, punctuation dropped."""
    anchors = set()
    for line in doc.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") and not line.startswith("#!"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def test_relative_links_of_the_docs_reach_their_targets() -> None:
    broken = []
    for doc in DOCS:
        text = re.sub(r"```.*?```", "", doc.read_text(encoding="utf-8"), flags=re.DOTALL)
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            where = (doc.parent / path).resolve() if path else doc
            if not where.exists():
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and anchor not in _anchors(where):
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, broken
