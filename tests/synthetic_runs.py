"""Synthetic pytest-nfv runs with known noise and known shifts, for the regression gate.

The noise models are calibrated on a recorded netns run of the shipped suites on a busy 2-core
host (``--nfv-instances 1,4,16 --nfv-packet-sizes 64,1024,65507``):

- ``quiet``: PSS and other converged figures, CV ~1-2%, 5-8 rounds (the CI closed early);
- ``steady``: boot makespan and deployment time, CV ~8-10%, 10-30 rounds;
- ``noisy``: response times, CV ~30% with 5% of rounds 3-10x the median (a descheduled round),
  30 rounds (the cap);
- ``spiky``: host MemAvailable drops: mostly within +-0.5 MiB of the true value, with 15% of
  rounds off by up to +-10 MiB (page cache, other tenants), 30 rounds.
"""

from __future__ import annotations

import random
from typing import Any

HOST = {
    "kernel": "6.1.0-test",
    "cpu_model": "Synthetic CPU 3.6 GHz",
    "cores": 8,
    "memory_gib": 31.2,
    "root": True,
    "kvm": True,
}

# (requirement, metric, unit, N, size, center in unit, noise kind)
Spec = tuple[str, str, str, int | None, int | None, float, str]


def whole_run(backend: str = "netns") -> list[Spec]:
    """About a suite run's worth of records (N = 1, 4, 16, 64; sizes 64, 1024, 65507 B)."""
    del backend
    specs: list[Spec] = []
    for n in (1, 4, 16, 64):
        specs += [
            ("instantiation", "boot_makespan", "s", n, None, 0.008 * n + 0.002, "steady"),
            ("instantiation", "memory", "MiB", n, None, 0.45 * n, "spiky"),
            ("instantiation", "memory_pss", "MiB", n, None, 0.16 * n, "quiet"),
            ("coexistence", "memory", "MiB", n, None, 0.45 * n + 1, "spiky"),
        ]
        for size, rt in ((64, 130e-6), (1024, 140e-6), (65507, 1.5e-3)):
            specs.append(("coexistence", "response_time", "s", n, size, rt, "noisy"))
    for size, rt in ((64, 130e-6), (1024, 140e-6), (65507, 1.5e-3)):
        specs += [
            ("monitoring", "response_time", "s", None, size, rt, "noisy"),
            ("monitoring", "direct_response_time", "s", None, size, rt / 2, "noisy"),
        ]
    specs += [
        ("deployment", "boot_time", "s", None, None, 0.08, "steady"),
        ("deployment", "reconfigure_time", "s", None, None, 250e-6, "noisy"),
        ("deployment", "memory", "MiB", None, None, 8.5, "quiet"),
    ]
    return specs


def samples(rng: random.Random, center: float, kind: str, count: int | None = None) -> list[float]:
    """``count`` samples (default: the kind's realistic round count) around ``center``."""
    if kind == "quiet":
        count = count or rng.choice((5, 6, 8))
        return [center * rng.lognormvariate(0, 0.015) for _ in range(count)]
    if kind == "steady":
        count = count or rng.choice((10, 14, 19, 30))
        return [center * rng.lognormvariate(0, 0.09) for _ in range(count)]
    if kind == "noisy":
        count = count or 30
        out = []
        for _ in range(count):
            value = center * rng.lognormvariate(0, 0.3)
            if rng.random() < 0.05:
                value *= rng.uniform(3, 10)
            out.append(value)
        return out
    if kind == "spiky":
        count = count or 30
        out = []
        for _ in range(count):
            value = center + rng.uniform(-0.5, 0.5)
            if rng.random() < 0.15:
                value += rng.uniform(-10, 10)
            out.append(round(value * 256) / 256)  # MemAvailable is read in 4 KiB pages
        return out
    raise ValueError(kind)


def benchmark(
    spec: Spec, values: list[float], backend: str = "netns", limit: float | None = None
) -> dict[str, Any]:
    requirement, metric, unit, n, size, _, _ = spec
    mean = sum(values) / len(values)
    params = "-".join(p for p in (f"N={n}" if n else "", f"{size}B" if size else "") if p)
    name = f"test_{requirement}_{metric}" + (f"[{params}]" if params else "")
    sd = (sum((v - mean) ** 2 for v in values) / max(1, len(values) - 1)) ** 0.5
    return {
        "group": f"{requirement}/{metric} [{unit}]",
        "name": name,
        "fullname": f"suites/test_x.py::{name}",
        "extra_info": {
            "backend": backend,
            "engine": f"{backend}-engine 1.0",
            "requirement": requirement,
            "metric": metric,
            "n": n,
            "packet_size": size,
            "unit": unit,
            "samples": values,
            "mean": mean,
            "ci_half_width": 2.0 * sd / len(values) ** 0.5,
            "rounds": len(values),
            "converged": True,
            "budget": None
            if limit is None
            else {"limit": limit, "unit": unit, "source": "test", "statistic": "mean"},
        },
        "stats": {"mean": mean, "rounds": len(values)},
    }


def run_json(
    benchmarks: list[dict[str, Any]],
    host: dict[str, Any] | None = None,
    stamp: str = "2026-11-24T10:00:00+00:00",
) -> dict[str, Any]:
    return {
        "machine_info": {"node": "test", "nfv": {"backend": "netns", "host": host or HOST}},
        "commit_info": {},
        "benchmarks": benchmarks,
        "datetime": stamp,
        "version": "5.3.1",
    }


def make_run(
    seed: int,
    specs: list[Spec] | None = None,
    factor: dict[tuple[str, str], float] | None = None,
    count: int | None = None,
    backend: str = "netns",
) -> dict[str, Any]:
    """One run of ``specs``; records whose (requirement, metric) is in ``factor`` are scaled."""
    rng = random.Random(seed)
    out = []
    for spec in specs or whole_run():
        scale = (factor or {}).get((spec[0], spec[1]), 1.0)
        out.append(
            benchmark(spec, [v * scale for v in samples(rng, spec[5], spec[6], count)], backend)
        )
    return run_json(out)
