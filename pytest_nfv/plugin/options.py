"""Every ``--nfv-*`` option and its ``[tool.pytest.ini_options]`` twin, parsed and validated once.

The same parser serves the command line (as argparse ``type=``, so a bad value is reported by
option name before anything starts) and the ini file (where the message names the ini key).
The command line wins over the ini file, which wins over the defaults here.

One module for the whole table on purpose: an option's flag, ini key, metavar, default, help
and the ``NfvSettings`` field it fills are read together, and the ``--help`` snapshot test
reads them in this order. The value parsers they name are ``plugin.option_types``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from pytest_nfv.backends.base import BackendSettings
from pytest_nfv.backends.variant import ProxyVariant
from pytest_nfv.harness.repeat import StopRule
from pytest_nfv.harness.traffic.generator import FrameSize
from pytest_nfv.model import MAX_UDP_PAYLOAD, MIN_PAYLOAD, Kind
from pytest_nfv.plugin.option_types import (
    BOOT_TIMEOUT_FLOOR_S,
    backend_name,
    boot_timeout,
    cpu_choice,
    echo_choice,
    file_path,
    fraction,
    frame_sizes,
    generator_name,
    inconclusive_policy,
    int_list,
    nonempty_text,
    positive_int,
    positive_seconds,
    proxy_variant,
)

__all__ = ["NfvSettings", "add_options", "settings_from_config"]

T = TypeVar("T")

DEFAULT_BACKEND = "netns"
DEFAULT_INSTANCES = (1, 2, 4, 8, 16, 32, 64, 128)
DEFAULT_PACKET_SIZES = (64, 256, 1024, 1472, 4096, 16384, 65507)
DEFAULT_FRAME_SIZES = (FrameSize(64),)
"""One size by default: a throughput test adds its searches to the default run, and the
benchmark (benchmarks/throughput_ndr_pdr.py) searches 512 B, 1518 B and an IMIX beside it."""
DEFAULT_GENERATOR = "csender"
MAX_INSTANCES = 1024
DEFAULT_MAX_ROUND_TRIPS = 1000
"""Enough for a 5% interval of the mean at the spread round trips show on a busy host, and to
bound a p99 from above (about 370 samples); a p99.9 would need thousands."""
DEFAULT_MAX_ROUND_TRIP_SECONDS = 3.0
"""Where a round-trip series stops if its interval is still wide (a heavy tail, a busy host).
A round of the monitoring suite switches the path (the VNF paused or resumed), which costs far
more than its round trips, so this cap binds there first; it is set so that the small packet
sizes, the noisiest relative to their mean, mostly converge within it, and a default run of
every packet size and N stays within a few minutes on a small host (benchmarks/RESULTS.md)."""
MIN_ROUND_TRIPS = 30
"""No round-trip figure rests on fewer (the old cap): a t interval of a few skewed round
trips can look narrow by luck, and a few cost nothing."""


parse_instances = int_list(1, MAX_INSTANCES, "instances")
parse_packet_sizes = int_list(MIN_PAYLOAD, MAX_UDP_PAYLOAD, "bytes of UDP payload")


@dataclass(frozen=True)
class _Option:
    flag: str
    ini: str
    parse: Callable[[str], object]
    default: object
    metavar: str
    help: str


_OPTIONS = (
    _Option(
        "--backend",
        "nfv_backend",
        backend_name,
        DEFAULT_BACKEND,
        "NAME",
        "virtualization backend to benchmark: netns, coreos, osv, clickos, or one a plugin "
        "registers. Default: netns",
    ),
    _Option(
        "--nfv-instances",
        "nfv_instances",
        parse_instances,
        DEFAULT_INSTANCES,
        "N,N,...",
        "instance counts N to measure (1..1024). Default: 1,2,4,8,16,32,64,128",
    ),
    _Option(
        "--nfv-packet-sizes",
        "nfv_packet_sizes",
        parse_packet_sizes,
        DEFAULT_PACKET_SIZES,
        "BYTES,...",
        "UDP payload sizes for response time (8..65507; above the MTU they "
        "fragment). Default: 64,256,1024,1472,4096,16384,65507",
    ),
    _Option(
        "--nfv-frame-sizes",
        "nfv_frame_sizes",
        frame_sizes,
        DEFAULT_FRAME_SIZES,
        "BYTES,...",
        "Ethernet frame sizes, FCS included, for the throughput search (64..1518), and imix "
        "for the simple IMIX (7:4:1 frames of 64, 570 and 1518 B, sent by the generator's "
        "-imix form). Default: " + ",".join(str(f.size) for f in DEFAULT_FRAME_SIZES),
    ),
    _Option(
        "--nfv-generator",
        "nfv_generator",
        generator_name,
        DEFAULT_GENERATOR,
        "NAME",
        "traffic generator of the throughput search: csender (paced C sender), trafgen, or "
        f"one a plugin registers. Default: {DEFAULT_GENERATOR}",
    ),
    _Option(
        "--nfv-budgets",
        "nfv_budgets",
        file_path("budgets file"),
        None,
        "PATH",
        "budgets TOML file. Default: the backend's file shipped in fixtures/budgets/",
    ),
    _Option(
        "--nfv-ci-width",
        "nfv_ci_width",
        fraction,
        0.05,
        "FRACTION",
        "stop repeating once the 95%% CI half-width is within this fraction of the mean. "
        "Default: 0.05",
    ),
    _Option(
        "--nfv-max-rounds",
        "nfv_max_rounds",
        positive_int,
        30,
        "ROUNDS",
        "at most this many rounds per measurement. Default: 30",
    ),
    _Option(
        "--nfv-max-seconds",
        "nfv_max_seconds",
        positive_seconds,
        30.0,
        "SECONDS",
        "stop repeating a measurement after this long (checked between rounds, never before "
        "its third round; what stops here is marked not converged). Default: 30",
    ),
    _Option(
        "--nfv-max-round-trips",
        "nfv_max_round_trips",
        positive_int,
        DEFAULT_MAX_ROUND_TRIPS,
        "ROUND_TRIPS",
        "at most this many samples per round-trip figure (response time and what the proxy "
        "adds), which otherwise repeat like any measurement until the 95%% CI is narrow "
        f"enough; at least {MIN_ROUND_TRIPS} are taken. Default: {DEFAULT_MAX_ROUND_TRIPS}",
    ),
    _Option(
        "--nfv-max-round-trip-seconds",
        "nfv_max_round_trip_seconds",
        positive_seconds,
        DEFAULT_MAX_ROUND_TRIP_SECONDS,
        "SECONDS",
        "stop repeating a round-trip figure after this long (what stops here is marked not "
        f"converged). Default: {DEFAULT_MAX_ROUND_TRIP_SECONDS:g}",
    ),
    _Option(
        "--nfv-inconclusive",
        "nfv_inconclusive",
        inconclusive_policy,
        "report",
        "report|fail",
        "what a budget verdict of inconclusive does (the 95%% CI still holds the limit at the "
        "caps, or too few rounds): report lists it in the summary and the record; fail also "
        "fails the test. Default: report",
    ),
    _Option(
        "--nfv-boot-timeout",
        "nfv_boot_timeout",
        boot_timeout,
        "auto",
        "SECONDS|auto",
        "instances that have not answered ICMP echo after this long fail the test; auto: "
        f"{BOOT_TIMEOUT_FLOOR_S:g} s, or longer where the backend expects a slower boot of so "
        "many instances on this host (osv under TCG), as the header says. Default: auto",
    ),
    _Option(
        "--nfv-image",
        "nfv_image",
        nonempty_text("an image"),
        None,
        "IMAGE",
        "instance image: a Docker image reference (coreos) or an image file (osv: an OSv "
        "disk image, raw or qcow2, booted by the firmware with its own command line, or with "
        "--nfv-kernel the read-only disk behind that kernel; clickos: a ClickOS kernel). "
        "Default: an image the plugin builds locally (coreos, osv); clickos needs one",
    ),
    _Option(
        "--nfv-kernel",
        "nfv_kernel",
        file_path("kernel file"),
        None,
        "PATH",
        "osv: an OSv kernel ELF (loader-stripped.elf) booted directly, with --nfv-image as "
        "its read-only disk if given; the backend writes its command line (--ip, "
        "--defaultgw, /nfv-relay ...). Default: none",
    ),
    _Option(
        "--nfv-docker-url",
        "nfv_docker_url",
        nonempty_text("a Docker engine URL"),
        None,
        "URL",
        "Docker engine on this host that the coreos backend drives, e.g. "
        "unix:///var/run/docker.sock; an engine running its containers elsewhere is refused. "
        "Default: $DOCKER_HOST, else the local socket",
    ),
    _Option(
        "--nfv-libvirt-uri",
        "nfv_libvirt_uri",
        nonempty_text("a libvirt URI"),
        None,
        "URI",
        "libvirt connection to this host's hypervisor that the osv and clickos backends "
        "drive, e.g. qemu:///system; osv refuses a remote URI. "
        "Default: qemu:///system (osv), xen:///system (clickos)",
    ),
    _Option(
        "--nfv-domain-template",
        "nfv_domain_template",
        file_path("domain template"),
        None,
        "PATH",
        "libvirt domain XML template for osv or clickos instances (vCPU, memory, disk). "
        "Default: the backend's template in fixtures/domains/",
    ),
    _Option(
        "--nfv-cpus",
        "nfv_cpus",
        cpu_choice,
        "auto",
        "auto|off|PATH,PROBER",
        "CPUs of the harness's own processes: host A's requester, B's responder, the proxy "
        "VNF and the start requests on PATH, the ICMP prober on PROBER. auto: the lowest and "
        "the highest CPU this process may use, where it may use two or more; off: not "
        "pinned. Default: auto",
    ),
    _Option(
        "--nfv-echo",
        "nfv_echo",
        echo_choice,
        "auto",
        "auto|udp|icmp",
        "what host A's response-time requests are: icmp, echo requests answered by host B's "
        "own kernel (the proxy VNF must carry them: netns, coreos); udp, datagrams to host "
        "B's echo responder (every backend, to compare backends on one protocol); auto, icmp "
        "where the backend's proxy carries it and udp elsewhere. Default: auto",
    ),
    _Option(
        "--nfv-proxy-b",
        "nfv_proxy_b",
        proxy_variant,
        None,
        "SPEC",
        "also time variant B of the proxy VNF, round by round beside A in this session "
        "(netns): SPEC says how B differs, as key=value pairs: slowdown=x1.2 (or +20%%, "
        "+30us: each round trip through B that much longer), hold-us=N (B holds every frame "
        "N us; hold-us=0 for an A/A run). Default: none",
    ),
    _Option(
        "--nfv-compare",
        "nfv_compare",
        nonempty_text("a saved run"),
        None,
        "REF",
        "at the end, gate this run against a saved one (a pytest-benchmark JSON file, or a "
        "storage name like 0001): a significant regression beyond its noise floor fails the "
        "session. Default: off",
    ),
    _Option(
        "--nfv-gate",
        "nfv_gate",
        file_path("gate settings file"),
        None,
        "PATH",
        "regression gate settings TOML for --nfv-compare (alpha, noise floors, two_sided, "
        "hosts). Default: alpha 0.01, floors time 5%%/10us and memory 5%%/1MiB",
    ),
)


def add_options(parser: pytest.Parser) -> None:
    """Register the ``nfv`` option group and the matching ini keys."""
    group = parser.getgroup("nfv", "NFV virtualization benchmarks (pytest-nfv)")
    for option in _OPTIONS:
        group.addoption(
            option.flag,
            dest=option.ini,
            type=option.parse,
            default=None,
            metavar=option.metavar,
            help=option.help,
        )
        ini_help = option.help.replace("%%", "%")  # argparse escapes %, the ini help does not
        parser.addini(option.ini, f"{ini_help} (command line: {option.flag})", type="string")
    group.addoption(
        "--nfv-strict",
        dest="nfv_strict",
        action="store_true",
        default=None,
        help="a backend this host cannot run fails instead of skipping. Default: off",
    )
    parser.addini(
        "nfv_strict",
        "fail instead of skip when the backend cannot run (command line: --nfv-strict)",
        type="bool",
        default=False,
    )


@dataclass(frozen=True)
class NfvSettings:
    """The resolved configuration of one pytest-nfv session."""

    backend: str
    instances: tuple[int, ...]
    packet_sizes: tuple[int, ...]
    budgets: Path | None
    strict: bool
    stop_rule: StopRule
    boot_timeout_s: float
    """The boot deadline the user gave, else ``BOOT_TIMEOUT_FLOOR_S``."""
    image: str | None = None
    kernel: Path | None = None
    docker_url: str | None = None
    libvirt_uri: str | None = None
    domain_template: Path | None = None
    compare: str | None = None
    gate: Path | None = None
    inconclusive: str = "report"
    cpus: str = "auto"
    echo: str = "auto"
    proxy_b: ProxyVariant | None = None
    """Variant B of the proxy VNF, timed beside A (``--nfv-proxy-b``); None: A alone."""
    frame_sizes: tuple[FrameSize, ...] = DEFAULT_FRAME_SIZES
    """Frame sizes of the throughput search (``--nfv-frame-sizes``)."""
    generator: str = DEFAULT_GENERATOR
    """The throughput search's traffic generator (``--nfv-generator``)."""
    round_trip_rule: StopRule | None = None
    """The stop rule of round-trip figures; None: the same as ``stop_rule``."""
    instances_given: bool = True
    """Whether the user chose N (command line or ini); if not, a backend may shorten the
    default list to what the host holds (``HostCapacity``)."""
    instances_why: str | None = None
    """Why the N list is not the one asked for (the header says it); None: it is."""
    boot_timeout_auto: bool = False
    """``--nfv-boot-timeout auto``: the backend may lengthen the deadline for what it boots
    (``BootDeadlines``), never below ``boot_timeout_s``."""

    def rule_for(self, kind: Kind) -> StopRule:
        """The stop rule of a figure of ``kind`` (``model.METRICS`` declares each's)."""
        if kind == "round_trip" and self.round_trip_rule is not None:
            return self.round_trip_rule
        return self.stop_rule

    @property
    def backend_settings(self) -> BackendSettings:
        """The part of these settings a built-in backend is built with."""
        return BackendSettings(
            image=self.image,
            kernel=self.kernel,
            docker_url=self.docker_url,
            libvirt_uri=self.libvirt_uri,
            domain_template=self.domain_template,
            boot_timeout_s=self.boot_timeout_s,
        )


