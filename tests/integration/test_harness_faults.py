"""The harness under faults: a prober fed odd reads or gone silent, a start refused part-way.

Each test here stands for one way the instruments could hang, leak or bias a figure; the
faults are real (a kernel refusal, a stopped process), not mocks.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from subprocess import Popen
from typing import Any

import pytest

from pytest_nfv.backends.netns.backend import NetnsBackend
from pytest_nfv.errors import BackendError, ProbeError
from pytest_nfv.harness.lab import Lab
from pytest_nfv.harness.probes import icmp
from pytest_nfv.harness.probes.icmp import EchoProber
from pytest_nfv.harness.proxy_path import ProxyPath
from pytest_nfv.host.namespaces import (
    inside_new,
    list_namespaces,
    namespace_path,
    remove_namespace,
    spawn_in,
)

LOOPBACK = "127.0.0.1"  # the only target the prober tests send to


@contextlib.contextmanager
def _prober_child(native: bool, netns_path: str | None = None) -> Iterator[Popen[bytes]]:
    """The prober's child process alone (C or Python), driven line by line as the parent
    would, in ``netns_path`` (None: the test's own namespace)."""
    argv, kind = icmp.prober_command(native=native)
    if native and not kind.startswith("C"):
        pytest.skip(kind)  # says why: no gcc, not root, or a cache others could write
    pipes: dict[str, Any] = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE}
    proc = (
        subprocess.Popen(argv, **pipes)
        if netns_path is None
        else spawn_in(netns_path, argv, **pipes)
    )
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()


@pytest.fixture(params=[False, True], ids=["python", "c"])
def raw_prober(request: pytest.FixtureRequest) -> Iterator[Popen[bytes]]:
    with _prober_child(request.param) as proc:
        yield proc


def _lines(proc: Popen[bytes], count: int, within_s: float = 10.0) -> list[str]:
    """``count`` lines from the prober, or a failure (never a hang) after ``within_s``."""
    assert proc.stdout is not None
    fd, buffer, deadline = proc.stdout.fileno(), b"", time.monotonic() + within_s
    while buffer.count(b"\n") < count:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            pytest.fail(f"the prober answered {buffer!r} and then nothing for {within_s} s")
        chunk = os.read(fd, 4096)
        if not chunk:
            pytest.fail(f"the prober exited after {buffer!r}")
        buffer += chunk
    return buffer.decode().splitlines()


def _write(proc: Popen[bytes], data: bytes) -> None:
    assert proc.stdin is not None
    proc.stdin.write(data)
    proc.stdin.flush()


def _check_two_rounds(lines: list[str]) -> None:
    assert lines[0] == "armed"
    assert lines[1].startswith(f"reply {LOOPBACK} ")
    assert lines[2].startswith("done 0 ")
    assert lines[3] == "armed"
    assert lines[4].startswith(f"reply {LOOPBACK} ")
    assert lines[5].startswith("done 0 ")


def test_prober_takes_two_rounds_batched_in_one_read(raw_prober: Popen[bytes]) -> None:
    one_round = f"arm 5 250 1500\ngo {LOOPBACK}\nend\n".encode()
    _write(raw_prober, one_round * 2)
    _check_two_rounds(_lines(raw_prober, 6))


def test_prober_takes_commands_split_across_reads(raw_prober: Popen[bytes]) -> None:
    text = f"arm 5 250 1500\ngo {LOOPBACK}\nend\n".encode() * 2
    for cut in range(0, len(text), 5):  # lines cut mid-word, a newline alone, ...
        _write(raw_prober, text[cut : cut + 5])
        time.sleep(0.002)
    _check_two_rounds(_lines(raw_prober, 6))


