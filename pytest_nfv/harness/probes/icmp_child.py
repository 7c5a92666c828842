"""The Python prober child: ``prober.c``'s protocol and pace, for hosts that cannot build it.

The C child (``native/prober.c``) is what times boots wherever it can be used. It
cannot be on a host without gcc (gcc is no dependency of a pip-installed plugin: a slim
container or CI image may lack it), when the run is not root but holds ``CAP_NET_RAW``
(``native`` builds and hands out helpers for root only), or when the native cache is
not private; a run there still
times its boots with this child instead of refusing to start, and ``EchoProber.kind`` puts
which child it was, and why, in the record, so figures of the two are never compared
unknowingly. Its interpreter costs more CPU per wake-up, which each round reports
(``prober_cpu_share``). The integration tests drive both children through the same wire
protocol (``probes.icmp``'s docstring) line by line, so that neither drifts from it.

Run as ``python -m pytest_nfv.harness.probes.icmp_child`` inside the probing namespace.
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import socket
import struct
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from pytest_nfv.harness.probes.icmp import ICMP_ECHO_REPLY, echo_request

__all__ = ["main", "serve"]

_TIMESPEC = struct.Struct("@qq")
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # asm-generic value; absent from Python
BACKOFF_FRACTION = 0.0625
"""A silent target's gap grows to this fraction of the time it has waited (up to the cap)."""
COALESCE_S = 0.0001
"""Targets due within this much of each other are probed in one wake-up."""


def _open_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.setblocking(False)
    return sock


@dataclass
class _Target:
    """One waiting target's probe schedule."""

    since: float
    due: float
    sent: list[float] = field(default_factory=list)

    def gap_s(self, interval_s: float, max_interval_s: float) -> float:
        waited = self.due - self.since
        return min(max(interval_s, waited * BACKOFF_FRACTION), max_interval_s)


