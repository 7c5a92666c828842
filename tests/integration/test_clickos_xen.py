"""The clickos backend against a real Xen toolstack: run in a Xen dom0 (``scripts/xen-lab``).

Real: the Xen hypervisor, xenstored, libvirt's libxl driver at ``xen:///system``, the vifs on
the run's dom0 bridge, the switch and host namespaces. Stood in: the guest. A ClickOS image
(MiniOS + Click) cannot be built here, so ``NFV_CLICKOS_IMAGE`` is the stand-in guest
(``pytest_nfv/backends/clickos/standin``), which speaks ClickOS's xenstore protocol and
forwards as the rendered configuration says, booted from ``NFV_CLICKOS_TEMPLATE``.

Elsewhere these skip with the reason; inside the Xen lab (``NFV_XEN_LAB=1``) a missing part
fails instead, so a broken lab never reads as a pass.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_nfv.backends.clickos.backend import ClickosBackend
from pytest_nfv.backends.clickos.xen.bridge import bridge_name
from pytest_nfv.backends.clickos.xen.host import probe_dom0, unavailable_reason
from pytest_nfv.backends.clickos.xen.migration import SAVE_DIR, XlMove, live_block, recover
from pytest_nfv.backends.clickos.xen.xl import Xl
from pytest_nfv.backends.migration import MigrationProgress
from pytest_nfv.errors import BackendError, BackendUnavailable
from pytest_nfv.harness.lab import Lab, instance_memory_mib
from pytest_nfv.harness.migration import MigrationRounds
from pytest_nfv.harness.probes.icmp import EchoProber
from pytest_nfv.harness.proxy_path import ProxyPath
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.namespaces import list_namespaces
from pytest_nfv.units import MIB

URI = "xen:///system"
IMAGE = os.environ.get("NFV_CLICKOS_IMAGE")
TEMPLATE = os.environ.get("NFV_CLICKOS_TEMPLATE")
STANDIN_MEMORY_MIB = 96  # fixtures/domains/clickos-standin.xml
BOOT_TIMEOUT_S = 240.0  # a PV guest under emulation: ~20 s idle, several times that when busy


def _why_not() -> str | None:
    if IMAGE is None or TEMPLATE is None:
        return "needs NFV_CLICKOS_IMAGE and NFV_CLICKOS_TEMPLATE (scripts/xen-lab sets them)"
    return unavailable_reason(probe_dom0(IMAGE))


_REASON = _why_not()
if _REASON is not None:
    if os.environ.get("NFV_XEN_LAB") == "1":
        raise RuntimeError(f"inside the Xen lab, but: {_REASON}")
    pytest.skip(f"clickos on Xen: {_REASON}", allow_module_level=True)

libvirt = pytest.importorskip("libvirt")


def _domains() -> set[str]:
    conn = libvirt.open(URI)
    try:
        return {d.name() for d in conn.listAllDomains()}
    finally:
        conn.close()


def _make(identity: RunIdentity) -> ClickosBackend:
    assert IMAGE is not None
    assert TEMPLATE is not None
    return ClickosBackend(identity, IMAGE, URI, Path(TEMPLATE), boot_timeout_s=BOOT_TIMEOUT_S)


@pytest.fixture
def backend() -> Iterator[ClickosBackend]:
    made = _make(RunIdentity.new())
    made.open()
    try:
        yield made
    finally:
        made.close()
    assert not {n for n in _domains() if made.identity.owns(n)}
    assert not list_namespaces(made.identity.prefix)


@pytest.fixture
def lab(backend: ClickosBackend) -> Iterator[Lab]:
    with EchoProber(backend.probe_netns) as prober:
        yield Lab(backend, prober, boot_timeout_s=BOOT_TIMEOUT_S)


def test_domains_boot_answer_echo_and_are_gone_after(lab: Lab, backend: ClickosBackend) -> None:
    result = lab.boot_round(2)
    assert len(result.per_instance_s) == 2
    assert all(0 < t < BOOT_TIMEOUT_S for t in result.per_instance_s)
    assert result.makespan_s >= max(result.per_instance_s) - 1e-6
    assert not {n for n in _domains() if backend.identity.owns(n)}


def test_memory_is_the_hypervisors_per_domain_figure(lab: Lab, backend: ClickosBackend) -> None:
    with lab.running(2) as instances:
        assert instance_memory_mib(backend, instances) == pytest.approx(2 * STANDIN_MEMORY_MIB)


@pytest.fixture(scope="module")
def proxy_path() -> Iterator[ProxyPath]:
    """One proxy for the path, its reconfiguration and then the moves (in that order: after a
    move the stand-in's xenstore control is no longer followed); a boot under emulation costs
    tens of seconds."""
    made = _make(RunIdentity.new())
    made.open()
    try:
        with EchoProber(made.probe_netns) as prober:
            path = ProxyPath(Lab(made, prober, boot_timeout_s=BOOT_TIMEOUT_S), BOOT_TIMEOUT_S)
            try:
                yield path
            finally:
                path.close()
    finally:
        made.close()
    assert not _xl_named(made.identity.prefix)
    assert not list(SAVE_DIR.glob(f"{made.identity.prefix}*"))


def test_the_proxy_path_and_a_reconfiguration_through_xenstore(proxy_path: ProxyPath) -> None:
    path = proxy_path
    for size in (64, 1472, 65507):  # 65507 B: fragments, reassembled at B
        assert 0 < path.round_trip(size, "proxy").seconds < 5
        assert 0 < path.round_trip(size, "direct").seconds < 5
    assert 0 < path.reconfigure() < 30  # B2 answers: the switch handler took
    assert 0 < path.round_trip(64, "proxy").seconds < 5
    assert 0 < path.reconfigure() < 30  # and back to B


HOLDER = """
import sys, time
from pathlib import Path
from pytest_nfv.backends.clickos.backend import ClickosBackend
from pytest_nfv.host.identity import RunIdentity
backend = ClickosBackend(
    RunIdentity.new(), sys.argv[1], "xen:///system", Path(sys.argv[2]), float(sys.argv[3])
)
backend.open()
names = [i.name for i in backend.start(backend.plan(1), lambda spec: None)]
print(backend.identity.run_id, *names, flush=True)
time.sleep(3600)
"""

FOREIGN = """<domain type='xen'>
  <name>{name}</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
  <os><type>xen</type><kernel>{kernel}</kernel><initrd>{initrd}</initrd>
  <cmdline>console=hvc0</cmdline></os>
</domain>"""


def _template_initrd() -> str:
    assert TEMPLATE is not None
    initrd = ET.parse(TEMPLATE).findtext("os/initrd")
    assert initrd, f"{TEMPLATE} names no initrd"
    return initrd


def test_kill_9_then_cleanup_takes_the_dead_runs_domain_and_leaves_a_foreign_one() -> None:
    assert IMAGE is not None
    assert TEMPLATE is not None
    foreign = f"foreign-{os.getpid()}"
    conn = libvirt.open(URI)
    try:
        # Not ours: no run name, no run metadata; the same guest, so it stays up meanwhile.
        conn.createXML(FOREIGN.format(name=foreign, kernel=IMAGE, initrd=_template_initrd()), 0)
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLDER, IMAGE, TEMPLATE, str(BOOT_TIMEOUT_S)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout is not None
        run_id, *names = holder.stdout.readline().split()
        assert names
        assert set(names) <= _domains()
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        holder.stdout.close()
        done = subprocess.run(
            ["pytest-nfv", "cleanup"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        deadline = time.monotonic() + 60
        while set(names) & _domains() and time.monotonic() < deadline:
            time.sleep(1)
        assert not set(names) & _domains()
        assert foreign in _domains()
        assert not list_namespaces(f"nfv-{run_id}-")
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)
        identity = RunIdentity(run_id, holder.pid, 0.0)
        assert bridge_name(identity) not in links.stdout
    finally:
        try:
            if foreign in _domains():
                conn.lookupByName(foreign).destroy()
        finally:
            conn.close()


# ---- moving the proxy with xl: live, cold, failing half-way, killed half-way ----------------


def _xl_named(prefix: str) -> list[str]:
    return sorted(d.name for d in Xl().domains() if d.name.startswith(prefix))  # "" for all


def _proxy_name(path: ProxyPath) -> str:
    assert path.proxy is not None
    return path.proxy.name


def _gone_from_libvirt(name: str, within_s: float = 30.0) -> bool:
    """libvirt's driver drops a domain it started once xl destroyed it (its death event)."""
    deadline = time.monotonic() + within_s
    while name in _domains():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def test_live_migration_moves_the_proxy_or_says_why_it_cannot(proxy_path: ProxyPath) -> None:
    name = _proxy_name(proxy_path)
    before = Xl().named(name)
    assert before is not None
    reason = live_block(Xl().virt_caps())
    if reason is not None:  # the lab's hypervisor has no shadow paging: refused up front
        with pytest.raises(BackendUnavailable, match=r"log-dirty tracking.*virt_caps"):
            MigrationRounds(proxy_path).live()
        assert Xl().named(name) == before  # untouched: not even a destination was made
        proxy_path.round_trip(64, "proxy")
        return
    live = MigrationRounds(proxy_path).live()
    engine = live.engine
    assert 0 < engine.setup_s < engine.total_s
    assert 0 < engine.downtime_s < engine.total_s
    assert engine.transferred_bytes > STANDIN_MEMORY_MIB * MIB // 2  # the guest's pages went
    assert engine.iterations is None  # xl hides libxc's passes (xen.migration)
    after = Xl().named(name)
    assert after is not None
    assert after.running
    assert after.domid != before.domid
    assert _xl_named(proxy_path.backend.identity.prefix) == [name]  # no --incoming, --away
    assert _gone_from_libvirt(name)  # libvirt holds no stale record of the source
    assert live.seen.lost < live.seen.sent
    proxy_path.round_trip(64, "proxy")  # the vif is back on the bridge: the path carries


def test_save_and_restore_keeps_the_proxy(proxy_path: ProxyPath) -> None:
    name = _proxy_name(proxy_path)
    cold = MigrationRounds(proxy_path).cold()
    assert cold.engine.image_bytes > STANDIN_MEMORY_MIB * MIB // 2
    assert cold.engine.save_s > 0
    assert cold.engine.restore_s > 0
    assert cold.seen.longest_gap_s >= cold.engine.restore_s
    assert _xl_named(proxy_path.backend.identity.prefix) == [name]
    assert not list(SAVE_DIR.glob(f"{name}*"))
    proxy_path.round_trip(64, "proxy")


def test_a_move_failing_half_way_leaves_no_destination_and_the_source_running(
    proxy_path: ProxyPath,
) -> None:
    """xl's own move, failed half-way: its receiver killed as soon as it runs (or, on a
    hypervisor without shadow paging, refused by Xen once the destination exists). What is
    left is what ``recover`` makes of it: the backend's ``migrate_live`` runs the same two."""
    name = _proxy_name(proxy_path)
    before = Xl().named(name)
    assert before is not None
    killed: list[int] = []

    def kill_receiver(progress: MigrationProgress) -> None:
        if killed or not progress.destination_pids:
            return
        if f"{name}--incoming" in _xl_named(name):  # the destination is made: kill now
            os.kill(progress.destination_pids[0], signal.SIGKILL)
            killed.append(progress.destination_pids[0])

    move = XlMove(name, before.domid)
    with pytest.raises(BackendError, match="xl migrate ended with status 1"):
        move.run(kill_receiver)
    # killed, or (no shadow paging) failed by itself once the destination was made
    assert killed or any("Failed to enable logdirty" in line for _t, line in move.log)
    assert recover(Xl(), name, before.domid) is True  # xl resumed it; the source runs on
    assert _xl_named(proxy_path.backend.identity.prefix) == [name]  # no --incoming left
    after = Xl().named(name)
    assert after is not None
    assert after.domid == before.domid
    assert after.running
    proxy_path.round_trip(64, "proxy")


PAUSED = """name = "{name}"
kernel = "{kernel}"
ramdisk = "{initrd}"
memory = 96
vcpus = 1
"""


def test_a_dead_runs_domains_under_xls_move_names_are_reaped(tmp_path: Path) -> None:
    """What a run killed with its receiver mid-move leaves: a paused destination under xl's
    ``--incoming`` name (and a source renamed ``--migratedaway``), which libvirt never knew.
    Both are made here as xl makes them (``xl create -p``) under a dead run's names, and
    ``pytest-nfv cleanup`` must take them while it leaves a foreign domain of the same shape."""
    assert IMAGE is not None
    dead = subprocess.Popen(["true"])
    dead.wait()
    identity = RunIdentity(RunIdentity.new().run_id, dead.pid, 0.0)
    names = [
        f"{identity.name('proxy')}--incoming",
        f"{identity.name('vnf0')}--migratedaway",
        f"foreign-{os.getpid()}--incoming",
    ]
    try:
        for name in names:
            config = tmp_path / f"{name}.cfg"
            config.write_text(PAUSED.format(name=name, kernel=IMAGE, initrd=_template_initrd()))
            subprocess.run(["xl", "create", "-p", str(config)], check=True, capture_output=True)
        assert set(names) <= set(_xl_named(""))
        done = subprocess.run(
            ["pytest-nfv", "cleanup"], capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert all(f"domain {name}" in done.stdout for name in names[:2]), done.stdout
        deadline = time.monotonic() + 30
        while set(names[:2]) & set(_xl_named("")) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not set(names[:2]) & set(_xl_named(""))
        assert names[2] in _xl_named("")  # not one of our names: never touched
    finally:
        for domain in Xl().domains():
            if domain.name in names:
                Xl().destroy(domain.domid)
