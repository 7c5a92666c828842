"""The shipped Click configurations on the real Click modular router, version 2.1.

Real here: Click's own ``click-check``, user-level ``click`` forwarding frames, its control
socket, and around it the namespaces, veths and bridge of the testbed with the kernel stacks
of hosts A, B and B2 and their UDP echo responders. The veths offload transmit checksums, so
A's datagrams reach the router with partial checksums, as they reach a ClickOS proxy from a
vif. Not here: MiniOS, netfront and xenstore (``test_clickos_xen`` covers those); ClickOS's
element set enters as its element map.

Where things come from:

- Click: ``NFV_CLICK_BIN``, else ``click`` on PATH; ``click-check`` is taken from beside it.
  ``click --version`` must say ``click (Click) 2.1`` (Debian's ``click`` is another program).
- ClickOS's element map: ``NFV_CLICKOS_ELEMENTMAP``, an ``elementmap.xml`` made from ClickOS's
  sources with the element groups its MiniOS build compiles in.

Without either, every test here skips and says which.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import shutil
import socket
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import pytest
from pyroute2.ethtool import Ethtool

from pytest_nfv.backends.clickos.click.language import clickos_element_classes
from pytest_nfv.backends.clickos.click.render import (
    PROXY_SWITCH,
    instance_config,
    proxy_config,
    userlevel,
)
from pytest_nfv.backends.shared.switch import ECHO_PORT, PROXY, SUBNET, Port, Switch
from pytest_nfv.harness.probes.response import RoundTrip
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.namespaces import entered, spawn_in
from pytest_nfv.host.processes import stop_processes
from pytest_nfv.model import MAX_UDP_PAYLOAD, Endpoint, InstanceSpec
from pytest_nfv.model import Testbed as Bed

CLICK_VERSION = re.compile(r"click \(Click\) 2\.1\b")
SIZES = (64, 1472, MAX_UDP_PAYLOAD)
TRIES = 5
INTERFACE = "eth0"


@dataclass(frozen=True)
class ClickTools:
    click: Path
    check: Path
    version: str


def _trusted(path: Path) -> str:
    """Why root must not run ``path`` (owned by another user, or writable by others), or ''."""
    for part in (path, *path.parents):
        st = part.stat()
        if st.st_uid not in (0, os.geteuid()) or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            if part.is_dir() and st.st_mode & stat.S_ISVTX:
                continue  # a sticky directory such as /tmp: its entries are still their owner's
            return f"{part} could be changed by another user"
    return ""


def _find_click() -> ClickTools | str:
    """Click 2.1's ``click`` and ``click-check``, or why there are none."""
    named = os.environ.get("NFV_CLICK_BIN") or shutil.which("click")
    if not named:
        return (
            "the Click modular router is not installed: no `click` on PATH and NFV_CLICK_BIN "
            "is unset (these tests need user-level Click 2.1)"
        )
    click = Path(named).resolve()
    if not click.is_file():
        return f"NFV_CLICK_BIN={named} is not a file"
    if why := _trusted(click):
        return f"will not run {click} as root: {why}"
    done = subprocess.run(
        [str(click), "--version"], capture_output=True, text=True, check=False, timeout=10
    )
    first = (done.stdout.strip().splitlines() or [""])[0]
    if not CLICK_VERSION.match(first):
        return (
            f"{click} --version says {first!r}, not 'click (Click) 2.1': not the Click modular "
            "router 2.1 (Debian's `click` is another program)"
        )
    check = click.with_name("click-check")
    if not check.is_file():
        return f"no click-check beside {click}"
    return ClickTools(click, check, first)


@pytest.fixture(scope="module")
def click_tools() -> ClickTools:
    found = _find_click()
    if isinstance(found, str):
        pytest.skip(found)
    return found


@pytest.fixture(scope="module")
def clickos_map_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CLICKPATH directory holding ClickOS's element map and nothing else."""
    named = os.environ.get("NFV_CLICKOS_ELEMENTMAP")
    if not named:
        pytest.skip("NFV_CLICKOS_ELEMENTMAP is unset: no ClickOS element map to check against")
    source = Path(named)
    if not source.is_file():
        pytest.skip(f"NFV_CLICKOS_ELEMENTMAP={named} is not a file")
    directory = tmp_path_factory.mktemp("clickos-map")
    shutil.copyfile(source, directory / "elementmap.xml")
    return directory


def _endpoint(k: int) -> Endpoint:
    return Endpoint(f"x{k}", SUBNET.network_address + k, f"02:4e:46:00:00:{k:02x}", "")


CONFIGURATIONS: dict[str, Callable[[], str]] = {
    "proxy": lambda: proxy_config(_endpoint(2), _endpoint(3), _endpoint(4), _endpoint(5)),
    "instance": lambda: instance_config(SUBNET.network_address + 0x107, "02:4e:46:00:01:07"),
}


