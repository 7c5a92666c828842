"""The one way a trial runs, whichever tool sends: tag, send, wait out the window, count.

Both built-in generators go through here, so they differ only in the sender they start: the
sender runs in host A's namespace on a CPU of its own (the prober's, idle while load runs;
see ``host.cpus``), away from the measured path's CPU where the proxy VNF and B's receiver
run; it is stopped at its deadline whatever it still had to send, and what it says it sent
is the trial's ``sent``. A's interface counter is read around it as a check on that figure.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pytest_nfv.errors import BackendError, TrafficError
from pytest_nfv.harness.traffic.generator import Stream, Trial
from pytest_nfv.harness.traffic.receiver import Receiver
from pytest_nfv.host.cpus import harness_cpus, pin
from pytest_nfv.host.namespaces import entered, kill_and_wait, spawn_in

__all__ = ["DRAIN_S", "SendReport", "generator_cpu", "run_sender", "run_trial", "tx_packets"]

DRAIN_S = 0.1
"""How long after the window the receiver still counts: frames in flight through the path
(the VNF's queue, the namespaces' backlogs) belong to the trial."""
GRACE_S = 1.0
"""Beyond the trial's duration, what a sender may take to start and finish before it is
stopped: a sender still sending then has fallen short, and its count says by how much."""
EXIT_S = 3.0


@dataclass(frozen=True)
class SendReport:
    """What the sender says it sent, and how long it took by its own clock."""

    frames: int
    elapsed_s: float


def generator_cpu() -> int | None:
    """The CPU a sender runs on: apart from the measured path's (None: not pinned)."""
    plan = harness_cpus()
    return plan.prober if plan.prober != plan.path else None


def tx_packets(netns_path: str, iface: str) -> int | None:
    """Frames ``iface`` in ``netns_path`` has sent so far (stats64); None if unreadable."""
    from pyroute2 import IPRoute

    try:
        with entered(netns_path):
            ipr = IPRoute()
        try:
            links = ipr.get_links(ifname=iface)
            stats = links[0].get_attr("IFLA_STATS64") if links else None
            return None if stats is None else int(stats["tx_packets"])
        finally:
            ipr.close()
    except Exception:
        return None


def run_sender(
    argv: Sequence[str],
    netns_path: str,
    deadline_s: float,
    *,
    cwd: str | None = None,
    on_start: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> str:
    """Run a sender in ``netns_path`` to its end, or SIGINT it at ``deadline_s``; its output.

    The sender gets a session of its own, so the interrupt reaches the processes it forked
    (trafgen's worker) too; they then report what they sent, as at their natural end.

    Raises:
        TrafficError: it would not start, or outlived the interrupt and a kill.
    """
    try:
        proc = spawn_in(
            netns_path,
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except BackendError as exc:
        raise TrafficError(f"cannot start {argv[0]}: {exc}") from exc
    try:
        pin(proc.pid, generator_cpu())
        if on_start is not None:
            on_start(proc)
        try:
            output, _ = proc.communicate(timeout=deadline_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)
            try:
                output, _ = proc.communicate(timeout=EXIT_S)
            except subprocess.TimeoutExpired:
                raise TrafficError(
                    f"{argv[0]} did not stop within {EXIT_S:g} s of an interrupt"
                ) from None
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(BackendError):
                kill_and_wait([proc.pid])
    if proc.returncode not in (0, -signal.SIGINT):
        tail = output.decode(errors="replace").strip()[-300:]
        raise TrafficError(f"{argv[0]} failed with status {proc.returncode}: {tail}")
    return output.decode(errors="replace")


def run_trial(
    receiver: Receiver,
    generator: str,
    pacing: str,
    frame_size: int,
    offered_fps: float,
    duration_s: float,
    send: Callable[[int], SendReport],
) -> Trial:
    """One trial: a fresh tag at B, ``send(tag)`` at A, the rest of the window, the count.

    ``achieved_fps`` is what was sent over the longer of the window and the sender's own
    time: a sender that needed longer than the window is seen to fall short.

    Raises:
        TrafficError: the receiver or the sender failed.
    """
    tag = secrets.randbits(32) or 1
    receiver.start(tag)
    stream: Stream = receiver.stream
    before = tx_packets(stream.source.netns_path, stream.iface)
    begun = time.monotonic()
    report = send(tag)
    time.sleep(max(0.0, begun + duration_s - time.monotonic()) + DRAIN_S)
    after = tx_packets(stream.source.netns_path, stream.iface)
    count = receiver.stop()
    window = max(duration_s, report.elapsed_s)
    return Trial(
        generator,
        frame_size,
        offered_fps,
        duration_s,
        report.frames,
        report.frames / window if window > 0 else 0.0,
        count,
        pacing,
        None if before is None or after is None else after - before,
    )
