"""Which saved run speaks for a backend's figure: the choices the figures and the scorecard share.

Runs are ordered by the timestamp pytest-benchmark saved with them (a run without one counts
as oldest), and each figure is taken from the newest run that measured it, per metric rather
than per run: a run whose monitoring tests failed before recording must not blank the
response-time figure an earlier run measured. The figures and the scorecard both read saved
runs this way, so the same records stand behind a panel and the scorecard's row beside it.
"""

from __future__ import annotations

from collections.abc import Sequence

from pytest_nfv.analysis.history import Record, Run

__all__ = ["backends_of", "newest_first", "newest_records", "oldest_first"]


def _stamp(run: Run) -> str:
    return run.datetime or ""


def oldest_first(runs: Sequence[Run]) -> list[Run]:
    """``runs`` in the order they were made; runs of the same moment keep their given order."""
    return sorted(runs, key=_stamp)


def newest_first(runs: Sequence[Run]) -> list[Run]:
    """``runs`` newest first; runs of the same moment keep their given order."""
    return sorted(runs, key=_stamp, reverse=True)


def backends_of(runs: Sequence[Run]) -> list[str]:
    """Every backend any of ``runs`` measured, sorted by name."""
    return sorted({backend for run in runs for backend in run.backends})


def newest_records(
    runs: Sequence[Run], backend: str, requirement: str, metric: str
) -> tuple[Run, list[Record]] | None:
    """The records of one backend's metric from the newest run (by its timestamp) that has any.

    Per metric, not per run: a run whose monitoring tests failed before recording must not
    blank the response-time figure when an earlier run measured it.
    """
    for run in newest_first(runs):
        found = [
            record
            for key, record in sorted(run.records.items())
            if (key.backend, key.requirement, key.metric) == (backend, requirement, metric)
        ]
        if found:
            return run, found
    return None
