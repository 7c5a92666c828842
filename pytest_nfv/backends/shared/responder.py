"""Host B's UDP responder, and the one place helper processes of the testbed are launched.

The response time runs from A's request leaving A's stack to B's reply arriving there, so the
responder's own cost is inside every figure, proxied and direct alike. The C responder
(``pytest_nfv/native/echo.c``, built by ``native``) answers with one ``recvfrom`` and one
``sendto``; the Python one (``pytest_nfv.vnf.echo``) stays as the fallback where gcc is
missing, and ``Responder.kind`` says which one a record was measured with.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_nfv.errors import BackendUnavailable
from pytest_nfv.host.cpus import harness_cpus, pin
from pytest_nfv.host.namespaces import spawn_in
from pytest_nfv.host.parent_death import dying_with_parent
from pytest_nfv.native import compiled, source

__all__ = ["Responder", "launch_helper", "responder"]


@dataclass(frozen=True)
class Responder:
    """How host B answers: its command up to the port, and what it is (for the record)."""

    command: tuple[str, ...]
    kind: str

    def argv(self, port: int) -> list[str]:
        return [*self.command, str(port)]


def responder() -> Responder:
    """The C responder where it can be built privately, else the Python one (with why)."""
    try:
        return Responder((str(compiled(source("echo.c"), "nfv-echo")),), "C (native/echo.c)")
    except BackendUnavailable as exc:
        python = (sys.executable, "-m", "pytest_nfv.vnf.echo", "--port")
        return Responder(python, f"Python, since the C one cannot be used: {exc}")


def launch_helper(
    argv: Sequence[str],
    netns_path: str | None = None,
    *,
    on_path: bool = True,
    **popen_kwargs: object,
) -> subprocess.Popen[bytes]:
    """Start a helper process of the testbed (no shell), in ``netns_path`` if given.

    Every helper that sits inside a measured interval (the responders, the proxy VNF) starts
    here, so what they share -- the namespace they stand in, the CPU they run on -- is decided
    in one place: a helper ``on_path`` is pinned to the measured path's CPU
    (``host.cpus.harness_cpus``); an instance's own process (``on_path=False``) may run on
    every CPU of the session, even when its start ran pinned to the path's CPU.
    """
    if netns_path is not None:
        proc = spawn_in(netns_path, argv, **popen_kwargs)
    else:
        proc = subprocess.Popen(dying_with_parent(argv), **popen_kwargs)  # type: ignore[call-overload]
    plan = harness_cpus()
    try:
        pin(proc.pid, plan.path if on_path else plan.allowed)
    except OSError:
        proc.kill()
        proc.wait()
        raise
    return proc
