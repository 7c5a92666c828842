"""The netns backend against the real kernel: boots, the proxy path, memory, no leaks."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from holding import assert_the_record_was_saved, ended_anyway, recording_then_holding
from kernel_echo import assert_the_kernels_of_b_and_b2_answer
from pyroute2 import IPRoute
from script_runs import running

from pytest_nfv.backends.netns.backend import NetnsBackend
from pytest_nfv.backends.shared.switch import BRIDGE, BRIDGE_MAC, GATEWAY, NUD_PERMANENT
from pytest_nfv.errors import BackendError, ProbeError
from pytest_nfv.harness.lab import Lab
from pytest_nfv.harness.probes.response import RoundTrip
from pytest_nfv.harness.proxy_path import ProxyPath
from pytest_nfv.host.cgroups import memory_hierarchy
from pytest_nfv.host.namespaces import (
    entered,
    kill_and_wait,
    list_namespaces,
    pids_by_namespace,
    write_sysctl,
)


def _ours(prefix: str) -> list[str]:
    return list_namespaces(prefix)


def test_boot_round_times_every_instance(lab: Lab, backend: NetnsBackend) -> None:
    result = lab.boot_round(8)
    assert len(result.per_instance_s) == 8
    assert all(0 < t < 5 for t in result.per_instance_s)
    # The makespan spans all starts, so it is at least the slowest single instance.
    assert result.makespan_s >= max(result.per_instance_s) - 1e-6
    assert _ours(backend.identity.prefix + "i") == []


def test_a_boot_reports_instances_started_and_answered_as_they_come(lab: Lab) -> None:
    steps: list[str] = []
    lab.progress = steps.append
    try:
        lab.boot_round(6)
    finally:
        lab.progress = None
    started = [s for s in steps if s.endswith("instances started")]
    answered = [s for s in steps if s.endswith("instances answered")]
    assert started == [f"{k} of 6 instances started" for k in range(1, 7)]
    assert answered == [f"{k} of 6 instances answered" for k in range(1, 7)]


def test_instances_answer_and_stop_cleanly(lab: Lab, backend: NetnsBackend) -> None:
    with lab.running(4) as instances:
        names = [i.name for i in instances]
        assert sorted(names) == sorted(n for n in _ours(backend.identity.prefix) if "-i" in n)
        pids = [p for i in instances for p in i.pids]
        assert all(Path(f"/proc/{p}").exists() for p in pids)
        again = lab.prober.wait_ready([i.address for i in instances], timeout_s=2)
        assert not again.unanswered
    assert not any(Path(f"/proc/{p}").exists() for p in pids)
    assert [n for n in _ours(backend.identity.prefix) if "-i" in n] == []


def test_instances_answer_the_prober_without_asking_for_its_mac(
    lab: Lab, backend: NetnsBackend
) -> None:
    """Each instance knows the switch's MAC from its start, so its first reply needs no ARP
    broadcast (which the bridge would deliver to every other instance's port)."""
    with lab.running(3) as instances:
        for instance in instances:
            with entered(instance.netns_path), IPRoute() as ipr:
                known = {
                    (n.get_attr("NDA_DST"), n.get_attr("NDA_LLADDR"), n["state"])
                    for n in ipr.get_neighbours(family=socket.AF_INET)
                }
            assert known == {(str(GATEWAY), BRIDGE_MAC, NUD_PERMANENT)}
        assert backend.probe_netns is not None
        with entered(backend.probe_netns), IPRoute() as ipr:
            (bridge,) = ipr.link_lookup(ifname=BRIDGE)
            assert ipr.get_links(bridge)[0].get_attr("IFLA_ADDRESS") == BRIDGE_MAC


def test_memory_round_measures_processes(lab: Lab) -> None:
    result = lab.memory_round(4)
    assert result.pss_mib > 0  # four sleep processes have some private pages


def test_instances_are_charged_to_the_run_cgroup(lab: Lab, backend: NetnsBackend) -> None:
    """Each namespace with its veth and VNF process costs the kernel ~0.2 MiB (measured here:
    0.16-0.21 MiB), charged to the run's cgroup, not lost in the host's MemAvailable noise."""
    if not lab.counts_kernel_memory:
        pytest.skip(f"no memory cgroup here: {backend.memory_unavailable}")
    points = lab.memory_growth([8, 32])
    per_instance = [p.kernel_mib / p.n for p in points if p.kernel_mib is not None]
    assert len(per_instance) == 2
    assert all(0.05 < m < 1.0 for m in per_instance), per_instance
    for point in points:  # no engine process: the harness itself makes the namespaces
        assert point.spend is not None
        assert point.spend.helpers_mib is None
        assert point.spend.kernel_outside_mib is not None


def test_each_population_is_charged_to_a_fresh_cgroup(lab: Lab, backend: NetnsBackend) -> None:
    """What an earlier population's teardown still holds is not counted against the next one,
    and the count covers the whole running population, never a part of it."""
    if not lab.counts_kernel_memory:
        pytest.skip(f"no memory cgroup here: {backend.memory_unavailable}")
    hierarchy = memory_hierarchy()
    assert hierarchy is not None
    run = hierarchy.root / backend.identity.name("mem")
    with lab.running(2) as first:
        one = backend.kernel_memory_mib(first)
        with pytest.raises(BackendError, match="whole running population"):
            backend.kernel_memory_mib(first[:1])
        more = lab.start_ready(1)  # joins the running population
        try:
            assert backend.kernel_memory_mib([*first, *more]) > one
        finally:
            backend.stop(more)
        populations = sorted(p.name for p in run.iterdir() if p.is_dir())
    with lab.running(1) as second:
        assert 0.05 < backend.kernel_memory_mib(second) < 1.0
        assert sorted(p.name for p in run.iterdir() if p.is_dir()) != populations
        assert len([p for p in run.iterdir() if p.is_dir()]) == 1  # the old one is gone


def test_the_run_cgroup_goes_with_the_backend() -> None:
    from pytest_nfv.host.identity import RunIdentity

    hierarchy = memory_hierarchy()
    if hierarchy is None:
        pytest.skip("no memory cgroup controller on this host")
    backend = NetnsBackend(RunIdentity.new())
    with backend:
        path = hierarchy.root / backend.identity.name("mem")
        assert path.is_dir()
        backend.stop(backend.start(backend.plan(2), lambda spec: None))
    assert not path.exists()


def test_held_frames_slow_the_proxied_path_only(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """``NFV_PROXY_HOLD_US`` makes the proxy VNF hold each frame (twice per round trip); the
    kernel-forwarded path, which the canary times, does not pass through the VNF."""
    path = ProxyPath(lab)

    def medians() -> tuple[float, float]:
        path.warm_up(64)
        proxied = [path.round_trip(64, "proxy").seconds for _ in range(30)]
        direct = [path.round_trip(64, "direct").seconds for _ in range(30)]
        return statistics.median(proxied), statistics.median(direct)

    try:
        proxied, direct = medians()
        monkeypatch.setenv("NFV_PROXY_HOLD_US", "500")
        path.deploy()
        held, direct_after = medians()
        assert held - proxied > 0.8e-3
        assert direct_after < direct + 0.5e-3
        assert len(path.canary()) == 40
    finally:
        path.close()


@pytest.mark.parametrize("echo", ["icmp", "udp"])
def test_a_fixed_slowdown_slows_every_proxied_round_trip_only(
    lab: Lab, monkeypatch: pytest.MonkeyPatch, echo: str
) -> None:
    """``NFV_PROXY_SLOWDOWN=+5000us`` holds each reply once: every proxied round trip takes at
    least that, small or fragmented, while the kernel-forwarded path does not pass the VNF."""
    monkeypatch.setenv("NFV_PROXY_SLOWDOWN", "+5000us")
    path = ProxyPath(lab, echo=echo)
    try:
        for size in (8, 64, 3000):
            path.warm_up(size, requests=2)
            proxied = [path.round_trip(size, "proxy").seconds for _ in range(10)]
            direct = [path.round_trip(size, "direct").seconds for _ in range(10)]
            assert min(proxied) >= 5e-3, (size, proxied)
            assert max(direct) < 5e-3, (size, direct)
    finally:
        path.close()


def test_a_relative_slowdown_multiplies_the_proxied_round_trip(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``NFV_PROXY_SLOWDOWN=x4``: the proxied round trip becomes about four times as long as
    the same testbed's without it (the estimate at the proxy takes the leg back as long as the
    leg out, so the bound asked of the median is looser than four)."""
    path = ProxyPath(lab)

    def median_proxied() -> float:
        path.warm_up(64)
        return statistics.median(path.round_trip(64, "proxy").seconds for _ in range(60))

    try:
        plain = median_proxied()
        monkeypatch.setenv("NFV_PROXY_SLOWDOWN", "x4")
        path.deploy()
        slowed = median_proxied()
        monkeypatch.delenv("NFV_PROXY_SLOWDOWN")
        path.deploy()
        plain_again = median_proxied()
        assert slowed >= 2.5 * max(plain, plain_again), (plain, slowed, plain_again)
    finally:
        path.close()


def _marked_processes(mark: str) -> list[int]:
    """Processes whose environment holds ``NFVTEST_MARK=mark``: a session's and its children's."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if f"NFVTEST_MARK={mark}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
    return found


def test_variant_b_is_timed_beside_a_and_leaves_nothing(tmp_path: Path) -> None:
    """``--nfv-proxy-b slowdown=+5000us``: B's round trips, timed round by round beside A's,
    all take 5 ms more; A's do not; the record says B ran; no process or namespace is left."""
    suite = Path(__file__).resolve().parents[2] / "suites" / "test_monitoring.py"
    out = tmp_path / "run.json"
    mark = f"{os.getpid()}-{time.monotonic_ns()}"
    session = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            str(suite),
            "-k",
            "not throughput",  # B is a response-time variant
            "-p",
            "no:cacheprovider",
            "-q",
            "--nfv-packet-sizes",
            "64,3000",
            "--nfv-proxy-b",
            "slowdown=+5000us",
            "--nfv-budgets",
            str(Path(__file__).with_name("lenient-budgets.toml")),
            "--rootdir",
            str(tmp_path),
            f"--benchmark-json={out}",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "NFVTEST_MARK": mark},
    )
    output, _ = session.communicate(timeout=300)
    assert session.returncode == 0, output.decode()[-3000:]
    run = json.loads(out.read_text())
    assert run["machine_info"]["nfv"]["proxy_b"] == "slowdown=+5000us"
    assert "injected" not in run["machine_info"]["nfv"]  # A ran as it always does
    assert len(run["benchmarks"]) == 2
    for record in run["benchmarks"]:
        info = record["extra_info"]
        a_samples = info["samples"]
        variant = info["secondary"]["variant_response_time"]
        overhead = info["secondary"]["variant_proxy_overhead"]
        assert variant["proxy_b"] == overhead["proxy_b"] == "slowdown=+5000us"
        assert len(variant["samples"]) == len(a_samples) >= 3
        assert min(variant["samples"]) >= 5e-3, info["packet_size"]
        assert max(a_samples) < 5e-3, info["packet_size"]
        assert min(overhead["samples"]) > 4e-3
    assert [n for n in _ours("nfv-") if f"-p{session.pid}-" in n] == []
    assert _marked_processes(mark) == []


