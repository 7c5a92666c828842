"""The ClickOS stand-in guest reads what the backend's rendered configurations say.

The guest's init (busybox ash) takes the addresses out of a configuration with the shell
functions of ``fields.sh``; here the same functions run under the host's POSIX shell on the
project's own templates, so a template change that the stand-in would misread fails here
rather than as a silent boot timeout under Xen.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_nfv.backends.clickos.backend import ClickosBackend
from pytest_nfv.backends.clickos.click.render import instance_config, proxy_config
from pytest_nfv.backends.clickos.standin.guest import FIELDS, INIT, RECIPE, manifest_beside
from pytest_nfv.backends.clickos.xen.domains import DomainSpec, render_domain
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.model import Endpoint
from pytest_nfv.resources import fixtures_dir

SH = shutil.which("sh")
pytestmark = pytest.mark.skipif(SH is None, reason="needs a POSIX sh")


def _endpoint(ip: str, mac: str) -> Endpoint:
    return Endpoint("x", ipaddress.IPv4Address(ip), mac, "")


PROXY = _endpoint("10.213.0.2", "02:4e:46:00:00:02")
A = _endpoint("10.213.0.3", "02:4e:46:00:00:03")
B = _endpoint("10.213.0.4", "02:4e:46:00:00:04")
B2 = _endpoint("10.213.0.5", "02:4e:46:00:00:05")


def _call(function: str, config: str, *args: str) -> str:
    """Run a fields.sh function on ``config`` as the guest gets it: newlines dropped."""
    assert SH is not None
    joined = config.replace("\n", "")
    script = f'. "{FIELDS}"; {function} "$1" {" ".join(args)}'
    done = subprocess.run(
        [SH, "-c", script, "sh", joined], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_an_instance_takes_its_address_from_the_arp_responder() -> None:
    config = instance_config(ipaddress.IPv4Address("10.213.0.77"), "02:4e:46:00:00:4d")
    assert _call("own_address", config) == "10.213.0.77"


def test_the_proxy_takes_a_b_and_b2_from_the_rewrites() -> None:
    config = proxy_config(PROXY, A, B, B2)
    assert _call("own_address", config) == str(PROXY.address)
    assert _call("proxy_host", config, "a") == f"{A.address} {A.mac}"
    assert _call("proxy_host", config, "b") == f"{B.address} {B.mac}"
    assert _call("proxy_host", config, "b2") == f"{B2.address} {B2.mac}"


def test_the_recipe_key_covers_the_init_and_its_fields() -> None:
    assert "fields.sh" in INIT.read_text()
    assert len(RECIPE.key()) == 16


def test_the_standin_domain_template_renders_with_kernel_and_initramfs() -> None:
    template = (fixtures_dir() / "domains" / "clickos-standin.xml").read_text()
    template = template.replace("@INITRD@", "/lab/guest/initrd.cpio")
    identity = RunIdentity.new()
    spec = DomainSpec(
        identity.name("i0"), "vnf", "/lab/guest/vmlinux.gz", "nfvbr", "02:4e:46:00:00:09"
    )
    root = ET.fromstring(render_domain(template, spec, identity, "clickos-standin.xml"))
    assert root.findtext("os/kernel") == "/lab/guest/vmlinux.gz"
    assert root.findtext("os/initrd") == "/lab/guest/initrd.cpio"
    assert root.find("devices/interface/source").get("bridge") == "nfvbr"  # type: ignore[union-attr]


def _standin_image(directory: Path, manifest: object) -> str:
    kernel = directory / "vmlinux"
    kernel.write_bytes(b"\x7fELF")
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return str(kernel)


def test_a_kernel_with_the_standins_manifest_beside_it_is_the_standin(tmp_path: Path) -> None:
    image = _standin_image(tmp_path, {"stands_in_for": "MiniOS + Click", "kernel_release": "6.1"})
    assert manifest_beside(image) == {"stands_in_for": "MiniOS + Click", "kernel_release": "6.1"}


@pytest.mark.parametrize("manifest", [{"recipe": "x"}, ["stands_in_for"], "not json"])
def test_any_other_kernel_is_not_the_standin(tmp_path: Path, manifest: object) -> None:
    image = _standin_image(tmp_path, manifest)
    if manifest == "not json":
        (tmp_path / "manifest.json").write_text("{")
    assert manifest_beside(image) is None
    assert manifest_beside(str(tmp_path / "elsewhere" / "clickos_x86_64")) is None
    assert manifest_beside(None) is None


def test_the_backend_says_the_standin_runs_and_judges_it_by_its_own_budgets(
    tmp_path: Path,
) -> None:
    image = _standin_image(tmp_path, {"stands_in_for": "MiniOS + Click", "kernel_release": "6.1"})
    backend = ClickosBackend(RunIdentity.new(), image)
    assert "the ClickOS stand-in, not ClickOS" in backend.engine().describe()  # the header
    choice = backend.budget_choice()
    assert choice is not None
    assert choice[0].name == "clickos-standin.toml"
    assert "not ClickOS" in choice[1]
    backend._version = "Xen 4.17.0, libvirt 9.0.0"  # what open() reads from libvirt
    backend._standin = manifest_beside(image)
    notes = backend.engine().notes
    assert any("stand-in" in note and "not ClickOS" in note for note in notes)


def test_a_clickos_image_keeps_the_default_budgets(tmp_path: Path) -> None:
    kernel = tmp_path / "clickos_x86_64"
    kernel.write_bytes(b"\x7fELF")
    backend = ClickosBackend(RunIdentity.new(), str(kernel))
    assert backend.budget_choice() is None
    backend._version = "Xen 4.17.0, libvirt 9.0.0"
    assert not any("stand-in" in note for note in backend.engine().notes)
