"""Traffic generators by name: the built-in ones and any a hardware runner registers.

A hardware runner (a TRex wrapper, say) registers its own generator under a name, from a
conftest or a plugin, and a suite asks for it by that name as for a built-in one::

    from pytest_nfv.harness.traffic.registry import register_generator

    register_generator("trex", lambda stream: TrexGenerator(stream, ports=(0, 1)))

A pytest plugin can also answer the ``pytest_nfv_traffic_generator`` hook instead.
"""

from __future__ import annotations

from collections.abc import Callable

from pytest_nfv.errors import NfvUsageError
from pytest_nfv.harness.traffic.generator import SIMPLE_IMIX, Stream, TrafficGenerator
from pytest_nfv.harness.traffic.sender import CSender
from pytest_nfv.harness.traffic.trafgen import Trafgen

__all__ = ["GeneratorFactory", "generator_names", "make_generator", "register_generator"]


GeneratorFactory = Callable[[Stream], TrafficGenerator]
"""Builds a generator (not yet opened) for a stream."""

_REGISTRY: dict[str, GeneratorFactory] = {}


def register_generator(name: str, factory: GeneratorFactory, *, replace: bool = False) -> None:
    """Make ``factory`` the generator called ``name``.

    Args:
        name: what a suite or option asks for (``trex``).
        factory: builds the generator for a stream.
        replace: allow taking over a name already registered (a built-in one too).

    Raises:
        NfvUsageError: the name is taken and ``replace`` is False.
    """
    if name in _REGISTRY and not replace:
        raise NfvUsageError(f"a traffic generator called {name!r} is registered already")
    _REGISTRY[name] = factory


def generator_names() -> list[str]:
    """Every registered generator's name, built-in ones included."""
    _builtins()
    return sorted(_REGISTRY)


def make_generator(name: str, stream: Stream) -> TrafficGenerator:
    """The generator called ``name`` for ``stream``, not yet opened.

    Raises:
        NfvUsageError: no generator has that name.
    """
    _builtins()
    factory = _REGISTRY.get(name)
    if factory is None:
        raise NfvUsageError(
            f"no traffic generator called {name!r}; known: {', '.join(sorted(_REGISTRY))}"
        )
    return factory(stream)


def _builtins() -> None:
    """The built-in generators, unless a plugin took their names first (``replace``)."""
    _REGISTRY.setdefault("trafgen", Trafgen)
    _REGISTRY.setdefault("csender", CSender)
    _REGISTRY.setdefault("csender-imix", lambda stream: CSender(stream, SIMPLE_IMIX))
