"""``--nfv-proxy-b``: variant B of the proxy VNF, checked before anything starts."""

from __future__ import annotations

import pytest

USAGE_ERROR = int(pytest.ExitCode.USAGE_ERROR)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "expected key=value pairs naming how B differs from A*slowdown=...*hold-us=..."),
        ("x1.2", "'x1.2' is not key=value*known keys: slowdown=..., hold-us=..."),
        ("speed=x2", "unknown key 'speed'*known keys: slowdown=..., hold-us=..."),
        ("slowdown=x1.2,slowdown=+3us", "slowdown given twice"),
        ("slowdown=", "slowdown='': expected a value such as x1.2*"),
        ("slowdown=x0.8", "slowdown='x0.8': expected xFACTOR with 1 < FACTOR <= 10*+30us*"),
        ("slowdown=+30", "slowdown='+30': expected xFACTOR*"),
        ("slowdown=xinf", "slowdown='xinf': expected xFACTOR*"),
        ("slowdown=+200ms", "slowdown='+200ms': expected *at most 100 ms*"),
        ("hold-us=-1", "hold-us='-1': expected whole microseconds in 0..100000"),
        ("hold-us=100001", "hold-us='100001': expected whole microseconds in 0..100000"),
    ],
)
def test_a_bad_spec_is_a_usage_error_saying_what_is_accepted(
    pytester: pytest.Pytester, spec: str, message: str
) -> None:
    result = pytester.runpytest_inprocess(f"--nfv-proxy-b={spec}")
    assert result.ret == USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--nfv-proxy-b*{message}*"])


def test_the_ini_key_is_checked_like_the_option(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nnfv_proxy_b = slowdown=x20\n")
    result = pytester.runpytest_inprocess()
    assert result.ret == USAGE_ERROR
    result.stderr.fnmatch_lines(["*nfv_proxy_b*slowdown='x20': expected xFACTOR*"])


@pytest.mark.parametrize("backend", ["coreos", "osv", "clickos"])
def test_a_backend_that_cannot_run_variant_b_is_named(
    pytester: pytest.Pytester, backend: str
) -> None:
    result = pytester.runpytest_inprocess(f"--backend={backend}", "--nfv-proxy-b=hold-us=0")
    assert result.ret == USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"*--nfv-proxy-b: the {backend} backend cannot run a second proxy VNF*netns*"]
    )


def test_the_header_and_the_settings_say_what_b_is(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from pytest_nfv import NfvSettings

        def test_settings(nfv_settings: NfvSettings) -> None:
            variant = nfv_settings.proxy_b
            assert variant is not None
            assert variant.spec == "slowdown=+20%,hold-us=3"
            assert variant.slowdown.factor == 1.2
            assert variant.hold_us == 3
        """
    )
    result = pytester.runpytest_subprocess("--nfv-proxy-b", " slowdown=+20%, hold-us=3")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["nfv: response time: *; variant B of the proxy VNF: slowdown=+20%,hold-us=3"]
    )
