"""Host B's receiver: counts one stream's datagrams, checks their order, within deadlines.

The receiver is ``receiver.c``, built by ``native`` like the prober and B's echo
responder: it reads datagrams in batches of 256 (``recvmmsg``), looks only at each one's
first bytes, and keeps a bitmap of the sequence numbers it has seen, so a Python loop never
stands between the wire and the count. It lives as long as the generator, in B's namespace,
on the measured path's CPU (``backends.shared.responder.launch_helper``), and is told where one
trial starts and ends over its stdin; each trial's frames carry a fresh tag, so what a
previous trial left in flight is counted as foreign, not as this one's.

Every wait has a deadline: a receiver that died, or stopped answering, fails the trial with
a ``TrafficError`` that says so.
"""

from __future__ import annotations

import contextlib
import subprocess

from pytest_nfv.backends.shared.responder import launch_helper
from pytest_nfv.errors import BackendError, TrafficError
from pytest_nfv.harness.traffic.generator import ReceiverCount, Stream
from pytest_nfv.host.processes import expect_line, read_line, stop_processes
from pytest_nfv.native import compiled, source

__all__ = ["Receiver"]

ANSWER_S = 5.0
"""The longest a receiver may take to answer a command before it counts as hung."""
EXIT_GRACE_S = 0.5
"""How long a receiver that fell silent is given to be reaped before its state is told."""


class Receiver:
    """``nfv-receiver`` in the stream's sink namespace, counting the stream's port.

    Raises:
        BackendUnavailable: it cannot be built here (no gcc, not root).
    """

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def open(self) -> None:
        """Start the receiver and wait until it is bound.

        Raises:
            BackendUnavailable: it cannot be built here.
            TrafficError: it did not report ready.
        """
        if self._proc is not None:
            return
        binary = compiled(source("receiver.c"), "nfv-receiver")
        try:
            self._proc = launch_helper(
                [str(binary), str(self.stream.port)],
                self.stream.sink.netns_path,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                close_fds=True,
                bufsize=0,
            )
        except (BackendError, OSError) as exc:
            where = self.stream.sink.name
            raise TrafficError(f"cannot start the receiver in {where}: {exc}") from exc
        try:
            self._expect("ready", "start")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(BackendError):
                stop_processes([proc])

    def start(self, tag: int) -> None:
        """Count the stream tagged ``tag`` from now on, from zero.

        Raises:
            TrafficError: the receiver is gone or does not answer.
        """
        self._send(f"start {tag}")
        self._expect("ok", "start")

    def stop(self) -> ReceiverCount:
        """Stop counting; what was counted since ``start``.

        Raises:
            TrafficError: the receiver is gone, does not answer, or answers nonsense.
        """
        self._send("stop")
        line = read_line(self._require(), ANSWER_S)
        words = line.split()
        if len(words) != 11 or words[0] != "count" or not all(w.isdigit() for w in words[1:]):
            raise TrafficError(self._silent(f"stop: expected counts, got {line!r}"))
        received, duplicates, reordered, highest, foreign, drops, n, low, total, high = (
            int(w) for w in words[1:]
        )
        latency = (low, total / n, high) if n else None
        return ReceiverCount(received, duplicates, reordered, highest, foreign, drops, latency)

    def _require(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            raise TrafficError(f"the receiver in {self.stream.sink.name} is not running")
        return self._proc

    def _send(self, command: str) -> None:
        proc = self._require()
        assert proc.stdin is not None
        try:
            proc.stdin.write(command.encode() + b"\n")
            proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise TrafficError(self._silent(f"{command.split(maxsplit=1)[0]}: {exc}")) from exc

    def _expect(self, line: str, command: str) -> None:
        try:
            expect_line(self._require(), line, "the receiver", timeout=ANSWER_S)
        except BackendError as exc:
            raise TrafficError(self._silent(f"{command}: {exc}")) from exc

    def _silent(self, what: str) -> str:
        status = None
        if self._proc is not None:
            # A receiver that closed its pipe may not be reaped yet: give its exit a moment,
            # so a killed receiver is reported as such and not as alive but silent.
            with contextlib.suppress(subprocess.TimeoutExpired):
                status = self._proc.wait(timeout=EXIT_GRACE_S)
        state = "it is alive" if status is None else f"it exited with status {status}"
        return f"the receiver in {self.stream.sink.name} failed at {what} ({state})"
