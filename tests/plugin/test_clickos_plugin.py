"""The clickos backend as a user without Xen meets it: the suites skip, saying what is missing;
under ``--nfv-strict`` (what a CI job on a Xen runner uses) they fail instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nfv.resources import suites_dir

LAB_TEST = """
def test_needs_lab(nfv_lab) -> None:
    pass
"""
NO_XEN = "*clickos backend needs a Xen dom0 with a ClickOS image. Probed /sys/hypervisor/type: *"


def test_the_skip_reason_lists_every_probe(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(LAB_TEST)
    result = pytester.runpytest_subprocess("--backend", "clickos", "-rs")
    result.assert_outcomes(skipped=1)
    text = " ".join(result.stdout.str().split())
    for probe in (
        "/sys/hypervisor/type: MISSING",
        "/proc/xen/capabilities: MISSING",
        "xenstore tools on PATH: MISSING, missing xenstore-exists, xenstore-list, xenstore-write",
        "--nfv-image: MISSING, not given",
    ):
        assert probe in text


def test_a_given_image_is_reported_as_found(pytester: pytest.Pytester, tmp_path: Path) -> None:
    image = tmp_path / "clickos_x86_64"
    image.write_bytes(b"\x7fELF")
    pytester.makepyfile(LAB_TEST)
    result = pytester.runpytest_subprocess("--backend", "clickos", "--nfv-image", str(image), "-rs")
    result.assert_outcomes(skipped=1)
    assert f"--nfv-image: ok, {image} exists" in " ".join(result.stdout.str().split())


def test_the_four_suites_skip_with_the_reason(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        str(suites_dir()),
        "--backend",
        "clickos",
        "--nfv-instances",
        "1,2",
        "--nfv-packet-sizes",
        "64",
        "-rs",
        "-p",
        "no:cacheprovider",
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped", 0) >= 4
    assert set(outcomes) <= {"skipped", "warnings"}
    for suite in ("coexistence", "deployment", "instantiation", "monitoring"):
        result.stdout.fnmatch_lines([f"SKIPPED*test_{suite}.py*{NO_XEN}"])


def test_strict_turns_the_missing_xen_into_a_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(LAB_TEST)
    result = pytester.runpytest_subprocess("--backend", "clickos", "--nfv-strict")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    outcomes = result.parseoutcomes()
    assert "skipped" not in outcomes
    assert outcomes.get("errors", 0) + outcomes.get("failed", 0) == 1
    result.stdout.fnmatch_lines([f"*--nfv-strict: {NO_XEN.lstrip('*')}"])
