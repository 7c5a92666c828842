"""osv backend logic against libvirt's built-in ``test:///default`` driver: domain XML from
the shipped template, the run identity in metadata, and which domains a reap takes."""

from __future__ import annotations

import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_nfv.backends.base import BackendSettings, EngineTargets
from pytest_nfv.backends.osv import consoles
from pytest_nfv.backends.osv.backend import OsvBackend, reap
from pytest_nfv.backends.osv.domain import DomainSpec, domain_xml, load_template
from pytest_nfv.backends.shared import dhcp
from pytest_nfv.backends.shared.libvirt import METADATA_NS, RunTag
from pytest_nfv.errors import BackendUnavailable, NfvUsageError
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.reap import ReapRule
from pytest_nfv.resources import fixtures_dir

libvirt = pytest.importorskip("libvirt")
TEST_URI = "test:///default"
TEMPLATE = fixtures_dir() / "domains" / "osv.xml"
OSV_TEMPLATE = fixtures_dir() / "domains" / "osv-image.xml"
GW = "10.213.0.1"


def _spec(name: str, tag: RunTag, tap: str | None = "nvaaaaaat1") -> DomainSpec:
    return DomainSpec(
        name=name,
        tag=tag,
        domain_type="test",
        console_log=Path(f"/run/pytest-nfv/osv/{name}.log"),
        kernel=Path("/cache/vmlinux"),
        initrd=Path("/cache/initrd.cpio"),
        cmdline="console=ttyS0 nfv.role=vnf",
        mac="02:4e:46:d5:01:00",
        tap=tap,
    )


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.fixture
def conn() -> Iterator[object]:
    libvirt.registerErrorHandler(lambda _c, _e: None, None)
    connection = libvirt.open(TEST_URI)
    before = {d.name() for d in connection.listAllDomains()}
    yield connection
    for domain in connection.listAllDomains():  # the test driver's state is per process
        if domain.name() not in before:
            domain.destroy()
    connection.close()


def test_template_keeps_its_resources_and_gets_the_instance() -> None:
    template = load_template(TEMPLATE)
    tag = RunTag("abc123", 4242, "i0", "osv")
    root = ET.fromstring(domain_xml(template, _spec("nfv-abc123-p4242-i0", tag)))
    assert root.get("type") == "test"
    assert root.findtext("name") == "nfv-abc123-p4242-i0"
    assert root.findtext("vcpu") == "1"
    assert root.find("memory") is not None
    assert root.findtext("os/kernel") == "/cache/vmlinux"
    assert root.findtext("os/initrd") == "/cache/initrd.cpio"
    assert "nfv.role=vnf" in (root.findtext("os/cmdline") or "")
    nic = root.find("devices/interface")
    assert nic is not None
    assert nic.get("type") == "ethernet"
    assert nic.find("target").get("dev") == "nvaaaaaat1"  # type: ignore[union-attr]
    assert nic.find("model").get("type") == "virtio"  # type: ignore[union-attr]
    assert root.find("devices/serial/source").get("path").endswith("i0.log")  # type: ignore[union-attr]
    run = root.find(f"metadata/{{{METADATA_NS}}}run")
    assert run is not None
    assert run.get("run_id") == "abc123"
    assert run.get("owner_pid") == "4242"
    assert run.get("backend") == "osv"
    # the template itself is untouched: it serves every instance
    assert template.find("metadata") is None
    assert template.findtext("name") != "nfv-abc123-p4242-i0"


def test_domain_without_nic() -> None:
    template = load_template(TEMPLATE)
    bare = ET.fromstring(
        domain_xml(
            template,
            _spec("nfv-abc123-p1-kvmprobe", RunTag("abc123", 1, "kvmprobe", "osv"), tap=None),
        )
    )
    assert bare.find("devices/interface") is None
    assert bare.find("devices/disk") is None


def _osv_spec(kernel: Path | None, disk: Path | None, fmt: str = "raw") -> DomainSpec:
    return DomainSpec(
        "nfv-abc123-p1-i1",
        RunTag("abc123", 1, "i1", "osv"),
        "qemu",
        Path("/x.log"),
        kernel=kernel,
        cmdline=f"--ip=eth0,10.213.1.0,255.255.0.0 --defaultgw={GW} /nfv-relay" if kernel else "",
        disk=disk,
        disk_format=fmt,
        mac="02:4e:46:d5:01:00",
        tap="nvabc123t1",
    )


def _only_disk(root: ET.Element) -> ET.Element:
    disks = root.findall("devices/disk")
    assert len(disks) == 1
    return disks[0]