class _Commands:
    """The control channel: a queue of whole lines over a raw fd (batched or split reads)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = b""
        self._lines: deque[list[str]] = deque()
        self.closed = False

    def fill(self) -> None:
        """Read once (the fd is readable); whole lines join the queue, a partial one waits."""
        chunk = os.read(self.fd, 65536)
        if not chunk:
            self.closed = True
            return
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        self._lines.extend(words for line in lines if (words := line.decode().split()))

    def pop(self) -> list[str] | None:
        return self._lines.popleft() if self._lines else None


@dataclass
class _Round:
    """The state of one armed round in the child."""

    timeout_s: float
    interval_s: float
    max_interval_s: float
    pending: dict[str, _Target] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    replies: dict[str, int] = field(default_factory=dict)
    max_gap: float = 0.0
    resolution: float = 0.0
    ended: bool = False
    cancelled: bool = False
    origin: float = field(default_factory=time.monotonic)
    cpu_origin: float = field(default_factory=time.thread_time)
    wakeups: int = 0
    on_reply: Callable[[str, int], None] | None = None
    """Told of each reply as it comes, so the parent can count answers during a slow round."""

    def command(self, words: list[str]) -> None:
        if words[0] == "go" and len(words) == 2 and words[1] not in self.pending:
            now = time.monotonic()
            self.pending[words[1]] = _Target(now, now)
            self.started.append(words[1])
        elif words[0] == "end":
            self.ended = True
        elif words[0] == "cancel":
            self.cancelled = True

    def send_due(self, sock: socket.socket, packet: bytes) -> None:
        now = time.monotonic()
        tick = self.interval_s
        for address, target in self.pending.items():
            if target.due > now + COALESCE_S:
                continue
            if target.sent:
                self.max_gap = max(self.max_gap, now - target.sent[-1])
            target.sent = [*target.sent[-1:], now]
            with contextlib.suppress(OSError):  # not reachable yet: what we wait for
                sock.sendto(packet, (address, 0))
            # Due times fall on a grid of the base interval, so that targets waiting together
            # are probed in one wake-up: the prober's cost is its wake-ups, not its packets.
            ticks = (now + target.gap_s(self.interval_s, self.max_interval_s) - self.origin) / tick
            target.due = self.origin + tick * math.ceil(ticks - COALESCE_S / tick)

    def answered(self, address: str, stamp_ns: int) -> None:
        target = self.pending.pop(address, None)
        if target is None:
            return
        self.replies[address] = stamp_ns
        if len(target.sent) == 2:
            self.resolution = max(self.resolution, target.sent[1] - target.sent[0])
        if self.on_reply is not None:
            self.on_reply(address, stamp_ns)


def _drain(sock: socket.socket, ident: int, round_: _Round) -> None:
    while True:
        try:
            data, ancillary, _flags, peer = sock.recvmsg(2048, socket.CMSG_SPACE(_TIMESPEC.size))
        except BlockingIOError:
            return
        ihl = (data[0] & 0x0F) * 4
        if len(data) < ihl + 8:
            continue
        kind, _code, _csum, reply_id = struct.unpack_from("!BBHH", data, ihl)
        if kind != ICMP_ECHO_REPLY or reply_id != ident or peer[0] not in round_.pending:
            continue
        stamp = time.time_ns()
        for level, ctype, payload in ancillary:
            if level == socket.SOL_SOCKET and ctype == SO_TIMESTAMPNS:
                sec, nsec = _TIMESPEC.unpack(payload[: _TIMESPEC.size])
                stamp = sec * 1_000_000_000 + nsec
        round_.answered(peer[0], stamp)


def _run_round(sock: socket.socket, ident: int, commands: _Commands, round_: _Round) -> None:
    deadline = time.monotonic() + round_.timeout_s
    packet = echo_request(ident, 1)
    while not round_.cancelled and not (round_.ended and not round_.pending):
        while not (round_.ended or round_.cancelled) and (words := commands.pop()) is not None:
            round_.command(words)
        if round_.cancelled or (round_.ended and not round_.pending):
            break
        now = time.monotonic()
        if now >= deadline:
            break
        round_.send_due(sock, packet)
        due = min((t.due for t in round_.pending.values()), default=deadline)
        wait = max(0.0, min(due, deadline) - time.monotonic())
        watched: list[Any] = [sock] if round_.ended or commands.closed else [sock, commands.fd]
        readable = select.select(watched, [], [], wait)[0]
        round_.wakeups += 1
        if sock in readable:
            _drain(sock, ident, round_)
        if commands.fd in readable:
            commands.fill()
            if commands.closed:
                raise SystemExit(0)


def _prefer_cpu() -> None:
    """Ask for a real-time slot so probing keeps its pace on a busy 2-core host.

    The loop sleeps in ``select`` until a target is due, so it takes little CPU; without
    priority it waits behind the very start requests it is timing and the resolution degrades
    to several ms. Falls back to a nice value, then to nothing (the round reports its worst
    gap anyway).
    """
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    except (OSError, AttributeError):
        with contextlib.suppress(OSError):
            os.nice(-10)


def serve(control_fd: int, out: TextIO) -> int:
    """The child's loop: rounds on demand until the control channel closes."""
    sock = _open_socket()
    ident = os.getpid() & 0xFFFF
    commands = _Commands(control_fd)
    while True:
        # Between rounds only "arm" means anything; a stray line is dropped, never a later one.
        words = commands.pop()
        if words is None:
            if commands.closed:
                return 0
            select.select([commands.fd], [], [])
            commands.fill()
            continue
        if words[0] != "arm" or len(words) < 3:
            continue
        interval_s = int(words[2]) / 1e6
        max_interval_s = int(words[3]) / 1e6 if len(words) > 3 else interval_s

        def reply(address: str, stamp_ns: int) -> None:
            out.write(f"reply {address} {stamp_ns}\n")
            out.flush()

        round_ = _Round(float(words[1]), interval_s, max(interval_s, max_interval_s))
        round_.on_reply = reply
        out.write("armed\n")
        out.flush()
        _run_round(sock, ident, commands, round_)
        unanswered = [t for t in round_.started if t not in round_.replies]
        cost = (
            round_.max_gap,
            round_.resolution,
            time.thread_time() - round_.cpu_origin,
            time.monotonic() - round_.origin,
        )
        figures = [str(round(seconds * 1e6)) for seconds in cost]
        out.write(
            " ".join(["done", str(len(unanswered)), *figures, str(round_.wakeups), *unanswered])
        )
        out.write("\n")
        out.flush()


def main() -> int:
    _prefer_cpu()
    return serve(sys.stdin.fileno(), sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
