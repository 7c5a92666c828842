"""The osv backend against the real libvirtd and QEMU (TCG on hosts without usable KVM).

Each VM boot costs a few seconds of emulated CPU on a 2-core runner, so the tests share one
backend and boot few VMs (N <= 2 here, one proxy).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from holding import assert_the_record_was_saved, ended_anyway, recording_then_holding

from pytest_nfv.backends.base import BackendSettings
from pytest_nfv.backends.osv.backend import LOG_DIR, OsvBackend
from pytest_nfv.backends.shared.dhcp import DHCP_DIR
from pytest_nfv.backends.shared.libvirt import METADATA_NS, RunTag
from pytest_nfv.errors import BackendError
from pytest_nfv.harness.lab import Lab
from pytest_nfv.harness.probes.icmp import EchoProber
from pytest_nfv.harness.probes.memory import pss_mib
from pytest_nfv.harness.proxy_path import ProxyPath
from pytest_nfv.harness.traffic.generator import Stream
from pytest_nfv.harness.traffic.sender import CSender
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.namespaces import list_namespaces

libvirt = pytest.importorskip("libvirt")
URI = "qemu:///system"
_LENIENT = Path(__file__).with_name("lenient-budgets.toml")
_SUITES = Path(__file__).resolve().parents[2] / "suites"
_PYTEST = (sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q")
_CLI = (sys.executable, "-m", "pytest_nfv.cli.main")  # this interpreter's, whatever PATH holds


def _connect() -> object:
    libvirt.registerErrorHandler(lambda _c, _e: None, None)
    try:
        return libvirt.open(URI)
    except libvirt.libvirtError as exc:
        pytest.skip(f"libvirtd does not answer at {URI} (scripts/engines start libvirt): {exc}")


@pytest.fixture(scope="module")
def conn() -> Iterator[object]:
    connection = _connect()
    yield connection
    connection.close()  # type: ignore[attr-defined]


def _settings() -> BackendSettings:
    return BackendSettings(boot_timeout_s=60.0)


@pytest.fixture(scope="module")
def osv(conn: object) -> Iterator[OsvBackend]:
    with OsvBackend(RunIdentity.new(), _settings()) as backend:
        yield backend


@pytest.fixture(scope="module")
def osv_lab(osv: OsvBackend) -> Iterator[Lab]:
    with EchoProber(osv.probe_netns, osv.probe_interval_s) as prober:
        yield Lab(osv, prober, boot_timeout_s=90)


def _domains(conn: object, needle: str) -> list[str]:
    return sorted(d.name() for d in conn.listAllDomains() if needle in d.name())  # type: ignore[attr-defined]


def _wait_for_domains(conn: object, victim: subprocess.Popen[bytes], count: int) -> list[str]:
    """The session's domains once ``count`` of them run (or after two minutes)."""
    mine = f"-p{victim.pid}-"
    deadline = time.monotonic() + 120
    while len(_domains(conn, mine)) < count and time.monotonic() < deadline:
        assert victim.poll() is None, "the holding session ended early"
        time.sleep(0.2)
    return _domains(conn, mine)


def _root_links() -> set[str]:
    text = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in text.splitlines()}


def _switch_links(osv: OsvBackend) -> str:
    assert osv.probe_netns is not None
    switch = Path(osv.probe_netns).name
    argv = ["ip", "-n", switch, "-o", "link"]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def test_engine_says_what_runs_the_vms(osv: OsvBackend) -> None:
    info = osv.engine()
    assert info.name == "libvirt"
    assert any(note.startswith("QEMU") for note in info.notes)
    kinds = [n for n in info.notes if n.startswith(("TCG: ", "KVM: "))]
    assert len(kinds) == 1
    assert "busybox initramfs" in info.describe()


