"""The one reap rule: which runs are dead, decided once per cleanup for every engine.

A cleanup (``pytest-nfv cleanup``, the sweep before a session opens its backend, a backend's
own ``close``) walks several engines: namespaces, Docker, libvirt, dom0 links. Each finds
resources by our names or labels and asks the same question of each: does the run that made
it still go? The answer must not depend on the order the engines are visited in. So the rule
reads the run registry once, when it is made, answers every engine from that snapshot, and
forgets the registry files of the runs it found dead only after every engine was reaped
(``forget_dead``). Were a registry file forgotten between two engines, the later engine would
have only the owner's pid to go on, and where pids repeat (CI containers start every run at a
low pid) a recycled pid would read as a live owner and its resources would never be reaped.
"""

from __future__ import annotations

import shutil
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from pytest_nfv.host.identity import forget_run, owner_alive, parse_name, read_registry

__all__ = ["CleanupReport", "ReapRule", "reap_named_files"]


@dataclass
class CleanupReport:
    """What a reap removed, what it left because its owner still runs, and what failed.

    ``stuck`` holds what nothing of ours uses any more but the engine refuses to remove for a
    known fault of its own; each entry says which and how it goes away. ``uninspected`` names
    each engine that could not be looked at, and why: "nothing to clean up" must not be said
    of an engine nobody could list.
    """

    removed: list[str] = field(default_factory=list)
    left_live: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    uninspected: list[str] = field(default_factory=list)

    def merge(self, other: CleanupReport) -> None:
        self.removed += other.removed
        self.left_live += other.left_live
        self.errors += other.errors
        self.stuck += other.stuck
        self.uninspected += other.uninspected


class ReapRule:
    """Which runs' resources a reap takes, from one reading of the run registry.

    Args:
        only_run: take this run's resources only, whether its owner lives or not (a
            backend's own ``close`` sweeps what it lost track of this way).
        include_live: take every run's resources, live owners' too (``cleanup --force``).
    """

    def __init__(self, *, only_run: str | None = None, include_live: bool = False) -> None:
        self.only_run = only_run
        self.include_live = include_live
        self._registry = read_registry()
        self._alive: dict[tuple[str, int], bool] = {}

    @classmethod
    def own_run(cls, run_id: str) -> ReapRule:
        """The rule a backend's ``close`` uses: everything of this run, nothing else."""
        return cls(only_run=run_id)

    def owner_alive(self, run_id: str, owner_pid: int) -> bool:
        """Whether the run's owner still runs, by the registry as it was when the rule was made."""
        key = (run_id, owner_pid)
        if key not in self._alive:
            self._alive[key] = owner_alive(run_id, owner_pid, self._registry)
        return self._alive[key]

    def takes(self, run_id: str, owner_pid: int, label: str, report: CleanupReport) -> bool:
        """Whether a resource of ``run_id`` goes; one a live owner keeps is listed as left."""
        if self.only_run is not None:
            return run_id == self.only_run
        if not self.include_live and self.owner_alive(run_id, owner_pid):
            report.left_live.append(label)
            return False
        return True

    def takes_name(self, name: str, label: str, report: CleanupReport) -> bool:
        """``takes`` for a resource known by one of our names; anything else is never taken."""
        parsed = parse_name(name)
        return parsed is not None and self.takes(parsed[0], parsed[1], label, report)

    def forget_dead(self, backends: Collection[str] | None = None) -> list[str]:
        """Remove the registry files of the runs this rule finds dead; returns their ids.

        Call once, after every engine was reaped: the files are the evidence that a recycled
        pid is not their owner.

        Args:
            backends: only runs of these backends (those whose engines were reaped); a dead
                run of another backend keeps its file until its own engine is reaped.
        """
        if self.only_run is not None:
            return []
        gone = [
            run_id
            for run_id, entry in sorted(self._registry.items())
            if (backends is None or entry.backend in backends)
            and not self.owner_alive(run_id, entry.owner_pid)
        ]
        for run_id in gone:
            forget_run(run_id)
        return gone


def reap_named_files(
    directory: Path, suffix: str, what: str, rule: ReapRule, *, dry_run: bool
) -> CleanupReport:
    """Remove the files (or directories) in ``directory`` named ``nfv-…{suffix}`` of the runs
    ``rule`` takes: what a run killed with ``kill -9`` left on disk (console logs, saved
    images, checkpoints). The name without ``suffix`` is the run's resource name, so a file
    the plugin did not name is never touched.

    Args:
        directory: where the run wrote them; a missing one holds nothing.
        suffix: what follows the resource name (``.log``, ``.save``; empty for a directory).
        what: how the report names one (``file``, ``checkpoint``).
        rule: which runs are dead.
        dry_run: only report what would go.
    """
    report = CleanupReport()
    if not directory.is_dir():
        return report
    for path in sorted(directory.glob(f"nfv-*{suffix}")):
        name = path.name[: len(path.name) - len(suffix)] if suffix else path.name
        label = f"{what} {path}"
        if rule.takes_name(name, label, report):
            if not dry_run:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            report.removed.append(label)
    return report
