"""A migration round: the proxy VNF moves while host A's probe stream goes through it.

The paper recommends ClickOS where VNFs migrate often and CoreOS only where they stay put,
on the strength of an argument (small VMs, a memory dump easy to move; containers hard to
move) it never measures. A round here measures it: host A sends a sequence-numbered stream
through the proxy VNF at a fixed rate (``probes.stream``), the backend moves the VNF
(``backends.base.Migratable``), and the round keeps both views side by side -- the engine's
own figures (total time, its downtime, bytes moved, pre-copy passes) and the traffic's
(the longest gap between replies, the replies lost). They differ by what the engine does
not count: the network learning the instance's new place, a relay's state, the path back.

The cold move (save to a file, restore) is timed the same way, with the image's size.
A backend that cannot move instances says why (``migration_block``); the round does not
run, and the figure is "not measured" with that reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pytest_nfv.backends.base import Migratable
from pytest_nfv.backends.migration import ColdMigration, LiveMigration, ProgressCallback
from pytest_nfv.errors import BackendUnavailable, ProbeError
from pytest_nfv.harness.probes.stream import DEFAULT_RATE_HZ, ProbeStream, StreamLog
from pytest_nfv.harness.proxy_path import ProxyPath
from pytest_nfv.model import Instance

__all__ = [
    "ColdRound",
    "LiveRound",
    "MigrationRounds",
    "StreamView",
    "migration_block",
    "stream_view",
]

LEAD_S = 1.0
"""The stream runs this long before the move: replies flowing prove the path was up."""
TAIL_S = 1.0
"""And this long after it returned: the path must carry traffic again for the round to count."""


@dataclass(frozen=True)
class StreamView:
    """What the probe stream saw: its requests, the replies lost, the longest silence.

    ``gaps`` are ``(t, gap)`` pairs: at ``t`` seconds after the first request a reply came
    ``gap`` seconds after the one before it (the first reply's gap is from the first request).
    """

    sent: int
    lost: int
    longest_gap_s: float
    interval_s: float
    gaps: tuple[tuple[float, float], ...]

    @property
    def silence_s(self) -> float:
        """The longest gap less the stream's own interval: the time no reply was due but late."""
        return max(0.0, self.longest_gap_s - self.interval_s)


def stream_view(log: StreamLog) -> StreamView:
    """Reduce a stream's log to its figures.

    Raises:
        ProbeError: no request was sent, or no reply came at all (the path never worked:
            that is no downtime figure).
    """
    if not log.sent_ns:
        raise ProbeError("the probe stream sent nothing")
    if not log.replied_ns:
        raise ProbeError(f"none of the probe stream's {len(log.sent_ns)} requests was answered")
    first_sent = min(log.sent_ns.values())
    previous = first_sent
    gaps: list[tuple[float, float]] = []
    for stamp in sorted(log.replied_ns.values()):
        gaps.append(((stamp - first_sent) / 1e9, (stamp - previous) / 1e9))
        previous = stamp
    return StreamView(
        sent=len(log.sent_ns),
        lost=len(log.sent_ns) - len(log.replied_ns),
        longest_gap_s=max(gap for _t, gap in gaps),
        interval_s=log.interval_s,
        gaps=tuple(gaps),
    )


@dataclass(frozen=True)
class LiveRound:
    """One live migration: the engine's figures and the stream's, and when the move began."""

    engine: LiveMigration
    seen: StreamView
    move_began_s: float
    """Seconds after the stream's first request (for a figure of ``seen.gaps``)."""


@dataclass(frozen=True)
class ColdRound:
    """One save and restore: the engine's figures and the stream's."""

    engine: ColdMigration
    seen: StreamView
    move_began_s: float


def migration_block(backend: object) -> str | None:
    """Why ``backend`` moves no instance here; None when it can."""
    if not isinstance(backend, Migratable):
        name = getattr(backend, "name", type(backend).__name__)
        return f"the {name} backend declares no way to move an instance (Migratable)"
    return backend.migration_block()


class MigrationRounds:
    """Move the testbed's proxy VNF, live or cold, under a probe stream from host A.

    Args:
        path: the testbed with its proxy VNF running.
        rate_hz: the probe stream's requests per second.

    Raises:
        BackendUnavailable: the backend cannot move its proxy here (``migration_block``).
    """

    def __init__(self, path: ProxyPath, rate_hz: float = DEFAULT_RATE_HZ) -> None:
        reason = migration_block(path.backend)
        if reason is not None:
            raise BackendUnavailable(reason)
        assert isinstance(path.backend, Migratable)
        self._backend: Migratable = path.backend
        self._path = path
        self._rate_hz = rate_hz

    def _stream(self) -> ProbeStream:
        path = self._path
        path.set_mode("proxy")
        path.back_to_b()
        tb = path.testbed
        replier = tb.replier(tb.host_b, through_proxy=True)
        return ProbeStream(
            tb.host_a.netns_path, tb.proxy.address, tb.echo_port, replier.address, self._rate_hz
        )

    def live(self, on_progress: ProgressCallback | None = None) -> LiveRound:
        """Migrate the proxy VNF live; the round's figures.

        Raises:
            BackendError: the move failed (the backend cleaned up after it).
            ProbeError: the path carried nothing before or after the move.
        """
        proxy = self._running_proxy()
        with self._stream() as stream:
            began = self._lead()
            figures = self._backend.migrate_live(proxy, on_progress)
            self._path.proxy = figures.moved
            time.sleep(TAIL_S)
        return LiveRound(figures, self._checked(stream.log), began - _first_s(stream.log))

    def cold(self) -> ColdRound:
        """Save the proxy VNF to a file and restore it; the round's figures.

        Raises:
            BackendError: saving or restoring failed.
            ProbeError: the path carried nothing before or after the move.
        """
        proxy = self._running_proxy()
        with self._stream() as stream:
            began = self._lead()
            figures = self._backend.save_restore(proxy)
            self._path.proxy = figures.moved
            time.sleep(TAIL_S)
        return ColdRound(figures, self._checked(stream.log), began - _first_s(stream.log))

    def _running_proxy(self) -> Instance:
        if self._path.proxy is None:
            raise ProbeError("the testbed's proxy VNF is not running")
        return self._path.proxy

    def _lead(self) -> float:
        time.sleep(LEAD_S)
        return time.time()

    def _checked(self, log: StreamLog) -> StreamView:
        view = stream_view(log)
        last_sent = max(log.sent_ns.values())
        settled = last_sent - int((TAIL_S / 2) * 1e9)
        if not any(stamp >= settled for stamp in log.replied_ns.values()):
            raise ProbeError(
                "the path carried no reply in the last half of the stream after the move: "
                "the moved proxy VNF does not forward"
            )
        return view


def _first_s(log: StreamLog) -> float:
    return min(log.sent_ns.values()) / 1e9
