"""Start many instances together, all or nothing.

A population start that fails part-way must leave nothing behind: the caller (a round that
retries, a benchmark that tries a smaller N) would otherwise find the first attempt's
instances still running, counted in its memory, and their addresses still taken, its plan
shifted. So every start already in flight runs to its end (an engine's create request cannot
be taken back half-way) and none begins once the failure is seen, then the backend removes
what the others created, every planned address of the start is freed, and the first failure
is raised.

The coreos and osv backends start their instances this way, one engine request each
(containers, domains), a few requests in flight.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from pytest_nfv.model import InstanceSpec

__all__ = ["all_or_nothing", "map_together"]

T = TypeVar("T")
R = TypeVar("R")


def map_together(work: Callable[[T], R], items: Sequence[T], parallel: int) -> list[R]:
    """``work`` over ``items`` with at most ``parallel`` running at once; results in order.

    A failure (the first in ``items``' order) is raised only once the work in flight beside
    it has ended, so that whatever that created is there to be removed; items not yet begun
    once it is seen are never begun. One item runs in the calling thread.
    """
    if len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max(1, min(parallel, len(items)))) as pool:
        return list(pool.map(work, items))


@contextmanager
def all_or_nothing(
    specs: Sequence[InstanceSpec],
    remove: Callable[[Sequence[InstanceSpec]], None],
    release: Callable[[ipaddress.IPv4Address], None],
) -> Iterator[None]:
    """On any failure inside: ``remove(specs)`` (what of them was created), then ``release``
    every address of ``specs``, even if the removal failed; the failure goes on.

    Args:
        specs: the instances the start was asked for, created or not.
        remove: takes away those of ``specs`` the backend created; skips the others.
        release: gives one planned address back to the backend's plan.
    """
    try:
        yield
    except BaseException:
        try:
            remove(specs)
        finally:
            for spec in specs:
                release(spec.address)
        raise
