"""``--allowed-skips``: CI fails on a skip it did not expect, and only then."""

from __future__ import annotations

import pytest

TESTS = """
import pytest

def test_runs():
    pass

def test_no_click():
    pytest.skip("the Click modular router is not installed: no `click` on PATH")

def test_engine_down():
    pytest.skip("coreos backend: the Docker engine does not answer")

@pytest.mark.xfail(reason="known")
def test_known():
    assert False
"""

MODULE_SKIP = """
import pytest
pytest.skip("libvirtd does not answer", allow_module_level=True)
"""


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # the guard is already imported here (tests/conftest.py), so pytest cannot rewrite it
    quiet = "-Wignore::pytest.PytestAssertRewriteWarning"
    return pytester.runpytest_inprocess("-p", "skip_guard", quiet, *args)


def _allowed(pytester: pytest.Pytester, *lines: str) -> str:
    path = pytester.path / "allowed.txt"
    path.write_text("# comment\n\n" + "\n".join(lines) + "\n")
    return str(path)


def test_a_skip_matching_no_pattern_fails_the_run_and_is_named(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_some=TESTS)
    allowed = _allowed(pytester, "^the Click modular router is not installed")
    result = _run(pytester, f"--allowed-skips={allowed}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*skips not allowed*",
            "1 skip(s) match no pattern of *allowed.txt*",
            "test_some.py::test_engine_down: coreos backend: the Docker engine does not answer",
        ]
    )
    assert "test_no_click:" not in result.stdout.str()  # allowed, and xfail is no skip


def test_allowed_skips_keep_the_run_green(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_some=TESTS)
    allowed = _allowed(pytester, "^the Click modular", "Docker engine does not answer$")
    result = _run(pytester, f"--allowed-skips={allowed}")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, skipped=2, xfailed=1)


def test_a_module_skipped_at_collection_counts_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_module=MODULE_SKIP, test_other="def test_runs():\n    pass\n")
    allowed = _allowed(pytester, "^nothing")
    result = _run(pytester, f"--allowed-skips={allowed}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["test_module.py: libvirtd does not answer"])


def test_without_the_option_a_skip_is_a_skip(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_some=TESTS)
    result = _run(pytester)
    assert result.ret == pytest.ExitCode.OK


def test_a_bad_pattern_or_a_missing_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_some=TESTS)
    bad = _allowed(pytester, "(unclosed")
    result = _run(pytester, f"--allowed-skips={bad}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*allowed.txt:3: not a regular expression*"])
    result = _run(pytester, "--allowed-skips=nowhere.txt")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--allowed-skips: nowhere.txt is not a file*"])
