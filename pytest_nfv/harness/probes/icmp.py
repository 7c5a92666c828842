"""Boot readiness: the first ICMP echo reply from each instance, with kernel timestamps.

The paper counts boot time from the start request until the instance answers an ICMP echo.
One raw ICMP socket serves every target. It lives in a separate process (started inside the
namespace from which the instances are reachable, with real-time priority where allowed) so
that probing never competes with the start requests for the GIL, and it probes a target only
from the moment its start request was issued. Each waiting target gets an echo request every
``interval`` (0.5 ms by default, which keeps the resolution near 1 ms on a busy 2-core host;
every round reports its worst gap between probes, the figure's real resolution). Reply times
are the kernel's receive timestamps (SO_TIMESTAMPNS, CLOCK_REALTIME), not the time Python got
round to reading them.

Wire protocol between the two processes, one line each way per step::

    parent: arm TIMEOUT_S INTERVAL_US        child: armed
    parent: go IP            (one per start request, as it is issued)
    parent: end
                                             child: reply IP TS_NS   (one per answered target,
                                                                      as it answers)
                                             child: done UNANSWERED MAX_GAP_US IP...

Replies are written as they come, so a parent waiting in ``finish`` can tell how many
instances answered so far while a slow round is still going.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import selectors
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pytest_nfv.errors import BootTimeout, ProbeError
from pytest_nfv.vnf.checksum import internet_checksum

__all__ = ["DEFAULT_PROBE_INTERVAL_S", "EchoProber", "ReadinessResult", "echo_request"]

ICMP_ECHO_REPLY = 0
ICMP_ECHO_REQUEST = 8
_TIMESPEC = struct.Struct("@qq")
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # asm-generic value; absent from Python
DEFAULT_PROBE_INTERVAL_S = 0.0005


def echo_request(ident: int, seq: int, payload: bytes = b"pytest-nfv-ready") -> bytes:
    """An ICMP echo request message (header and payload, checksummed)."""
    header = struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, 0, ident & 0xFFFF, seq & 0xFFFF)
    csum = internet_checksum(header + payload)
    return struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, csum, ident & 0xFFFF, seq & 0xFFFF) + payload


@dataclass(frozen=True)
class ReadinessResult:
    """First reply time per target address, and the targets that never answered."""

    replies_ns: dict[ipaddress.IPv4Address, int]
    unanswered: tuple[ipaddress.IPv4Address, ...]
    max_probe_gap_s: float = 0.0
    """Longest time between two probes of a waiting target: the figure's real resolution."""


class EchoProber:
    """Parent side: a long-lived probing process inside ``netns_path``.

    Use as a context manager; ``begin``/``started``/``finish`` bracket one boot round.
    """

    def __init__(
        self, netns_path: str | None, interval_s: float = DEFAULT_PROBE_INTERVAL_S
    ) -> None:
        self._netns_path = netns_path
        self._interval_s = interval_s
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def interval_s(self) -> float:
        return self._interval_s

    def __enter__(self) -> EchoProber:
        argv = [sys.executable, "-m", "pytest_nfv.harness.probes.icmp"]
        kwargs: dict[str, object] = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE}
        if self._netns_path is None:
            self._proc = subprocess.Popen(argv, **kwargs)  # type: ignore[call-overload]
        else:
            from pytest_nfv.host.namespaces import spawn_in

            self._proc = spawn_in(self._netns_path, argv, **kwargs)
        return self

    def __exit__(self, *exc_info: object) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()

    def _send(self, line: str) -> None:
        if self._proc is None or self._proc.stdin is None:
            raise ProbeError("the ICMP prober is not running")
        try:
            self._proc.stdin.write(line.encode() + b"\n")
            self._proc.stdin.flush()
        except BrokenPipeError as exc:
            raise ProbeError("the ICMP prober exited unexpectedly") from exc

    def _read(self) -> str:
        assert self._proc is not None
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise ProbeError(f"the ICMP prober exited (status {self._proc.poll()})")
        return line.decode().strip()

    def begin(self, timeout_s: float) -> None:
        """Arm a round: nothing is probed until ``started`` names a target."""
        self._send(f"arm {timeout_s} {round(self._interval_s * 1e6)}")
        if self._read() != "armed":
            raise ProbeError("the ICMP prober did not arm")

    def started(self, address: ipaddress.IPv4Address) -> None:
        """The start request for ``address`` has been issued: probe it from now on."""
        self._send(f"go {address}")

    def finish(self, on_reply: Callable[[int], None] | None = None) -> ReadinessResult:
        """Wait until every started target answered, or the round's timeout ran out.

        Args:
            on_reply: called with the number of targets answered so far, at each reply.
        """
        self._send("end")
        replies: dict[ipaddress.IPv4Address, int] = {}
        while True:
            words = self._read().split()
            if words[0] == "reply":
                replies[ipaddress.IPv4Address(words[1])] = int(words[2])
                if on_reply is not None:
                    on_reply(len(replies))
            elif words[0] == "done":
                missing = tuple(ipaddress.IPv4Address(w) for w in words[3:])
                return ReadinessResult(replies, missing, int(words[2]) / 1e6)
            else:
                raise ProbeError(f"unexpected line from the ICMP prober: {words}")

    def wait_ready(
        self, addresses: Iterable[ipaddress.IPv4Address], timeout_s: float
    ) -> ReadinessResult:
        """Probe already-started targets until all answer.

        Raises:
            BootTimeout: some never answered within ``timeout_s``.
        """
        self.begin(timeout_s)
        for address in addresses:
            self.started(address)
        result = self.finish()
        if result.unanswered:
            shown = ", ".join(str(a) for a in result.unanswered[:5])
            raise BootTimeout(
                f"{len(result.unanswered)} instance(s) did not answer ICMP echo "
                f"within {timeout_s:g} s: {shown}"
            )
        return result


