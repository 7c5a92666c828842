"""The coreos backend against the real Docker engine: boots, the iptables proxy, memory, labels,
cleanup after kill -9, and coexistence with the netns backend in one session.

Skipped, with the engine's own answer as the reason, only when no Docker engine answers here
(CI starts one with scripts/engines, so there they always run).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from holding import assert_gone, assert_the_record_was_saved, ended_anyway, recording_then_holding
from kernel_echo import assert_the_kernels_of_b_and_b2_answer

from pytest_nfv.backends.coreos.backend import LABEL_PID, LABEL_ROLE, LABEL_RUN, CoreosBackend
from pytest_nfv.backends.coreos.engine import client_for
from pytest_nfv.backends.coreos.image import (
    IMAGE_REPOSITORY,
    LABEL_CONTENT,
    LABEL_OWNER,
    OWNER,
    ensure,
)
from pytest_nfv.backends.netns.backend import NetnsBackend
from pytest_nfv.errors import BackendUnavailable
from pytest_nfv.harness.lab import Lab
from pytest_nfv.harness.probes.icmp import EchoProber
from pytest_nfv.harness.probes.response import RoundTrip
from pytest_nfv.harness.proxy_path import ProxyPath
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.namespaces import kill_and_wait, list_namespaces

docker = pytest.importorskip("docker", reason="the coreos extra (docker SDK) is not installed")

N_CI = 16
CLEANUP = (sys.executable, "-m", "pytest_nfv.cli.main", "cleanup")


def _engine() -> Any:
    """The local Docker engine, through the backend's own client check (it looks for the
    socket before the SDK opens one that would outlive a skip)."""
    try:
        return client_for(None, 10)
    except BackendUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    engine = _engine()
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def coreos(client: Any) -> Iterator[CoreosBackend]:
    backend = CoreosBackend(RunIdentity.new())
    try:
        backend.open()
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture(scope="module")
def lab(coreos: CoreosBackend) -> Iterator[Lab]:
    with EchoProber(coreos.probe_netns) as prober:
        yield Lab(coreos, prober, boot_timeout_s=120)


def _ours(client: Any, **labels: str) -> list[Any]:
    wanted = [f"{LABEL_OWNER}={OWNER}", *(f"{k}={v}" for k, v in labels.items())]
    return list(client.containers.list(all=True, filters={"label": wanted}, ignore_removed=True))


def test_boot_round_times_every_container(lab: Lab, coreos: CoreosBackend, client: Any) -> None:
    result = lab.boot_round(N_CI)
    assert len(result.per_instance_s) == N_CI
    assert all(0 < t < 60 for t in result.per_instance_s)
    assert result.makespan_s >= max(result.per_instance_s) - 1e-6
    left = _ours(client, **{LABEL_RUN: coreos.identity.run_id, LABEL_ROLE: "vnf"})
    assert left == []  # stopped means removed


def test_everything_carries_the_run_identity(lab: Lab, coreos: CoreosBackend, client: Any) -> None:
    run = coreos.identity.run_id
    with lab.running(3) as instances:
        vnfs = _ours(client, **{LABEL_RUN: run, LABEL_ROLE: "vnf"})
        assert sorted(c.name for c in vnfs) == sorted(i.name for i in instances)
        for container in vnfs:
            assert container.labels[LABEL_PID] == str(os.getpid())
            assert container.name.startswith(coreos.identity.prefix)
            assert container.status == "running"
        networks = client.networks.list(filters={"label": f"{LABEL_RUN}={run}"})
        assert [n.name for n in networks] == [coreos.identity.name("net")]
        assert networks[0].attrs["Internal"] is True
        image = client.images.get(vnfs[0].image.id)
        assert image.labels[LABEL_OWNER] == OWNER
        digest = image.labels[LABEL_CONTENT]
        assert f"{IMAGE_REPOSITORY}:{digest[:16]}" in image.tags
    assert _ours(client, **{LABEL_RUN: run, LABEL_ROLE: "vnf"}) == []


def test_memory_round_reads_each_cgroup(lab: Lab) -> None:
    result = lab.memory_round(4)
    assert len(result.engine_mib) == 4
    assert all(0 < m < 64 for m in result.engine_mib)  # a sleeping busybox, not a whole OS
    assert result.pss_mib > 0
    # The kernel's count, read from the four containers' cgroups, agrees with the engine's.
    assert result.kernel_mib is not None
    assert 0 < result.kernel_mib < 4 * 64
    assert result.kernel_mib == pytest.approx(sum(result.engine_mib), rel=0.5, abs=2)


def test_each_container_s_shim_is_counted_and_the_parts_add_up(
    lab: Lab, coreos: CoreosBackend
) -> None:
    """The engine's per-container helper lives in the daemon's cgroup, outside every
    container's: the figure finds it as the parent of each container's main process."""
    import psutil

    points = lab.memory_growth([2, 4])
    with lab.running(2) as instances:
        shims = coreos.engine_helper_pids(instances)
        assert len(set(shims)) == 2
        assert all(psutil.Process(pid).name().startswith("containerd-shim") for pid in shims)
        assert not {pid for i in instances for pid in coreos.memory_pids(i)} & set(shims)
    for point in points:
        assert point.spend is not None
        parts = point.spend.parts()
        assert parts["engine helpers"] > 0.5 * point.n  # a shim holds MiB, a container's sleep KiB
        assert parts["engine helpers"] > parts["instances"]
        assert point.spend.engine_fixed_mib is not None
        assert point.spend.engine_fixed_mib > 10  # dockerd and containerd
        del parts["engine daemons before (fixed, not in the figure)"]
        assert sum(parts.values()) == pytest.approx(point.kernel_mib)


def _dnat_packets(coreos: CoreosBackend) -> int:
    """Packets the proxy container's DNAT rule (A -> B) has translated so far."""
    api = coreos.docker.client.api
    proxy = coreos.identity.name("proxy")  # the container's name
    exec_id = api.exec_create(proxy, ["iptables-save", "-c", "-t", "nat"])
    out = api.exec_start(exec_id).decode()
    rule = next(line for line in out.splitlines() if "DNAT" in line)
    return int(rule[1:].split(":")[0])


