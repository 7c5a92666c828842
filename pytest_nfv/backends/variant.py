"""Variant B of the proxy VNF: how a second proxy, run in the same session, differs from A.

The strong form of an A/B comparison times both variants round by round in one session, so
that they share whatever the host does from second to second. ``--nfv-proxy-b SPEC`` names
the difference as comma-separated ``key=value`` pairs::

    slowdown=x1.2        the round trip through B is 1.2 times as long (``vnf.slowdown``)
    slowdown=+30us       or 30 us longer; also +20%, +0.5ms
    hold-us=5            B holds every frame 5 us (as ``NFV_PROXY_HOLD_US`` does to A)
    hold-us=0            B is A again: an A/A comparison

Keys are taken in any order, each at most once; what a key does not name, B has as A has it.
A new difference (another proxy program, say) is a new entry of ``_KEYS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from pytest_nfv.errors import NfvUsageError
from pytest_nfv.vnf.proxy import MAX_HOLD_US
from pytest_nfv.vnf.slowdown import Slowdown, parse_slowdown

__all__ = ["ProxyVariant", "parse_proxy_variant"]


@dataclass(frozen=True)
class ProxyVariant:
    """What variant B of the proxy VNF has other than A; None: as A has it."""

    spec: str
    """The SPEC as given (spaces dropped): what the record says B was."""
    slowdown: Slowdown | None = None
    hold_us: int | None = None


def _slowdown(variant: ProxyVariant, value: str) -> ProxyVariant:
    slowdown = parse_slowdown(value, "slowdown")
    if slowdown is None:
        raise NfvUsageError("slowdown='': expected a value such as x1.2, +20% or +30us")
    return replace(variant, slowdown=slowdown)


def _hold_us(variant: ProxyVariant, value: str) -> ProxyVariant:
    if not value.isdigit() or int(value) > MAX_HOLD_US:
        raise NfvUsageError(f"hold-us={value!r}: expected whole microseconds in 0..{MAX_HOLD_US}")
    return replace(variant, hold_us=int(value))


_KEYS: dict[str, Callable[[ProxyVariant, str], ProxyVariant]] = {
    "slowdown": _slowdown,
    "hold-us": _hold_us,
}


def parse_proxy_variant(text: str) -> ProxyVariant:
    """Variant B as ``text`` (``key=value,...``) states it.

    Raises:
        NfvUsageError: empty, not ``key=value`` pairs, an unknown or repeated key, or a value
            its key refuses; the message names the part and the known keys.
    """
    spec = ",".join(part.strip() for part in text.split(",") if part.strip())
    known = ", ".join(f"{key}=..." for key in _KEYS)
    if not spec:
        raise NfvUsageError(f"expected key=value pairs naming how B differs from A ({known})")
    variant = ProxyVariant(spec)
    seen: set[str] = set()
    for part in spec.split(","):
        key, equals, value = (p.strip() for p in part.partition("="))
        if not equals:
            raise NfvUsageError(f"{part!r} is not key=value (known keys: {known})")
        if key not in _KEYS:
            raise NfvUsageError(f"unknown key {key!r} (known keys: {known})")
        if key in seen:
            raise NfvUsageError(f"{key} given twice")
        seen.add(key)
        variant = _KEYS[key](variant, value)
    return variant
