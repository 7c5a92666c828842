"""VNF deployment: moving the proxy VNF while traffic flows through it, live and cold.

The paper recommends ClickOS where VNFs migrate often and CoreOS only where they stay put, and
measures neither. A round here moves the running proxy VNF while host A sends it a
sequence-numbered probe stream at a fixed rate: the engine's own figures (total time, the
downtime it reports, the bytes it moved) are recorded beside the traffic's (the longest gap
between replies), since the two differ by all the engine does not count. The cold move saves
the VNF to a file and restores it: its time and the file's size. A backend that cannot move
its VNF here says why, and the figures are "not measured" with that reason.
"""

from __future__ import annotations

import pytest

from pytest_nfv import ProxyPath, Recorder, Repeat, Series
from pytest_nfv.errors import BackendUnavailable
from pytest_nfv.harness.migration import ColdRound, LiveRound, MigrationRounds
from pytest_nfv.record import TIMELINE
from pytest_nfv.units import MIB

pytestmark = pytest.mark.nfv_requirement("deployment")

LIVE = ("migration_seen_downtime", "migration_time", "migration_downtime", "migration_moved")
COLD = ("save_restore_time", "save_image")


def test_live_migration(nfv_testbed: ProxyPath, nfv_repeat: Repeat, nfv_record: Recorder) -> None:
    rounds: list[LiveRound] = []

    def one_round() -> dict[str, float]:
        live = MigrationRounds(nfv_testbed).live()
        rounds.append(live)
        return {
            "migration_seen_downtime": live.seen.longest_gap_s,
            "migration_time": live.engine.total_s,
            "migration_downtime": live.engine.downtime_s,
            "migration_moved": live.engine.transferred_bytes / MIB,
        }

    try:
        measured = nfv_repeat.together(one_round, {metric: (metric, None) for metric in LIVE})
    except BackendUnavailable as exc:
        nfv_record.not_measured(LIVE, str(exc))
        return
    last = rounds[-1]
    stream = {
        "lost_replies": [r.seen.lost for r in rounds],
        "requests": [r.seen.sent for r in rounds],
        "stream_interval_s": last.seen.interval_s,
        TIMELINE: [list(pair) for pair in last.seen.gaps],
        "last_round_move_began_s": last.move_began_s,
    }
    nfv_record.record(
        Series(
            "migration_seen_downtime",
            measured["migration_seen_downtime"],
            primary=True,
            extra={"from": "longest gap between replies of host A's probe stream", **stream},
        ),
        Series(
            "migration_time",
            measured["migration_time"],
            extra={"method": last.engine.method, "settings": last.engine.settings},
        ),
        Series("migration_downtime", measured["migration_downtime"]),
        Series(
            "migration_moved",
            measured["migration_moved"],
            extra={"iterations": [r.engine.iterations for r in rounds]},
        ),
    )


def test_save_restore(nfv_testbed: ProxyPath, nfv_repeat: Repeat, nfv_record: Recorder) -> None:
    rounds: list[ColdRound] = []

    def one_round() -> dict[str, float]:
        cold = MigrationRounds(nfv_testbed).cold()
        rounds.append(cold)
        return {
            "save_restore_time": cold.engine.total_s,
            "save_image": cold.engine.image_bytes / MIB,
        }

    try:
        measured = nfv_repeat.together(one_round, {metric: (metric, None) for metric in COLD})
    except BackendUnavailable as exc:
        nfv_record.not_measured(COLD, str(exc))
        return
    last = rounds[-1]
    nfv_record.record(
        Series(
            "save_restore_time",
            measured["save_restore_time"],
            primary=True,
            extra={
                "method": last.engine.method,
                "seen_gap_s": [r.seen.longest_gap_s for r in rounds],
                "lost_replies": [r.seen.lost for r in rounds],
            },
        ),
        Series("save_image", measured["save_image"]),
    )
