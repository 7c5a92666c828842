"""Which CPU each harness process gets: the choice's parsing and the plan on a given host."""

from __future__ import annotations

import os

import pytest

from pytest_nfv.errors import NfvUsageError
from pytest_nfv.host.cpus import CpuPlan, parse_cpus, pinned_thread, plan_cpus


def test_auto_keeps_the_prober_apart_where_there_are_two_cpus() -> None:
    assert plan_cpus("auto", {0, 1}) == CpuPlan(path=0, prober=1, allowed=frozenset({0, 1}))
    plan = plan_cpus("auto", {2, 5, 7})
    assert (plan.path, plan.prober, plan.allowed) == (2, 7, {2, 5, 7})


def test_auto_pins_nothing_on_one_cpu_and_off_pins_nothing() -> None:
    assert plan_cpus("auto", {3}) == CpuPlan(None, None)
    assert plan_cpus("off", {0, 1}) == CpuPlan(None, None)
    assert plan_cpus("off", {0, 1}).describe() == "not pinned"


def test_an_explicit_choice_is_taken_as_given() -> None:
    plan = plan_cpus(" 1 , 0 ", {0, 1})
    assert (plan.path, plan.prober) == (1, 0)
    assert plan.as_dict() == {"path_cpu": 1, "prober_cpu": 0}
    assert "prober on CPU 0" in plan.describe()


def test_a_cpu_this_process_may_not_use_is_refused_by_number() -> None:
    with pytest.raises(NfvUsageError, match="may not run on CPU 9"):
        plan_cpus("0,9", {0, 1})


@pytest.mark.parametrize("bad", ["", "1", "0,1,2", "a,b", "-1,0", "fast"])
def test_a_malformed_choice_says_what_is_expected(bad: str) -> None:
    with pytest.raises(NfvUsageError, match="auto, off, or PATH,PROBER"):
        parse_cpus(bad)


def test_pinned_thread_gives_back_the_cpus_it_had() -> None:
    before = os.sched_getaffinity(0)
    one = min(before)
    with pinned_thread(one):
        assert os.sched_getaffinity(0) == {one}
    assert os.sched_getaffinity(0) == before
    with pinned_thread(None):
        assert os.sched_getaffinity(0) == before
