"""The shipped Click templates (``proxy_vnf/click/``), rendered with the testbed's addresses.

Rendering refuses anything but an IPv4 address or a colon-separated MAC in a slot, and any
placeholder left unfilled, so a configuration that reaches ClickOS is at least well-formed
text; ``rendered_and_checked`` also parses it and checks it against the element model.
"""

from __future__ import annotations

import ipaddress
import re
import string
from functools import cache

from pytest_nfv.backends.clickos.click.language import ClickConfigError, ClickConfiguration, parse
from pytest_nfv.backends.clickos.click.model import check
from pytest_nfv.model import Endpoint
from pytest_nfv.resources import proxy_vnf_dir
from pytest_nfv.vnf.rewrite import mac_bytes

__all__ = [
    "PROXY_SWITCH",
    "instance_config",
    "proxy_config",
    "render",
    "rendered_and_checked",
    "userlevel",
]


@cache
def _template(name: str) -> string.Template:
    return string.Template((proxy_vnf_dir() / "click" / f"{name}.click").read_text())


def render(name: str, values: dict[str, str]) -> str:
    """Fill template ``name`` (``proxy`` or ``instance``); ``*_IP`` and ``*_MAC`` are checked.

    Raises:
        ClickConfigError: a value is not an address of its kind, or a placeholder is unfilled.
    """
    for key, value in values.items():
        try:
            if key.endswith("IP"):
                ipaddress.IPv4Address(value)
            elif key.endswith("MAC"):
                mac_bytes(value)
            else:
                raise ClickConfigError(f"unknown template slot {key!r}")
        except ValueError:
            raise ClickConfigError(f"{key}={value!r} is not a valid address") from None
    try:
        return _template(name).substitute(values)
    except KeyError as exc:
        raise ClickConfigError(f"template {name}.click needs a value for {exc}") from None


PROXY_SWITCH = ("target", "switch")
"""The element and handler a reconfiguration writes: "0" sends A's packets to B, "1" to B2."""


def proxy_config(proxy: Endpoint, host_a: Endpoint, host_b: Endpoint, host_b2: Endpoint) -> str:
    """Algorithm 1 between ``host_a`` and ``host_b`` (``host_b2`` once reconfigured)."""
    return render(
        "proxy",
        {
            "PROXY_IP": str(proxy.address),
            "PROXY_MAC": proxy.mac,
            "A_IP": str(host_a.address),
            "A_MAC": host_a.mac,
            "B_IP": str(host_b.address),
            "B_MAC": host_b.mac,
            "B2_IP": str(host_b2.address),
            "B2_MAC": host_b2.mac,
        },
    )


def instance_config(address: ipaddress.IPv4Address, mac: str) -> str:
    """A VNF instance that answers ARP and ICMP echo for ``address``."""
    return render("instance", {"IP": str(address), "MAC": mac})


def rendered_and_checked(text: str) -> ClickConfiguration:
    """Parse a rendered configuration and check it; returns the parsed form."""
    conf = parse(text)
    check(conf)
    return conf


_CLICKOS_FROM_DEVICE = re.compile(r"^(\w+\s*::\s*)FromDevice\(0\);$", re.M)
_CLICKOS_TO_DEVICE = re.compile(r"^(\w+\s*::\s*)ToDevice\(0\);$", re.M)
_INTERFACE = re.compile(r"[A-Za-z0-9_.-]{1,15}")


def userlevel(text: str, interface: str) -> str:
    """A rendered configuration, for user-level Click on the Linux interface ``interface``.

    Only the two device elements differ; every other element and connection is the one
    ClickOS gets, so what runs on user-level Click is the ClickOS router:

    - ClickOS's ``FromDevice(0)`` takes vif 0 for itself. User-level Click reads a packet
      socket beside the kernel, so ``SNIFFER false`` makes the kernel drop what arrives on
      the interface (Click adds an iptables ``INPUT -i IF -j DROP`` rule while it runs).
    - ClickOS's ``ToDevice(0)`` accepts pushed packets. User-level Click's ToDevice only
      pulls, so a ``Queue`` in front of it takes the pushes.

    Raises:
        ClickConfigError: ``interface`` is no Linux interface name, or ``text`` does not
            declare exactly one ``FromDevice(0)`` and one ``ToDevice(0)``.
    """
    if not _INTERFACE.fullmatch(interface):
        raise ClickConfigError(f"{interface!r} is not a Linux interface name")
    for pattern, what in (
        (_CLICKOS_FROM_DEVICE, "FromDevice(0)"),
        (_CLICKOS_TO_DEVICE, "ToDevice(0)"),
    ):
        found = len(pattern.findall(text))
        if found != 1:
            raise ClickConfigError(
                f"a configuration for user level needs one '<name> :: {what};' line, found {found}"
            )
    text = _CLICKOS_FROM_DEVICE.sub(rf"\1FromDevice({interface}, SNIFFER false);", text)
    return _CLICKOS_TO_DEVICE.sub(rf"\1Queue -> ToDevice({interface});", text)