def _click_check(
    tools: ClickTools, text: str, clickpath: Path | None
) -> subprocess.CompletedProcess[str]:
    """``click-check`` on ``text``; with ``clickpath``, against the element map there alone."""
    env = {k: v for k, v in os.environ.items() if k != "CLICKPATH"}
    argv = [str(tools.check), "-e", text]
    if clickpath is not None:
        argv += ["-C", str(clickpath)]  # no trailing ':': the installed map is not read
    return subprocess.run(argv, capture_output=True, text=True, check=False, env=env, timeout=30)


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
def test_clickos_flavour_passes_click_check_against_clickos_elements(
    name: str, click_tools: ClickTools, clickos_map_dir: Path
) -> None:
    done = _click_check(click_tools, CONFIGURATIONS[name](), clickos_map_dir)
    assert done.returncode == 0, done.stderr
    assert "unknown element class" not in done.stderr


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
def test_user_level_flavour_passes_click_check_against_user_level_elements(
    name: str, click_tools: ClickTools
) -> None:
    done = _click_check(click_tools, userlevel(CONFIGURATIONS[name](), INTERFACE), None)
    assert done.returncode == 0, done.stderr


def test_click_check_catches_a_push_into_user_level_todevice(click_tools: ClickTools) -> None:
    """The check has teeth: ClickOS's push ToDevice is a pull-only element at user level."""
    done = _click_check(click_tools, CONFIGURATIONS["proxy"](), None)
    assert done.returncode != 0
    assert "push output 2 connected to 'out' pull input 0" in done.stderr, done.stderr


def test_click_check_catches_an_element_clickos_lacks(
    click_tools: ClickTools, clickos_map_dir: Path
) -> None:
    """ClickOS's map is what is checked against: an element only user level has is refused."""
    text = userlevel(CONFIGURATIONS["instance"](), INTERFACE)
    text = text.replace("eth[2] -> Discard;", "eth[2] -> ToDump(/dev/null);")
    assert "ToDump" in text
    assert _click_check(click_tools, text, None).returncode == 0
    done = _click_check(click_tools, text, clickos_map_dir)
    assert done.returncode != 0
    assert "ToDump" in done.stderr, done.stderr


def test_the_allow_list_names_what_clickos_element_map_names(clickos_map_dir: Path) -> None:
    """The model's allow-list (``clickos_elements.txt``) and the map ClickOS's own tools make
    from the same sources name the same classes."""
    entries = ElementTree.parse(clickos_map_dir / "elementmap.xml").getroot().iterfind("{*}entry")
    assert {e.attrib["name"] for e in entries if "name" in e.attrib} == clickos_element_classes()


# ---- the proxy on user-level Click ------------------------------------------------------


class ControlSocket:
    """Click's ControlSocket protocol over a Unix socket: greeting, then READ and WRITE."""

    def __init__(self, path: Path, timeout_s: float = 10.0) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout_s)
        try:
            self._sock.connect(str(path))
        except OSError:
            self._sock.close()
            raise
        self._file = self._sock.makefile("rb")
        greeting = self._file.readline().decode()
        assert greeting.startswith("Click::ControlSocket/"), greeting

    def close(self) -> None:
        self._file.close()
        self._sock.close()

    def _command(self, line: str) -> tuple[int, str]:
        self._sock.sendall(line.encode() + b"\r\n")
        reply = self._file.readline().decode().strip()
        code, _, message = reply.partition(" ")
        return int(code), message

    def write(self, element: str, handler: str, value: str) -> None:
        code, message = self._command(f"WRITE {element}.{handler} {value}")
        assert code == 200, message

    def read(self, element: str, handler: str) -> str:
        code, message = self._command(f"READ {element}.{handler}")
        assert code == 200, message
        size = self._file.readline().decode().split()
        assert size[0] == "DATA", size
        return self._file.read(int(size[1])).decode().strip()


@dataclass
class ClickProxy:
    testbed: Bed
    control: ControlSocket
    port: Port
    log: Path

    def stop(self) -> None:
        """Kill and reap click; the port forgets it, so teardown signals no recycled pid."""
        processes, self.port.processes[:] = list(self.port.processes), []
        stop_processes(processes)


def _offloads_tx_checksums(netns_path: str) -> bool:
    with entered(netns_path):
        tool = Ethtool()
    try:
        return bool(tool.get_features(INTERFACE).features["tx-checksum-ip-generic"].enable)
    finally:
        tool.close()


