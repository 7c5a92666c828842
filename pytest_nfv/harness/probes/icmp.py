"""Boot readiness: the first ICMP echo reply from each instance, with kernel timestamps.

The paper counts boot time from the start request until the instance answers an ICMP echo.
One raw ICMP socket serves every target. It lives in a separate process (started inside the
namespace from which the instances are reachable, with real-time priority where allowed) so
that probing never competes with the start requests for the GIL, and it probes a target only
from the moment its start request was issued. Where the host has two CPUs or more, it is
pinned to one of its own and the starts run on another (``host.cpus``).

That process is ``prober.c`` where root can build it privately (``native``), else
``probes.icmp_child``: the same protocol and pace. The prober's cost is its wake-ups, thousands a
second while instances boot, and the interpreter's share of each is what the C child saves;
``EchoProber.kind`` says which one a record was measured with.

Each target has its own pace: the first probes go every ``interval`` (0.5 ms by default),
and while the target stays silent the gap grows with the time it has waited (a sixteenth of
it), up to ``max_interval`` (1.5 ms by default). A fast boot is timed finely, a slow one
costs few probes, and the prober wakes only when some target is due, so on a 2-core host it
takes little of the CPU the starts being timed need. A wake-up costs the C child about the
same whatever it sends, and while many instances boot some target is always new, so the
first interval sets most of the prober's CPU: halving the default pace nearly halves it at
N=128 (``benchmarks/prober_resolution.py``; benchmarks/RESULTS.md, "Boot time
(instantiation): start request → first ICMP echo reply, N started together").

Every round reports its worst gap between two probes of a waiting target, its resolution
(the largest gap that preceded the probe a target first answered, which bounds every boot
time of the round) and what the prober cost (CPU time, wall time and wake-ups). Reply times
are the kernel's receive timestamps (SO_TIMESTAMPNS, CLOCK_REALTIME), not the time Python got
round to reading them.

Wire protocol between the two processes, one line each way per step (the child keeps a queue
of whole lines, so commands may arrive batched in one read or split across several)::

    parent: arm TIMEOUT_S INTERVAL_US MAX_INTERVAL_US     child: armed
    parent: go IP            (one per start request, as it is issued)
    parent: end              (wait for the started targets)  or  cancel  (stop waiting now)
                                             child: reply IP TS_NS   (one per answered target,
                                                                      as it answers)
                     child: done UNANSWERED MAX_GAP_US RESOLUTION_US CPU_US WALL_US WAKEUPS IP...

Every read of the parent has a deadline: a prober that stops answering is killed and the
round fails with ``ProbeError`` instead of hanging the session. Replies are written as they
come, so a parent waiting in ``finish`` can tell how many instances answered so far while a
slow round is still going.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import select
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pytest_nfv.errors import BackendUnavailable, BootTimeout, ProbeError
from pytest_nfv.host.cpus import harness_cpus, pin
from pytest_nfv.host.parent_death import dying_with_parent
from pytest_nfv.native import compiled, source
from pytest_nfv.vnf.checksum import internet_checksum

__all__ = [
    "DEFAULT_MAX_PROBE_INTERVAL_S",
    "DEFAULT_PROBE_INTERVAL_S",
    "EchoProber",
    "ReadinessResult",
    "echo_request",
    "prober_command",
]

ICMP_ECHO_REPLY = 0
ICMP_ECHO_REQUEST = 8
DEFAULT_PROBE_INTERVAL_S = 0.0005
DEFAULT_MAX_PROBE_INTERVAL_S = 0.0015
ANSWER_GRACE_S = 10.0
"""How long the parent waits for the prober beyond what the round itself may take."""


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
    """Longest time between two probes of a waiting target."""
    resolution_s: float = 0.0
    """Largest gap before the probe a target first answered: no boot time is finer."""
    prober_cpu_s: float = 0.0
    """CPU time the prober used in the round (its thread's clock)."""
    round_s: float = 0.0
    """Wall time of the round in the prober, from armed to done."""
    wakeups: int = 0
    """How often the prober woke up in the round."""

    @property
    def prober_cpu_share(self) -> float:
        """The prober's CPU over the round, as a share of one core."""
        return self.prober_cpu_s / self.round_s if self.round_s > 0 else 0.0


class _LineReader:
    """Whole lines from a raw fd, each read with a deadline (no buffered readline)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = b""
        self._lines: deque[str] = deque()

    def readline(self, deadline: float) -> str | None:
        """The next whole line; None at end of file.

        Raises:
            TimeoutError: no whole line came before ``deadline`` (monotonic seconds).
        """
        while not self._lines:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._fd], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(self._fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
            *lines, self._buffer = self._buffer.split(b"\n")
            self._lines.extend(line.decode() for line in lines)
        return self._lines.popleft()


def prober_command(native: bool) -> tuple[list[str], str]:
    """The C child where it can be built privately (``native``), else the Python one
    (``probes.icmp_child``)."""
    python = [sys.executable, "-m", "pytest_nfv.harness.probes.icmp_child"]
    if not native:
        return python, "Python (chosen)"
    try:
        return [str(compiled(source("prober.c"), "nfv-prober"))], "C (native/prober.c)"
    except BackendUnavailable as exc:
        return python, f"Python, since the C one cannot be used: {exc}"


class EchoProber:
    """Parent side: a long-lived probing process inside ``netns_path``.

    Use as a context manager; ``begin``/``started``/``finish`` (or ``cancel``) bracket one
    boot round.

    Args:
        netns_path: the namespace to probe from (None: the caller's).
        interval_s: the gap between the first probes of a target.
        max_interval_s: the most a silent target's gap grows to (at least ``interval_s``).
        native: use the C child where it can be built (False: always the Python one).
    """

    def __init__(
        self,
        netns_path: str | None,
        interval_s: float = DEFAULT_PROBE_INTERVAL_S,
        max_interval_s: float = DEFAULT_MAX_PROBE_INTERVAL_S,
        native: bool = True,
    ) -> None:
        self._netns_path = netns_path
        self._native = native
        self._interval_s = interval_s
        self._max_interval_s = max(max_interval_s, interval_s)
        self._proc: subprocess.Popen[bytes] | None = None
        self._lines: _LineReader | None = None
        self._round_timeout_s = 0.0
        self._sending = threading.Lock()
        self.kind = ""
        """Which child probes: the C one, or the Python one and why (for the record)."""

    @property
    def interval_s(self) -> float:
        return self._interval_s

    @property
    def max_interval_s(self) -> float:
        return self._max_interval_s

    @property
    def pid(self) -> int | None:
        """The probing process (for its CPU accounting), or None when not running."""
        return None if self._proc is None else self._proc.pid

    def __enter__(self) -> EchoProber:
        argv, self.kind = prober_command(self._native)
        kwargs: dict[str, object] = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE}
        if self._netns_path is None:
            self._proc = subprocess.Popen(dying_with_parent(argv), **kwargs)  # type: ignore[call-overload]
        else:
            from pytest_nfv.host.namespaces import spawn_in

            self._proc = spawn_in(self._netns_path, argv, **kwargs)
        assert self._proc is not None
        assert self._proc.stdout is not None
        self._lines = _LineReader(self._proc.stdout.fileno())
        try:
            # A CPU of its own, apart from the starts it times (see host.cpus).
            pin(self._proc.pid, harness_cpus().prober)
        except OSError:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        proc, self._proc, self._lines = self._proc, None, None
        if proc is None:
            return
        if proc.stdin:
            with contextlib.suppress(OSError):
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
            with self._sending:  # backends announce starts from worker threads
                self._proc.stdin.write(line.encode() + b"\n")
                self._proc.stdin.flush()
        except BrokenPipeError as exc:
            raise ProbeError("the ICMP prober exited unexpectedly") from exc

    def _read(self, within_s: float) -> str:
        """The prober's next line; it is killed if none comes within ``within_s``."""
        if self._proc is None or self._lines is None:
            raise ProbeError("the ICMP prober is not running")
        try:
            line = self._lines.readline(time.monotonic() + within_s)
        except TimeoutError:
            self.__exit__()  # out of step with us for good: no later round may read its lines
            raise ProbeError(
                f"the ICMP prober gave no answer within {within_s:g} s; it was stopped"
            ) from None
        if line is None:
            raise ProbeError(f"the ICMP prober exited (status {self._proc.poll()})")
        return line.strip()

    def begin(self, timeout_s: float) -> None:
        """Arm a round: nothing is probed until ``started`` names a target."""
        interval_us = round(self._interval_s * 1e6)
        self._send(f"arm {timeout_s} {interval_us} {round(self._max_interval_s * 1e6)}")
        self._round_timeout_s = timeout_s
        if self._read(ANSWER_GRACE_S) != "armed":
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
        return self._results(self._round_timeout_s + ANSWER_GRACE_S, on_reply)

    def cancel(self) -> ReadinessResult:
        """End the round now: targets announced but never created are not waited for."""
        self._send("cancel")
        return self._results(ANSWER_GRACE_S)

    def _results(
        self, within_s: float, on_reply: Callable[[int], None] | None = None
    ) -> ReadinessResult:
        deadline = time.monotonic() + within_s
        replies: dict[ipaddress.IPv4Address, int] = {}
        while True:
            words = self._read(max(0.0, deadline - time.monotonic())).split()
            if words and words[0] == "reply":
                replies[ipaddress.IPv4Address(words[1])] = int(words[2])
                if on_reply is not None:
                    on_reply(len(replies))
            elif words and words[0] == "done" and len(words) >= 7:
                gap_us, resolution_us, cpu_us, wall_us, wakeups = map(int, words[2:7])
                missing = tuple(ipaddress.IPv4Address(w) for w in words[7:])
                return ReadinessResult(
                    replies,
                    missing,
                    gap_us / 1e6,
                    resolution_us / 1e6,
                    cpu_us / 1e6,
                    wall_us / 1e6,
                    wakeups,
                )
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