def test_osv_disk_image_boots_through_the_firmware_read_only() -> None:
    root = ET.fromstring(
        domain_xml(load_template(OSV_TEMPLATE), _osv_spec(None, Path("/img/usr.img"), "qcow2"))
    )
    assert root.findtext("memory") == "64"
    assert root.find("memory").get("unit") == "MiB"
    assert root.findtext("vcpu") == "1"
    assert root.find("os/kernel") is None
    assert root.find("os/cmdline") is None
    assert root.find("os/boot").get("dev") == "hd"  # type: ignore[union-attr]
    disk = _only_disk(root)
    assert disk.find("driver").get("type") == "qcow2"  # type: ignore[union-attr]
    assert disk.find("source").get("file") == "/img/usr.img"  # type: ignore[union-attr]
    assert disk.find("target").get("bus") == "virtio"  # type: ignore[union-attr]
    assert disk.find("readonly") is not None
    assert root.find("devices/interface/mac").get("address") == "02:4e:46:d5:01:00"  # type: ignore[union-attr]


def test_osv_kernel_boots_directly_with_its_disk_read_only() -> None:
    root = ET.fromstring(
        domain_xml(
            load_template(OSV_TEMPLATE),
            _osv_spec(Path("/img/loader-stripped.elf"), Path("/img/usr.img")),
        )
    )
    assert root.findtext("os/kernel") == "/img/loader-stripped.elf"
    assert root.find("os/initrd") is None
    assert root.find("os/boot") is None
    assert (root.findtext("os/cmdline") or "").startswith("--ip=eth0,10.213.1.0,255.255.0.0 ")
    disk = _only_disk(root)
    assert disk.find("driver").get("type") == "raw"  # type: ignore[union-attr]
    assert disk.find("readonly") is not None


def test_osv_kernel_without_a_disk_has_none() -> None:
    root = ET.fromstring(
        domain_xml(load_template(OSV_TEMPLATE), _osv_spec(Path("/img/loader.elf"), None))
    )
    assert root.findtext("os/kernel") == "/img/loader.elf"
    assert root.find("devices/disk") is None


def test_both_forms_are_accepted_by_libvirt(conn: object) -> None:
    """The test driver parses the XML as libvirt does: both forms must be valid domains."""
    for kernel, disk in ((None, Path("/img/usr.img")), (Path("/img/loader.elf"), Path("/d"))):
        spec = _osv_spec(kernel, disk)
        xml = domain_xml(load_template(OSV_TEMPLATE), spec).replace('type="qemu"', 'type="test"')
        domain = conn.createXML(xml, 0)  # type: ignore[attr-defined]
        parsed = ET.fromstring(domain.XMLDesc(0))
        assert parsed.find("devices/disk/readonly") is not None
        domain.destroy()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not xml <", "domain template"),
        ("<network/>", "not <domain>"),
        ("<domain><vcpu>1</vcpu></domain>", "<memory> is missing"),
    ],
)
def test_bad_templates_are_usage_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "t.xml"
    path.write_text(text)
    with pytest.raises(NfvUsageError, match=message):
        load_template(path)


def test_metadata_round_trips_through_libvirt(conn: object) -> None:
    tag = RunTag("abc123", 4242, "i3", "osv")
    domain = conn.createXML(  # type: ignore[attr-defined]
        domain_xml(load_template(TEMPLATE), _spec("nfv-abc123-p4242-i3", tag)), 0
    )
    assert not domain.isPersistent()  # transient: nothing defined is left behind
    stored = domain.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS)
    assert RunTag.parse(stored) == tag


@pytest.mark.parametrize(
    "xml",
    [
        None,
        "",
        "<run/>",
        "<run run_id='x' owner_pid='y' role='z' backend='osv'/>",
        "<run run_id='x' owner_pid='1' role='z'/>",  # which backend's: unknown, so not ours
        "<",
    ],
)
def test_parse_tag_refuses_what_is_not_ours(xml: str | None) -> None:
    assert RunTag.parse(xml) is None


