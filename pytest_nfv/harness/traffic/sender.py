"""The csender generator: a small C sender that paces the stream smoothly from host A.

The second implementation of ``TrafficGenerator``, and the proof that the search does not
depend on trafgen: it sends through A's UDP socket (the kernel addresses the frames and finds
the next hop by ARP, so ``Stream.next_hop_mac`` is not needed), looks for due frames every
50 microseconds and sends all of them at once, so the stream is smooth at that scale and a
late wake-up costs a larger batch, not a lower rate. Its frames carry the send time, so the
receiver reports a one-way delay for them. It is built on this host by ``native`` as
the receiver is.
"""

from __future__ import annotations

import math
from pathlib import Path

from pytest_nfv.errors import NfvUsageError, TrafficError
from pytest_nfv.harness.traffic.generator import Stream, Trial, mix_mean, payload_bytes
from pytest_nfv.harness.traffic.receiver import Receiver
from pytest_nfv.harness.traffic.trial import GRACE_S, SendReport, run_sender, run_trial
from pytest_nfv.native import compiled, source

__all__ = ["CSender"]

PACED = "csender: frames due in each 50 us sent together (sendmmsg), smooth beyond that"
FAST = "csender, unpaced: as fast as the sender goes (sendmmsg)"


class CSender:
    """``nfv-sender`` in host A's namespace, counted by ``nfv-receiver`` in B's.

    Args:
        stream: who sends to whom.
        mix: frame sizes sent in turn (an IMIX, ``SIMPLE_IMIX``), None: one size per trial.
            A trial of a mix is asked for at the mix's mean size (``mix_mean``), the size
            its bit rates are reckoned at.

    Raises:
        NfvUsageError: a frame size of the mix outside 64..1518 B.
    """

    name = "csender"

    def __init__(self, stream: Stream, mix: tuple[int, ...] | None = None) -> None:
        self.stream = stream
        self.mix = mix
        self._mix_payloads = ",".join(str(payload_bytes(size)) for size in mix) if mix else None
        self._receiver = Receiver(stream)
        self._binary: Path | None = None

    def __enter__(self) -> CSender:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def open(self) -> None:
        self._binary = compiled(source("sender.c"), "nfv-sender")
        self._receiver.open()

    def close(self) -> None:
        self._receiver.close()

    def describe(self) -> str:
        mix = f"; frames of {'/'.join(map(str, self.mix))} B in turn" if self.mix else ""
        return f"{PACED}; unpaced: as fast as it goes{mix}"

    def trial(self, frame_size: int, offered_fps: float, duration_s: float) -> Trial:
        if self._binary is None:
            raise TrafficError("the csender generator is not open")
        if not (offered_fps >= 1 and duration_s > 0):
            raise NfvUsageError("a trial needs a rate of 1 frame/s or more and a duration > 0")
        if self.mix and frame_size != mix_mean(self.mix):
            raise NfvUsageError(
                f"a mix's trial is asked for at its mean size {mix_mean(self.mix)} B, not "
                f"{frame_size} B"
            )
        payloads = self._mix_payloads or str(payload_bytes(frame_size))
        paced = not math.isinf(offered_fps)
        frames = max(1, round(offered_fps * duration_s)) if paced else 10**12
        binary = self._binary

        def send(tag: int) -> SendReport:
            argv = [
                str(binary),
                str(self.stream.destination),
                str(self.stream.port),
                payloads,
                f"{offered_fps:.3f}" if paced else "0",
                str(frames),
                str(tag),
                f"{duration_s + GRACE_S if paced else duration_s:.6f}",
            ]
            deadline = duration_s + 2 * GRACE_S
            output = run_sender(argv, self.stream.source.netns_path, deadline)
            words = output.split()
            if len(words) < 3 or words[-3] != "sent" or not words[-1].isdigit():
                raise TrafficError(f"nfv-sender reported no count: {output.strip()[-300:]}")
            return SendReport(int(words[-2]), int(words[-1]) / 1e9)

        pacing = PACED if paced else FAST
        return run_trial(
            self._receiver, self.name, pacing, frame_size, offered_fps, duration_s, send
        )
