"""The nouns every backend and probe shares, as frozen dataclasses.

Backends differ in how they start things; they agree on what they hand back: an address the
probes can reach, the network namespace from which it is reachable, and the processes that
make up the instance (for memory attribution). The management requirements and the metric
catalogue are here too: the harness measures, records and files budgets under them, and the
analysis of saved runs reads them back, and neither may import the other.

Adding a metric is one entry in ``METRICS`` (and the code that measures it): the entry says
everything the recorder, the stop rule, the gate, the report and the scorecard need to know
about it, and the record carries those properties, so none of them spells a metric's name.
The catalogue is data, one entry per metric, which is what makes this module longer than most.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from pytest_nfv.errors import NfvUsageError
from pytest_nfv.units import base_unit

__all__ = [
    "AXES",
    "ECHO_CHOICES",
    "KINDS",
    "MAX_UDP_PAYLOAD",
    "METRICS",
    "MIN_PAYLOAD",
    "POOLINGS",
    "REQUIREMENTS",
    "ROLES",
    "Axis",
    "EchoProtocol",
    "Endpoint",
    "Instance",
    "InstanceSpec",
    "Kind",
    "Metric",
    "PathMode",
    "Pooling",
    "Role",
    "Testbed",
    "metric_of",
]

MAX_UDP_PAYLOAD = 65507
"""The largest UDP payload in one IPv4 datagram (65535 - 20 - 8): the paper's "64 KB"."""
MIN_PAYLOAD = 8
"""Room for the sequence number a response-time request carries."""

REQUIREMENTS: tuple[str, ...] = ("instantiation", "deployment", "monitoring", "coexistence")
"""The four NFV management requirements of the paper, in its order: every benchmark gates one,
budgets are filed under them and the scorecard reads one table for each."""

PathMode = Literal["proxy", "direct"]

EchoProtocol = Literal["udp", "icmp"]
"""What host A's timed requests are: UDP datagrams to host B's echo responder, or ICMP echo
requests that host B's kernel answers itself."""
ECHO_CHOICES: tuple[str, ...] = ("auto", "udp", "icmp")
"""The user's choice of ``EchoProtocol``; ``auto``: ICMP where the proxy VNF carries it."""


@dataclass(frozen=True)
class InstanceSpec:
    """What to start: one VNF instance, its address on the testbed switch and its role.

    ``role`` is ``vnf`` for the N measured instances, ``proxy`` for the proxy VNF, ``host``
    for testbed hosts A and B.
    """

    name: str
    address: ipaddress.IPv4Address
    mac: str
    role: Literal["vnf", "proxy", "host"] = "vnf"


