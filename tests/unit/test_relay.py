"""The UDP relay (``proxy_vnf/c/relay.c``) on loopback: Algorithm 1 at the socket layer.

Built by ``native`` as an OSv image runs it (a position-independent executable); A is
127.0.0.1, B and B2 listen on 127.0.0.2 and 127.0.0.3. ``pause`` is left to the osv
integration tests: it switches IP forwarding of the namespace the relay runs in, which here
would be the host's.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pytest_nfv.native import build, source

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
A, B, B2 = "127.0.0.1", "127.0.0.2", "127.0.0.3"


def _free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on loopback a moment ago (all held at once, so distinct);
    another process may still take one before the relay binds it: the fixture tries again."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


class _Echo:
    """Host B: answers every datagram with itself, and counts them."""

    def __init__(self, address: str, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, port))
        self.seen = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(65536)
            except OSError:
                return
            self.seen += 1
            self.sock.sendto(data, peer)


@pytest.fixture(scope="module")
def relay_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("relay") / "nfv-relay"
    return build(source("relay.c"), out, what="nfv-relay", flags=("-fpie", "-pie"))


READY = b"nfv-relay: ready\n"


@contextlib.contextmanager
def _relay_on_free_ports(
    binary: Path, count: int, tail: Callable[[list[int]], list[str]]
) -> Iterator[list[int]]:
    """The relay on ``count`` ports free a moment ago: its data port, B's, its control port,
    then what ``tail`` makes of them; started again on others where one was taken between."""
    for attempt in range(3):
        ports = _free_ports(count)
        data, b_port, control = ports[:3]
        argv = [str(binary), A, B, str(data), str(b_port), str(control), A, *tail(ports)]
        proc = subprocess.Popen(argv, stderr=subprocess.PIPE)
        try:
            assert proc.stderr is not None
            line = proc.stderr.readline()
            if line != READY and attempt < 2:
                continue  # a port was taken in between: the finally cleans up, then again
            assert line == READY
            yield ports
            return
        finally:
            proc.kill()
            proc.wait()
            proc.stderr.close()  # type: ignore[union-attr]


@pytest.fixture
def relay(relay_binary: Path) -> Iterator[tuple[int, int, int, _Echo, _Echo]]:
    with _relay_on_free_ports(relay_binary, 3, lambda _ports: []) as (data, b_port, control):
        b, b2 = _Echo(B, b_port), _Echo(B2, b_port)
        try:
            yield data, b_port, control, b, b2
        finally:
            b.sock.close()
            b2.sock.close()


@pytest.fixture
def streaming_relay(relay_binary: Path) -> Iterator[tuple[int, int, socket.socket]]:
    """A relay with a stream port: that port, its control port, and B's sink socket."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind((B, 0))
    sink.settimeout(2)
    sink_port = str(sink.getsockname()[1])
    try:
        with _relay_on_free_ports(relay_binary, 4, lambda ps: [str(ps[3]), sink_port]) as ports:
            yield ports[3], ports[2], sink  # the stream port, the control port
    finally:
        sink.close()


def _ask(sock: socket.socket, port: int, payload: bytes) -> tuple[bytes, str]:
    sock.sendto(payload, ("127.0.0.1", port))
    data, peer = sock.recvfrom(65536)
    return data, peer[0]


@pytest.fixture
def host_a() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((A, 0))
    sock.settimeout(2)
    yield sock
    sock.close()


def test_a_to_b_and_back_byte_for_byte_up_to_64_kib(relay: tuple, host_a: socket.socket) -> None:
    data, _, _, b, _ = relay
    for size in (8, 1472, 65507):
        payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
        assert _ask(host_a, data, payload) == (payload, "127.0.0.1")
    assert b.seen == 3


def test_set_b_moves_the_path_and_control_answers(relay: tuple, host_a: socket.socket) -> None:
    data, _, control, b, b2 = relay
    assert _ask(host_a, control, b"ping") == (b"ok", "127.0.0.1")
    assert _ask(host_a, control, b"set-b 127.0.0.3 02:00:00:00:00:03") == (b"ok", "127.0.0.1")
    assert _ask(host_a, data, b"after set-b")[0] == b"after set-b"
    assert (b.seen, b2.seen) == (0, 1)
    reply, _ = _ask(host_a, control, b"set-b nowhere")
    assert reply.startswith(b"error unknown command")


def test_only_a_is_relayed(relay: tuple) -> None:
    data, _, control, b, _ = relay
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind(("127.0.0.9", 0))
    stranger.settimeout(0.3)
    try:
        stranger.sendto(b"not from A", ("127.0.0.1", data))
        stranger.sendto(b"ping", ("127.0.0.1", control))  # not the controller either
        with pytest.raises(TimeoutError):
            stranger.recvfrom(100)
        assert b.seen == 0
    finally:
        stranger.close()


def test_a_stream_goes_one_way_to_b_sink_port_and_a_stranger_is_not_relayed(
    streaming_relay: tuple[int, int, socket.socket], host_a: socket.socket
) -> None:
    stream, control, sink = streaming_relay
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind(("127.0.0.9", 0))
    try:
        stranger.sendto(b"not from A", ("127.0.0.1", stream))
        for sequence in range(3):
            host_a.sendto(b"frame %d" % sequence, ("127.0.0.1", stream))
        got = [sink.recvfrom(100) for _ in range(3)]
        assert [data for data, _ in got] == [b"frame 0", b"frame 1", b"frame 2"]
        assert {peer for _, peer in got} == {("127.0.0.1", stream)}  # from the relay's port
        host_a.settimeout(0.3)
        with pytest.raises(TimeoutError):  # one way: nothing comes back to A
            host_a.recvfrom(100)
        host_a.settimeout(2)
        assert _ask(host_a, control, b"ping") == (b"ok", "127.0.0.1")
        sink.settimeout(0.3)
        with pytest.raises(TimeoutError):  # the stranger's datagram never came
            sink.recvfrom(100)
    finally:
        stranger.close()


def test_a_stream_port_without_a_sink_port_is_refused(relay_binary: Path) -> None:
    argv = [str(relay_binary), A, B, "7", "7", "7070", A, "9"]
    done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=10)
    assert done.returncode == 2
    assert "[STREAM_PORT SINK_PORT]" in done.stderr
