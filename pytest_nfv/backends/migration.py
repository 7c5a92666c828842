"""What moving an instance reports: the hypervisor's own figures of a live or a cold move.

The paper argues migration (ClickOS for VNFs that move often, CoreOS only where they stay
put) but measures none of it. A backend that can move instances (``base.Migratable``) returns
these figures as its engine reports them; what the traffic through the instance saw while it
moved is the harness's measurement (``harness.migration``), kept apart from the engine's word.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pytest_nfv.model import Instance

__all__ = [
    "ColdMigration",
    "LiveMigration",
    "MigrationProgress",
    "ProgressCallback",
]


@dataclass(frozen=True)
class MigrationProgress:
    """One look at a live migration under way, for a caller that watches it.

    ``destination_pids`` are the host processes of the instance's new home (a fault test kills
    them half-way to prove nothing is left behind).
    """

    status: str
    transferred_bytes: int
    destination_pids: tuple[int, ...] = ()


ProgressCallback = Callable[[MigrationProgress], None]
"""Called on every look the backend takes at a live migration until it ends."""


@dataclass(frozen=True)
class LiveMigration:
    """A live migration as the engine reports it.

    ``downtime_s`` is the engine's own figure (the guest paused for the last copy); the
    traffic's view of it is measured apart. ``iterations`` counts the passes over guest memory
    (pre-copy rounds, the engine's dirty-page syncs), None where the engine has no such passes.
    ``settings`` are the engine's migration parameters that shaped the figures.
    """

    moved: Instance
    total_s: float
    downtime_s: float
    setup_s: float
    transferred_bytes: int
    iterations: int | None
    method: str
    settings: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ColdMigration:
    """A cold move: the instance saved to a file and restored from it.

    The instance is gone between the two; ``image_bytes`` is the file the move would carry.
    """

    moved: Instance
    save_s: float
    restore_s: float
    image_bytes: int
    method: str

    @property
    def total_s(self) -> float:
        return self.save_s + self.restore_s