def test_proxy_path_goes_through_the_iptables_rules(lab: Lab, coreos: CoreosBackend) -> None:
    path = ProxyPath(lab)
    try:
        proxied = path.round_trip(64, "proxy")
        assert 0 < proxied.seconds < 1
        direct = path.round_trip(64, "direct")
        assert 0 < direct.seconds < 1
        for size in (1472, 1473, 65507):  # fragmented on the wire, reassembled at B
            assert path.round_trip(size, "proxy").seconds > 0
            assert path.round_trip(size, "direct").seconds > 0
        # Replies through the proxy must come from B (then B2) itself, or measure() raises.
        assert path.reconfigure() > 0  # now B2 answers through the proxy
        assert path.round_trip(1024, "proxy").seconds > 0
        assert path.reconfigure() > 0  # and B again
        assert path.deploy() > 0
        assert path.proxy_memory_mib() > 0
    finally:
        path.close()


def test_requests_to_the_proxy_are_translated_by_its_rule(lab: Lab, coreos: CoreosBackend) -> None:
    path = ProxyPath(lab)  # a fresh proxy container: its counters start at zero
    try:
        assert _dnat_packets(coreos) >= 1  # the deployment's first request
        path.requester.close()
        # another source port or echo identifier: a flow the rule has not translated yet
        path.requester = RoundTrip(path.testbed.host_a.netns_path, path.protocol)
        counted = _dnat_packets(coreos)
        path.round_trip(64, "proxy")
        assert _dnat_packets(coreos) == counted + 1
        path.round_trip(64, "direct")  # addressed to B: the rule does not translate it
        assert _dnat_packets(coreos) == counted + 1
    finally:
        path.close()


def _our_children_in(netns_path: str) -> list[int]:
    """This process's own children in that namespace: the echo responders it launched there,
    not the container's processes (whose parent is the engine's shim)."""
    ns = os.stat(netns_path).st_ino
    return [
        child.pid
        for child in psutil.Process().children()
        if os.stat(f"/proc/{child.pid}/ns/net").st_ino == ns
    ]


