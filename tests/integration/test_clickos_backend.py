"""The clickos backend up to the hypervisor: everything real except a running Xen.

Real: the switch and host namespaces, the dom0 bridge in the root namespace and its uplink,
libvirt (its test driver takes the same domain XML the libxl driver would), the rendered and
checked Click configurations. Stand-ins: the host probe (told this is a dom0) and xenstore
(a recorder that answers like xenstored for a guest that has booted). Nothing here boots a
ClickOS guest, so nothing here answers ICMP: readiness and the figures need a Xen runner.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pyroute2 import IPRoute

from pytest_nfv.backends import EngineTargets
from pytest_nfv.backends.clickos.backend import ClickosBackend, reap
from pytest_nfv.backends.clickos.click.model import Router
from pytest_nfv.backends.clickos.click.render import rendered_and_checked
from pytest_nfv.backends.clickos.xen.bridge import bridge_name
from pytest_nfv.backends.clickos.xen.host import Probe
from pytest_nfv.harness.lab import instance_memory_mib
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.namespaces import list_namespaces
from pytest_nfv.host.reap import ReapRule

libvirt = pytest.importorskip("libvirt")

URI = "test:///default"


class Xenstore:
    """Records argv; keeps writes; every domain has booted (its data/clickos exists)."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.store: dict[str, str] = {}

    def __call__(self, argv: list[str]) -> str:
        self.calls.append(list(argv))
        if argv[0] == "xenstore-write":
            self.store.update(zip(argv[1::2], argv[2::2], strict=True))
        if argv[0] == "xenstore-list":
            prefix = argv[1] + "/"
            return "\n".join(
                {p[len(prefix) :].split("/")[0] for p in self.store if p.startswith(prefix)}
            )
        return ""

    def config(self, domid: int, rid: int) -> str:
        prefix = f"/local/domain/{domid}/data/clickos/{rid}/config/"
        chunks = {int(p[len(prefix) :]): v for p, v in self.store.items() if p.startswith(prefix)}
        return "".join(chunks[i] for i in sorted(chunks))


@contextlib.contextmanager
def _silent_watch(path: str) -> Iterator[Callable[[float], str | None]]:
    """Every guest of the recorder has booted already, so the watch is never waited on."""
    yield lambda timeout_s: None


def _dom0(image: str | None) -> list[Probe]:
    return [Probe("stand-in dom0", True, "told so by the test")]


def _links() -> set[str]:
    with IPRoute() as ipr:
        return {link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}


def _domains() -> set[str]:
    conn = libvirt.open(URI)
    try:
        return {d.name() for d in conn.listAllDomains()}
    finally:
        conn.close()


@pytest.fixture
def image(tmp_path: Path) -> str:
    path = tmp_path / "clickos_x86_64"
    path.write_bytes(b"\x7fELF stand-in")
    return str(path)


@pytest.fixture
def xenstore() -> Xenstore:
    return Xenstore()


@pytest.fixture
def backend(image: str, xenstore: Xenstore) -> Iterator[ClickosBackend]:
    made = ClickosBackend(
        RunIdentity.new(), image, URI, runner=xenstore, watch=_silent_watch, probe=_dom0
    )
    made.open()
    try:
        yield made
    finally:
        made.close()
    assert not [n for n in list_namespaces(made.identity.prefix)]
    assert bridge_name(made.identity) not in _links()
    assert not {n for n in _domains() if made.identity.owns(n)}


def test_instances_are_tagged_domains_on_the_run_bridge_with_their_config(
    backend: ClickosBackend, xenstore: Xenstore
) -> None:
    assert bridge_name(backend.identity) in _links()
    assert backend.engine().version.startswith("TEST")
    specs = backend.plan(2)
    announced = []
    instances = backend.start(specs, lambda spec: announced.append(spec.name))
    assert announced == [s.name for s in specs]
    assert {s.name for s in specs} <= _domains()
    conn = libvirt.open(URI)
    for spec in specs:
        xml = conn.lookupByName(spec.name).XMLDesc(0)
        assert f"<source bridge='{bridge_name(backend.identity)}'/>" in xml
        assert f"<mac address='{spec.mac}'/>" in xml
        assert 'backend="clickos"' in xml or "backend='clickos'" in xml
    conn.close()
    assert instance_memory_mib(backend, instances) == 24  # 2 domains x 12 MiB, per libvirt
    domids = sorted(int(p.split("/")[3]) for p in xenstore.store if p.endswith("/status"))
    for domid, spec in zip(domids, specs, strict=True):
        assert xenstore.store[f"/local/domain/{domid}/data/clickos/0/status"] == "Running"
        router = Router(rendered_and_checked(xenstore.config(domid, 0)))
        assert router.conf.elements["eth"].cls == "Classifier"
        assert str(spec.address) in xenstore.config(domid, 0)
    backend.stop(instances)
    assert not {s.name for s in specs} & _domains()
    assert backend.plan(1)[0].address == specs[0].address  # addresses come back


def test_proxy_start_reconfigure_stop(backend: ClickosBackend, xenstore: Xenstore) -> None:
    testbed = backend.deploy_testbed()
    proxy = backend.start_proxy(testbed, lambda spec: None)
    assert proxy.name in _domains()
    status = [p for p, v in xenstore.store.items() if p.endswith("/0/status") and v == "Running"]
    domid = int(status[0].split("/")[3])
    config = xenstore.config(domid, 0)
    assert f"StoreIPAddress({testbed.host_b2.address}, dst)" in config
    backend.set_path(testbed, "direct")
    backend.reconfigure_proxy(testbed, True)
    path = f"/local/domain/{domid}/data/clickos/0/elements/target/switch"
    assert xenstore.calls[-1] == ["xenstore-write", path, "1"]
    backend.reconfigure_proxy(testbed, False)
    assert xenstore.calls[-1] == ["xenstore-write", path, "0"]
    backend.stop_proxy(proxy)
    assert proxy.name not in _domains()


def test_a_dead_runs_domains_and_bridge_are_reaped(image: str, xenstore: Xenstore) -> None:
    child = subprocess.Popen(["true"])
    child.wait()
    dead = RunIdentity(RunIdentity.new().run_id, child.pid, 0.0)
    crashed = ClickosBackend(dead, image, URI, runner=xenstore, watch=_silent_watch, probe=_dom0)
    crashed.open()
    try:
        names = [i.name for i in crashed.start(crashed.plan(2), lambda spec: None)]
        assert set(names) <= _domains()
        report = reap(ReapRule(), dry_run=False, targets=EngineTargets(libvirt_uri=URI))
        assert {f"domain {n} ({URI})" for n in names} <= set(report.removed)
        assert f"bridge {bridge_name(dead)}" in report.removed
        assert not set(names) & _domains()
        assert bridge_name(dead) not in _links()
    finally:
        crashed.close()  # the namespaces; what was reaped is already gone


def test_unavailable_host_creates_nothing(image: str) -> None:
    # Only our kind of names: other engines on a shared host come and go meanwhile.
    before_links = {n for n in _links() if n.startswith("nfv")}
    before_domains = _domains()
    refused = ClickosBackend(
        RunIdentity.new(),
        image,
        URI,
        probe=lambda img: [Probe("/sys/hypervisor/type", False, "absent")],
    )
    with pytest.raises(Exception, match=r"clickos backend needs a Xen dom0.*/sys/hypervisor/type"):
        refused.open()
    refused.close()
    assert {n for n in _links() if n.startswith("nfv")} == before_links
    assert _domains() == before_domains
    assert not list_namespaces(refused.identity.prefix)
