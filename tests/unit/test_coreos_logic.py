"""The coreos backend's logic that needs no engine: image content hashing, addressing, reaping
an engine that is not there, and what it says about itself before it connects."""

from __future__ import annotations

import hashlib
import io
import ipaddress
import tarfile
import time
from pathlib import Path

import pytest

from pytest_nfv.backends import EngineTargets
from pytest_nfv.backends.coreos.backend import MAC_PREFIX, CoreosBackend, reap
from pytest_nfv.backends.coreos.engine import Stuck, remove_network
from pytest_nfv.backends.coreos.image import ImageRecipe
from pytest_nfv.backends.shared.addressing import mac_for
from pytest_nfv.backends.shared.switch import MAC_PREFIX as SWITCH_MAC_PREFIX
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.reap import ReapRule
from pytest_nfv.resources import proxy_vnf_dir

pytest.importorskip("docker", reason="the coreos extra (docker SDK) is not installed")


def _recipe(tmp_path: Path, payload: bytes) -> ImageRecipe:
    binary = tmp_path / "busybox"
    binary.write_bytes(payload)
    binary.chmod(0o755)
    return ImageRecipe(
        (("/bin/busybox", binary),), (("/bin/sh", "busybox"),), proxy_vnf_dir() / "iptables"
    )


def test_context_is_deterministic_and_hashes_its_content(tmp_path: Path) -> None:
    first = _recipe(tmp_path, b"one").context()
    time.sleep(1.1)  # a later mtime on the host file must not change the image
    (tmp_path / "busybox").touch()
    assert _recipe(tmp_path, b"one").context() == first
    other = _recipe(tmp_path, b"two").context()
    assert hashlib.sha256(other).digest() != hashlib.sha256(first).digest()


def test_context_holds_the_proxy_rules_and_scripts(tmp_path: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(_recipe(tmp_path, b"x").context())) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert members["rootfs/bin/sh"].issym()
        assert members["rootfs/bin/busybox"].mode & 0o111
        for script in ("apply", "start"):
            assert members[f"rootfs/proxy/{script}"].mode & 0o111
        template = tar.extractfile("rootfs/proxy/rules.template")
        assert template is not None
        rules = template.read().decode()
    assert "-j DNAT --to-destination @HOST_B@" in rules
    assert "-s @HOST_B@/32 -d @HOST_A@/32 -j CT --notrack" in rules
    assert {m.mtime for m in members.values()} == {0}


def test_macs_are_derived_from_addresses_and_differ_from_netns() -> None:
    address = ipaddress.IPv4Address("10.214.1.7")
    assert mac_for(address, MAC_PREFIX) == "02:4e:44:d6:01:07"
    assert mac_for(address, MAC_PREFIX) != mac_for(address, SWITCH_MAC_PREFIX)
    assert int(mac_for(address, MAC_PREFIX).split(":")[0], 16) & 0b10  # locally administered


def test_reaping_an_engine_that_is_not_there_is_empty_and_quick(tmp_path: Path) -> None:
    started = time.monotonic()
    report = reap(ReapRule(), targets=EngineTargets(f"unix://{tmp_path}/absent.sock"))
    assert (report.removed, report.left_live, report.errors) == ([], [], [])
    assert time.monotonic() - started < 5


def test_engine_before_open_names_the_target_without_connecting(tmp_path: Path) -> None:
    url = f"unix://{tmp_path}/absent.sock"
    backend = CoreosBackend(RunIdentity.new(), docker_url=url)
    info = backend.engine()
    assert info.name == "docker"
    assert "not connected" in info.version
    assert url in info.describe()


class _RefusingApi:
    """Answers network removal as dockerd 20.10 does once it has lost endpoint counts."""

    def __init__(self, attached: dict[str, object]) -> None:
        self.attached = attached
        self.calls = 0

    def remove_network(self, network: str) -> None:
        from docker.errors import APIError

        self.calls += 1
        raise APIError(f"error while removing network: network {network} has active endpoints")

    def inspect_network(self, network: str) -> dict[str, object]:
        return {"Containers": self.attached}


def test_an_empty_network_the_engine_refuses_is_stuck_not_an_error() -> None:
    api = _RefusingApi({})
    with pytest.raises(Stuck, match=r"moby/moby#42119"):
        remove_network(api, "nfv-abcdef-p1-net", timeout_s=0.3)
    assert api.calls >= 2  # waited for a late release before calling it stuck


def test_a_network_with_containers_attached_is_an_error() -> None:
    from docker.errors import APIError

    with pytest.raises(APIError) as raised:
        remove_network(_RefusingApi({"c1": {}}), "nfv-abcdef-p1-net", timeout_s=0.0)
    assert not isinstance(raised.value, Stuck)


def test_a_boot_of_many_containers_may_take_longer_than_the_floor() -> None:
    """dockerd took up to 0.5 s per container here: 128 at the 60 s floor failed by chance."""
    backend = CoreosBackend(RunIdentity.new(), docker_url="unix:///nonexistent.sock")
    assert backend.boot_deadline_s(128) == pytest.approx(192.0)
    assert backend.boot_deadline_s(8) < 60  # the floor decides there
    assert "per container" in backend.boot_deadline_rule
