"""The xenstore side of ClickOS, by the exact argv lists it would run on a dom0, and the probe.

``ClickosControl`` runs ``xenstore-*`` tools through a runner; here the runner records each
argv and answers from a dictionary that behaves like xenstore (a guest that has booted has
its ``data/clickos`` node). No shell is involved anywhere: the runner takes a list.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from pytest_nfv.backends.clickos.click.model import Router
from pytest_nfv.backends.clickos.click.render import instance_config, rendered_and_checked
from pytest_nfv.backends.clickos.xen.host import Probe, probe_dom0, unavailable_reason
from pytest_nfv.backends.clickos.xen.xenstore import (
    CHUNK_BYTES,
    ClickosControl,
    run_command,
    watch_paths,
)
from pytest_nfv.errors import BackendError

ROOT = "/local/domain/7/data/clickos"


class FakeXenstore:
    """Records argv lists; keeps written paths; answers exists/list like xenstored."""

    def __init__(self, booted: set[int] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.store: dict[str, str] = {}
        self.booted = booted if booted is not None else {7}

    def __call__(self, argv: Sequence[str]) -> str:
        argv = list(argv)
        self.calls.append(argv)
        tool, args = argv[0], argv[1:]
        if tool == "xenstore-write":
            assert len(args) % 2 == 0
            self.store.update(zip(args[::2], args[1::2], strict=True))
            return ""
        if tool == "xenstore-exists":
            domid = int(args[0].split("/")[3])
            if domid in self.booted or any(p.startswith(args[0]) for p in self.store):
                return ""
            raise BackendError("not found")
        if tool == "xenstore-list":
            prefix = args[0] + "/"
            children = {p[len(prefix) :].split("/")[0] for p in self.store if p.startswith(prefix)}
            return "\n".join(sorted(children)) + "\n"
        raise AssertionError(f"unexpected tool {tool}")

    def config(self, rid: int) -> str:
        prefix = f"{ROOT}/{rid}/config/"
        chunks = {int(p[len(prefix) :]): v for p, v in self.store.items() if p.startswith(prefix)}
        assert sorted(chunks) == list(range(len(chunks)))
        return "".join(chunks[i] for i in range(len(chunks)))


def test_start_writes_the_configuration_then_sets_it_running() -> None:
    xs = FakeXenstore()
    config = instance_config(ipaddress.IPv4Address("10.213.1.4"), "02:4e:46:00:01:04")
    rid = ClickosControl(xs).start(7, "instance", config)
    assert rid == 0
    assert xs.calls[0] == ["xenstore-list", ROOT]
    write = xs.calls[1]
    assert write[:9] == [
        "xenstore-write",
        f"{ROOT}/0/config_name",
        "instance",
        f"{ROOT}/0/control",
        "",
        f"{ROOT}/0/elements",
        "",
        f"{ROOT}/0/status",
        "Stopped",
    ]
    chunks = write[10::2]
    assert all(len(c) <= CHUNK_BYTES for c in chunks)
    assert len(chunks) == -(-len(config) // CHUNK_BYTES)
    assert xs.calls[2] == ["xenstore-write", f"{ROOT}/0/status", "Running"]
    assert len(xs.calls) == 3
    # what the guest will read back is the configuration, whole, and it still works
    assert xs.config(0) == config
    assert Router(rendered_and_checked(xs.config(0))).elements


def test_the_next_router_takes_the_lowest_free_id() -> None:
    xs = FakeXenstore()
    control = ClickosControl(xs)
    assert control.start(7, "a", "x :: Idle;") == 0
    assert control.start(7, "b", "y :: Idle;") == 1
    assert control.routers(7) == [0, 1]


def test_a_handler_write_is_one_xenstore_write() -> None:
    xs = FakeXenstore()
    ClickosControl(xs).write_handler(7, 0, "target", "switch", "1")
    assert xs.calls == [["xenstore-write", f"{ROOT}/0/elements/target/switch", "1"]]


def test_halting_writes_what_the_guest_acts_on() -> None:
    xs = FakeXenstore()
    ClickosControl(xs).set_status(7, 2, running=False)
    assert xs.calls == [["xenstore-write", f"{ROOT}/2/status", "Halted"]]


@pytest.mark.parametrize("config", ["", "name :: Paint(\u00e9);"])
def test_empty_or_non_ascii_configurations_are_refused(config: str) -> None:
    xs = FakeXenstore()
    with pytest.raises(BackendError, match="non-empty ASCII"):
        ClickosControl(xs).install(7, "bad", config)
    assert [c[0] for c in xs.calls] == ["xenstore-list"]


class ScriptedWatch:
    """A watch that reports ``events`` one per call, then stays silent (returns None)."""

    def __init__(self, xs: FakeXenstore, events: list[tuple[int, str]]) -> None:
        self.xs = xs
        self.events = events
        self.opened: list[str] = []

    @contextlib.contextmanager
    def __call__(self, path: str) -> Iterator[Callable[[float], str | None]]:
        self.opened.append(path)

        def next_path(timeout_s: float) -> str | None:
            if not self.events:
                time.sleep(min(timeout_s, 0.01))
                return None
            domid, changed = self.events.pop(0)
            self.xs.booted.add(domid)
            return changed

        yield next_path


def test_guests_are_taken_in_the_order_they_announce_themselves() -> None:
    xs = FakeXenstore(booted={5})  # 5 was up before the watch was registered
    events = [
        (9, "/local/domain/9/device/vif/0/state"),  # unrelated changes are ignored
        (9, "/local/domain/9/data/clickos"),
        (7, "/local/domain/7/data/clickos"),
    ]
    watch = ScriptedWatch(xs, events)
    control = ClickosControl(xs, watch)
    order = list(control.announced([7, 9, 5], deadline=time.monotonic() + 5))
    assert order == [5, 9, 7]
    assert watch.opened == ["/local/domain"]  # one watch for all, no polling
    exists = [c for c in xs.calls if c[0] == "xenstore-exists"]
    assert len(exists) == 3  # each looked at once, when the watch was registered


def test_guests_that_never_announce_themselves_are_named_at_the_one_deadline() -> None:
    xs = FakeXenstore(booted=set())
    watch = ScriptedWatch(xs, [(7, "/local/domain/7/data/clickos")])
    started = time.monotonic()
    found: list[int] = []
    announced = ClickosControl(xs, watch).announced([7, 9, 11], started + 0.2)
    with pytest.raises(BackendError, match=r"domain\(s\) 9, 11 did not create data/clickos"):
        found.extend(announced)
    assert found == [7]
    assert time.monotonic() - started < 2


def test_the_real_watch_reads_xenstore_watch_lines_and_keeps_its_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = tmp_path / "xenstore-watch"
    tool.write_text('#!/bin/sh\necho "$1"\necho "$1/7/data/clickos"\nexec sleep 30\n')
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    with watch_paths("/local/domain") as next_path:
        assert next_path(5) == "/local/domain"
        assert next_path(5) == "/local/domain/7/data/clickos"
        started = time.monotonic()
        assert next_path(0.1) is None
        assert time.monotonic() - started < 2


def test_the_real_runner_runs_argv_and_reports_failures() -> None:
    assert run_command(["printf", "%s", "a b"]) == "a b"
    with pytest.raises(BackendError, match=r"false failed \(1\)"):
        run_command(["false"])
    with pytest.raises(BackendError, match="no-such-tool"):
        run_command(["no-such-tool-pytest-nfv"])


# ------------------------------------------------------------------ the host probe


def _host(tmp_path: Path, kind: str | None, caps: str | None) -> tuple[Path, Path]:
    hv, cp = tmp_path / "type", tmp_path / "capabilities"
    if kind is not None:
        hv.write_text(kind + "\n")
    if caps is not None:
        cp.write_text(caps + "\n")
    return hv, cp


def test_a_dom0_with_everything_passes(tmp_path: Path) -> None:
    hv, cp = _host(tmp_path, "xen", "control_d")
    image = tmp_path / "clickos_x86_64"
    image.write_bytes(b"\x7fELF")
    probes = probe_dom0(str(image), lambda tool: f"/usr/bin/{tool}", hv, cp)
    assert all(p.ok for p in probes)
    assert unavailable_reason(probes) is None


def test_the_reason_names_every_probe_and_what_it_found(tmp_path: Path) -> None:
    hv, cp = _host(tmp_path, "kvm", None)
    probes = probe_dom0(None, lambda tool: None if tool == "xenstore-write" else tool, hv, cp)
    reason = unavailable_reason(probes)
    assert reason is not None
    assert reason.startswith("clickos backend needs a Xen dom0")
    assert f"{hv}: MISSING, 'kvm'" in reason
    assert f"{cp}: MISSING, absent" in reason
    assert "xenstore tools on PATH: MISSING, missing xenstore-write" in reason
    assert "--nfv-image: MISSING, not given" in reason


def test_a_domu_is_not_a_dom0(tmp_path: Path) -> None:
    hv, cp = _host(tmp_path, "xen", "")
    probes = probe_dom0("/nonexistent/clickos", lambda tool: tool, hv, cp)
    assert [p.ok for p in probes] == [True, False, True, False]
    assert probes[3] == Probe("--nfv-image", False, "/nonexistent/clickos is not a file")
