"""Validating ``type=`` callables for the sub-commands' options.

One place for them, so that every command refuses a bad number the same way, in one line
naming the value and the range, before anything runs (a session timeout of ``inf`` or an
alpha of 2 would otherwise be found only when it is used).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["number", "session_timeout", "share", "whole_number"]


def whole_number(low: int, high: int | None, what: str) -> Callable[[str], int]:
    """A parser of whole numbers in ``low..high`` (no upper bound for None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"at least {low} {what}, not {value}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"at most {high} {what}, not {value}")
        return value

    return parse


def number(low: float, high: float, what: str, *, inclusive: bool = True) -> Callable[[str], float]:
    """A parser of finite numbers in ``[low, high]`` (``(low, high)`` unless ``inclusive``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        inside = low <= value <= high if inclusive else low < value < high
        if not math.isfinite(value) or not inside:
            bounds = f"[{low:g}, {high:g}]" if inclusive else f"({low:g}, {high:g})"
            raise argparse.ArgumentTypeError(f"{what} {text!r} is not in {bounds}")
        return value

    return parse


def share(text: str) -> float:
    """A share of a figure, ``5%`` or ``0.05``, from 0 up to 1000%."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share like 5% or 0.05") from None
    if not 0 <= value < 10:  # nan fails this too
        raise argparse.ArgumentTypeError(f"{text!r} is out of range (0 to 1000%)")
    return value


session_timeout = number(1.0, 86400.0, "a session timeout")
"""Seconds a session of ``ab`` or ``calibrate`` may run: from one second to a day."""
