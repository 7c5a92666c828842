"""Moving the osv backend's proxy VNF, live and cold, with host A's probe stream through it.

One backend and one proxy VM for the module (a boot costs seconds of emulated CPU): a live
move, a save and restore, and a move whose destination is killed half-way, each proven by
the path carrying traffic afterwards and by libvirt holding exactly the domains it should.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from pytest_nfv.backends.base import BackendSettings, Migratable
from pytest_nfv.backends.migration import MigrationProgress
from pytest_nfv.backends.osv.backend import LOG_DIR, OsvBackend
from pytest_nfv.backends.shared.libvirt import METADATA_NS, RunTag
from pytest_nfv.errors import BackendError
from pytest_nfv.harness.lab import Lab
from pytest_nfv.harness.migration import MigrationRounds
from pytest_nfv.harness.probes.icmp import EchoProber
from pytest_nfv.harness.proxy_path import ProxyPath
from pytest_nfv.host.identity import RunIdentity

libvirt = pytest.importorskip("libvirt")
URI = "qemu:///system"


@pytest.fixture(scope="module")
def conn() -> Iterator[object]:
    libvirt.registerErrorHandler(lambda _c, _e: None, None)
    try:
        connection = libvirt.open(URI)
    except libvirt.libvirtError as exc:
        pytest.skip(f"libvirtd does not answer at {URI} (scripts/engines start libvirt): {exc}")
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def path(conn: object) -> Iterator[ProxyPath]:
    backend = OsvBackend(RunIdentity.new(), BackendSettings(boot_timeout_s=90))
    with backend, EchoProber(backend.probe_netns, backend.probe_interval_s) as prober:
        testbed = ProxyPath(Lab(backend, prober, boot_timeout_s=90), 60, echo="udp")
        try:
            yield testbed
        finally:
            testbed.close()


def _proxy_domains(conn: object, path: ProxyPath) -> list[str]:
    prefix = path.backend.identity.prefix + "proxy"
    return sorted(d.name() for d in conn.listAllDomains() if d.name().startswith(prefix))  # type: ignore[attr-defined]


def _path_answers(path: ProxyPath) -> None:
    path.round_trip(64, "proxy")  # raises ProbeError after three lost requests


def test_osv_declares_it_can_move(path: ProxyPath) -> None:
    assert isinstance(path.backend, Migratable)
    assert path.backend.migration_block() is None


def test_live_migration_moves_the_proxy_under_the_stream(path: ProxyPath, conn: object) -> None:
    before = _proxy_domains(conn, path)
    tags: list[RunTag | None] = []

    def watch(progress: MigrationProgress) -> None:
        if not tags:  # the destination, as a reap would find it if the run died now
            name = next(n for n in _proxy_domains(conn, path) if n not in before)
            domain = conn.lookupByName(name)  # type: ignore[attr-defined]
            tags.append(
                RunTag.parse(domain.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS))
            )

    live = MigrationRounds(path).live(watch)
    engine, seen = live.engine, live.seen
    assert tags
    assert tags[0] is not None
    assert (tags[0].run_id, tags[0].backend) == (path.backend.identity.run_id, "osv")
    assert 0 < engine.downtime_s <= engine.total_s
    assert engine.transferred_bytes > 1 << 20  # a booted guest's pages, not a handshake
    assert engine.iterations is not None
    assert engine.iterations >= 1
    assert seen.sent > 100
    assert seen.lost < seen.sent / 2
    assert seen.longest_gap_s >= seen.interval_s
    after = _proxy_domains(conn, path)
    assert len(after) == 1
    assert after[0] not in before
    assert conn.lookupByName(after[0]).state()[0] == libvirt.VIR_DOMAIN_RUNNING  # type: ignore[attr-defined]
    assert path.proxy is not None
    assert path.proxy.pids != ()
    _path_answers(path)


def test_save_and_restore_keeps_the_proxy(path: ProxyPath, conn: object) -> None:
    before = _proxy_domains(conn, path)
    cold = MigrationRounds(path).cold()
    assert cold.engine.image_bytes > 1 << 20
    assert cold.engine.save_s > 0
    assert cold.engine.restore_s > 0
    assert cold.seen.longest_gap_s >= cold.engine.total_s * 0.5
    assert _proxy_domains(conn, path) == before
    assert not list(LOG_DIR.glob(f"{path.backend.identity.prefix}*.save"))
    _path_answers(path)


def test_a_destination_killed_half_way_leaves_the_source_running(
    path: ProxyPath, conn: object
) -> None:
    before = _proxy_domains(conn, path)
    killed: list[int] = []

    def kill_destination(progress: MigrationProgress) -> None:
        if not killed and progress.status == "active" and progress.destination_pids:
            os.kill(progress.destination_pids[0], signal.SIGKILL)
            killed.append(progress.destination_pids[0])

    with pytest.raises(BackendError, match=r"live migration to \S+ failed"):
        MigrationRounds(path).live(kill_destination)
    assert killed, "the migration ended before the destination could be killed"
    assert _proxy_domains(conn, path) == before  # no destination left, the source kept
    assert conn.lookupByName(before[0]).state()[0] == libvirt.VIR_DOMAIN_RUNNING  # type: ignore[attr-defined]
    _path_answers(path)


_HOLDER = """
import sys, time
from pytest_nfv.backends.base import BackendSettings
from pytest_nfv.backends.osv.backend import OsvBackend
from pytest_nfv.harness.lab import Lab
from pytest_nfv.harness.proxy_path import ProxyPath
from pytest_nfv.harness.probes.icmp import EchoProber
from pytest_nfv.host.identity import RunIdentity

def hold(progress):
    print("moving", flush=True)
    time.sleep(3600)

backend = OsvBackend(RunIdentity.new(), BackendSettings(boot_timeout_s=90))
with backend, EchoProber(backend.probe_netns, backend.probe_interval_s) as prober:
    path = ProxyPath(Lab(backend, prober, boot_timeout_s=90), 60, echo="udp")
    assert path.proxy is not None
    backend.migrate_live(path.proxy, hold)
"""
_CLI = (sys.executable, "-m", "pytest_nfv.cli.main")


def _named(conn: object, needle: str) -> list[str]:
    return sorted(d.name() for d in conn.listAllDomains() if needle in d.name())  # type: ignore[attr-defined]


def test_kill_9_mid_migration_then_cleanup_reaps_both_ends(conn: object) -> None:
    """A run killed while its proxy moves leaves the source and the destination; both carry
    the run's identity, so ``pytest-nfv cleanup`` removes both."""
    victim = subprocess.Popen(
        [sys.executable, "-c", _HOLDER],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    mine = f"-p{victim.pid}-"
    try:
        assert victim.stdout is not None
        assert victim.stdout.readline().strip() == "moving", "the holder ended before moving"
        ends = _named(conn, mine)
        assert len(ends) == 2  # the source and the destination being moved to
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        done = subprocess.run([*_CLI, "cleanup"], capture_output=True, text=True, check=True)
        assert all(f"removed domain {d}" in done.stdout for d in ends), done.stdout
        deadline = time.monotonic() + 10
        while _named(conn, mine) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _named(conn, mine) == []
        assert not list(LOG_DIR.glob(f"*{mine}*"))
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
        if victim.stdout is not None:
            victim.stdout.close()
        subprocess.run([*_CLI, "cleanup"], capture_output=True, check=False)
