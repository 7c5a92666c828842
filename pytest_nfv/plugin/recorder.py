"""Measurements into pytest-benchmark, so its JSON, autosave and ``compare`` work unchanged.

pytest-benchmark times a callable; our figures are timed elsewhere (kernel timestamps, an ICMP
prober in another process) and some are not times at all (MiB). So the measured samples are
fed to the fixture's own statistics object, one ``update`` per sample, exactly as its
``pedantic`` runner would feed durations. The unit of each series is in ``extra_info["unit"]``
and in its group name, since pytest-benchmark's table labels every column as time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from pytest_nfv.errors import NfvError
from pytest_nfv.harness.stats import Summary
from pytest_nfv.units import dimension_of

__all__ = ["record_summary", "summary_info", "time_groups_only"]


def summary_info(
    summary: Summary, unit: str, scale: float = 1.0, *, percentiles: bool = False
) -> dict[str, Any]:
    """The statistics of a series as JSON-ready ``extra_info`` fields, in ``unit``.

    ``percentiles`` adds the series' distribution (``percentiles``: p50, p90, p99, p99.9 and
    max, with ``n`` samples), for figures whose tail matters and whose samples are many
    enough to show one: the round trips. Its percentiles interpolate between ranks as numpy
    does by default, so they can be recomputed from ``samples``.
    """
    half = summary.half_width * scale
    extra: dict[str, Any] = {}
    if percentiles:
        table: dict[str, Any] = {"n": summary.rounds}
        table.update({k: v * scale for k, v in summary.percentiles().items()})
        extra["percentiles"] = table
    return {
        "unit": unit,
        "samples": [round(s * scale, 9) for s in summary.samples],
        "mean": summary.mean * scale,
        "median": summary.median * scale,
        "ci_level": summary.confidence,
        "ci_half_width": None if math.isinf(half) else half,
        "rounds": summary.rounds,
        "converged": summary.converged,
        "stop_reason": summary.stop_reason,
        **extra,
    }


def record_summary(benchmark: Any, summary: Summary, *, group: str, extra: dict[str, Any]) -> None:
    """Put ``summary``'s samples into the ``benchmark`` fixture's statistics.

    Raises:
        NfvError: the installed pytest-benchmark lacks the statistics hook used here.
    """
    benchmark.extra_info.update(extra)
    benchmark.group = group
    # Mark the fixture used, as pedantic() would, so it does not warn "not used at all".
    benchmark._mode = "pytest-nfv record_summary(...)"
    if getattr(benchmark, "disabled", False):
        return
    make_stats = getattr(benchmark, "_make_stats", None)
    if make_stats is None:
        raise NfvError(
            "this pytest-benchmark has no _make_stats(); pytest-nfv needs 5.3.1 or a later 5.x"
        )
    stats = make_stats(1)
    for sample in summary.samples:
        stats.update(sample)


def time_groups_only(groups: Iterable[tuple[Any, list[dict[str, Any]]]]) -> list[Any]:
    """pytest-benchmark's display groups without the entries whose unit is not a time.

    Its table prints every figure as seconds scaled to ns/us/ms, so a MiB figure would read
    as a duration; an entry without a pytest-nfv unit (a plain benchmark) stays.
    """
    kept = []
    for name, benchmarks in groups:
        timed = [b for b in benchmarks if _is_time(b)]
        if timed:
            kept.append((name, timed))
    return kept


def _is_time(benchmark: dict[str, Any]) -> bool:
    info = benchmark.get("extra_info") or {}
    unit = info.get("unit") if isinstance(info, dict) else None
    return not isinstance(unit, str) or dimension_of(unit) in (None, "time")
