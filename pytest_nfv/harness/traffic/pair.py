"""Two namespaces joined by one veth: the direct path a generator's own ceiling is taken on.

No bridge, no proxy: host A's frames go straight to B's stack, so what is measured is the
sender, the receiver and the kernel between them, the floor under every path through a VNF.
Both namespaces carry the run's identity (``host.identity``), so a session that dies leaves
nothing the reap rule does not find.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterator

from pytest_nfv.errors import BackendError
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.namespaces import (
    inside_new,
    kill_members,
    namespace_inodes,
    namespace_path,
    remove_namespace,
    set_sysctl_here,
)
from pytest_nfv.model import Endpoint

__all__ = ["PAIR_NETWORK", "veth_pair"]

PAIR_NETWORK = ipaddress.IPv4Network("10.214.0.0/30")
"""The pair's own link; nothing outside the two namespaces has a route to it."""
_MACS = ("02:4e:47:00:00:01", "02:4e:47:00:00:02")
_ETH0 = 2


@contextlib.contextmanager
def veth_pair(identity: RunIdentity, role: str = "tg") -> Iterator[tuple[Endpoint, Endpoint]]:
    """Namespaces ``<run>-<role>a`` and ``<run>-<role>b``, one veth between them; A and B.

    Both are removed on the way out, their processes first.

    Raises:
        BackendError: the kernel refused (what was made of the pair is gone again).
    """
    names = (identity.name(f"{role}a"), identity.name(f"{role}b"))
    addresses = (PAIR_NETWORK[1], PAIR_NETWORK[2])
    made: list[str] = []
    try:
        for name, mac, peer in zip(names, _MACS, reversed(names), strict=True):
            with inside_new(name) as ipr:
                made.append(name)
                try:
                    set_sysctl_here("net.ipv6.conf.all.disable_ipv6", "1")
                    ipr.link("set", index=1, state="up")
                    if len(made) == 2:  # B exists now: the veth goes from B to A
                        ipr.link(
                            "add",
                            ifname="eth0",
                            index=_ETH0,
                            kind="veth",
                            address=mac,
                            peer={
                                "ifname": "eth0",
                                "index": _ETH0,
                                "net_ns_fd": peer,
                                "address": _MACS[0],
                            },
                        )
                except Exception as exc:
                    raise BackendError(f"cannot build namespace {name}: {exc}") from exc
                finally:
                    ipr.close()
        for name, address in zip(names, addresses, strict=True):
            _address_and_up(name, address)
        yield (
            Endpoint(names[0], addresses[0], _MACS[0], namespace_path(names[0])),
            Endpoint(names[1], addresses[1], _MACS[1], namespace_path(names[1])),
        )
    finally:
        for name in made:
            with contextlib.suppress(BackendError):
                kill_members(namespace_inodes([name]))
            remove_namespace(name)


def _address_and_up(name: str, address: ipaddress.IPv4Address) -> None:
    from pyroute2 import IPRoute

    from pytest_nfv.host.namespaces import entered

    with entered(namespace_path(name)):
        ipr = IPRoute()
    try:
        ipr.addr("add", index=_ETH0, address=str(address), prefixlen=PAIR_NETWORK.prefixlen)
        ipr.link("set", index=_ETH0, state="up")
    except Exception as exc:
        raise BackendError(f"cannot address namespace {name}: {exc}") from exc
    finally:
        ipr.close()