def test_boot_round_leaves_no_domain_and_no_root_link(
    osv_lab: Lab, osv: OsvBackend, conn: object
) -> None:
    before = _root_links()
    result = osv_lab.boot_round(2)
    assert len(result.per_instance_s) == 2
    assert all(0.1 < t < 90 for t in result.per_instance_s)  # a VM, not a process
    assert result.makespan_s >= max(result.per_instance_s) - 1e-6
    assert _domains(conn, osv.identity.prefix + "i") == []
    assert not [link for link in _root_links() - before if link.startswith(("nv", "nfv"))]
    assert not list(LOG_DIR.glob(f"{osv.identity.prefix}i*.log"))


def test_an_instance_that_stopped_on_its_own_fails_the_round_that_stops_it(
    osv_lab: Lab, osv: OsvBackend, conn: object
) -> None:
    """An OSv guest whose program fails to load answers the boot's echo, then powers off:
    its domain is gone when the run stops it, and that must not pass as a boot."""
    instances = osv_lab.start_ready(2)
    gone = instances[1].spec.name
    conn.lookupByName(gone).destroy()  # type: ignore[attr-defined]  # as if it powered off
    with pytest.raises(BackendError, match=f"domain {gone} had stopped on its own"):
        osv.stop(instances)
    assert _domains(conn, osv.identity.prefix + "i") == []
    assert not list(LOG_DIR.glob(f"{osv.identity.prefix}i*.log"))


def test_running_vm_is_tagged_transient_and_on_the_switch(
    osv_lab: Lab, osv: OsvBackend, conn: object
) -> None:
    with osv_lab.running(1) as (instance,):
        domain = conn.lookupByName(instance.name)  # type: ignore[attr-defined]
        assert not domain.isPersistent()
        tag = RunTag.parse(domain.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS))
        assert tag is not None
        assert (tag.run_id, tag.owner_pid) == (osv.identity.run_id, os.getpid())
        assert tag.backend == "osv"
        tap = f"nv{osv.identity.run_id}t"
        assert tap in _switch_links(osv)  # the tap moved onto the switch ...
        assert "master br0" in next(ln for ln in _switch_links(osv).splitlines() if tap in ln)
        assert not [link for link in _root_links() if link.startswith(tap)]  # ... out of root
        (pid,) = osv.memory_pids(instance)
        assert "qemu" in Path(f"/proc/{pid}/cmdline").read_text()
        assert pss_mib([pid]) > 20  # guest RAM the kernel touched, plus QEMU itself
        console = (LOG_DIR / f"{instance.name}.log").read_text()
        assert "nfv-guest: up" in console
    assert _domains(conn, instance.name) == []
    assert not Path(f"/proc/{pid}").exists()


def test_memory_round_sees_the_vm(osv_lab: Lab) -> None:
    result = osv_lab.memory_round(1)
    assert result.pss_mib > 20
    assert result.host_delta_mib > 5  # a VM's RAM, well above the host's read noise
    # The domain's cgroup from libvirt holds its QEMU: guest RAM touched and QEMU's own.
    assert result.kernel_mib is not None
    assert result.kernel_mib > 20


def test_proxy_path_through_the_relay(osv_lab: Lab, osv: OsvBackend) -> None:
    path = ProxyPath(osv_lab, path_timeout_s=60)
    try:
        assert path.testbed.proxy_relays  # replies come from the relay's address
        for size in (64, 1473, 65507):  # one frame, two fragments, 45 fragments
            assert 0 < path.round_trip(size, "proxy").seconds < 1
            assert 0 < path.round_trip(size, "direct").seconds < 1
        # a throughput stream crosses the relay one way, to B's receiver (not its echo)
        path.set_mode("proxy")
        with CSender(Stream.through_proxy(path.testbed)) as sender:
            trial = sender.trial(64, 500, 0.5)
        assert trial.sent >= 240
        assert (trial.received, trial.count.foreign, trial.count.duplicates) == (trial.sent, 0, 0)
        assert path.reconfigure() > 0  # B2 now answers through the proxy
        assert path.round_trip(1024, "proxy").seconds > 0
        assert path.reconfigure() > 0  # and B again
        assert path.proxy_memory_mib() > 20
        with pytest.raises(BackendError, match="refused 'no-such-command'"):
            osv._control("no-such-command")
        assert osv._control("ping") == "ok"
        assert not osv._direct_bypasses_proxy  # the stand-in forwards: pause is the same hop
        assert path.deploy() > 0.1  # a fresh proxy VM, timed to its first proxied reply
        assert path.round_trip(64, "proxy").seconds > 0
    finally:
        path.close()


