"""What the host spends for instances: the parts add up, each read where the backend has it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_nfv.harness import host_spend as spend_module
from pytest_nfv.harness.host_spend import HostSpend, SpendBaseline, host_spend, spend_method
from pytest_nfv.harness.probes.memory import host_kernel_mib
from pytest_nfv.model import Instance

MiB = st.floats(min_value=-10.0, max_value=1e5, allow_nan=False)


@given(MiB, st.one_of(st.none(), MiB), st.one_of(st.none(), MiB), st.one_of(st.none(), MiB), MiB)
def test_the_parts_add_up_to_the_figure_without_the_fixed_cost(
    instances: float,
    helpers: float | None,
    daemons: float | None,
    kernel: float | None,
    fixed: float,
) -> None:
    spend = HostSpend(instances, helpers, daemons, kernel, fixed)
    parts = spend.parts()
    assert parts.pop("engine daemons before (fixed, not in the figure)") == fixed
    assert sum(parts.values()) == pytest.approx(spend.total_mib)
    assert spend.total_mib == pytest.approx(instances + spend.engine_per_instance_mib)
    assert len(parts) == 1 + sum(part is not None for part in (helpers, daemons, kernel))


class ProcessesOnly:
    """A backend whose engine runs one helper process per instance (this test's process)."""

    def engine_daemon_pids(self) -> Sequence[int]:
        return [os.getpid()]

    def engine_helper_pids(self, instances: Sequence[Instance]) -> Sequence[int]:
        return [os.getpid()] * len(instances)


class KernelToo(ProcessesOnly):
    def charged_kernel_mib(self, instances: Sequence[Instance]) -> float:
        return 0.5 * len(instances)


def test_a_helper_process_per_instance_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spend_module, "settled_host_kernel_mib", lambda: 100.0)
    backend: Any = ProcessesOnly()
    instances: Any = ["a", "b"]
    baseline = spend_module.spend_baseline(backend)
    spend = host_spend(backend, instances, 1.0, baseline)
    assert spend.helpers_mib is not None
    assert spend.helpers_mib > 0  # two helpers' PSS
    assert spend.engine_fixed_mib == baseline.daemons_mib > 0
    assert spend.kernel_outside_mib is None  # no charged kernel memory to tell it apart
    assert spend.total_mib > 1.0
    assert "not counted" in spend_method(backend, "cgroups")


def test_kernel_memory_charged_to_no_instance_is_the_host_s_growth_less_the_charged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(spend_module, "settled_host_kernel_mib", lambda: 103.0)
    backend: Any = KernelToo()
    instances: Any = ["a", "b"]
    spend = host_spend(backend, instances, 1.0, SpendBaseline(100.0, 0.0))
    assert spend.kernel_outside_mib == pytest.approx(3.0 - 1.0)
    assert "SUnreclaim" in spend_method(backend, "cgroups")


def test_slab_the_kernel_already_had_takes_nothing_from_the_instances(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The host's kernel counters grew less than the instances' cgroups were charged (objects
    filled slab pages the kernel had): the figure keeps the instances' own charge."""
    monkeypatch.setattr(spend_module, "settled_host_kernel_mib", lambda: 100.5)
    backend: Any = KernelToo()
    instances: Any = ["a", "b"]
    spend = host_spend(backend, instances, 1.0, SpendBaseline(100.0, 0.0))
    assert spend.kernel_outside_mib == 0.0


def test_a_backend_without_engine_processes_counts_its_instances_alone() -> None:
    backend: Any = object()
    spend = host_spend(backend, [], 2.0, SpendBaseline(0.0, 0.0))
    assert spend.total_mib == 2.0
    assert spend.parts() == {"instances": 2.0}


def test_the_host_s_kernel_memory_is_read_from_meminfo(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(
        "MemTotal: 1000 kB\nSlab: 4096 kB\nSReclaimable: 2048 kB\nSUnreclaim: 2048 kB\n"
        "KernelStack: 1024 kB\nPageTables: 1024 kB\nPercpu: 1024 kB\n"
    )
    assert host_kernel_mib(meminfo) == pytest.approx(5.0)  # reclaimable slab left out
    assert host_kernel_mib() > 0