def _resolve(config: pytest.Config, option: _Option) -> object:
    value = config.getoption(option.ini)
    if value is not None:
        return value
    raw = config.getini(option.ini)
    if raw:
        try:
            return option.parse(str(raw))
        except argparse.ArgumentTypeError as exc:
            raise pytest.UsageError(f"ini value {option.ini} = {raw!r}: {exc}") from None
    return option.default


def settings_from_config(config: pytest.Config) -> NfvSettings:
    """Resolve command line > ini > default for every option.

    Raises:
        pytest.UsageError: an ini value is invalid (command-line values were checked by argparse).
    """
    values = {option.ini: _resolve(config, option) for option in _OPTIONS}
    strict = config.getoption("nfv_strict")
    if strict is None:
        strict = bool(config.getini("nfv_strict"))
    max_rounds = int(values["nfv_max_rounds"])  # type: ignore[call-overload]
    rule = StopRule(
        ci_width=float(values["nfv_ci_width"]),  # type: ignore[arg-type]
        max_rounds=max_rounds,
        max_seconds=float(values["nfv_max_seconds"]),  # type: ignore[arg-type]
    )
    given = values["nfv_boot_timeout"]
    boot_timeout = None if given == "auto" else float(given)  # type: ignore[arg-type]
    max_round_trips = int(values["nfv_max_round_trips"])  # type: ignore[call-overload]
    round_trip_rule = StopRule(
        ci_width=rule.ci_width,
        max_rounds=max_round_trips,
        max_seconds=float(values["nfv_max_round_trip_seconds"]),  # type: ignore[arg-type]
        min_rounds=max(MIN_ROUND_TRIPS, rule.min_rounds),
    )
    return NfvSettings(
        backend=str(values["nfv_backend"]),
        instances=values["nfv_instances"],  # type: ignore[arg-type]
        packet_sizes=values["nfv_packet_sizes"],  # type: ignore[arg-type]
        budgets=values["nfv_budgets"],  # type: ignore[arg-type]
        strict=bool(strict),
        stop_rule=rule,
        boot_timeout_s=BOOT_TIMEOUT_FLOOR_S if boot_timeout is None else boot_timeout,
        boot_timeout_auto=boot_timeout is None,
        instances_given=config.getoption("nfv_instances") is not None
        or bool(config.getini("nfv_instances")),
        image=values["nfv_image"],  # type: ignore[arg-type]
        kernel=values["nfv_kernel"],  # type: ignore[arg-type]
        docker_url=values["nfv_docker_url"],  # type: ignore[arg-type]
        libvirt_uri=values["nfv_libvirt_uri"],  # type: ignore[arg-type]
        domain_template=values["nfv_domain_template"],  # type: ignore[arg-type]
        compare=values["nfv_compare"],  # type: ignore[arg-type]
        gate=values["nfv_gate"],  # type: ignore[arg-type]
        inconclusive=str(values["nfv_inconclusive"]),
        cpus=str(values["nfv_cpus"]),
        echo=str(values["nfv_echo"]),
        proxy_b=values["nfv_proxy_b"],  # type: ignore[arg-type]
        round_trip_rule=round_trip_rule,
        frame_sizes=values["nfv_frame_sizes"],  # type: ignore[arg-type]
        generator=str(values["nfv_generator"]),
    )