# ---- child side -------------------------------------------------------------------------


def _open_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.setblocking(False)
    return sock


def _drain(
    sock: socket.socket,
    ident: int,
    pending: dict[str, bool],
    replies: dict[str, int],
    on_reply: Callable[[str, int], None],
) -> None:
    while True:
        try:
            data, ancillary, _flags, peer = sock.recvmsg(2048, socket.CMSG_SPACE(_TIMESPEC.size))
        except BlockingIOError:
            return
        ihl = (data[0] & 0x0F) * 4
        if len(data) < ihl + 8:
            continue
        kind, _code, _csum, reply_id = struct.unpack_from("!BBHH", data, ihl)
        source = peer[0]
        if kind != ICMP_ECHO_REPLY or reply_id != ident or source not in pending:
            continue
        stamp = time.time_ns()
        for level, ctype, payload in ancillary:
            if level == socket.SOL_SOCKET and ctype == SO_TIMESTAMPNS:
                sec, nsec = _TIMESPEC.unpack(payload[: _TIMESPEC.size])
                stamp = sec * 1_000_000_000 + nsec
        del pending[source]
        replies[source] = stamp
        on_reply(source, stamp)


class _Lines:
    """Line reader over a raw fd: select() and a buffered readline() do not mix."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = b""

    def read_available(self) -> list[str] | None:
        """Complete lines now readable (after one read); None at end of file."""
        chunk = os.read(self.fd, 65536)
        if not chunk:
            return None
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        return [line.decode() for line in lines]


def _round(
    sock: socket.socket,
    ident: int,
    control: selectors.BaseSelector,
    lines: _Lines,
    timeout_s: float,
    interval_s: float,
    on_reply: Callable[[str, int], None],
) -> tuple[dict[str, int], list[str], float]:
    pending: dict[str, bool] = {}
    last_sweep: float | None = None
    max_gap = 0.0
    replies: dict[str, int] = {}
    started: list[str] = []
    ended = False
    deadline = time.monotonic() + timeout_s
    seq = 0
    next_send = time.monotonic()
    while True:
        now = time.monotonic()
        if ended and not pending:
            break
        if now >= deadline:
            break
        if now >= next_send:
            if pending and last_sweep is not None:
                max_gap = max(max_gap, now - last_sweep)
            last_sweep = now if pending else None
            seq += 1
            packet = echo_request(ident, seq)
            for target in pending:
                with contextlib.suppress(OSError):  # not reachable yet: what we wait for
                    sock.sendto(packet, (target, 0))
            next_send = now + interval_s
        wait = max(0.0, min(next_send, deadline) - time.monotonic())
        for key, _ in control.select(wait):
            if key.data == "wire":
                _drain(sock, ident, pending, replies, on_reply)
                continue
            received = lines.read_available()
            if received is None:
                raise SystemExit(0)
            for line in received:
                words = line.split()
                if words and words[0] == "go":
                    pending[words[1]] = True
                    started.append(words[1])
                    next_send = time.monotonic()
                elif words and words[0] == "end":
                    ended = True
    unanswered = [t for t in started if t not in replies]
    return replies, unanswered, max_gap


def _next_command(lines: _Lines) -> list[str] | None:
    while True:
        received = lines.read_available()
        if received is None:
            return None
        for line in received:
            if line.split():
                return line.split()


def _prefer_cpu() -> None:
    """Ask for a real-time slot so probing keeps its 1 ms pace on a busy 2-core host.

    The loop sleeps in ``select`` between sweeps, so it takes little CPU; without priority it
    waits behind the very start requests it is timing and the resolution degrades to several
    ms. Falls back to a nice value, then to nothing (the round reports its worst gap anyway).
    """
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    except (OSError, AttributeError):
        with contextlib.suppress(OSError):
            os.nice(-10)


def main() -> int:
    _prefer_cpu()
    sock = _open_socket()
    ident = os.getpid() & 0xFFFF
    lines = _Lines(sys.stdin.fileno())
    control = selectors.DefaultSelector()
    control.register(sock, selectors.EVENT_READ, "wire")
    control.register(lines.fd, selectors.EVENT_READ, "control")
    out = sys.stdout
    while True:
        # Between rounds the parent sends exactly one "arm" line and waits for "armed".
        words = _next_command(lines)
        if words is None:
            return 0
        if words[0] != "arm":
            continue
        timeout_s, interval_s = float(words[1]), int(words[2]) / 1e6
        out.write("armed\n")
        out.flush()

        def on_reply(ip: str, stamp_ns: int) -> None:
            out.write(f"reply {ip} {stamp_ns}\n")
            out.flush()

        _, unanswered, max_gap = _round(
            sock, ident, control, lines, timeout_s, interval_s, on_reply
        )
        gap_us = str(round(max_gap * 1e6))
        out.write(" ".join(["done", str(len(unanswered)), gap_us, *unanswered]) + "\n")
        out.flush()


if __name__ == "__main__":
    sys.exit(main())