def test_the_proxy_carries_echo_that_the_kernels_of_b_and_b2_answer(client: Any) -> None:
    """The DNAT rule translates A's echo requests too: with the UDP responders of B and B2
    gone, both paths, a reconfiguration each way and a deployment still get the reply of the
    B they lead to, and the proxy container's own stack never answers A."""
    backend = CoreosBackend(RunIdentity.new())
    try:
        backend.open()
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    with contextlib.ExitStack() as stack:
        stack.callback(backend.close)
        prober = stack.enter_context(EchoProber(backend.probe_netns))
        path = ProxyPath(Lab(backend, prober, boot_timeout_s=120))
        try:
            tb = path.testbed
            responders = [_our_children_in(h.netns_path) for h in (tb.host_b, tb.host_b2)]
            assert all(responders), responders  # both ran a UDP responder
            with RoundTrip(tb.host_a.netns_path, "udp") as udp:  # what --nfv-echo udp times
                assert udp.measure(tb.proxy.address, tb.echo_port, 64, tb.host_b.address)
            kill_and_wait([pid for pids in responders for pid in pids])
            assert_the_kernels_of_b_and_b2_answer(path)
            path.set_mode("proxy")
            proxy = tb.proxy.address
            assert path.requester.once(proxy, tb.echo_port, 64, proxy, timeout_s=0.3) is None
        finally:
            path.close()


