"""The shipped Click templates (``proxy_vnf/click/``), rendered with the testbed's addresses.

Rendering refuses anything but an IPv4 address or a colon-separated MAC in a slot, and any
placeholder left unfilled, so a configuration that reaches ClickOS is at least well-formed
text; ``rendered_and_checked`` also parses it and checks it against the element model.
"""

from __future__ import annotations

import ipaddress
import string
from functools import cache

from pytest_nfv.backends.clickos.click.language import ClickConfigError, ClickConfiguration, parse
from pytest_nfv.backends.clickos.click.model import check
from pytest_nfv.model import Endpoint
from pytest_nfv.resources import proxy_vnf_dir
from pytest_nfv.vnf.rewrite import mac_bytes

__all__ = ["PROXY_SWITCH", "instance_config", "proxy_config", "render", "rendered_and_checked"]


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
