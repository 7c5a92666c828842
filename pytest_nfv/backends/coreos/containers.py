"""The run's containers on its Docker network: create, start, pin their namespaces, remove.

Kept apart from the backend's lifecycle so that the instances, the testbed's hosts and the
proxy are all made by one set of calls: every container of the run gets the run's labels
and a MAC derived from its address, and is held (``Held``) until it is removed.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pytest_nfv.backends.coreos.engine import LABEL_PID, LABEL_ROLE, LABEL_RUN
from pytest_nfv.backends.coreos.image import LABEL_OWNER, OWNER
from pytest_nfv.backends.shared.addressing import mac_for
from pytest_nfv.errors import BackendError
from pytest_nfv.host.identity import RunIdentity

__all__ = ["HOLD", "MAC_PREFIX", "QUIET", "Containers", "Held", "in_its_cgroup", "pinned_path"]

MAC_PREFIX = "02:4e:44"
"""Instance MACs: derived from the address like the switch's, under a prefix of their own."""
HOLD = ("sleep", "2147483647")
"""What a container without a program of its own runs: the instances, the probe, the hosts."""
QUIET = {"net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1"}
"""No IPv6 chatter (router solicitations, DAD) on the run's network."""


@dataclass
class Held:
    """A container this backend created and has not removed yet."""

    name: str
    container_id: str
    pid: int = 0
    netns_fd: int = -1
    """The container's network namespace, held open once pinned (see ``Containers.pin_netns``)."""


class Containers:
    """The containers of one run on one engine, network and image; safe across threads.

    Args:
        identity: the run, whose labels every container carries.
        api: the engine's low-level API (``docker.APIClient``).
        network: the run's network, on which every container stands.
        image: what every container is created from.
    """

    def __init__(self, identity: RunIdentity, api: Any, network: str, image: str) -> None:
        self.identity = identity
        self.api = api
        self.network = network
        self.image = image
        self.held: dict[str, Held] = {}
        self.lock = threading.Lock()

    def labels(self, role: str) -> dict[str, str]:
        return labels_of(self.identity, role)

    def create(
        self,
        name: str,
        role: str,
        address: ipaddress.IPv4Address,
        command: Sequence[str],
        sysctls: dict[str, str] | None = None,
        environment: dict[str, str] | None = None,
        cap_add: Sequence[str] = (),
    ) -> Held:
        api = self.api
        try:
            created = api.create_container(
                self.image,
                command=list(command),
                name=name,
                labels=self.labels(role),
                mac_address=mac_for(address, MAC_PREFIX),
                environment=environment,
                host_config=api.create_host_config(
                    network_mode=self.network, sysctls=sysctls, cap_add=list(cap_add) or None
                ),
                networking_config=api.create_networking_config(
                    {self.network: api.create_endpoint_config(ipv4_address=str(address))}
                ),
            )
        except Exception as exc:
            raise BackendError(f"cannot create container {name}: {exc}") from exc
        held = Held(name, created["Id"])
        with self.lock:
            self.held[name] = held
        return held

    def start(self, held: Held) -> None:
        try:
            self.api.start(held.container_id)
        except Exception as exc:
            raise BackendError(f"cannot start container {held.name}: {exc}") from exc

    def pid_of(self, held: Held) -> int:
        try:
            return int(self.api.inspect_container(held.container_id)["State"]["Pid"])
        except Exception as exc:
            raise BackendError(f"cannot inspect container {held.name}: {exc}") from exc

    def run(
        self,
        name: str,
        role: str,
        address: ipaddress.IPv4Address,
        command: Sequence[str],
        **kw: Any,
    ) -> Held:
        """Create and start a container, and learn its main process."""
        held = self.create(name, role, address, command, **kw)
        self.start(held)
        held.pid = self.pid_of(held)
        return held

    def pin_netns(self, held: Held) -> None:
        """Hold the container's network namespace open, so that a path to it stays its.

        ``/proc/<pid>/ns/net`` names whatever process has that pid when it is opened, and a
        pid is reused once its process is gone. The namespace is opened once, and only kept
        if the pid still was the container's own process after the open (its cgroup names
        the container); every later entry goes through the descriptor.

        Raises:
            BackendError: the container's process is gone.
        """
        try:
            fd = os.open(f"/proc/{held.pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise BackendError(f"container {held.name} has no process any more: {exc}") from exc
        if not in_its_cgroup(held):
            os.close(fd)
            raise BackendError(f"container {held.name} lost its process {held.pid}")
        held.netns_fd = fd

    def remove_all(self, helds: Sequence[Held]) -> None:
        """Remove containers one request at a time.

        dockerd 20.10 loses endpoint-count decrements when containers of one network go
        concurrently (moby/moby#42119): the emptied network then refuses removal until the
        daemon restarts. One at a time it does not (4 rounds of 64 containers leaked with 8
        removals in flight, and did not one by one); removal is outside every measured interval.
        """
        from docker.errors import NotFound

        failures: list[str] = []
        for held in helds:
            try:
                self.api.remove_container(held.container_id, force=True, v=True)
            except NotFound:
                pass
            except Exception as exc:
                failures.append(f"{held.name}: {exc}")
            with self.lock:
                self.held.pop(held.name, None)
            unpin_netns(held)
        if failures:
            raise BackendError("cannot remove containers: " + "; ".join(failures[:5]))

    def forget(self) -> None:
        """Let go of every namespace still pinned (the engine's containers are gone or going)."""
        for held in self.held.values():
            unpin_netns(held)
        self.held.clear()


def labels_of(identity: RunIdentity, role: str) -> dict[str, str]:
    """The labels that tie a container or network to its run (``engine.reap`` reads them)."""
    return {
        LABEL_OWNER: OWNER,
        LABEL_RUN: identity.run_id,
        LABEL_PID: str(identity.owner_pid),
        LABEL_ROLE: role,
    }


def pinned_path(held: Held) -> str:
    """A path to the container's pinned namespace, valid while this process holds it."""
    if held.netns_fd < 0:
        raise BackendError(f"the namespace of container {held.name} is not held")
    return f"/proc/{os.getpid()}/fd/{held.netns_fd}"


def unpin_netns(held: Held) -> None:
    if held.netns_fd >= 0:
        with contextlib.suppress(OSError):
            os.close(held.netns_fd)
        held.netns_fd = -1


def in_its_cgroup(held: Held) -> bool:
    """Whether ``held.pid`` is (still) a process of the container: its cgroup names it."""
    try:
        with open(f"/proc/{held.pid}/cgroup") as cgroup:
            return held.container_id in cgroup.read()
    except OSError:
        return False
