"""The all-or-nothing start the coreos and osv backends share (``backends.shared.parallel``)."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Sequence

import pytest

from pytest_nfv.backends.shared.parallel import all_or_nothing, map_together
from pytest_nfv.model import InstanceSpec

SPECS = [
    InstanceSpec(f"i{k}", ipaddress.IPv4Address(f"10.0.1.{k}"), f"02:00:00:00:01:{k:02x}")
    for k in range(4)
]


def test_results_come_in_the_items_order() -> None:
    def work(k: int) -> int:
        time.sleep(0.01 * (4 - k))  # the last item ends first
        return k * k

    assert map_together(work, [0, 1, 2, 3], parallel=4) == [0, 1, 4, 9]


def test_a_failure_is_raised_only_once_every_item_in_flight_ended() -> None:
    begun: list[int] = []
    ended: list[int] = []
    lock = threading.Lock()

    def work(k: int) -> int:
        with lock:
            begun.append(k)
        if k == 0:
            raise RuntimeError("first fails at once")
        time.sleep(0.05)
        with lock:
            ended.append(k)
        return k

    with pytest.raises(RuntimeError, match="first fails"):
        map_together(work, list(range(6)), parallel=2)
    assert 1 in ended  # in flight beside the failure
    assert sorted(ended) == sorted(begun)[1:]  # and nothing begun was left running
    assert len(begun) < 6  # what had not begun by then never does


def test_no_more_than_parallel_run_at_once() -> None:
    running, most = 0, 0
    lock = threading.Lock()

    def work(k: int) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1

    map_together(work, list(range(8)), parallel=3)
    assert most == 3


def test_one_item_runs_in_the_calling_thread() -> None:
    assert map_together(lambda _: threading.current_thread(), [0], 8) == [
        threading.current_thread()
    ]


def test_a_failed_start_removes_what_was_created_and_frees_every_address() -> None:
    removed: list[Sequence[InstanceSpec]] = []
    released: list[ipaddress.IPv4Address] = []
    with pytest.raises(KeyboardInterrupt), all_or_nothing(SPECS, removed.append, released.append):
        raise KeyboardInterrupt
    assert removed == [SPECS]
    assert released == [s.address for s in SPECS]


def test_addresses_are_freed_even_when_the_removal_fails() -> None:
    released: list[ipaddress.IPv4Address] = []

    def remove(specs: Sequence[InstanceSpec]) -> None:
        raise OSError("engine gone")

    with (
        pytest.raises(OSError, match="engine gone"),
        all_or_nothing(SPECS, remove, released.append),
    ):
        raise ValueError("start failed")
    assert released == [s.address for s in SPECS]


def test_a_start_that_succeeds_keeps_everything() -> None:
    calls: list[object] = []
    with all_or_nothing(SPECS, calls.append, calls.append):
        pass
    assert calls == []
