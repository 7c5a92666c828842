"""A boot that times out says what the silent instance's console last said (``Consoles``)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest

from pytest_nfv.errors import BootTimeout
from pytest_nfv.harness.lab import Lab
from pytest_nfv.model import Instance, InstanceSpec

SPECS = [
    InstanceSpec(
        f"nfv-x-p1-vnf{i}", ipaddress.IPv4Address(f"10.0.0.{i + 2}"), f"02:00:00:00:00:0{i}"
    )
    for i in range(2)
]


class SilentSecond:
    """Starts every instance; its console shows how the second one failed."""

    name = "fake"

    def __init__(self, consoles: bool) -> None:
        self.stopped: list[str] = []
        if consoles:
            self.console_tail = self._tail

    def start(self, specs: Sequence[InstanceSpec], on_start: Any) -> list[Instance]:
        for spec in specs:
            on_start(spec)
        return [Instance(spec, 0, None, ()) for spec in specs]

    def stop(self, instances: Sequence[Instance]) -> None:
        self.stopped += [i.spec.name for i in instances]

    def _tail(self, instance: Instance, lines: int = 20) -> str | None:
        assert instance.spec.name not in self.stopped  # read before the domain goes
        return (
            f"OSv v0.57.0\nFailed to load object: /nfv-relay. Powering off. ({instance.spec.name})"
        )


class Prober:
    def begin(self, timeout_s: float) -> None: ...
    def started(self, address: object) -> None: ...
    def cancel(self) -> None: ...
    def finish(self, on_reply: Any) -> Any:
        return SimpleNamespace(unanswered=[SPECS[1].address], replies_ns={SPECS[0].address: 1})


def test_the_silent_instance_s_console_ends_the_message() -> None:
    backend = SilentSecond(consoles=True)
    lab = Lab(backend, Prober(), boot_timeout_s=60)  # type: ignore[arg-type]
    with pytest.raises(BootTimeout) as raised:
        lab.boot(SPECS)
    message = str(raised.value)
    assert message.startswith("1 of 2 instances did not answer ICMP echo within 60 s (10.0.0.3)")
    assert "the console of nfv-x-p1-vnf1 ends:\n    OSv v0.57.0\n" in message
    assert "Failed to load object: /nfv-relay. Powering off. (nfv-x-p1-vnf1)" in message
    assert backend.stopped == [s.name for s in SPECS]


def test_a_backend_without_consoles_keeps_the_plain_message() -> None:
    lab = Lab(SilentSecond(consoles=False), Prober(), boot_timeout_s=60)  # type: ignore[arg-type]
    with pytest.raises(BootTimeout, match=r"\(10\.0\.0\.3\)$"):
        lab.boot(SPECS)
