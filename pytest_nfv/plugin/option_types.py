"""Validating parsers for the ``--nfv-*`` options and their ini twins.

Each is an argparse ``type=``: it converts, checks, and says in one line which of the two
failed and what was expected, so a bad value is refused by option name (or ini key) before
anything starts. Apart from ``plugin.options`` so that the table of options reads as a table.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pytest_nfv.backends.variant import ProxyVariant, parse_proxy_variant
from pytest_nfv.errors import NfvUsageError
from pytest_nfv.harness.traffic.generator import IMIX, MAX_FRAME, MIN_FRAME, FrameSize
from pytest_nfv.host.cpus import parse_cpus
from pytest_nfv.model import ECHO_CHOICES

__all__ = [
    "BOOT_TIMEOUT_FLOOR_S",
    "INCONCLUSIVE_POLICIES",
    "MAX_SECONDS",
    "backend_name",
    "boot_timeout",
    "cpu_choice",
    "echo_choice",
    "file_path",
    "fraction",
    "generator_name",
    "inconclusive_policy",
    "int_list",
    "nonempty_text",
    "number",
    "one_of",
    "positive_int",
    "positive_seconds",
    "proxy_variant",
]

T = TypeVar("T")


def int_list(lo: int, hi: int, what: str) -> Callable[[str], tuple[int, ...]]:
    def parse(text: str) -> tuple[int, ...]:
        parts = [p.strip() for p in text.replace(" ", ",").split(",") if p.strip()]
        if not parts:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {what}")
        values = []
        for part in parts:
            try:
                value = int(part)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{part!r} is not an integer") from None
            if not lo <= value <= hi:
                raise argparse.ArgumentTypeError(f"{value} is outside {lo}..{hi} {what}")
            values.append(value)
        return tuple(sorted(set(values)))

    return parse


def frame_sizes(text: str) -> tuple[FrameSize, ...]:
    """``--nfv-frame-sizes``: frame sizes (FCS included) and ``imix``, the simple IMIX."""
    parts = [p.strip().lower() for p in text.replace(" ", ",").split(",") if p.strip()]
    plain = [p for p in parts if p != "imix"]
    sizes = _frame_bytes(",".join(plain)) if plain or not parts else ()
    chosen = [FrameSize(size) for size in sizes]
    if "imix" in parts:
        if IMIX.size in sizes:
            raise argparse.ArgumentTypeError(
                f"{IMIX.size} and imix: an IMIX is recorded at its mean size, {IMIX.size} B, "
                "so the two would share one record; ask for one of them"
            )
        chosen.append(IMIX)
    return tuple(chosen)


_frame_bytes = int_list(MIN_FRAME, MAX_FRAME, "bytes per frame (or imix)")


def number(
    convert: Callable[[str], T], valid: Callable[[T], bool], noun: str, rule: str
) -> Callable[[str], T]:
    """An argparse ``type=`` that converts, then checks, and says which of the two failed."""

    def parse(text: str) -> T:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None
        if not valid(value):
            raise argparse.ArgumentTypeError(f"{value} {rule}")
        return value

    return parse


fraction = number(float, lambda v: 0 < v < 1, "a number", "must be a fraction in (0, 1), e.g. 0.05")
positive_int = number(int, lambda v: v >= 1, "an integer", "must be at least 1")
MAX_SECONDS = 86_400.0
"""No wait or cap is longer than a day: a larger value (``inf``, ``1e10``) is a typo, and
would overflow the waits it reaches (``select``, the C prober's timeout) long after the run
started."""
positive_seconds = number(
    float,
    lambda v: 0 < v <= MAX_SECONDS,
    "a number of seconds",
    f"must be more than 0 seconds and at most {MAX_SECONDS:g} (a day)",
)

BOOT_TIMEOUT_FLOOR_S = 60.0
"""The boot deadline with ``auto``, for a backend that expects no slower boot (and the floor
of one that does): a container, a namespace, a KVM guest answer in seconds."""


def boot_timeout(text: str) -> float | str:
    """``auto`` (the backend's deadline for what it boots, at least 60 s) or seconds."""
    if text.strip() == "auto":
        return "auto"
    return positive_seconds(text)


def nonempty_text(what: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip()
        if not value:
            raise argparse.ArgumentTypeError(f"expected {what}, got an empty value")
        return value

    return parse


def file_path(what: str) -> Callable[[str], Path]:
    def parse(text: str) -> Path:
        path = Path(text).expanduser()
        if not path.is_file():
            raise argparse.ArgumentTypeError(f"no such {what}: {path}")
        return path

    return parse


def generator_name(text: str) -> str:
    name = text.strip()
    if not name.replace("_", "").replace("-", "").isalnum():
        raise argparse.ArgumentTypeError(f"{text!r} is not a traffic generator name")
    return name


def backend_name(text: str) -> str:
    name = text.strip().lower()
    if not name.replace("_", "").replace("-", "").isalnum():
        raise argparse.ArgumentTypeError(f"{text!r} is not a backend name")
    return name


INCONCLUSIVE_POLICIES = ("report", "fail")


def cpu_choice(text: str) -> str:
    try:
        return parse_cpus(text)
    except NfvUsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(choices)}")
        return value

    return parse


def proxy_variant(text: str) -> ProxyVariant:
    try:
        return parse_proxy_variant(text)
    except NfvUsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


inconclusive_policy = one_of(INCONCLUSIVE_POLICIES)
echo_choice = one_of(ECHO_CHOICES)
