"""ClickOS domain definitions through the libvirt layer, against libvirt's real test driver
(``test:///default``).

The test driver runs in-process and keeps its domains for the life of the process, so every
test removes what it made. It accepts the same XML the libxl driver gets, which makes the
lifecycle (create, find by tag, read memory, destroy) and the reap real, short of a Xen.
"""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from pytest_nfv.backends.clickos.xen.domains import DomainSpec, render_domain
from pytest_nfv.backends.shared.libvirt import METADATA_NS, LibvirtConnection, RunTag, reap_domains
from pytest_nfv.errors import NfvUsageError
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.reap import ReapRule
from pytest_nfv.resources import fixtures_dir

libvirt = pytest.importorskip("libvirt")

URI = "test:///default"
TEMPLATE = (fixtures_dir() / "domains" / "clickos.xml").read_text()


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _spec(identity: RunIdentity, role: str) -> DomainSpec:
    return DomainSpec(
        identity.name(role), role, "/boot/clickos_x86_64", "nfvabcdef", "02:4e:46:00:01:02"
    )


@pytest.fixture
def domains() -> Iterator[LibvirtConnection]:
    opened = LibvirtConnection(URI, "clickos").open()
    before = {d.name() for d in opened.handle.listAllDomains()}
    yield opened
    for domain in opened.handle.listAllDomains():
        if domain.name() not in before:
            domain.destroy()
    opened.close()


def test_the_template_renders_the_papers_domain() -> None:
    identity = RunIdentity.new()
    root = ET.fromstring(render_domain(TEMPLATE, _spec(identity, "i3"), identity, "t"))
    assert root.get("type") == "xen"
    assert root.findtext("name") == identity.name("i3")
    memory = root.find("memory")
    assert memory is not None
    assert (memory.text, memory.get("unit")) == ("12", "MiB")
    assert root.findtext("vcpu") == "1"
    assert root.findtext("os/type") == "xen"
    assert root.findtext("os/kernel") == "/boot/clickos_x86_64"
    assert root.findtext("os/cmdline") == "-d standard"
    assert root.find("devices/interface/source").get("bridge") == "nfvabcdef"  # type: ignore[union-attr]
    assert root.find("devices/interface/mac").get("address") == "02:4e:46:00:01:02"  # type: ignore[union-attr]
    tag = root.find(f"metadata/{{{METADATA_NS}}}run")
    assert tag is not None
    assert tag.attrib == {
        "run_id": identity.run_id,
        "owner_pid": str(identity.owner_pid),
        "role": "i3",
        "backend": "clickos",
    }


