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
from pytest_nfv.harness.lab import Lab, instance_memory_mib
from pytest_nfv.harness.probes.icmp import EchoProber
from pytest_nfv.harness.proxy_path import ProxyPath
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.namespaces import list_namespaces

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


def test_the_proxy_path_and_a_reconfiguration_through_xenstore(lab: Lab) -> None:
    path = ProxyPath(lab, path_timeout_s=BOOT_TIMEOUT_S)
    try:
        for size in (64, 1472, 65507):  # 65507 B: fragments, reassembled at B
            assert 0 < path.round_trip(size, "proxy").seconds < 5
            assert 0 < path.round_trip(size, "direct").seconds < 5
        assert 0 < path.reconfigure() < 30  # B2 answers: the switch handler took
        assert 0 < path.round_trip(64, "proxy").seconds < 5
        assert 0 < path.reconfigure() < 30  # and back to B
    finally:
        path.close()


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
