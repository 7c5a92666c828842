"""The guest caches' lock and root: no endless wait, no planted link, no foreign entry."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from pytest_nfv.backends.shared.debian_guest import build_lock, cached_build
from pytest_nfv.errors import BackendUnavailable

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="root's cache checks (chown)")


def test_a_lock_held_too_long_ends_the_wait_and_names_the_holder(tmp_path: Path) -> None:
    lock = tmp_path / "entry.lock"
    lock.write_text("4242\n")
    with open(lock) as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another open file description: another holder
        with (
            pytest.raises(
                BackendUnavailable,
                match=r"held its lock .*entry\.lock for 0\.3 s "
                r"\(pid 4242\)",
            ),
            build_lock(lock, "the test guest", wait_s=0.3, poll_s=0.05),
        ):
            pass  # fmt: skip


def test_the_holder_writes_its_pid_and_a_free_lock_is_taken_at_once(tmp_path: Path) -> None:
    lock = tmp_path / "entry.lock"
    with build_lock(lock, wait_s=0.0):
        assert lock.read_text() == f"{os.getpid()}\n"


def test_a_planted_link_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "victim"
    target.write_text("keep\n")
    lock = tmp_path / "entry.lock"
    lock.symlink_to(target)
    with pytest.raises(BackendUnavailable, match="cannot open its lock"), build_lock(lock):
        pass
    assert target.read_text() == "keep\n"


@needs_root
def test_a_cache_others_can_write_is_not_used(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    entry = root / "key"
    entry.mkdir(parents=True)
    root.chmod(0o777)
    loaded: list[Path] = []

    def load(directory: Path) -> Path | None:
        loaded.append(directory)
        return directory

    with pytest.raises(BackendUnavailable, match="writable by others"):
        cached_build("the test guest", entry, lambda work: None, load)
    assert loaded == []  # a planted entry is never even read


@needs_root
def test_an_entry_in_a_cache_another_user_owns_is_not_used(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    (root / "key").mkdir(parents=True)
    os.chown(root, 65534, 65534)
    with pytest.raises(BackendUnavailable, match="belongs to uid 65534"):
        cached_build("the test guest", root / "key", lambda work: None, lambda d: d)