HOLDING_TEST = """
import time

def test_hold(nfv_instances, nfv_testbed):
    nfv_instances(2)
    time.sleep(600)
"""


def test_kill_9_of_a_session_then_cleanup_leaves_nothing(tmp_path: Path, conn: object) -> None:
    before, dhcp_before = _root_links(), dnsmasq_pids()
    (tmp_path / "test_hold.py").write_text(HOLDING_TEST)
    victim = subprocess.Popen(
        [*_PYTEST, "test_hold.py", "--backend=osv", "--nfv-strict"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    mine = f"-p{victim.pid}-"
    try:
        domains = _wait_for_domains(conn, victim, 3)
        assert len(domains) == 3  # two instances and the proxy
        assert len(list(DHCP_DIR.glob(f"*{mine}*/dnsmasq.pid"))) == 1
        live = subprocess.run([*_CLI, "cleanup"], capture_output=True, text=True, check=True)
        assert "still going" in live.stdout
        assert _domains(conn, mine) == domains
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        assert _domains(conn, mine) == domains  # a killed run cannot clean up itself
        dry = subprocess.run(
            [*_CLI, "cleanup", "--dry-run"], capture_output=True, text=True, check=True
        )
        assert all(f"would remove domain {d}" in dry.stdout for d in domains)
        assert _domains(conn, mine) == domains
        done = subprocess.run([*_CLI, "cleanup"], capture_output=True, text=True, check=True)
        assert all(f"removed domain {d}" in done.stdout for d in domains)
        assert _domains(conn, mine) == []
        assert [n for n in list_namespaces("nfv-") if mine in n] == []
        assert not list(LOG_DIR.glob(f"*{mine}*.log"))
        assert not [d for d in DHCP_DIR.glob(f"*{mine}*")]  # dnsmasq's directory ...
        assert not [pid for pid in dnsmasq_pids() if pid not in dhcp_before]  # ... and process
        assert not [link for link in _root_links() - before if link.startswith(("nv", "nfv"))]
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
        subprocess.run([*_CLI, "cleanup"], capture_output=True, check=False)


def test_sigterm_tears_the_session_down_and_saves_the_record(
    tmp_path: Path, conn: object, holding_session: Callable[..., subprocess.Popen[bytes]]
) -> None:
    """``timeout`` or a cancelled CI job: no domain, dnsmasq, namespace, link or log of the
    run is left, and the figure measured before is in the JSON."""
    before, dhcp_before = _root_links(), dnsmasq_pids()
    record = tmp_path / "record.json"
    victim = holding_session(
        "--backend=osv", "--nfv-strict", f"--benchmark-json={record}",
        tests=recording_then_holding(2),
    )  # fmt: skip
    mine = f"-p{victim.pid}-"
    with ended_anyway(victim, [*_CLI, "cleanup"]):
        assert len(_wait_for_domains(conn, victim, 3)) == 3  # two instances and the proxy
        victim.send_signal(signal.SIGTERM)
        assert victim.wait(timeout=120) != 0
        assert _domains(conn, mine) == []
        assert [n for n in list_namespaces("nfv-") if mine in n] == []
        assert not list(LOG_DIR.glob(f"*{mine}*.log"))
        assert not [d for d in DHCP_DIR.glob(f"*{mine}*")]
        assert not [pid for pid in dnsmasq_pids() if pid not in dhcp_before]
        assert not [link for link in _root_links() - before if link.startswith(("nv", "nfv"))]
        assert_the_record_was_saved(record)


def dnsmasq_pids() -> set[int]:
    found = set()
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "dnsmasq":
                found.add(int(comm.parent.name))
        except OSError:
            continue
    return found


def test_dhcp_server_runs_in_the_switch_with_the_plan_as_leases(osv: OsvBackend) -> None:
    assert osv._dhcp is not None
    pid = int(osv._dhcp.pidfile.read_text())
    assert osv.probe_netns is not None
    assert Path(f"/proc/{pid}/ns/net").stat().st_ino == Path(osv.probe_netns).stat().st_ino
    spec = osv.plan(1)[0]
    try:
        hosts = (osv._dhcp.directory / "hosts").read_text()
        assert f"{spec.mac},{spec.address},infinite\n" in hosts
    finally:
        osv._switch.release(spec.address)


def _net_sysctls() -> dict[str, str]:
    found = {}
    for path in sorted(Path("/proc/sys/net/ipv4/conf/all").iterdir()):
        if os.access(path, os.R_OK):
            found[path.name] = path.read_text().strip()
    found["ip_forward"] = Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()
    return found


def test_the_suites_run_on_osv_and_leave_the_root_namespace_alone(
    tmp_path: Path, conn: object
) -> None:
    """``pytest suites/ --backend=osv``: all four suites pass for real (strict: no skip)."""
    links, sysctls = _root_links(), _net_sysctls()
    session = subprocess.Popen(
        [
            *_PYTEST,
            str(_SUITES),
            *("--backend=osv", "--nfv-strict", "--nfv-instances", "1,2"),
            *("--nfv-packet-sizes", "64,3000", "--nfv-max-rounds", "2", "--nfv-max-seconds", "1"),
            *("--nfv-budgets", str(_LENIENT), "--rootdir", str(tmp_path)),
            # test_throughput included: its two searches through the relay under TCG cost
            # about 28 s of this run (benchmarks/RESULTS.md, the throughput section)
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    stdout, stderr = session.communicate(timeout=900)
    assert session.returncode == 0, stdout[-3000:] + stderr[-2000:]
    assert " passed" in stdout
    assert "skipped" not in stdout
    assert not [link for link in _root_links() - links if link.startswith(("nv", "nfv"))]
    assert _net_sysctls() == sysctls
    mine = f"-p{session.pid}-"
    assert _domains(conn, mine) == []
    assert [n for n in list_namespaces("nfv-") if mine in n] == []
    assert not list(LOG_DIR.glob(f"*{mine}*.log"))


def test_kvm_probe_is_bounded_and_says_why(osv: OsvBackend, conn: object) -> None:
    """A guest that hangs under KVM costs the probe its timeout, never more, and no domain."""
    from pytest_nfv.backends.osv.domain import domain_xml
    from pytest_nfv.backends.osv.kvm import cpu_has_virtualization, probe_boot

    if not cpu_has_virtualization(Path("/proc/cpuinfo").read_text()):
        assert osv._kvm is not None
        assert osv._kvm.reason == "the CPU flags lack vmx/svm"
    results = {}
    for kind in ("kvm", "qemu"):
        name = osv.identity.name(f"probe{kind}")
        spec = osv._standin_spec(name, "kvmprobe", kind, None, "nfv.role=vnf")
        started = time.monotonic()
        results[kind] = probe_boot(conn, domain_xml(osv._template, spec), spec.console_log, kind, 8)
        assert time.monotonic() - started < 8 + 15  # the timeout plus libvirt's destroy
        assert _domains(conn, name) == []
        assert not spec.console_log.exists()
    assert results["qemu"].usable, results["qemu"].reason  # the probe can say yes
    if osv._kvm is not None and not osv._kvm.usable:
        assert not results["kvm"].usable
        assert "kvm" in results["kvm"].reason
