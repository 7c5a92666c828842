"""Defaults that fit the host: the N list a backend can hold, the boot deadline it needs."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest

from pytest_nfv.harness.lab import Lab
from pytest_nfv.model import Instance, InstanceSpec

SLOW_BACKEND_CONFTEST = """
from pytest_nfv.backends.base import EngineInfo


class SlowBackend:
    name = "slow"

    def __init__(self, identity):
        self.identity = identity

    def most_instances(self):
        return 16, "each idle guest takes a CPU's sixteenth"

    def boot_deadline_s(self, starting):
        return 10.0 * starting

    @property
    def boot_deadline_rule(self):
        return "10 s per guest"

    def open(self):
        pass

    def close(self):
        pass

    def engine(self):
        return EngineInfo("slow-engine", "1")


def pytest_nfv_backend_names():
    return ["slow"]


def pytest_nfv_make_backend(name, identity, config):
    return SlowBackend(identity) if name == "slow" else None
"""

N_TEST = """
def test_n(nfv_n):
    pass
"""


def test_the_default_n_list_stops_where_the_host_is_full_and_says_why(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(SLOW_BACKEND_CONFTEST)
    pytester.makepyfile(N_TEST)
    result = pytester.runpytest_subprocess("--backend", "slow", "--co")
    result.stdout.fnmatch_lines(
        [
            "nfv: N=1,2,4,8,16 (N>=64 marked nfv_big; the default list cut at 16: each idle "
            "guest takes a CPU's sixteenth; --nfv-instances goes further); packet sizes*",
            "nfv: boot deadline auto: at least 60 s; 10 s per guest",
        ]
    )
    assert "test_n[N=32]" not in result.stdout.str()
    assert "test_n[N=16]" in result.stdout.str()


def test_n_chosen_by_the_user_is_kept_and_a_given_deadline_too(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(SLOW_BACKEND_CONFTEST)
    pytester.makepyfile(N_TEST)
    result = pytester.runpytest_subprocess(
        "--backend", "slow", "--co", "--nfv-instances", "1,64", "--nfv-boot-timeout", "90"
    )
    result.stdout.fnmatch_lines(
        ["nfv: N=1,64 (N>=64 marked nfv_big); packet sizes*", "nfv: boot deadline 90 s*"]
    )
    assert "test_n[N=64]" in result.stdout.str()


def test_a_bad_boot_timeout_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--nfv-boot-timeout", "soon")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--nfv-boot-timeout*'soon' is not a number of seconds*"])


class Slow:
    """A backend whose guests need 10 s each to boot; it records the deadline it was given."""

    name = "slow"

    def boot_deadline_s(self, starting: int) -> float:
        return 10.0 * starting

    boot_deadline_rule = "10 s per guest"

    def start(self, specs: Sequence[InstanceSpec], on_start: Any) -> list[Instance]:
        for spec in specs:
            on_start(spec)
        return [Instance(spec, 0, None, ()) for spec in specs]

    def stop(self, instances: Sequence[Instance]) -> None:
        pass


class Prober:
    def __init__(self) -> None:
        self.deadlines: list[float] = []

    def begin(self, timeout_s: float) -> None:
        self.deadlines.append(timeout_s)

    def started(self, address: object) -> None:
        pass

    def finish(self, on_reply: Any) -> Any:
        return SimpleNamespace(unanswered=[], replies_ns={SPEC.address: 1}, max_probe_gap_s=0,
                               resolution_s=0, prober_cpu_share=0)  # fmt: skip


SPEC = InstanceSpec("nfv-x-p1-vnf0", ipaddress.IPv4Address("10.0.0.2"), "02:00:00:00:00:00")


@pytest.mark.parametrize(
    ("auto", "starting", "expected"), [(True, 1, 60.0), (True, 9, 90.0), (False, 9, 60.0)]
)
def test_the_deadline_is_the_backend_s_when_longer_and_only_with_auto(
    auto: bool, starting: int, expected: float
) -> None:
    prober = Prober()
    lab = Lab(Slow(), prober, boot_timeout_s=60, backend_deadlines=auto)  # type: ignore[arg-type]
    assert lab.boot_deadline_s(starting) == expected
    lab.boot([SPEC])
    assert prober.deadlines == [lab.boot_deadline_s(1)]
