"""The run's bridge in dom0's root namespace, where the ClickOS domains' vifs plug in.

Xen's vif backends live in dom0's root network namespace, and libxl's hotplug script adds
each to the bridge the domain names; a bridge inside a namespace of ours cannot take them.
So, unlike the netns backend, this backend makes one link pair in the root namespace: a
bridge named ``nfv<run>`` and the veth that joins it to the switch namespace the prober and
testbed hosts share (``<run>-sw``, built by the netns backend). Both carry the run identity
in their interface alias (``ip link`` shows it), which is how ``reap_bridges`` tells ours
from anything else and a dead run from a live one. Nothing is routed or addressed in the root
namespace; no iptables rule or sysctl is touched.
"""

from __future__ import annotations

import contextlib
from typing import Any

from pytest_nfv.backends.base import CleanupReport
from pytest_nfv.errors import BackendError
from pytest_nfv.host.identity import RunIdentity, parse_name
from pytest_nfv.host.reap import ReapRule

__all__ = ["bridge_name", "create_bridge", "reap_bridges", "remove_bridge"]

UPLINK_IN_SWITCH = "xup"
ROLE = "xenbr"


def bridge_name(identity: RunIdentity) -> str:
    """``nfv`` + run id: fits IFNAMSIZ (15), unlike a full identity name."""
    return f"nfv{identity.run_id}"


def _uplink(bridge: str) -> str:
    return f"{bridge}u"


def create_bridge(identity: RunIdentity, switch_netns: str, switch_bridge: str = "br0") -> str:
    """Create the root-namespace bridge and join it to ``switch_bridge`` in ``switch_netns``."""
    from pyroute2 import IPRoute, NetNS

    name = bridge_name(identity)
    alias = identity.name(ROLE)
    try:
        with IPRoute() as ipr:
            ipr.link("add", ifname=name, kind="bridge", br_stp_state=0, br_forward_delay=0)
            bridge = ipr.link_lookup(ifname=name)[0]
            ipr.link("set", index=bridge, ifalias=alias)
            ipr.link(
                "add",
                ifname=_uplink(name),
                kind="veth",
                peer={"ifname": UPLINK_IN_SWITCH, "net_ns_fd": switch_netns},
            )
            uplink = ipr.link_lookup(ifname=_uplink(name))[0]
            ipr.link("set", index=uplink, ifalias=alias, master=bridge, state="up")
            ipr.link("set", index=bridge, state="up")
        sw: Any = NetNS(switch_netns)
        try:
            inner = sw.link_lookup(ifname=UPLINK_IN_SWITCH)[0]
            master = sw.link_lookup(ifname=switch_bridge)[0]
            sw.link("set", index=inner, master=master, state="up")
        finally:
            sw.close()
    except Exception as exc:
        remove_bridge(name)
        raise BackendError(f"cannot create the dom0 bridge {name}: {exc}") from exc
    return name


def remove_bridge(name: str) -> None:
    """Delete the bridge and its uplink (the veth's peer goes with it); absent is fine."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        for ifname in (_uplink(name), name):
            with contextlib.suppress(Exception):
                for index in ipr.link_lookup(ifname=ifname):
                    ipr.link("del", index=index)


def _ours(ipr: Any) -> list[tuple[str, str, int]]:
    found = []
    for link in ipr.get_links():
        alias = link.get_attr("IFLA_IFALIAS")
        ifname = link.get_attr("IFLA_IFNAME")
        parsed = parse_name(alias) if alias else None
        if parsed is None or parsed[2] != ROLE or ifname != f"nfv{parsed[0]}":
            continue
        found.append((ifname, parsed[0], parsed[1]))
    return found


def reap_bridges(rule: ReapRule, *, dry_run: bool) -> CleanupReport:
    """Remove the dom0 bridges (found by their alias) of the runs ``rule`` takes."""
    from pyroute2 import IPRoute

    report = CleanupReport()
    with IPRoute() as ipr:
        candidates = _ours(ipr)
    for name, run_id, pid in candidates:
        if not rule.takes(run_id, pid, f"bridge {name}", report):
            continue
        if not dry_run:
            remove_bridge(name)
        report.removed.append(f"bridge {name}")
    return report
