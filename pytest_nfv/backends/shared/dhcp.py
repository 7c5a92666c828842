"""A DHCP server on the run's switch: every guest gets its planned address, unchanged images too.

A VM image of the user's (OSv's, say) configures its NIC by DHCP when its command line names
no address; the backend cannot reach inside it. So the switch namespace runs Debian's
``dnsmasq`` on its bridge, DHCP only (no DNS: ``--port=0``), with one fixed lease per MAC:
the address the run's plan gave that MAC (``AddressPool``/``mac_for``), for ever. No address
is handed out to an unknown MAC (``static`` range), so a stray client on the bridge gets
nothing.

Its files live in ``/run/pytest-nfv/dhcp/<switch namespace>/`` (the run's name, so the reap
rule knows the run): the hosts file it reads leases from and its pidfile. ``close`` kills it
and removes the directory; after a ``kill -9`` of the run, ``reap`` finds the directory,
kills the pidfile's process if it is still the dnsmasq that wrote it, and removes the directory (the
process also dies with the switch namespace, whose reaper kills what lives in it).

Leases are written before the VMs that use them start: the first ``PREWRITTEN`` instance
addresses and the fabric's (the proxy) when the server starts, more on demand with a
``SIGHUP`` (dnsmasq reads its hosts file again).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from pytest_nfv.backends.base import CleanupReport
from pytest_nfv.errors import BackendError, BackendUnavailable
from pytest_nfv.host.identity import REGISTRY_DIR
from pytest_nfv.host.namespaces import kill_and_wait, spawn_in
from pytest_nfv.host.reap import ReapRule

__all__ = ["DHCP_DIR", "DhcpServer", "dnsmasq_argv", "hosts_lines", "reap_dhcp"]

DHCP_DIR = REGISTRY_DIR / "dhcp"
PREWRITTEN = 1024
"""Instance leases written at start: as many as the largest N the options allow."""
_START_TIMEOUT_S = 5.0

Lease = tuple[str, ipaddress.IPv4Address]
"""(MAC, address)."""


def hosts_lines(leases: Iterable[Lease]) -> str:
    """dnsmasq ``--dhcp-hostsfile`` content: ``MAC,ADDRESS,infinite`` per lease."""
    return "".join(f"{mac},{address},infinite\n" for mac, address in leases)


def dnsmasq_argv(
    directory: Path,
    interface: str,
    network: ipaddress.IPv4Network,
    router: ipaddress.IPv4Address,
) -> list[str]:
    """The dnsmasq command line: DHCP only, static leases from ``directory/hosts``."""
    return [
        "dnsmasq",
        "--keep-in-foreground",
        "--conf-file=/dev/null",  # nothing from /etc/dnsmasq.conf
        "--port=0",  # no DNS
        f"--interface={interface}",
        "--bind-interfaces",
        f"--dhcp-range={network.network_address},static,{network.netmask},infinite",
        f"--dhcp-hostsfile={directory / 'hosts'}",
        f"--dhcp-option=option:router,{router}",
        "--dhcp-authoritative",
        "--leasefile-ro",  # the leases are fixed: nothing to remember
        f"--pid-file={directory / 'dnsmasq.pid'}",
        "--log-facility=-",
        "--quiet-dhcp",
    ]


class DhcpServer:
    """dnsmasq inside one switch namespace.

    Args:
        namespace: the switch namespace's name (a run name: it names the directory too).
        netns_path: where to start it.
        interface: the bridge it serves.
        network: the switch's network.
        router: the default gateway it announces (the switch's address).
    """

    def __init__(
        self,
        namespace: str,
        netns_path: str,
        interface: str,
        network: ipaddress.IPv4Network,
        router: ipaddress.IPv4Address,
    ) -> None:
        self.directory = DHCP_DIR / namespace
        self._netns_path = netns_path
        self._interface = interface
        self._network = network
        self._router = router
        self._proc: subprocess.Popen[bytes] | None = None
        self._written: set[str] = set()

    @property
    def pidfile(self) -> Path:
        return self.directory / "dnsmasq.pid"

    def start(self, leases: Iterable[Lease]) -> None:
        """Write ``leases``, start dnsmasq, and wait until it wrote its pidfile.

        Raises:
            BackendUnavailable: dnsmasq is not installed.
            BackendError: it exited or stayed silent (the message carries its words).
        """
        if shutil.which("dnsmasq") is None:
            raise BackendUnavailable(
                "DHCP for the guests needs dnsmasq, which is not installed (Debian: "
                "dnsmasq-base; scripts/bootstrap tests installs it)"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o755)  # dnsmasq drops to its own user before reading hosts
        self._write(leases, reload=False)
        argv = dnsmasq_argv(self.directory, self._interface, self._network, self._router)
        self._proc = spawn_in(
            self._netns_path,
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            close_fds=True,
        )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self.pidfile.exists():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                words = self._stop_and_read()
                raise BackendError(f"dnsmasq did not start in {self._netns_path}: {words}")
            time.sleep(0.01)

    def add(self, leases: Iterable[Lease]) -> None:
        """Add leases not yet written; dnsmasq reads its hosts file again if any were new."""
        self._write(leases, reload=True)

    def _write(self, leases: Iterable[Lease], *, reload: bool) -> None:
        new = [(mac, address) for mac, address in leases if mac not in self._written]
        if not new:
            return
        with open(self.directory / "hosts", "a") as hosts:
            hosts.write(hosts_lines(new))
        (self.directory / "hosts").chmod(0o644)
        self._written.update(mac for mac, _ in new)
        if reload and self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGHUP)

    def _stop_and_read(self) -> str:
        proc, self._proc = self._proc, None
        if proc is None:
            return ""
        with contextlib.suppress(BackendError):
            kill_and_wait([proc.pid])
        with contextlib.suppress(Exception):
            proc.wait(timeout=1)
        words = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        return words[-500:] or f"exit status {proc.returncode}"

    def stop(self) -> None:
        """Kill dnsmasq and remove its directory; safe to call twice."""
        self._stop_and_read()
        shutil.rmtree(self.directory, ignore_errors=True)


def _owned_by_root(path: Path) -> bool:
    """A pidfile anyone but root could have written names no process we kill."""
    try:
        return os.stat(path).st_uid == 0
    except OSError:
        return False


def _is_our_dnsmasq(pid: int, pidfile: Path) -> bool:
    """The process is a dnsmasq started to write this very pidfile: libvirt's own dnsmasq,
    or any other process that took the pid since, is never ours."""
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return comm == "dnsmasq" and f"--pid-file={pidfile}".encode() in argv


def reap_dhcp(rule: ReapRule, *, dry_run: bool = False) -> CleanupReport:
    """Kill the dnsmasq of each run ``rule`` takes (by its pidfile) and remove its directory."""
    report = CleanupReport()
    if not DHCP_DIR.is_dir():
        return report
    for directory in sorted(DHCP_DIR.iterdir()):
        label = f"dhcp server {directory}"
        if not rule.takes_name(directory.name, label, report):
            continue
        if not dry_run:
            pidfile = directory / "dnsmasq.pid"
            try:
                pid = int(pidfile.read_text().strip())
            except (OSError, ValueError):
                pid = 0
            if pid > 0 and _owned_by_root(pidfile) and _is_our_dnsmasq(pid, pidfile):
                try:
                    kill_and_wait([pid])
                except BackendError as exc:
                    report.errors.append(f"{label}: {exc}")
                    continue
            shutil.rmtree(directory, ignore_errors=True)
        report.removed.append(label)
    return report