@pytest.mark.parametrize("native", [False, True], ids=["python", "c"])
def test_the_prober_reports_what_a_round_cost_it(backend: NetnsBackend, native: bool) -> None:
    """A 0.5 s round probing targets that never answer: the done line names them and reports
    the prober's CPU time (within the scheduler's count for it), the round's wall time and
    its wake-ups.

    The targets are loopback addresses inside a namespace of the test's own whose loopback
    is down: every probe is refused at once, and nothing leaves the namespace.
    """
    targets = [f"127.0.0.{k}" for k in range(1, 21)]
    name = f"{backend.identity.prefix}-silent"
    with inside_new(name) as ipr:
        ipr.close()
    try:
        with _prober_child(native, namespace_path(name)) as proc:
            before = _on_cpu_ns(proc.pid)
            gos = "".join(f"go {target}\n" for target in targets)
            _write(proc, f"arm 0.5 500 1500\n{gos}end\n".encode())
            armed, done = _lines(proc, 2)
            spent_ns = _on_cpu_ns(proc.pid) - before
    finally:
        remove_namespace(name)
    assert armed == "armed"
    words = done.split()
    assert words[:2] == ["done", str(len(targets))]
    assert words[7:] == targets
    cpu_us, wall_us, wakeups = map(int, words[4:7])
    assert 0 < cpu_us <= spent_ns / 1000
    assert 0.5e6 <= wall_us < 3e6
    # About one per 1.5 ms once the targets backed off (fewer when the host is late), never
    # one per probe: the 20 targets share each wake-up.
    assert 100 <= wakeups <= 0.5e6 / 500 * 2


def _on_cpu_ns(pid: int) -> int:
    """Nanoseconds ``pid`` has run, as the scheduler counts them."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def test_a_silent_prober_fails_the_round_instead_of_hanging(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(icmp, "ANSWER_GRACE_S", 0.5)
    with EchoProber(None) as prober:
        pid = prober.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        began = time.monotonic()
        with pytest.raises(ProbeError, match="no answer within"):
            prober.begin(1.0)
        assert time.monotonic() - began < 5
        assert prober.pid is None  # killed, so no later round reads its stale lines
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid)


def _zombie(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_a_start_refused_part_way_leaves_nothing_and_waits_for_nothing(
    backend: NetnsBackend,
) -> None:
    specs = backend.plan(4)
    # The kernel refuses the third start: its name is taken (by us, not by the backend).
    with inside_new(specs[2].name) as ipr:
        ipr.close()
    try:
        with EchoProber(backend.probe_netns) as prober:
            lab = Lab(backend, prober, boot_timeout_s=30)
            began = time.monotonic()
            with pytest.raises(BackendError, match=specs[2].name):
                lab.boot(specs)
            # The third address was announced to the prober and never came up: not waited for.
            assert time.monotonic() - began < 10
            ours = [n for n in list_namespaces(backend.identity.prefix) if "-i" in n]
            assert ours == [specs[2].name]  # the first two are gone; the foreign one stays
            assert backend.plan(4) == specs  # every address is free again
            remove_namespace(specs[2].name)
            instances, round_ = lab.boot(specs)  # and the prober serves the next round
            assert len(round_.per_instance_s) == 4
            backend.stop(instances)
    finally:
        remove_namespace(specs[2].name)


def _packet_sockets(pid: int) -> int:
    """Packet sockets open in ``pid``'s network namespace (the kernel's own list)."""
    return len(Path(f"/proc/{pid}/net/packet").read_text().splitlines()) - 1


def test_the_paused_proxy_is_off_the_path(lab: Lab) -> None:
    path = ProxyPath(lab)
    try:
        assert path.proxy is not None
        (proxy_pid,) = path.proxy.pids
        assert _packet_sockets(proxy_pid) == 1
        assert path.round_trip(1024, "direct").seconds > 0
        assert _packet_sockets(proxy_pid) == 0  # no tap copies the plain path's frames
        assert path.round_trip(1024, "proxy").seconds > 0
        assert _packet_sockets(proxy_pid) == 1
    finally:
        path.close()


def test_a_netns_session_contacts_no_other_engine(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    docker, libvirt = tmp_path / "docker.sock", tmp_path / "libvirt.sock"
    listeners = []
    for path in (docker, libvirt):
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        listener.listen(8)
        listener.setblocking(False)
        listeners.append(listener)
    pytester.makepyfile("def test_open(nfv_backend):\n    assert nfv_backend.name == 'netns'\n")
    try:
        result = pytester.runpytest_subprocess(  # an engine that never answers must not hang it
            "-p",
            "no:cacheprovider",
            "--backend=netns",
            f"--nfv-docker-url=unix://{docker}",
            f"--nfv-libvirt-uri=qemu+unix:///system?socket={libvirt}",
            timeout=120,
        )
        result.assert_outcomes(passed=1)
        for listener in listeners:  # nothing knocked at either engine's door
            with pytest.raises(BlockingIOError):
                listener.accept()
    finally:
        for listener in listeners:
            listener.close()
