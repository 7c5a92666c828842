"""The osv backend booting a real OSv image: both boot forms, DHCP, the relay as proxy.

Runs only when an OSv build is at hand (pytest-nfv ships none):

    NFV_OSV_IMAGE=/var/lib/libvirt/images/usr.img      # OSv's build/last/usr.img with
                                                       # /nfv-relay and its command line
    NFV_OSV_KERNEL=/var/lib/libvirt/images/loader-stripped.elf

(proxy_vnf/README.md says how to make the image.) Without them each test skips saying so.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_nfv.backends.base import BackendSettings
from pytest_nfv.backends.osv.backend import OsvBackend
from pytest_nfv.harness.lab import Lab
from pytest_nfv.harness.probes.icmp import EchoProber
from pytest_nfv.harness.proxy_path import ProxyPath
from pytest_nfv.host.identity import RunIdentity

pytest.importorskip("libvirt")
IMAGE = os.environ.get("NFV_OSV_IMAGE")
KERNEL = os.environ.get("NFV_OSV_KERNEL")
SIZES = (64, 1473, 16384, 32768)  # 64 KiB datagrams were lost inside OSv's stack here


def _lab(settings: BackendSettings) -> Iterator[tuple[OsvBackend, Lab]]:
    with (
        OsvBackend(RunIdentity.new(), settings) as backend,
        EchoProber(backend.probe_netns, backend.probe_interval_s) as prober,
    ):
        yield backend, Lab(backend, prober, boot_timeout_s=120)


@pytest.fixture(scope="module")
def disk_form() -> Iterator[tuple[OsvBackend, Lab]]:
    if not IMAGE:
        pytest.skip("NFV_OSV_IMAGE is not set (an OSv disk image with /nfv-relay)")
    yield from _lab(BackendSettings(image=IMAGE))


@pytest.fixture(scope="module")
def kernel_form() -> Iterator[tuple[OsvBackend, Lab]]:
    if not (IMAGE and KERNEL):
        pytest.skip("NFV_OSV_KERNEL and NFV_OSV_IMAGE are not both set (OSv kernel + disk)")
    yield from _lab(BackendSettings(image=IMAGE, kernel=Path(KERNEL)))


def _exercise(backend: OsvBackend, lab: Lab) -> None:
    description = backend.engine().describe()
    assert "OSv" in description
    assert "stand-in" not in description
    boot = lab.boot_round(2)  # addresses by DHCP (disk) or --ip (kernel), answering ICMP
    assert all(0 < s < 120 for s in boot.per_instance_s)
    memory = lab.memory_round(1)
    assert 10 < memory.pss_mib < 200  # a 64 MiB VM, not the stand-in's 96 MiB + kernel
    path = ProxyPath(lab, path_timeout_s=120)
    try:
        assert path.testbed.proxy_relays
        for size in SIZES:
            assert 0 < path.round_trip(size, "proxy").seconds < 1
            assert 0 < path.round_trip(size, "direct").seconds < 1
        assert backend._direct_bypasses_proxy  # OSv cannot forward: the direct path says so
        assert "without the proxy VM" in backend.engine().describe()
        assert path.reconfigure() > 0  # only B2's replies are relayed now
        assert path.reconfigure() > 0
        assert backend._control("ping") == "ok"
    finally:
        path.close()
    choice = backend.budget_choice()
    assert choice is not None
    assert choice[0].name == ("osv.toml" if backend._domain_type() == "kvm" else "osv-tcg.toml")


def test_osv_disk_image_asks_dhcp_and_relays(disk_form: tuple[OsvBackend, Lab]) -> None:
    _exercise(*disk_form)


def test_osv_kernel_boot_with_its_disk_relays(kernel_form: tuple[OsvBackend, Lab]) -> None:
    _exercise(*kernel_form)
