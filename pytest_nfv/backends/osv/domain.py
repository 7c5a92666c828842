"""Domain XML for the osv backend: the user's template plus what makes one instance.

The template (``fixtures/domains/osv.xml`` or ``--nfv-domain-template``) is plain libvirt
XML that says what every VM gets (vCPUs, memory, machine type); nothing in it is a
placeholder. This module sets what belongs to one instance on a copy of it: the domain type,
the name, the run identity in ``<metadata>`` (a ``backends.shared.libvirt.RunTag``), the kernel,
initrd and command line (or the user's image as a disk), the NIC, and a serial console
written to a log file. Kept free of libvirt calls so it can be checked against the
``test:///default`` driver and by itself.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from pathlib import Path

from pytest_nfv.backends.osv.guest import Guest
from pytest_nfv.backends.osv.image import OsvImage, kernel_cmdline
from pytest_nfv.backends.shared.libvirt import RunTag
from pytest_nfv.backends.shared.switch import GATEWAY, SUBNET
from pytest_nfv.errors import NfvUsageError

__all__ = ["DomainSpec", "domain_xml", "load_template", "osv_domain", "standin_domain"]


@dataclass(frozen=True)
class DomainSpec:
    """One instance, as the domain XML needs it.

    Two boot forms: ``kernel`` (with ``initrd`` and ``cmdline``) is booted directly, and a
    ``disk`` beside it is attached read-only (an OSv kernel's root file system); a ``disk``
    alone is booted through the firmware (an OSv disk image, its command line inside).
    ``disk_format`` is libvirt's name for its format (``raw`` or ``qcow2``). ``tap`` is None
    for a domain without a NIC (the KVM probe).
    """

    name: str
    tag: RunTag
    domain_type: str
    console_log: Path
    kernel: Path | None = None
    initrd: Path | None = None
    cmdline: str = ""
    disk: Path | None = None
    disk_format: str = "raw"
    mac: str | None = None
    tap: str | None = None


def standin_domain(base: DomainSpec, guest: Guest, cmdline: str) -> DomainSpec:
    """``base`` booting the stand-in guest: its role on the command line, its address by DHCP."""
    return replace(
        base,
        kernel=guest.kernel,
        initrd=guest.initrd,
        cmdline=f"console=ttyS0 quiet panic=-1 {cmdline}".strip(),
    )


def osv_domain(base: DomainSpec, image: OsvImage, address: str, program: str) -> DomainSpec:
    """``base`` booting a user's OSv image: the kernel with our command line, or the disk with
    its own."""
    cmdline = ""
    if image.kernel is not None:
        cmdline = kernel_cmdline(address, str(SUBNET.netmask), str(GATEWAY), program)
    return replace(
        base,
        kernel=image.kernel,
        cmdline=cmdline,
        disk=image.disk,
        disk_format=image.disk_format,
    )


def load_template(path: Path) -> ET.Element:
    """Parse a domain template; a malformed one is a usage error naming the file.

    Raises:
        NfvUsageError: not XML, or not a ``<domain>``.
    """
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise NfvUsageError(f"domain template {path}: {exc}") from exc
    if root.tag != "domain":
        raise NfvUsageError(
            f"domain template {path}: the root element is <{root.tag}>, not <domain>"
        )
    for required in ("memory", "vcpu"):
        if root.find(required) is None:
            raise NfvUsageError(f"domain template {path}: <{required}> is missing")
    return root


def _child(parent: ET.Element, tag: str) -> ET.Element:
    found = parent.find(tag)
    return found if found is not None else ET.SubElement(parent, tag)


def _replace(parent: ET.Element, tag: str) -> ET.Element:
    for old in parent.findall(tag):
        parent.remove(old)
    return ET.SubElement(parent, tag)


def domain_xml(template: ET.Element, spec: DomainSpec) -> str:
    """The domain XML of one instance, from a template parsed by ``load_template``."""
    root = ET.fromstring(ET.tostring(template))  # a copy: the template serves every instance
    root.set("type", spec.domain_type)
    for dropped in ("uuid", "metadata"):
        for old in root.findall(dropped):
            root.remove(old)
    _child(root, "name").text = spec.name
    metadata = ET.SubElement(root, "metadata")
    metadata.append(ET.fromstring(spec.tag.element()))
    os_element = _child(root, "os")
    if os_element.find("type") is None:
        ET.SubElement(os_element, "type").text = "hvm"
    for tag in ("kernel", "initrd", "cmdline", "boot"):
        for old in os_element.findall(tag):
            os_element.remove(old)
    devices = _child(root, "devices")
    if spec.kernel is not None:
        ET.SubElement(os_element, "kernel").text = str(spec.kernel)
        if spec.initrd is not None:
            ET.SubElement(os_element, "initrd").text = str(spec.initrd)
        ET.SubElement(os_element, "cmdline").text = spec.cmdline
    elif spec.disk is not None:
        ET.SubElement(os_element, "boot", dev="hd")
    else:
        raise ValueError("a domain needs a kernel or a disk")
    for tag in ("disk", "interface", "serial", "console", "graphics", "video"):
        for old in devices.findall(tag):
            devices.remove(old)
    if spec.disk is not None:
        # Read-only: every instance shares the one file, and OSv's rofs never writes.
        disk = ET.SubElement(devices, "disk", type="file", device="disk")
        ET.SubElement(disk, "driver", name="qemu", type=spec.disk_format)
        ET.SubElement(disk, "source", file=str(spec.disk))
        ET.SubElement(disk, "target", dev="vda", bus="virtio")
        ET.SubElement(disk, "readonly")
    if spec.tap is not None:
        nic = ET.SubElement(devices, "interface", type="ethernet")
        if spec.mac is not None:
            ET.SubElement(nic, "mac", address=spec.mac)
        ET.SubElement(nic, "target", dev=spec.tap, managed="yes")
        ET.SubElement(nic, "model", type="virtio")
        ET.SubElement(nic, "rom", enabled="no")  # no iPXE: nothing boots from the network
    serial = ET.SubElement(devices, "serial", type="file")
    ET.SubElement(serial, "source", path=str(spec.console_log))
    ET.SubElement(serial, "target", port="0")
    # The cache's files are world-readable; relabelling them for every VM would race.
    for old in root.findall("seclabel"):
        root.remove(old)
    ET.SubElement(root, "seclabel", type="none", model="dac")
    return ET.tostring(root, encoding="unicode")