def _wait_for_containers(client: Any, owner_pid: int, timeout_s: float = 120) -> list[Any]:
    """The session's containers once all are there: six VNFs, A, B, B2, proxy, probe."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = _ours(client, **{LABEL_PID: str(owner_pid)})
        if len(found) >= 6 + 5:
            time.sleep(0.5)
            return _ours(client, **{LABEL_PID: str(owner_pid)})
        time.sleep(0.2)
    raise AssertionError(f"pytest {owner_pid} never started its containers")


def _netns_members(pids: list[int]) -> list[int]:
    inodes = {os.stat(f"/proc/{p}/ns/net").st_ino for p in pids if Path(f"/proc/{p}").exists()}
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}/ns/net").st_ino in inodes:
                    members.append(int(entry))
            except OSError:
                continue
    return members


def test_kill_9_of_a_session_then_cleanup_leaves_nothing(
    client: Any, holding_session: Callable[..., subprocess.Popen[bytes]]
) -> None:
    bystander = client.containers.run(  # the plugin's image, but not the plugin's container
        ensure(client),
        ["sleep", "600"],
        name=f"nfvtest-bystander-{os.getpid()}",
        network_mode="none",
        detach=True,
    )
    victim = holding_session("--backend=coreos", "--nfv-strict")
    try:
        containers = _wait_for_containers(client, victim.pid)
        pids = [c.attrs["State"]["Pid"] for c in containers]
        members = _netns_members(pids)
        assert len(members) > len(pids)  # the echo responders placed in hosts B and B2
        live = subprocess.run(list(CLEANUP), capture_output=True, text=True, check=True)
        assert "still going" in live.stdout
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        assert len(_ours(client, **{LABEL_PID: str(victim.pid)})) == len(containers)
        dry = subprocess.run([*CLEANUP, "--dry-run"], capture_output=True, text=True, check=True)
        assert "would remove container" in dry.stdout
        assert "would remove network" in dry.stdout
        assert len(_ours(client, **{LABEL_PID: str(victim.pid)})) == len(containers)
        done = subprocess.run(list(CLEANUP), capture_output=True, text=True, check=True)
        assert "removed container" in done.stdout
        assert _ours(client, **{LABEL_PID: str(victim.pid)}) == []
        assert client.networks.list(filters={"label": f"{LABEL_PID}={victim.pid}"}) == []
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{p}").exists() for p in members) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [p for p in members if Path(f"/proc/{p}").exists()]
        bystander.reload()
        assert bystander.status == "running"
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
        bystander.remove(force=True)
        subprocess.run(list(CLEANUP), capture_output=True, check=False)


def test_sigterm_tears_the_session_down_and_saves_the_record(
    client: Any, holding_session: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """``docker stop``, ``timeout`` or a cancelled CI job: no container, network, namespace or
    process of the run is left, and the figure measured before is in the JSON."""
    record = tmp_path / "record.json"
    victim = holding_session(
        "--backend=coreos", "--nfv-strict", f"--benchmark-json={record}",
        tests=recording_then_holding(6),
    )  # fmt: skip
    with ended_anyway(victim, CLEANUP):
        containers = _wait_for_containers(client, victim.pid)
        members = _netns_members([c.attrs["State"]["Pid"] for c in containers])
        victim.send_signal(signal.SIGTERM)
        assert victim.wait(timeout=120) != 0
        assert _ours(client, **{LABEL_PID: str(victim.pid)}) == []
        assert client.networks.list(filters={"label": f"{LABEL_PID}={victim.pid}"}) == []
        assert_gone(members)
        assert [n for n in list_namespaces("nfv-") if f"-p{victim.pid}-" in n] == []
        assert_the_record_was_saved(record)


def test_netns_and_coreos_side_by_side(lab: Lab) -> None:
    """dockerd set the root FORWARD policy to DROP; netns keeps working next to containers."""
    forward = subprocess.run(
        ["iptables", "-S", "FORWARD"], capture_output=True, text=True, check=True
    ).stdout
    assert "-P FORWARD DROP" in forward.splitlines()
    with lab.running(4) as containers, NetnsBackend(RunIdentity.new()) as netns:
        with EchoProber(netns.probe_netns) as prober:
            netns_lab = Lab(netns, prober, boot_timeout_s=30)
            assert len(netns_lab.boot_round(8).per_instance_s) == 8
            path = ProxyPath(netns_lab)
            try:
                assert path.round_trip(1024, "proxy").seconds > 0
            finally:
                path.close()
        again = lab.prober.wait_ready([c.address for c in containers], timeout_s=5)
        assert not again.unanswered
    coreos_path = ProxyPath(lab)
    try:
        assert coreos_path.round_trip(1024, "proxy").seconds > 0
    finally:
        coreos_path.close()


_DOCKER_MADE = ("br-", "veth", "docker", "DOCKER", "10.214.", "nfv")


def _root_state() -> dict[str, str]:
    """Links, routes and iptables rules of the root namespace that Docker (or we) could make.

    Restricted to those names and addresses: on a shared host other work adds its own taps
    and bridges meanwhile, which says nothing about this backend.
    """
    state = {}
    for name, argv in {
        "links": ["ip", "-br", "link", "show"],
        "routes": ["ip", "route", "show", "table", "all"],
        "iptables": ["iptables-save"],
    }.items():
        text = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        state[name] = "\n".join(
            line.split(" [")[0] if name == "iptables" else line
            for line in text.splitlines()
            if not line.startswith("#") and any(mark in line for mark in _DOCKER_MADE)
        )
    return state


def test_suites_run_for_real_and_leave_the_host_as_dockerd_had_it(
    client: Any, short_suites: Callable[..., object]
) -> None:
    """All four shipped suites on coreos; afterwards the root namespace is as it was."""
    before = _root_state()
    assert "DOCKER" in before["iptables"]  # what is compared is really there
    short_suites("--backend=coreos", "--nfv-strict")
    after = _root_state()
    for key in before:
        assert before[key] == after[key], f"root namespace {key} changed"


@pytest.mark.parametrize(("strict", "outcome"), [(False, "1 skipped"), (True, "1 error")])
def test_an_engine_that_does_not_answer_skips_with_the_reason(
    tmp_path: Path, strict: bool, outcome: str
) -> None:
    (tmp_path / "test_x.py").write_text("def test_x(nfv_lab):\n    pass\n")
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "test_x.py",
        "-p",
        "no:cacheprovider",
        "-rs",
        "-q",
        "--backend=coreos",
        f"--nfv-docker-url=unix://{tmp_path}/absent.sock",
        *(["--nfv-strict"] if strict else []),
    ]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert outcome in done.stdout
    assert f"no Docker engine answers at unix://{tmp_path}/absent.sock" in done.stdout
    assert done.returncode == (1 if strict else 0)
