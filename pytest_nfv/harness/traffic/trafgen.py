"""The trafgen generator: netsniff-ng's packet generator sends the stream from host A.

trafgen writes whole frames into a PF_PACKET socket (bypassing the qdisc), from a packet
configuration compiled once per trial: Ethernet to the next hop's MAC, IPv4 from A to the
destination, UDP to the stream's port with no checksum (IPv4 allows none, and the proxy VNF
keeps a zero one zero), then the stream's tag, the sequence number, and padding.

What trafgen 0.6.8 can and cannot do here decides the rest:

- Its runtime counters (``dinc``) are one byte wide. Four of them, counting modulo 251, 253,
  255 and 256 (pairwise coprime), carry the sequence number as residues that the receiver
  turns back into one number (Chinese remainder theorem), unique for 4.1e9 frames.
- It has no runtime timestamp: its frames carry a send time of 0 and the receiver reports no
  one-way delay for them.
- ``--rate Npps`` is a per-second budget: N frames go out back to back at the start of each
  second (through ``sendto``, its slow path), then it sleeps out the second. The average
  rate over a trial is the one offered; within a second the stream is one burst at the
  sender's peak. ``--gap`` spaces single frames with a ``nanosleep`` each, which on a
  virtual machine costs tens of microseconds beyond the gap asked for, so it falls short of
  any rate that matters. ``Trial.pacing`` says which shape a figure was taken with; the
  ``csender`` generator paces smoothly (``sender.c``).
- Offered ``UNPACED``, it runs its fast path (TX_RING) with no limit: the generator's own
  ceiling.
- It forks one worker per CPU it is given and pins the worker to CPU 0 itself, whatever the
  parent's affinity: the worker is moved to the generator's CPU as soon as it says it runs.
  It also creates a scratch file in its working directory, so it runs in a private one.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from pytest_nfv.errors import BackendUnavailable, NfvUsageError, TrafficError
from pytest_nfv.harness.traffic.generator import Stream, Trial, payload_bytes
from pytest_nfv.harness.traffic.receiver import Receiver
from pytest_nfv.harness.traffic.trial import (
    GRACE_S,
    SendReport,
    generator_cpu,
    run_sender,
    run_trial,
)
from pytest_nfv.host.cpus import pin
from pytest_nfv.host.processes import read_line

__all__ = ["MODULI", "Trafgen", "packet_config"]

MODULI = (251, 253, 255, 256)
"""The sequence number's residues, one trafgen counter each (see ``receiver.c``)."""
_SENT = re.compile(r"^\s*(\d+) packets outgoing", re.MULTILINE)
_TIME = re.compile(r"^\s*(\d+) sec, (\d+) usec on CPU0", re.MULTILINE)
PACED = (
    "trafgen --rate: each second's frames in one burst at the sender's peak (sendto), "
    "then idle to the end of the second"
)
FAST = "trafgen TX_RING, unpaced: as fast as the sender goes"


def packet_config(stream: Stream, frame_size: int, tag: int) -> str:
    """The trafgen packet configuration of one trial's frames.

    Raises:
        NfvUsageError: ``frame_size`` is outside 64..1518 B.
    """
    pad = payload_bytes(frame_size) - 16
    counters = ", ".join(f"dinc(0, {m - 1}, 1)" for m in MODULI)
    return (
        "{ "
        f"eth(da={stream.next_hop_mac}, sa={stream.source.mac}), "
        f"ipv4(sa={stream.source.address}, da={stream.destination}, ttl=64), "
        f"udp(sp={stream.port}, dp={stream.port}, csum=0), "
        f"const32({tag}), {counters}, const64(0), fill(0, {pad})"
        " }\n"
    )


class Trafgen:
    """trafgen in host A's namespace, counted by ``nfv-receiver`` in B's.

    Args:
        stream: who sends to whom.
        executable: trafgen's path (None: found on ``PATH`` or in ``/usr/sbin``).
    """

    name = "trafgen"

    def __init__(self, stream: Stream, executable: str | None = None) -> None:
        self.stream = stream
        self._executable = executable
        self._receiver = Receiver(stream)
        self._workdir: Path | None = None
        self.version = ""

    def __enter__(self) -> Trafgen:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def open(self) -> None:
        found = self._executable or shutil.which("trafgen") or shutil.which("/usr/sbin/trafgen")
        if found is None:
            raise BackendUnavailable(
                "trafgen is not installed (Debian: apt-get install netsniff-ng)"
            )
        self._executable = found
        try:
            shown = subprocess.run(
                [found, "-v"], capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BackendUnavailable(f"trafgen at {found} does not run: {exc}") from exc
        version = re.search(r"trafgen\s+(\S+)", shown.stdout)
        self.version = version[1].rstrip(",") if version else "unknown"
        self._workdir = Path(tempfile.mkdtemp(prefix="nfv-trafgen-"))
        try:
            self._receiver.open()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self._receiver.close()
        workdir, self._workdir = self._workdir, None
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)

    def describe(self) -> str:
        return f"trafgen {self.version} ({PACED}; unpaced: TX_RING)"

    def trial(self, frame_size: int, offered_fps: float, duration_s: float) -> Trial:
        if self._workdir is None or self._executable is None:
            raise TrafficError("the trafgen generator is not open")
        if not (offered_fps >= 1 and duration_s > 0):
            raise NfvUsageError("a trial needs a rate of 1 frame/s or more and a duration > 0")
        paced = not math.isinf(offered_fps)
        workdir, executable = self._workdir, self._executable

        def send(tag: int) -> SendReport:
            config = workdir / "stream.cfg"
            config.write_text(packet_config(self.stream, frame_size, tag))
            argv = [executable, "--dev", self.stream.iface, "--conf", str(config)]
            argv += ["--cpus", "1", "--no-sock-mem", "--notouch-irq"]
            if paced:
                frames = max(1, round(offered_fps * duration_s))
                argv += ["--num", str(frames), "--rate", f"{round(offered_fps)}pps"]
            output = run_sender(
                argv,
                self.stream.source.netns_path,
                duration_s + GRACE_S if paced else duration_s,
                cwd=str(workdir),
                on_start=_worker_to_generator_cpu,
            )
            return _report(output)

        return run_trial(
            self._receiver,
            self.name,
            PACED if paced else FAST,
            frame_size,
            offered_fps,
            duration_s,
            send,
        )


def _worker_to_generator_cpu(proc: subprocess.Popen[bytes]) -> None:
    """Move trafgen's worker, which pins itself to CPU 0, onto the generator's CPU.

    It says ``Running!`` after pinning itself, so it is moved after that line; until then it
    has compiled its configuration, not sent.
    """
    cpu = generator_cpu()
    for _ in range(8):
        line = read_line(proc, 5.0)
        if line.startswith("Running!") or not line:
            break
    if cpu is None:
        return
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    try:
        workers = [int(pid) for pid in children.read_text().split()]
    except OSError:
        return  # it finished already
    for worker in workers:
        try:
            pin(worker, cpu)
        except OSError:
            continue  # it finished already


def _report(output: str) -> SendReport:
    """trafgen's own count and time of what it sent.

    Raises:
        TrafficError: its output holds no count.
    """
    sent = _SENT.search(output)
    if sent is None:
        raise TrafficError(f"trafgen reported no count of what it sent: {output.strip()[-300:]}")
    took = _TIME.search(output)
    elapsed = int(took[1]) + int(took[2]) / 1e6 if took else 0.0
    return SendReport(int(sent[1]), elapsed)