def test_proxy_path_goes_through_b_and_b2(lab: Lab) -> None:
    path = ProxyPath(lab)
    try:
        proxied = path.round_trip(64, "proxy")
        direct = path.round_trip(64, "direct")
        assert 0 < proxied.seconds < 1
        assert 0 < direct.seconds < 1
        big = path.round_trip(65507, "proxy")  # fragmented on the wire, reassembled at B
        assert big.seconds > 0
        assert path.reconfigure() > 0  # now B2 answers through the proxy
        assert path.round_trip(1024, "proxy").seconds > 0
        assert path.reconfigure() > 0  # and B again
        assert path.deploy() > 0
        assert path.proxy_memory_mib() > 1  # a Python process
    finally:
        path.close()


_VOLATILE = re.compile(r"\b\w+_timer\s+[\d.]+")
_COUNTERS = re.compile(r"\[\d+:\d+\]")


def _root_state() -> dict[str, str]:
    """Links, addresses, routes, neighbours, iptables rules and net sysctls of this namespace."""
    state = {}
    for name, argv in {
        "links": ["ip", "-d", "link", "show"],
        "addrs": ["ip", "addr", "show"],
        "routes": ["ip", "route", "show", "table", "all"],
        "rules": ["ip", "rule", "show"],
    }.items():
        text = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        state[name] = _VOLATILE.sub("", text)  # a bridge's timers tick by themselves
    for tool in ("iptables-save", "ip6tables-save"):
        done = subprocess.run([tool], capture_output=True, text=True, check=False)
        if done.returncode == 0:
            state[tool] = "\n".join(
                _COUNTERS.sub("", line)  # packet counters move with any traffic
                for line in done.stdout.splitlines()
                if not line.startswith("#")
            )
    sysctls = []
    for path in sorted(Path("/proc/sys/net/ipv4").rglob("*")):
        if path.is_file() and "neigh" not in path.parts and os.access(path, os.R_OK):
            try:
                sysctls.append(f"{path}={path.read_text().strip()}")
            except OSError:
                continue
    state["sysctls"] = "\n".join(sysctls)
    return state


