"""``nfv_repeat.together``: one round, several figures, each held to its own dimension's rule."""

from __future__ import annotations

import pytest

TOGETHER_TEST = """
import itertools

import pytest

pytestmark = pytest.mark.nfv_requirement("instantiation")


def test_together(nfv_repeat) -> None:
    noisy = itertools.cycle([0.3, 0.5])

    def once():
        value = next(noisy)
        return {"mem": value, "time": value}

    out = nfv_repeat.together(
        once, {"mem": ("memory_kernel", 1), "time": ("boot_makespan", 1)}
    )
    # 0.1 MiB of spread is within the 0.25 MiB floor after 4 rounds; 0.1 s never is within
    # 5% of 0.4 s or 2 us: the rounds go on to the cap for it, and both share them.
    assert out["mem"].rounds == out["time"].rounds == 6
    assert (out["mem"].converged, out["mem"].stop_reason) == (True, "converged")
    assert (out["time"].converged, out["time"].stop_reason) == (False, "max_rounds")
"""


def test_each_figure_keeps_its_own_floor(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_together=TOGETHER_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--nfv-max-rounds", "6")
    result.assert_outcomes(passed=1)
