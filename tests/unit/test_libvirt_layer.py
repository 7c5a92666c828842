"""The one libvirt layer both VM backends use, against libvirt's ``test:///default`` driver:
the run tag in a domain's metadata, which domains count as a backend's, and the reap that
must never take another backend's domain or a user's with a name like ours."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from pytest_nfv.backends.shared.libvirt import (
    METADATA_NS,
    LibvirtConnection,
    RunTag,
    dotted_version,
    import_libvirt,
    reap_domains,
)
from pytest_nfv.errors import BackendError, BackendUnavailable
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.reap import ReapRule

libvirt = pytest.importorskip("libvirt")
URI = "test:///default"


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _xml(name: str, tag: RunTag | None) -> str:
    metadata = f"<metadata>{tag.element()}</metadata>" if tag is not None else ""
    return (
        f"<domain type='test'><name>{name}</name>{metadata}<memory>1024</memory>"
        "<os><type>hvm</type></os></domain>"
    )


@pytest.fixture
def connection() -> Iterator[LibvirtConnection]:
    opened = LibvirtConnection(URI, "osv").open()
    before = {d.name() for d in opened.handle.listAllDomains()}
    yield opened
    for domain in opened.handle.listAllDomains():  # the test driver's state is per process
        if domain.name() not in before:
            domain.destroy()
    opened.close()


def test_tag_round_trips_through_a_domains_metadata(connection: LibvirtConnection) -> None:
    tag = RunTag("abc123", 4242, "i0", "osv")
    domain = connection.create(_xml("nfv-abc123-p4242-i0", tag), "nfv-abc123-p4242-i0")
    assert not domain.isPersistent()
    stored = domain.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS)
    assert RunTag.parse(stored) == tag
    assert connection.tagged() == [("nfv-abc123-p4242-i0", tag)]


def test_only_this_backends_domains_whose_name_and_tag_agree_are_tagged(
    connection: LibvirtConnection,
) -> None:
    ours = RunTag("abc123", 7, "i0", "osv")
    for name, tag in (
        ("nfv-abc123-p7-i0", ours),
        ("nfv-abc123-p7-i1", RunTag("abc123", 7, "i1", "clickos")),  # the other backend's
        ("nfv-abc123-p7-i2", None),  # a user's, named like ours
        ("nfv-abc123-p8-i3", RunTag("abc123", 7, "i3", "osv")),  # name and tag disagree
        ("mine-abc123-p7-i4", RunTag("abc123", 7, "i4", "osv")),  # not one of our names
    ):
        connection.create(_xml(name, tag), name)
    assert connection.tagged() == [("nfv-abc123-p7-i0", ours)]
    clickos = LibvirtConnection(URI, "clickos").open()
    try:
        assert [name for name, _ in clickos.tagged()] == ["nfv-abc123-p7-i1"]
    finally:
        clickos.close()


def test_reap_takes_the_dead_runs_domains_of_its_backend_only(
    connection: LibvirtConnection,
) -> None:
    dead, live = _dead_pid(), RunIdentity.new()
    doomed = f"nfv-dead01-p{dead}-i0"
    others = {
        f"nfv-dead01-p{dead}-i1": RunTag("dead01", dead, "i1", "clickos"),
        f"nfv-dead01-p{dead}-i2": None,
        live.name("i0"): RunTag(live.run_id, live.owner_pid, "i0", "osv"),
    }
    connection.create(_xml(doomed, RunTag("dead01", dead, "i0", "osv")), doomed)
    for name, tag in others.items():
        connection.create(_xml(name, tag), name)
    names = lambda: {d.name() for d in connection.handle.listAllDomains()}  # noqa: E731

    listed = reap_domains(URI, ReapRule(), dry_run=True, backend="osv")
    assert listed.removed == [f"domain {doomed} ({URI})"]
    assert doomed in names()

    reaped = reap_domains(URI, ReapRule(), dry_run=False, backend="osv")
    assert reaped.removed == [f"domain {doomed} ({URI})"]
    assert reaped.left_live == [f"domain {live.name('i0')}"]
    assert reaped.errors == []
    assert doomed not in names()
    assert set(others) <= names()

    clickos = reap_domains(URI, ReapRule(), dry_run=False, backend="clickos")
    assert clickos.removed == [f"domain nfv-dead01-p{dead}-i1 ({URI})"]
    assert f"nfv-dead01-p{dead}-i2" in names()  # untagged: nobody's to reap


def test_destroy_of_a_gone_domain_is_false_and_memory_of_one_is_an_error(
    connection: LibvirtConnection,
) -> None:
    tag = RunTag("abc123", 1, "i0", "osv")
    domain = connection.create(_xml("nfv-abc123-p1-i0", tag), "nfv-abc123-p1-i0")
    assert connection.memory_mib("nfv-abc123-p1-i0") == 1
    assert connection.destroy("nfv-abc123-p1-i0", domain) is True
    assert connection.destroy("nfv-abc123-p1-i0") is False
    with pytest.raises(BackendError, match="nfv-abc123-p1-i0"):
        connection.memory_mib("nfv-abc123-p1-i0")
    with pytest.raises(BackendError, match="refused to start nfv-bad"):
        connection.create("<domain/>", "nfv-bad")


def test_versions_are_dotted(connection: LibvirtConnection) -> None:
    hypervisor, library = connection.versions()
    assert hypervisor.startswith("TEST ")
    assert library.count(".") == 2
    assert dotted_version(9_004_001) == "9.4.1"


def test_unreachable_libvirt_is_unavailable_and_reaps_as_empty() -> None:
    uri = "xen+unix:///nonexistent?socket=/nonexistent"
    with pytest.raises(BackendUnavailable, match=r"clickos backend: cannot connect .*nonexistent"):
        LibvirtConnection(uri, "clickos").open()
    report = reap_domains(uri, ReapRule(include_live=True), dry_run=False, backend="clickos")
    assert (report.removed, report.left_live, report.errors) == ([], [], [])
    with pytest.raises(BackendError, match="not open"):
        _ = LibvirtConnection(uri, "clickos").handle


def test_a_missing_libvirt_python_names_the_backends_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "libvirt", None)  # what an uninstalled module looks like
    with pytest.raises(BackendUnavailable, match=r"pip install 'pytest-nfv\[clickos\]'"):
        import_libvirt("clickos")
    with pytest.raises(BackendUnavailable, match=r"pytest-nfv\[osv\]"):
        LibvirtConnection(URI, "osv").open()
    assert reap_domains(URI, ReapRule(), dry_run=False, backend="osv").removed == []