@dataclass(frozen=True)
class Instance:
    """A started instance.

    Args:
        spec: what was asked for.
        start_ns: ``time.time_ns()`` taken just before the start request went to the engine;
            boot time counts from here (CLOCK_REALTIME, comparable with kernel timestamps).
        netns_path: the network namespace the instance's interface lives in.
        pids: host processes that make up the instance (memory is attributed to these).
    """

    spec: InstanceSpec
    start_ns: int
    netns_path: str
    pids: tuple[int, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def address(self) -> ipaddress.IPv4Address:
        return self.spec.address


@dataclass(frozen=True)
class Endpoint:
    """A testbed host: where a socket must be opened to speak from it, and how to reach it."""

    name: str
    address: ipaddress.IPv4Address
    mac: str
    netns_path: str


@dataclass(frozen=True)
class Testbed:
    """Fig. 1 of the paper: host A -- proxy VNF -- host B, plus B2 for reconfiguration.

    Host A sends to ``proxy.address``; the proxy rewrites the destination to ``host_b`` (and
    B's replies back to A). ``host_b2`` is a second responder the deployment suite switches the
    proxy to, so a reconfiguration is observable on the wire. ``echo_port`` is the UDP port
    hosts B and B2 answer on.

    ``proxy_relays``: the proxy applies Algorithm 1 at the socket layer (a UDP relay, where
    the guest has no raw frames): B's replies reach A from the proxy's address, not from B's.
    The relay passes on only what the B it is set to sent, so a reply is still B's answer.
    """

    host_a: Endpoint
    host_b: Endpoint
    host_b2: Endpoint
    proxy: Endpoint
    echo_port: int
    proxy_relays: bool = False

    def replier(self, responder: Endpoint, through_proxy: bool) -> Endpoint:
        """Whose address A sees on ``responder``'s replies, through the proxy or not."""
        return self.proxy if through_proxy and self.proxy_relays else responder


# --- the metric catalogue ------------------------------------------------------------------

Kind = Literal["round", "round_trip"]
"""What one sample of a figure costs, which decides its stop rule's caps.

``round``: a round boots, grows or deploys instances (seconds each), so a few tens of them is
all a run can afford. ``round_trip``: a sample is one request through the testbed (well under
a millisecond), so a figure takes hundreds until its interval is narrow, and its tail
(p99, p99.9) becomes measurable at all.
"""
KINDS: tuple[Kind, ...] = ("round", "round_trip")

Role = Literal["primary", "secondary", "supporting"]
"""What a figure is to a reader of saved runs.

``primary``: the figure a requirement is judged and drawn on (the scorecard's rows, the
report's panels). ``secondary``: the same quantity measured a noisier way (the host's
MemAvailable drop beside the kernel's count): kept and gated, shown only for a backend that
lacks the primary (``stands_in_for``), and labelled so. ``supporting``: recorded, judged
against a budget and gated, not drawn (each instance's own boot time, the PSS reading).
"""
ROLES: tuple[Role, ...] = ("primary", "secondary", "supporting")

Pooling = Literal["per_round", "per_instance", "repeated"]
"""How a series' samples relate to its rounds.

``per_round``: one sample per round, independent enough for the regression gate.
``per_instance``: one per instance per round, so several per round when N > 1 (the recorder
sees that from the counts and records the series as not per round; older records without that
field are taken as pooled). ``repeated``: one quantity read again each round (a process's
memory): never independent samples.
"""
POOLINGS: tuple[Pooling, ...] = ("per_round", "per_instance", "repeated")

Axis = Literal["n", "size"]
"""What a figure is read against: the number of instances, or the packet size."""
AXES: tuple[Axis, ...] = ("n", "size")


@dataclass(frozen=True)
class Metric:
    """One entry of the metric catalogue: everything measuring, judging and drawing need.

    Args:
        dimension: ``time`` or ``memory``; the unit it is recorded in follows (``unit``).
        label: a few words naming the figure in a table (the scorecard's row).
        description: one sentence saying what was measured (a report panel's title).
        kind: what a sample costs (:data:`Kind`).
        lower_is_better: the direction a regression goes; a throughput would say False.
        role: :data:`Role`.
        pooling: how its samples relate to rounds (:data:`Pooling`); the regression gate
            and the calibration compare only series with one sample per round.
        axis: the parameter the figure is drawn and compared against, if any.
        panel: the name of the report figure that draws it (``boot_time`` writes
            ``boot_time.png``); None: not drawn. A secondary metric names its primary's
            panel, where it stands in for a backend without the primary.
        parts: the record carries the figure by part (what the host spends, by part: the
            instances' own, the engine's helpers, ...); the report stacks them beside its
            panel.
        stands_in_for: for a ``secondary`` metric, the primary metric of the same
            requirement it replaces where a backend lacks that one.
    """

    dimension: str
    label: str
    description: str
    kind: Kind = "round"
    lower_is_better: bool = True
    role: Role = "supporting"
    pooling: Pooling = "per_round"
    axis: Axis | None = None
    panel: str | None = None
    parts: bool = False
    stands_in_for: str | None = None

    def __post_init__(self) -> None:
        if self.panel is not None and self.axis is None:
            raise NfvUsageError(f"metric {self.label!r}: a panel needs an axis (n or size)")
        if (self.role == "secondary") != (self.stands_in_for is not None):
            raise NfvUsageError(
                f"metric {self.label!r}: a secondary metric, and only one, stands in for a primary"
            )

    @property
    def unit(self) -> str:
        """The base unit its figures are measured and recorded in (``s`` or ``MiB``)."""
        return base_unit(self.dimension)

    @property
    def is_time(self) -> bool:
        return self.dimension == "time"


def _round_trip(
    label: str,
    description: str,
    *,
    role: Role = "supporting",
    axis: Axis = "size",
    panel: str | None = None,
) -> Metric:
    """A figure of single requests through the testbed: hundreds of samples, a tail."""
    return Metric("time", label, description, "round_trip", role=role, axis=axis, panel=panel)


_HOST_MEMORY = "host memory spent for N"
_THE_KERNEL = "as the kernel accounts it to the instances and their engine"
_MEM_AVAILABLE = "the host's MemAvailable before minus after"

#: requirement -> metric -> its entry, the requirements in the order of ``REQUIREMENTS``:
#: the one place a figure's dimension, cost, direction, role and pooling are declared.
METRICS: Mapping[str, Mapping[str, Metric]] = MappingProxyType(
    {
        "instantiation": MappingProxyType(
            {
                "boot_makespan": Metric(
                    "time",
                    "boot time of N together",
                    "Boot time: N instances started together, until all answer ICMP echo",
                    role="primary",
                    axis="n",
                    panel="boot_time",
                ),
                "boot_per_instance": Metric(
                    "time",
                    "boot time of each instance",
                    "Each instance's own boot time, pooled over the rounds",
                    pooling="per_instance",
                    axis="n",
                ),
                "memory_kernel": Metric(
                    "memory",
                    _HOST_MEMORY,
                    "Memory the host spends for N running instances",
                    role="primary",
                    axis="n",
                    panel="memory",
                    parts=True,
                ),
                "memory": Metric(
                    "memory",
                    "host MemAvailable drop",
                    f"Memory of N running instances: {_MEM_AVAILABLE}",
                    role="secondary",
                    axis="n",
                    panel="memory",
                    stands_in_for="memory_kernel",
                ),
                "memory_kernel_per_instance": Metric(
                    "memory",
                    "memory per instance",
                    f"Slope over N of the memory the host spends, {_THE_KERNEL}",
                    role="primary",
                    parts=True,
                ),
                "memory_per_instance": Metric(
                    "memory",
                    "memory per instance (host MemAvailable)",
                    f"Slope over N of {_MEM_AVAILABLE}",
                    role="secondary",
                    stands_in_for="memory_kernel_per_instance",
                ),
                "memory_pss": Metric(
                    "memory", "PSS of N", "Sum of PSS of the instances' processes", axis="n"
                ),
                "memory_pss_per_instance": Metric(
                    "memory", "PSS per instance", "Slope over N of the instances' PSS"
                ),
                "memory_engine": Metric(
                    "memory",
                    "engine's count for N",
                    "Sum of the instances' memory as their engine counts it",
                    axis="n",
                ),
                "memory_engine_per_instance": Metric(
                    "memory",
                    "engine's count per instance",
                    "Slope over N of the instances' memory as their engine counts it",
                ),
            }
        ),
        "deployment": MappingProxyType(
            {
                "boot_time": Metric(
                    "time",
                    "proxy VNF deployment time",
                    "From the proxy VNF's start request until host A's first reply through it",
                    role="primary",
                ),
                "reconfigure_time": Metric(
                    "time",
                    "reconfiguration time",
                    "From pointing the running proxy VNF at host B2 until B2's replies come back",
                    role="primary",
                ),
                "memory": Metric(
                    "memory",
                    "proxy VNF memory",
                    "PSS of the proxy VNF's processes, the same processes read again each round",
                    role="primary",
                    pooling="repeated",
                ),
                # moving the proxy VNF under host A's probe stream (harness.migration)
                "migration_seen_downtime": Metric(
                    "time",
                    "live migration downtime seen by traffic",
                    "Longest gap between replies of host A's probe stream while the proxy VNF "
                    "migrates live",
                    role="primary",
                ),
                "migration_time": Metric(
                    "time", "live migration time", "Total time of the live move, as the engine says"
                ),
                "migration_downtime": Metric(
                    "time",
                    "live migration downtime (engine)",
                    "The proxy VNF's pause during the live move, as the engine reports it",
                ),
                "migration_moved": Metric(
                    "memory", "live migration bytes moved", "What the engine sent to move the VNF"
                ),
                "save_restore_time": Metric(
                    "time",
                    "save and restore time",
                    "Saving the proxy VNF to a file and restoring it from that file",
                    role="primary",
                ),
                "save_image": Metric(
                    "memory", "saved image size", "The file the proxy VNF was saved to"
                ),
            }
        ),
        "monitoring": MappingProxyType(
            {
                "response_time": _round_trip(
                    "response time via proxy",
                    "Response time through the proxy VNF (A -> proxy -> B -> proxy -> A)",
                    role="primary",
                    axis="size",
                    panel="response_time",
                ),
                "direct_response_time": _round_trip(
                    "response time, kernel forwarding",
                    "Response time A -> B -> A through the proxy's hop, kernel-forwarded",
                    axis="size",
                ),
                "proxy_overhead": _round_trip(
                    "added by the proxy VNF",
                    "Response time through the proxy VNF minus the kernel-forwarded path's",
                    role="primary",
                    axis="size",
                ),
                # --nfv-proxy-b: variant B's, timed round by round beside A's
                "variant_response_time": _round_trip(
                    "response time via proxy B",
                    "Response time through variant B of the proxy VNF",
                    axis="size",
                ),
                "variant_proxy_overhead": _round_trip(
                    "added by proxy B",
                    "Response time through variant B minus the kernel-forwarded path's",
                    axis="size",
                ),
                # throughput: 1 / NDR and 1 / PDR (lower is better, as every time), a round
                # being one whole search; the rates themselves are in the record beside them
                "ndr_frame_interval": Metric(
                    "time",
                    "time per frame at the NDR",
                    "1 / NDR through the proxy VNF: the no-drop rate found by MLRsearch",
                    role="primary",
                    axis="size",
                ),
                "pdr_frame_interval": Metric(
                    "time",
                    "time per frame at the PDR",
                    "1 / PDR through the proxy VNF: the rate losing at most 0.5%",
                    axis="size",
                ),
            }
        ),
        "coexistence": MappingProxyType(
            {
                "memory_kernel": Metric(
                    "memory",
                    "host memory spent beside the testbed",
                    "Memory the host spends for N instances beside the running testbed",
                    role="primary",
                    axis="n",
                    parts=True,
                ),
                "memory": Metric(
                    "memory",
                    "host MemAvailable drop beside the testbed",
                    f"Memory of N instances beside the running testbed: {_MEM_AVAILABLE}",
                    role="secondary",
                    axis="n",
                    stands_in_for="memory_kernel",
                ),
                "response_time": _round_trip(
                    "response time among N",
                    "Response time through the proxy VNF with N instances running beside it",
                    role="primary",
                    axis="n",
                ),
            }
        ),
    }
)


def metric_of(requirement: str, metric: str) -> Metric:
    """The catalogue's entry for ``requirement``/``metric``.

    Raises:
        NfvUsageError: not a metric of the catalogue; the message lists the requirement's.
    """
    entry = METRICS.get(requirement, {}).get(metric)
    if entry is None:
        known = ", ".join(METRICS.get(requirement, {})) or f"requirements: {', '.join(METRICS)}"
        raise NfvUsageError(f"unknown requirement/metric {requirement}/{metric} ({known})")
    return entry
