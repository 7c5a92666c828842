"""The DHCP server's configuration and the reap of dead runs' servers (no dnsmasq needed)."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_nfv.backends.osv.backend import _leases_to_prewrite
from pytest_nfv.backends.shared import dhcp
from pytest_nfv.backends.shared.dhcp import dnsmasq_argv, hosts_lines, reap_dhcp
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.reap import ReapRule

NETWORK = ipaddress.IPv4Network("10.213.0.0/16")


def test_hosts_file_has_one_fixed_lease_per_mac() -> None:
    leases = [("02:4e:46:00:00:02", ipaddress.IPv4Address("10.213.0.2"))]
    assert hosts_lines(leases) == "02:4e:46:00:00:02,10.213.0.2,infinite\n"


def test_dnsmasq_serves_dhcp_only_with_static_leases(tmp_path: Path) -> None:
    argv = dnsmasq_argv(tmp_path, "br0", NETWORK, ipaddress.IPv4Address("10.213.0.1"))
    assert argv[0] == "dnsmasq"
    assert "--port=0" in argv  # no DNS
    assert "--conf-file=/dev/null" in argv  # nothing of the host's configuration
    assert "--keep-in-foreground" in argv
    assert "--dhcp-range=10.213.0.0,static,255.255.0.0,infinite" in argv
    assert f"--dhcp-hostsfile={tmp_path / 'hosts'}" in argv
    assert f"--pid-file={tmp_path / 'dnsmasq.pid'}" in argv
    assert "--interface=br0" in argv
    assert "--bind-interfaces" in argv


def test_prewritten_leases_are_the_proxy_and_the_plan_in_order() -> None:
    leases = _leases_to_prewrite()
    assert leases[0] == ("02:4e:46:d5:00:02", ipaddress.IPv4Address("10.213.0.2"))
    assert leases[1] == ("02:4e:46:d5:01:00", ipaddress.IPv4Address("10.213.1.0"))
    assert len(leases) == 1 + dhcp.PREWRITTEN
    assert len({mac for mac, _ in leases}) == len(leases)


@pytest.fixture
def dhcp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(dhcp, "DHCP_DIR", tmp_path)
    return tmp_path


def _dead_owner_name(role: str) -> str:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return f"nfv-dead01-p{proc.pid}-{role}"


def test_reap_removes_dead_runs_servers_and_spares_live_ones_and_strangers(
    dhcp_dir: Path,
) -> None:
    dead = dhcp_dir / _dead_owner_name("sw")
    live = dhcp_dir / RunIdentity.new().name("sw")
    stranger = dhcp_dir / "not-ours"
    for directory in (dead, live, stranger):
        directory.mkdir()
        (directory / "hosts").write_text("")
    # a pidfile naming a process that is not dnsmasq: that process is never killed
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (dead / "dnsmasq.pid").write_text(f"{bystander.pid}\n")
        dry = reap_dhcp(ReapRule(), dry_run=True)
        assert dry.removed == [f"dhcp server {dead}"]
        assert dead.exists()
        done = reap_dhcp(ReapRule())
        assert done.removed == [f"dhcp server {dead}"]
        assert not dead.exists()
        assert live.exists()
        assert stranger.exists()
        assert f"dhcp server {live}" in done.left_live
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def _named_dnsmasq(*args: str) -> subprocess.Popen[bytes]:
    """A process whose name (comm) is dnsmasq, with ``args`` on its command line."""
    code = "open('/proc/self/comm', 'w').write('dnsmasq'); import time; time.sleep(30)"
    process = subprocess.Popen([sys.executable, "-c", code, *args])
    comm = Path(f"/proc/{process.pid}/comm")
    for _ in range(200):
        if comm.read_text().strip() == "dnsmasq":
            return process
        time.sleep(0.01)
    raise AssertionError("the stand-in never took the name dnsmasq")


def test_a_dnsmasq_that_did_not_write_the_pidfile_is_never_killed(dhcp_dir: Path) -> None:
    """libvirt runs a dnsmasq of its own: the name alone says nothing about whose it is."""
    dead = dhcp_dir / _dead_owner_name("sw")
    dead.mkdir()
    others = _named_dnsmasq("--conf-file=/var/lib/libvirt/dnsmasq/default.conf")
    ours = _named_dnsmasq(f"--pid-file={dead / 'dnsmasq.pid'}")
    try:
        (dead / "dnsmasq.pid").write_text(f"{others.pid}\n")
        reap_dhcp(ReapRule())
        assert others.poll() is None
        dead.mkdir()
        (dead / "dnsmasq.pid").write_text(f"{ours.pid}\n")
        reap_dhcp(ReapRule())
        assert not Path(f"/proc/{ours.pid}").exists()  # killed, and reaped by the reap
    finally:
        for process in (others, ours):
            process.kill()
            process.wait()
