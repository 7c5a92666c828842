"""Run identity: names that say whose they are, and owners that can be told dead or alive."""

from __future__ import annotations

import json
from pathlib import Path

import psutil
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_nfv.host import identity
from pytest_nfv.host.identity import RunIdentity, owner_alive, parse_name
from pytest_nfv.host.reap import CleanupReport, ReapRule


@pytest.fixture(autouse=True)
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(identity, "REGISTRY_DIR", tmp_path)
    return tmp_path


@given(role=st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True))
def test_names_parse_back(role: str) -> None:
    me = RunIdentity.new()
    name = me.name(role)
    assert parse_name(name) == (me.run_id, me.owner_pid, role)
    assert me.owns(name)


@pytest.mark.parametrize(
    "name",
    [
        "docker0",
        "nfv-",
        "nfv-zzzzzz-p1-i0",
        "nfv-abcdef-1-i0",
        "nfvtest-not-ours",
        "nfv-abcdef-p12-I0",
        "xnfv-abcdef-p1-i0",
    ],
)
def test_foreign_names_are_not_ours(name: str) -> None:
    assert parse_name(name) is None


def test_role_must_be_lowercase_alphanumeric() -> None:
    with pytest.raises(ValueError, match="role"):
        RunIdentity.new().name("host-a")


def test_live_owner_with_matching_registry_is_alive(registry: Path) -> None:
    me = RunIdentity.new()
    me.register("netns")
    assert owner_alive(me.run_id, me.owner_pid)
    me.unregister()
    assert not (registry / f"{me.run_id}.json").exists()


def test_recycled_pid_is_not_a_live_owner(registry: Path) -> None:
    me = psutil.Process()
    (registry / "abcdef.json").write_text(
        json.dumps({"owner_pid": me.pid, "owner_started": me.create_time() - 1000})
    )
    assert not owner_alive("abcdef", me.pid)


def test_dead_pid_is_not_a_live_owner() -> None:
    assert not owner_alive("abcdef", 2**22 + 12345)  # above pid_max's default


def test_forget_dead_runs_keeps_live_ones(registry: Path) -> None:
    me = RunIdentity.new()
    me.register("netns")
    (registry / "dead00.json").write_text(json.dumps({"owner_pid": 2**22 + 1, "owner_started": 1}))
    assert ReapRule().forget_dead() == ["dead00"]
    assert (registry / f"{me.run_id}.json").exists()


def test_a_stepped_clock_does_not_make_a_live_owner_dead(
    registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clock step moves boot time, and with it every wall-clock process start time; the
    kernel's ticks since boot stay put, so the live run stays alive."""
    me = RunIdentity.new()
    me.register("netns")
    started = psutil.Process().create_time()
    monkeypatch.setattr(psutil.Process, "create_time", lambda self: started + 1.0)
    assert owner_alive(me.run_id, me.owner_pid)
    assert not ReapRule().takes(me.run_id, me.owner_pid, "a namespace", CleanupReport())


def test_ticks_of_another_boot_or_another_process_are_a_dead_owner(registry: Path) -> None:
    me = psutil.Process()
    ticks = identity.start_ticks(me.pid)
    assert ticks is not None
    entry = {"owner_pid": me.pid, "owner_started": me.create_time(), "owner_ticks": ticks}
    (registry / "aaaaaa.json").write_text(json.dumps({**entry, "boot_id": "another-boot"}))
    (registry / "bbbbbb.json").write_text(
        json.dumps({**entry, "owner_ticks": ticks - 1, "boot_id": identity.boot_id()})
    )
    assert not owner_alive("aaaaaa", me.pid)
    assert not owner_alive("bbbbbb", me.pid)