def test_root_namespace_is_untouched_by_a_run(short_suites: Callable[..., object]) -> None:
    """A whole session of the shipped suites changes no link, route, rule or sysctl of ours."""
    before = _root_state()
    short_suites()  # on netns, the default
    after = _root_state()
    for key in before:
        assert before[key] == after[key], f"root namespace {key} changed"


def _wait_for_namespaces(owner_pid: int, timeout_s: float = 60) -> list[str]:
    """The session's namespaces once all are there: six instances, A, B, B2, proxy, switch."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        names = [n for n in _ours("nfv-") if f"-p{owner_pid}-" in n]
        if len(names) >= 6 + 4 + 1:
            time.sleep(0.5)  # let the last of them finish its start
            return [n for n in _ours("nfv-") if f"-p{owner_pid}-" in n]
        time.sleep(0.1)
    raise AssertionError(f"pytest {owner_pid} never started its instances")


def _wait_for_cgroup(owner_pid: int, timeout_s: float = 30) -> None:
    """The session's memory cgroup, which its instances join as they start, once it exists."""
    hierarchy = memory_hierarchy()
    if hierarchy is None:
        return
    deadline = time.monotonic() + timeout_s
    while not list(hierarchy.root.glob(f"nfv-*-p{owner_pid}-*")):
        assert time.monotonic() < deadline, "the run never made its memory cgroup"
        time.sleep(0.1)