def _wait_for_socket(path: Path, process: subprocess.Popen[bytes], log: Path) -> ControlSocket:
    deadline = time.monotonic() + 20
    while True:
        if process.poll() is not None:
            pytest.fail(f"click exited with {process.returncode}: {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError):
            return ControlSocket(path)
        if time.monotonic() > deadline:
            pytest.fail(f"click's control socket {path} never opened: {log.read_text()[-2000:]}")
        time.sleep(0.05)


@pytest.fixture
def click_proxy(click_tools: ClickTools, tmp_path: Path) -> Iterator[ClickProxy]:
    """Hosts A, B, B2 on the switch, routed through a proxy namespace where user-level Click
    runs the rendered proxy configuration; all of it is gone afterwards, also on failure."""
    identity = RunIdentity.new()
    identity.register("netns")  # `pytest-nfv cleanup` reaps the namespaces after a kill -9
    switch = Switch(identity, "user-level Click")
    control: ControlSocket | None = None
    try:
        switch.open()
        testbed = switch.deploy_hosts(hosts_know_proxy=True)
        proxy = testbed.proxy
        port = switch.add_namespace(InstanceSpec(proxy.name, PROXY, proxy.mac, "proxy"))
        for host in (testbed.host_a, testbed.host_b, testbed.host_b2):
            assert _offloads_tx_checksums(host.netns_path), f"{host.name} computes checksums"
        conf = tmp_path / "proxy.click"
        conf.write_text(
            userlevel(
                proxy_config(proxy, testbed.host_a, testbed.host_b, testbed.host_b2), INTERFACE
            )
        )
        sock, log = tmp_path / "control", tmp_path / "click.log"
        with log.open("wb") as out:
            process = spawn_in(
                proxy.netns_path,
                [str(click_tools.click), "-u", str(sock), str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        port.processes.append(process)  # stopped with the namespace, whatever happens
        control = _wait_for_socket(sock, process, log)
        yield ClickProxy(testbed, control, port, log)
    finally:
        if control is not None:
            control.close()
        try:
            switch.close()
        finally:
            identity.unregister()


Address = ipaddress.IPv4Address


def _replies(
    testbed: Bed,
    target: Address,
    expect_from: Address,
    size: int,
    tries: int = TRIES,
    timeout_s: float = 2.0,
) -> int:
    """How many of ``tries`` requests of ``size`` bytes from A got their reply."""
    with RoundTrip(testbed.host_a.netns_path) as requester:
        return sum(
            requester.once(target, ECHO_PORT, size, expect_from, timeout_s) is not None
            for _ in range(tries)
        )


def _none(testbed: Bed, target: Address, expect_from: Address) -> bool:
    """No reply to two small requests (half a second each)."""
    return _replies(testbed, target, expect_from, 64, tries=2, timeout_s=0.5) == 0


def _first_reply(testbed: Bed, target: Address, expect_from: Address) -> bool:
    """Whether a small request gets its reply within 20 s (the router may be starting)."""
    deadline = time.monotonic() + 20
    with RoundTrip(testbed.host_a.netns_path) as requester:
        while time.monotonic() < deadline:
            if requester.once(target, ECHO_PORT, 64, expect_from, timeout_s=0.2) is not None:
                return True
    return False


def test_proxy_configuration_forwards_both_paths_on_user_level_click(
    click_proxy: ClickProxy,
) -> None:
    """Proxied (A -> proxy -> B, Algorithm 1) and plain (A -> B through the proxy's forwarder)
    round trips of every size arrive, partial checksums and all; without Click none do."""
    bed = click_proxy.testbed
    proxy, b = bed.proxy.address, bed.host_b.address
    assert _first_reply(
        bed,
        proxy,
        b,
    ), click_proxy.log.read_text()[-2000:]
    got = {
        (path, size): _replies(bed, target, b, size)
        for path, target in (("proxied", proxy), ("plain", b))
        for size in SIZES
    }
    assert got == {key: TRIES for key in got}, got
    click_proxy.stop()
    assert _none(bed, proxy, b)
    assert _none(bed, b, b)


def test_control_socket_write_switches_the_proxied_path(click_proxy: ClickProxy) -> None:
    """``WRITE target.switch 1`` sends A's proxied datagrams to B2; ``0`` back to B."""
    bed, control = click_proxy.testbed, click_proxy.control
    proxy, b, b2 = bed.proxy.address, bed.host_b.address, bed.host_b2.address
    element, handler = PROXY_SWITCH
    assert _first_reply(
        bed,
        proxy,
        b,
    ), click_proxy.log.read_text()[-2000:]
    assert control.read(element, handler) == "0"
    control.write(element, handler, "1")
    assert control.read(element, handler) == "1"
    assert _replies(bed, proxy, b2, 1472) == TRIES
    assert _none(bed, proxy, b)
    assert _replies(bed, b, b, 64) == TRIES  # the plain path is not the switch's
    control.write(element, handler, "0")
    assert _replies(bed, proxy, b, 1472) == TRIES
    assert _none(bed, proxy, b2)