def test_reap_takes_only_dead_runs_domains_with_our_metadata(
    conn: object, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(consoles, "LOG_DIR", tmp_path)  # real runs' console logs are not ours
    monkeypatch.setattr(dhcp, "DHCP_DIR", tmp_path / "dhcp")  # nor their DHCP servers
    template = load_template(TEMPLATE)
    dead = _dead_pid()
    live = RunIdentity.new()
    create = conn.createXML  # type: ignore[attr-defined]
    create(
        domain_xml(template, _spec(f"nfv-dead01-p{dead}-i0", RunTag("dead01", dead, "i0", "osv"))),
        0,
    )
    create(
        domain_xml(
            template, _spec(live.name("i0"), RunTag(live.run_id, live.owner_pid, "i0", "osv"))
        ),
        0,
    )
    # our name but no metadata of ours: someone else's domain, never touched
    foreign = ET.fromstring(
        domain_xml(template, _spec(f"nfv-f0f0f0-p{dead}-i0", RunTag("f0f0f0", dead, "i0", "osv")))
    )
    foreign.remove(foreign.find("metadata"))  # type: ignore[arg-type]
    create(ET.tostring(foreign, encoding="unicode"), 0)
    # metadata naming another run than the name: not ours either
    create(
        domain_xml(template, _spec(f"nfv-aaaaaa-p{dead}-i1", RunTag("bbbbbb", dead, "i1", "osv"))),
        0,
    )
    targets = EngineTargets(None, TEST_URI)

    (tmp_path / f"nfv-dead01-p{dead}-i0.log").write_text("console")
    (tmp_path / f"{live.name('i0')}.log").write_text("console")
    dry = reap(ReapRule(), dry_run=True, targets=targets)
    assert f"domain nfv-dead01-p{dead}-i0 ({TEST_URI})" in dry.removed
    names = {d.name() for d in conn.listAllDomains()}  # type: ignore[attr-defined]
    assert f"nfv-dead01-p{dead}-i0" in names

    assert (tmp_path / f"nfv-dead01-p{dead}-i0.log").exists()
    done = reap(ReapRule(), targets=targets)
    assert done.removed == [
        f"domain nfv-dead01-p{dead}-i0 ({TEST_URI})",
        f"file {tmp_path / f'nfv-dead01-p{dead}-i0.log'}",
    ]
    assert not (tmp_path / f"nfv-dead01-p{dead}-i0.log").exists()
    assert (tmp_path / f"{live.name('i0')}.log").exists()
    assert f"domain {live.name('i0')}" in done.left_live
    names = {d.name() for d in conn.listAllDomains()}  # type: ignore[attr-defined]
    assert f"nfv-dead01-p{dead}-i0" not in names
    assert {live.name("i0"), f"nfv-f0f0f0-p{dead}-i0", f"nfv-aaaaaa-p{dead}-i1"} <= names

    forced = reap(ReapRule(include_live=True), targets=targets)
    assert forced.removed == [
        f"domain {live.name('i0')} ({TEST_URI})",
        f"file {tmp_path / (live.name('i0') + '.log')}",
    ]


@pytest.mark.parametrize(
    "uri", ["qemu+ssh://nfv-nonexistent.invalid/system", "qemu:///nonexistent", "bogus:///x"]
)
def test_reap_of_an_unreachable_libvirt_is_empty_and_fast(uri: str) -> None:
    started = time.monotonic()
    report = reap(ReapRule(), targets=EngineTargets(None, uri))
    assert not report.removed
    assert not report.errors
    assert time.monotonic() - started < 5


def _settings(**overrides: object) -> BackendSettings:
    return BackendSettings(**overrides)  # type: ignore[arg-type]


def test_engine_before_open_names_the_target_without_connecting() -> None:
    backend = OsvBackend(
        RunIdentity.new(), _settings(libvirt_uri="qemu+ssh://nfv-nonexistent.invalid/system")
    )
    started = time.monotonic()
    info = backend.engine()
    assert time.monotonic() - started < 0.5
    assert "qemu+ssh://nfv-nonexistent.invalid/system" in info.describe()
    assert "not connected" in info.describe()


def test_remote_uri_is_unavailable_and_a_missing_image_a_usage_error(tmp_path: Path) -> None:
    remote = OsvBackend(RunIdentity.new(), _settings(libvirt_uri="qemu+ssh://h/system"))
    with pytest.raises(BackendUnavailable, match="remote"):
        remote.open()
    with pytest.raises(NfvUsageError, match=r"--nfv-image .*osv\.qcow2: no such file"):
        OsvBackend(RunIdentity.new(), _settings(image=str(tmp_path / "osv.qcow2")))
    bad = tmp_path / "bad.xml"
    bad.write_text("<domain/>")
    templated = OsvBackend(RunIdentity.new(), _settings(domain_template=bad))
    with pytest.raises(BackendUnavailable, match=r"bad\.xml"):
        templated.open()


def test_a_guest_that_never_came_up_leaves_its_console_in_the_log(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(consoles, "LOG_DIR", tmp_path)
    (tmp_path / "nfv-abc123-p1-i0.log").write_text("Kernel panic - not syncing: out of memory\n")
    (tmp_path / "nfv-abc123-p1-i1.log").write_text(
        "booting\nnfv-guest: up 10.213.1.1/16 role vnf\n"
    )
    consoles.report_silent_guest("nfv-abc123-p1-i0")
    consoles.report_silent_guest("nfv-abc123-p1-i1")
    consoles.report_silent_guest("nfv-abc123-p1-i2")  # no log at all: nothing to say
    assert len(caplog.records) == 1
    assert "nfv-abc123-p1-i0 never came up" in caplog.text
    assert "Kernel panic" in caplog.text
