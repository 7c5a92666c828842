"""Compiled helpers: built once per source, and never run from a place others could write."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from pytest_nfv.errors import BackendUnavailable
from pytest_nfv.native import compiled

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="helpers are built by root only")

HELLO = "int main(void) { return 42; }\n"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "native"
    monkeypatch.setenv("PYTEST_NFV_NATIVE_CACHE", str(root))
    return root


def test_a_helper_is_built_once_into_a_private_directory(cache: Path, tmp_path: Path) -> None:
    source = tmp_path / "hello.c"
    source.write_text(HELLO)
    built = compiled(source, "hello")
    assert subprocess.run([built], check=False).returncode == 42
    assert built.stat().st_mode & 0o777 == 0o700
    assert cache.stat().st_mode & 0o077 == 0
    stamp = built.stat().st_mtime_ns
    assert compiled(source, "hello") == built
    assert built.stat().st_mtime_ns == stamp  # not rebuilt
    source.write_text(HELLO.replace("42", "43"))
    assert compiled(source, "hello") != built  # a changed source is a new build


def test_a_cache_others_can_write_is_refused(cache: Path, tmp_path: Path) -> None:
    source = tmp_path / "hello.c"
    source.write_text(HELLO)
    built = compiled(source, "hello")
    built.parent.chmod(0o777)
    with pytest.raises(BackendUnavailable, match="writable by others"):
        compiled(source, "hello")
    built.parent.chmod(0o700)
    os.chown(built, 65534, 65534)  # a file someone else could have put there
    with pytest.raises(BackendUnavailable, match="not root"):
        compiled(source, "hello")


def test_a_source_that_does_not_build_says_why(cache: Path, tmp_path: Path) -> None:
    source = tmp_path / "broken.c"
    source.write_text("int main(void) { return }\n")
    with pytest.raises(BackendUnavailable, match="gcc failed"):
        compiled(source, "broken")
