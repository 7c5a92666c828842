"""Measurements into pytest-benchmark, so its JSON, autosave and ``compare`` work unchanged.

pytest-benchmark times a callable; our figures are timed elsewhere (kernel timestamps, an ICMP
prober in another process) and some are not times at all (MiB). So the measured samples are
fed to the fixture's own statistics object, one ``update`` per sample, exactly as its
``pedantic`` runner would feed durations. What goes into ``extra_info`` is
``pytest_nfv.record``'s; the unit is also in the group name, since pytest-benchmark's table
labels every column as time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pytest_nfv.errors import NfvError
from pytest_nfv.harness.stats import Summary
from pytest_nfv.record import is_time_entry

__all__ = ["record_summary", "time_groups_only"]


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
        timed = [b for b in benchmarks if is_time_entry(b)]
        if timed:
            kept.append((name, timed))
    return kept