def test_kill_9_of_a_session_then_cleanup_leaves_nothing(
    holding_session: Callable[..., subprocess.Popen[bytes]],
) -> None:
    bystander = "nfvtest-not-ours"
    subprocess.run(["ip", "netns", "add", bystander], check=True)
    victim = holding_session()
    try:
        names = _wait_for_namespaces(victim.pid)
        _wait_for_cgroup(victim.pid)
        members = pids_by_namespace(names)
        pids = [p for ps in members.values() for p in ps]
        assert pids, "instances run processes"
        # The live owner's resources are not touched by a plain cleanup.
        live = subprocess.run(["pytest-nfv", "cleanup"], capture_output=True, text=True, check=True)
        assert "still going" in live.stdout
        assert all(n in _ours("nfv-") for n in names)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        assert all(n in _ours("nfv-") for n in names)  # a killed run cannot clean up itself
        # ... but its processes died with it (their parent-death signal), before any reap
        deadline = time.monotonic() + 5
        while any(running(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [p for p in pids if running(p)]
        dry = subprocess.run(
            ["pytest-nfv", "cleanup", "--dry-run"], capture_output=True, text=True, check=True
        )
        assert "would remove netns" in dry.stdout
        assert all(n in _ours("nfv-") for n in names)
        powerless = subprocess.run(
            [
                "setpriv",
                "--bounding-set=-sys_admin,-net_admin",
                "--inh-caps=-sys_admin,-net_admin",
                "pytest-nfv",
                "cleanup",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert powerless.returncode == 2
        assert "needs CAP_SYS_ADMIN" in powerless.stderr
        assert all(n in _ours("nfv-") for n in names)
        hierarchy = memory_hierarchy()
        cgroups = [] if hierarchy is None else list(hierarchy.root.glob(f"nfv-*-p{victim.pid}-*"))
        assert hierarchy is None or cgroups, "a killed run cannot remove its memory cgroup"
        done = subprocess.run(["pytest-nfv", "cleanup"], capture_output=True, text=True, check=True)
        assert "removed netns" in done.stdout
        assert [n for n in _ours("nfv-") if f"-p{victim.pid}-" in n] == []
        assert not [c for c in cgroups if c.exists()]  # reaped with the namespaces
        deadline = time.monotonic() + 5
        while any(Path(f"/proc/{p}").exists() for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [p for p in pids if Path(f"/proc/{p}").exists()]
        assert bystander in list_namespaces("nfvtest-")
        root_links = subprocess.run(
            ["ip", "-br", "link"], capture_output=True, text=True, check=True
        ).stdout
        assert "nfv" not in root_links  # no veth of ours was ever in the root namespace
        registry = Path(os.environ.get("PYTEST_NFV_RUN_DIR", "/run/pytest-nfv"))
        assert not [
            f for f in registry.glob("*.json") if f'"owner_pid": {victim.pid},' in f.read_text()
        ]
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
        subprocess.run(["ip", "netns", "del", bystander], check=False)
        subprocess.run(["pytest-nfv", "cleanup"], capture_output=True, check=False)


def victim_stacks(victim: subprocess.Popen[bytes], tmp_path: Path) -> str:
    """Where a ``holding_session`` that would not end was: its threads' stacks (SIGABRT)."""
    victim.send_signal(signal.SIGABRT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        victim.wait(timeout=10)
    return (tmp_path / "victim.stderr").read_text(errors="replace")[-6000:]


def test_ctrl_c_tears_everything_down(
    holding_session: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """SIGINT mid-test: pytest's own teardown removes every namespace and process of the run."""
    victim = holding_session()
    try:
        names = _wait_for_namespaces(victim.pid)
        pids = [p for ps in pids_by_namespace(names).values() for p in ps]
        victim.send_signal(signal.SIGINT)
        try:
            assert victim.wait(timeout=30) != 0
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running 30 s after SIGINT:\n{victim_stacks(victim, tmp_path)}")
        assert [n for n in _ours("nfv-") if f"-p{victim.pid}-" in n] == []
        assert not [p for p in pids if Path(f"/proc/{p}").exists()]
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
        subprocess.run(["pytest-nfv", "cleanup"], capture_output=True, check=False)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
def test_sigterm_tears_everything_down_and_saves_the_record(
    holding_session: Callable[..., subprocess.Popen[bytes]], tmp_path: Path, signum: int
) -> None:
    """``timeout``, systemd or a cancelled CI job (SIGTERM), a closed terminal (SIGHUP): the
    session ends as on Ctrl-C, with every namespace and process of the run gone and the
    figures measured before it in the JSON."""
    record = tmp_path / "record.json"
    victim = holding_session(f"--benchmark-json={record}", tests=recording_then_holding(6))
    with ended_anyway(victim, ["pytest-nfv", "cleanup"]):
        names = _wait_for_namespaces(victim.pid)
        pids = [p for ps in pids_by_namespace(names).values() for p in ps]
        hierarchy = memory_hierarchy()
        cgroups = [] if hierarchy is None else list(hierarchy.root.glob(f"nfv-*-p{victim.pid}-*"))
        assert hierarchy is None or cgroups, "the run keeps its instances in a memory cgroup"
        victim.send_signal(signum)
        try:
            assert victim.wait(timeout=30) != 0
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running 30 s after {signum}:\n{victim_stacks(victim, tmp_path)}")
        assert [n for n in _ours("nfv-") if f"-p{victim.pid}-" in n] == []
        assert not [p for p in pids if running(p)]
        assert not [c for c in cgroups if c.exists()]
        assert_the_record_was_saved(record)


def test_cleanup_with_nothing_to_do() -> None:
    done = subprocess.run(["pytest-nfv", "cleanup"], capture_output=True, text=True, check=True)
    assert done.returncode == 0


def test_registry_records_owner(backend: NetnsBackend) -> None:
    registry = Path(os.environ.get("PYTEST_NFV_RUN_DIR", "/run/pytest-nfv"))
    payload = json.loads((registry / f"{backend.identity.run_id}.json").read_text())
    assert payload["owner_pid"] == os.getpid()


@pytest.mark.parametrize("size", [64, 1472, 1473, 9000, 65507])
def test_sizes_around_the_mtu(lab: Lab, size: int) -> None:
    path = ProxyPath(lab)
    try:
        assert path.round_trip(size, "proxy").seconds > 0
    finally:
        path.close()


def test_a_switch_of_path_is_never_timed(lab: Lab) -> None:
    """The first request after the VNF is paused or resumed goes untimed; later ones are timed."""
    path = ProxyPath(lab)
    sent: list[str] = []
    measure = path.requester.measure

    def counted(target: str, *args: object, **kwargs: object) -> object:
        sent.append(target)
        return measure(target, *args, **kwargs)  # type: ignore[arg-type]

    path.requester.measure = counted  # type: ignore[method-assign]
    try:
        tb = path.testbed
        path.round_trip(64, "proxy")  # the path starts proxied: no switch
        assert sent == [tb.proxy.address]
        path.round_trip(64, "direct")
        assert sent[1:] == [tb.host_b.address] * 2
        path.round_trip(64, "direct")
        path.round_trip(64, "proxy")
        assert sent[3:] == [tb.host_b.address] + [tb.proxy.address] * 2
    finally:
        path.close()


def test_icmp_echo_is_timed_by_the_same_instrument_both_paths(lab: Lab) -> None:
    """B's kernel answers the ICMP requester, directly and through the VNF, at any size."""
    path = ProxyPath(lab)
    tb = path.testbed
    echo = RoundTrip(tb.host_a.netns_path, "icmp")
    try:
        for size in (64, 9000, 65507):
            path.set_mode("direct")
            sample = echo.measure(tb.host_b.address, 0, size, tb.host_b.address)
            assert 0 < sample.seconds < 1
            assert sample.tx_clock == "kernel"
            path.set_mode("proxy")
            replier = tb.replier(tb.host_b, through_proxy=True)
            assert echo.measure(tb.proxy.address, 0, size, replier.address).seconds > 0
        # Only the echo reply to this request counts: the reply's sender must be the one named.
        assert echo.once(tb.proxy.address, 0, 64, tb.host_b2.address, timeout_s=0.2) is None
    finally:
        echo.close()
        path.close()


def _sysctl_in(netns_path: str, key: str) -> str:
    with entered(netns_path):
        return (Path("/proc/sys") / key.replace(".", "/")).read_text().strip()


def test_the_testbed_times_echo_that_the_kernels_of_b_and_b2_answer(lab: Lab) -> None:
    """On netns every request of the testbed is ICMP echo: with the UDP responders of B and B2
    gone, both paths, the canary, a reconfiguration each way and a deployment still get the
    reply of the B they lead to."""
    path = ProxyPath(lab)
    try:
        tb = path.testbed
        responders = pids_by_namespace([tb.host_b.name, tb.host_b2.name])
        assert all(responders.values()), responders  # both ran a UDP responder
        kill_and_wait([pid for pids in responders.values() for pid in pids])
        path.warm_up(1472, requests=2)
        assert len(path.canary(count=5)) == 5
        assert_the_kernels_of_b_and_b2_answer(path)
    finally:
        path.close()


def test_a_reply_from_the_proxys_own_kernel_never_counts(lab: Lab) -> None:
    """The proxy's kernel leaves echo to the VNF; made to answer, its reply (from the proxy's
    address) ends no interval and proves no deployment: only B's does."""
    path = ProxyPath(lab)
    try:
        tb = path.testbed
        assert _sysctl_in(tb.proxy.netns_path, "net.ipv4.icmp_echo_ignore_all") == "1"
        b = tb.replier(tb.host_b, through_proxy=True).address
        path.set_mode("direct")  # the VNF is off the path: only the proxy's kernel could answer
        write_sysctl(tb.proxy.netns_path, "net.ipv4.icmp_echo_ignore_all", "0")
        requester = path.requester
        assert requester.once(tb.proxy.address, tb.echo_port, 64, tb.proxy.address) is not None
        assert requester.once(tb.proxy.address, tb.echo_port, 64, b, timeout_s=0.3) is None
        with pytest.raises(ProbeError):
            requester.measure(tb.proxy.address, tb.echo_port, 64, b, timeout_s=0.2)
        with pytest.raises(ProbeError):
            requester.first_reply_ns(tb.proxy.address, tb.echo_port, b, timeout_s=0.3)
    finally:
        path.close()


def test_udp_still_reaches_b_s_responder_when_asked_for(lab: Lab) -> None:
    path = ProxyPath(lab, echo="udp")
    try:
        assert path.protocol == "udp"
        assert path.round_trip(64, "proxy").seconds > 0
        assert path.round_trip(64, "direct").seconds > 0
        assert path.reconfigure() > 0
    finally:
        path.close()


NEEDS_LAB = "def test_x(nfv_lab):\n    pass\n"


@pytest.mark.parametrize(("strict", "outcome"), [(False, "1 skipped"), (True, "1 error")])
def test_without_net_admin_the_backend_is_unavailable(
    tmp_path: Path, strict: bool, outcome: str
) -> None:
    """Root without CAP_SYS_ADMIN/CAP_NET_ADMIN (a typical container): skip, or fail if strict."""
    (tmp_path / "test_x.py").write_text(NEEDS_LAB)
    argv = [
        "setpriv",
        "--bounding-set=-sys_admin,-net_admin",
        "--inh-caps=-sys_admin,-net_admin",
        sys.executable,
        "-m",
        "pytest",
        "test_x.py",
        "-p",
        "no:cacheprovider",
        "-rs",
        "-q",
        *(["--nfv-strict"] if strict else []),
    ]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert outcome in done.stdout
    assert "needs CAP_SYS_ADMIN and CAP_NET_ADMIN" in done.stdout
    assert "During handling" not in done.stdout
    assert done.returncode == (1 if strict else 0)


def test_a_forked_child_dies_of_sigterm_inside_a_session(pytester: pytest.Pytester) -> None:
    """A child forked without exec (as pyroute2 forks for namespace work, then stops with
    SIGTERM) keeps SIGTERM's default action: it must not unwind the session as a second one."""
    pytester.makepyfile(
        """
        import os, signal, time

        def test_fork_then_sigterm():
            ready, said = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.write(said, b"r")  # as pyroute2's worker reports before it is stopped
                time.sleep(30)
                os._exit(0)
            os.read(ready, 1)
            os.kill(pid, signal.SIGTERM)
            _, status = os.waitpid(pid, 0)
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=60)
    result.assert_outcomes(passed=1)
