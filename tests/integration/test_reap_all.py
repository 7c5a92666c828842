"""``reap_all`` on real resources: one rule for every engine, whatever order they are reaped in."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest
from pyroute2 import IPRoute

from pytest_nfv.backends import EngineTargets, reap_all
from pytest_nfv.backends.clickos.xen.bridge import bridge_name, create_bridge, remove_bridge
from pytest_nfv.host import identity
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.namespaces import (
    inside_new,
    list_namespaces,
    namespace_path,
    remove_namespace,
)


def _links() -> set[str]:
    with IPRoute() as ipr:
        return {link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}


def test_a_killed_runs_resources_are_reaped_in_every_engine_when_its_pid_is_recycled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run died, and its pid now belongs to a live process (ours, as in a CI container).

    The netns reap runs first; the dom0 bridge (clickos's reap) after it must still be judged
    by the dead run's registry file, not by the bare pid, which is alive.
    """
    monkeypatch.setattr(identity, "REGISTRY_DIR", tmp_path)
    me = psutil.Process()
    dead = RunIdentity("dead0a", me.pid, me.create_time() - 1000)
    dead.register("clickos")
    switch = dead.name("sw")
    with inside_new(switch) as sw:
        sw.link("add", ifname="br0", kind="bridge")
        sw.close()
    bridge = create_bridge(dead, namespace_path(switch))
    try:
        report = reap_all(targets=EngineTargets(docker_url=f"unix://{tmp_path}/absent.sock"))
        assert f"netns {switch}" in report.removed
        assert f"bridge {bridge}" in report.removed
        assert switch not in list_namespaces(dead.prefix)
        assert bridge_name(dead) not in _links()
        assert not (tmp_path / "dead0a.json").exists()  # forgotten once every engine was reaped
    finally:  # only what this test made: never another run's resources
        remove_bridge(bridge)
        remove_namespace(switch)
