"""The host canary: fixed work timed the same way in every run, to tell a slower host from
slower code.

Two runs of unchanged code can differ because the host changed under them: another tenant on
the cores, a lower clock, a noisier kernel. The regression gate cannot tell that from a
regression by looking at the figures alone. So each run also times work that no change to the
code under test can touch, and the gate compares those times first (``analysis.gate``): a host
that got slower is reported as host drift, apart from the code's regressions.

Canaries (each a series of samples in seconds, stored in the run's ``machine_info``):

- ``cpu_loop``: a fixed pure-Python loop (``CPU_LOOP_ITERATIONS`` additions), timed
  ``CPU_ROUNDS`` times after ``WARM_UP_ROUNDS`` discarded ones when the lab opens, then
  ``PASSES_PER_TEST`` more times before every test that follows: the interpreter's share of a
  core, as every harness process written in Python gets it, sampled across the whole run. A
  host's speed can swing from second to second (on the 2-core reference host the loop runs
  in one of two modes for seconds at a time: benchmarks/RESULTS.md, "Host drift needs every
  canary"), so a canary timed at one moment says little about the minutes the figures were
  measured in;
- ``direct_path``: 64-byte round trips over the testbed's kernel-forwarded path (host A ->
  the proxy's hop with the VNF paused -> B -> A, ``harness.proxy_path.ProxyPath.canary``): wake-up
  latency and the kernel's forwarding, without the VNF. Only runs that deploy the testbed
  record it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = [
    "CPU_LOOP_ITERATIONS",
    "PASSES_PER_TEST",
    "cpu_loop_seconds",
    "timed_rounds",
]

CPU_LOOP_ITERATIONS = 200_000
CPU_ROUNDS = 15
WARM_UP_ROUNDS = 3
PASSES_PER_TEST = 2


def timed_rounds(once: Callable[[], float], rounds: int, warm_up: int) -> tuple[float, ...]:
    """``rounds`` results of ``once`` after ``warm_up`` discarded ones (caches, clock ramp-up)."""
    for _ in range(warm_up):
        once()
    return tuple(once() for _ in range(rounds))


def _cpu_loop_once() -> float:
    started = time.perf_counter_ns()
    total = 0
    for i in range(CPU_LOOP_ITERATIONS):
        total += i
    elapsed = time.perf_counter_ns() - started
    assert total == CPU_LOOP_ITERATIONS * (CPU_LOOP_ITERATIONS - 1) // 2
    return elapsed / 1e9


def cpu_loop_seconds(rounds: int = CPU_ROUNDS, warm_up: int = WARM_UP_ROUNDS) -> tuple[float, ...]:
    """Seconds per pass of the fixed loop, ``rounds`` passes after ``warm_up`` discarded."""
    return timed_rounds(_cpu_loop_once, rounds, warm_up)