def test_values_are_escaped_into_the_xml() -> None:
    identity = RunIdentity.new()
    spec = DomainSpec(identity.name("i0"), "i0", "/images/a&b <'x'>", "br", "02:00:00:00:00:01")
    root = ET.fromstring(render_domain(TEMPLATE, spec, identity, "t"))
    assert root.findtext("os/kernel") == "/images/a&b <'x'>"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda t: t.replace("<metadata>", "<!--").replace("</metadata>", "-->"),
            "keep <metadata>",
        ),
        (lambda t: t.replace("<name>${NAME}</name>", "<name>fixed</name>"), "<name> must be"),
        (lambda t: t.replace("</domain>", ""), "not well-formed XML"),
        (lambda t: t.replace("${VCPUS}", "${CPUS}"), "unknown or bad placeholder 'CPUS'"),
    ],
)
def test_a_template_that_loses_what_cleanup_needs_is_refused(mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    identity = RunIdentity.new()
    with pytest.raises(NfvUsageError, match=message):
        render_domain(mutate(TEMPLATE), _spec(identity, "i0"), identity, "mine.xml")


def test_lifecycle_create_find_measure_destroy(domains: LibvirtConnection) -> None:
    identity = RunIdentity.new()
    spec = _spec(identity, "i0")
    domain = domains.create(render_domain(TEMPLATE, spec, identity, "t"), spec.name)
    assert domain.ID() > 0
    tag = RunTag(identity.run_id, identity.owner_pid, "i0", "clickos")
    assert (spec.name, tag) in domains.tagged()
    assert domains.memory_mib(spec.name) == 12
    assert not domains.handle.lookupByName(spec.name).isPersistent()  # transient: no leftovers
    assert domains.destroy(spec.name) is True
    assert spec.name not in {d.name() for d in domains.handle.listAllDomains()}
    assert domains.destroy(spec.name) is False


def test_reap_takes_dead_runs_only_and_only_clickos_domains(domains: LibvirtConnection) -> None:
    live = RunIdentity.new()
    dead = RunIdentity("dead01", _dead_pid(), 0.0)
    for identity in (live, dead):
        domains.create(
            render_domain(TEMPLATE, _spec(identity, "i0"), identity, "t"), identity.name("i0")
        )
    # A domain named like ours without our tag, and one tagged by another backend.
    foreign = dead.name("i1")
    domains.create(
        f"<domain type='test'><name>{foreign}</name><memory>1024</memory>"
        "<os><type>hvm</type></os></domain>",
        foreign,
    )
    other = render_domain(TEMPLATE, _spec(dead, "i2"), dead, "t").replace(
        'backend="clickos"', 'backend="osv"'
    )
    assert 'backend="osv"' in other
    domains.create(other, dead.name("i2"))
    names = lambda: {d.name() for d in domains.handle.listAllDomains()}  # noqa: E731

    listed = reap_domains(URI, ReapRule(), dry_run=True, backend="clickos")
    assert listed.removed == [f"domain {dead.name('i0')} ({URI})"]
    assert f"domain {live.name('i0')}" in listed.left_live
    assert dead.name("i0") in names()

    reaped = reap_domains(URI, ReapRule(), dry_run=False, backend="clickos")
    assert reaped.removed == [f"domain {dead.name('i0')} ({URI})"]
    assert reaped.errors == []
    assert dead.name("i0") not in names()
    assert {live.name("i0"), foreign, dead.name("i2"), "test"} <= names()

    forced = reap_domains(URI, ReapRule.own_run(live.run_id), dry_run=False, backend="clickos")
    assert forced.removed == [f"domain {live.name('i0')} ({URI})"]


def test_reap_of_an_unreachable_libvirt_is_empty() -> None:
    report = reap_domains(
        "xen+unix:///nonexistent?socket=/nonexistent",
        ReapRule(include_live=True),
        dry_run=False,
        backend="clickos",
    )
    assert (report.removed, report.left_live, report.errors) == ([], [], [])


def test_the_default_budgets_are_the_papers_clickos_figures() -> None:
    from pytest_nfv.harness.budget_file import load_budgets
    from pytest_nfv.resources import budgets_file

    path = budgets_file("clickos")
    assert path is not None
    book = load_budgets(path)
    assert book.backend == "clickos"
    assert len(book) >= 8
    assert all(b.source.startswith("paper ") for b in book.budgets.values())
    # Fig. 2(a): ~50 ms for 128 VMs, with the file's margin of about 3x.
    boot = book.get("instantiation", "boot_makespan")
    assert boot is not None
    assert 0.050 * 2.5 < boot.limit(128, None) < 0.050 * 3.5
    # Fig. 2(b): ~0.16 ms at 64 KB through the ClickOS proxy.
    response = book.get("monitoring", "response_time")
    assert response is not None
    assert 0.00016 * 2.5 < response.limit(None, 65507) < 0.00016 * 3.5


def test_the_kernel_figure_is_the_hypervisors_count(domains: LibvirtConnection) -> None:
    """What the backend reports as kernel-accounted memory is libvirt's per-domain figure,
    summed; with Xen it is the hypervisor's (the test driver stands for it here)."""
    import ipaddress

    from pytest_nfv.backends.clickos.backend import ClickosBackend
    from pytest_nfv.model import Instance, InstanceSpec

    identity = RunIdentity.new()
    backend = ClickosBackend(identity, None, libvirt_uri=URI)
    backend._libvirt = domains
    made = []
    for role in ("i0", "i1"):
        spec = _spec(identity, role)
        domains.create(render_domain(TEMPLATE, spec, identity, "t"), spec.name)
        address = ipaddress.IPv4Address("10.0.0.1")
        made.append(Instance(InstanceSpec(spec.name, address, "m"), 0, ""))
    assert backend.kernel_memory_method is not None
    assert backend.kernel_memory_mib(made) == 24  # two domains of 12 MiB
    for instance in made:
        domains.destroy(instance.name)
