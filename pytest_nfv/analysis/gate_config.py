"""What the regression gate calls a regression: the false-alarm rate, noise floors, directions.

Defaults suit the shipped suites; a TOML file (``--config`` of ``pytest-nfv compare``, or
``--nfv-gate`` beside ``--nfv-compare``) or command line flags change them::

    alpha = 0.01             # false-alarm rate of a whole comparison (Benjamini-Hochberg)
    two_sided = false        # true: significant improvements fail too (time for a new baseline)
    hosts = "refuse"         # or "mark": compare runs from different hosts, marked as such
    canary_floor = 0.8       # every host canary must be this much slower to be host drift
                             # (default: each canary's own, CANARY_FLOORS)

    [floor.time]             # every time metric; also [floor.memory] and [floor."*"]
    relative = 0.05          # a change must exceed 5% of the baseline median ...
    absolute = 10            # ... and 10 us, whichever is larger
    unit = "us"

    [floor."instantiation.memory"]   # one requirement's metric, or a metric name alone
    relative = 0.10
    absolute = 4
    unit = "MiB"

    [direction]
    throughput = "higher_is_better"  # time and memory are lower-is-better already

    [single_baseline.time]   # coarse floor of a one-baseline comparison on a runner
    relative = 0.65          # without a calibration of its own (see gate.py)
    absolute = 10
    unit = "us"

    calibration = "nfv-calibration.json"  # this runner's A/A thresholds (pytest-nfv
                             # calibrate); relative to this file. Default: the file of that
                             # name under the benchmark storage, when it exists

The most specific floor wins: ``requirement.metric``, then ``metric``, then the dimension of its
unit (``time`` or ``memory``), then ``"*"``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from pytest_nfv.analysis.history import RecordKey
from pytest_nfv.errors import NfvUsageError
from pytest_nfv.units import UNITS, dimension_of, to_base

if TYPE_CHECKING:
    from pytest_nfv.analysis.calibration import CalibrationFile

__all__ = [
    "DEFAULT_FLOORS",
    "SINGLE_BASELINE_FLOORS",
    "Floor",
    "GateConfig",
    "load_gate_config",
    "parse_floor",
]

HOST_POLICIES = ("refuse", "mark")
DIRECTIONS = ("lower_is_better", "higher_is_better")


@dataclass(frozen=True)
class Floor:
    """The smallest change worth failing a build for: above both, in the record's base unit."""

    relative: float
    absolute: float = 0.0

    def threshold(self, baseline_center: float) -> float:
        return max(self.relative * abs(baseline_center), self.absolute)


#: Time: 5% (a 10% regression must be visible) and 10 us (below the jitter of a kernel
#: timestamp on a busy host). Memory: 5% and 1 MiB (the MemAvailable reading moves by about
#: that with nothing started).
DEFAULT_FLOORS: Mapping[str, Floor] = MappingProxyType(
    {
        "time": Floor(0.05, 10e-6),
        "memory": Floor(0.05, 1.0),
        "*": Floor(0.05, 0.0),
    }
)


#: Coarse floors of a one-baseline comparison on a runner that has no calibration of its own
#: (``pytest-nfv calibrate``), by ``requirement.metric``, metric or dimension. They are not
#: a measured noise level of the runner at hand: they were set just above the largest
#: movement seen between back-to-back runs of unchanged code on the project's 2-core
#: reference host (benchmarks/RESULTS.md), a figure that belongs to that host and to the
#: pairs it happened to see. On another runner they can alarm on the same code (a faster or
#: busier machine moves by more) and on this one they let most realistic regressions
#: through. They are what a gate falls back to, and it says so; a gate that must see less
#: needs this runner's calibration or history (``--history``). Memory has no entry: its
#: ordinary floor applies.
SINGLE_BASELINE_FLOORS: Mapping[str, Floor] = MappingProxyType(
    {
        "time": Floor(0.65, 10e-6),
        "monitoring.response_time": Floor(0.4, 10e-6),
        "monitoring.direct_response_time": Floor(0.6, 15e-6),
        "monitoring.proxy_overhead": Floor(0.4, 10e-6),
    }
)


#: Relative slowdown of each host canary below which it is not host drift: just above the
#: largest slowdown of that canary between runs of unchanged code on the 2-core reference
#: host, with the harness's processes pinned, the kernel-forwarded path timed with UDP and
#: with ICMP echo (benchmarks/RESULTS.md, "The regression gate over back-to-back pairs" and
#: "Host drift needs every canary"). The CPU loop's floor is the wider: the host runs it in
#: one of two modes for seconds at a time. A canary not named here gets
#: ``DEFAULT_CANARY_FLOOR``.
CANARY_FLOORS: Mapping[str, float] = MappingProxyType({"cpu_loop": 0.8, "direct_path": 0.7})
DEFAULT_CANARY_FLOOR = 0.8


@dataclass(frozen=True)
class GateConfig:
    """Everything that decides a verdict; ``source`` says where it came from, for messages."""

    alpha: float = 0.01
    two_sided: bool = False
    hosts: str = "refuse"
    floors: Mapping[str, Floor] = field(default_factory=lambda: dict(DEFAULT_FLOORS))
    higher_is_better: frozenset[str] = frozenset()
    source: str = "defaults"
    single_baseline: Mapping[str, Floor] = field(
        default_factory=lambda: dict(SINGLE_BASELINE_FLOORS)
    )
    canary_floor: float | None = None
    """How much slower every host canary must run, besides significantly, to be host drift;
    None: each canary's own floor (``CANARY_FLOORS``)."""
    calibration_path: Path | None = None
    """The settings file's ``calibration`` key, resolved against the file's directory."""
    calibration: CalibrationFile | None = None
    """This runner's A/A thresholds, read by the caller (``pytest-nfv compare`` or the
    in-run gate), which decides where to look; None: the shipped floors, said so."""

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise NfvUsageError(f"{self.source}: alpha {self.alpha} is not in (0, 1)")
        if self.canary_floor is not None and not 0 <= self.canary_floor < 10:
            raise NfvUsageError(
                f"{self.source}: canary_floor {self.canary_floor} is not in [0, 10)"
            )
        if self.hosts not in HOST_POLICIES:
            raise NfvUsageError(f"{self.source}: hosts must be refuse or mark, not {self.hosts!r}")

    def floor_for(self, key: RecordKey, unit: str) -> Floor:
        for name in (f"{key.requirement}.{key.metric}", key.metric, dimension_of(unit), "*"):
            if name is not None and name in self.floors:
                return self.floors[name]
        return DEFAULT_FLOORS["*"]

    def single_baseline_for(self, key: RecordKey, unit: str) -> Floor | None:
        """The coarse floor an uncalibrated one-baseline comparison lifts ``key``'s to, most
        specific first."""
        for name in (f"{key.requirement}.{key.metric}", key.metric, dimension_of(unit)):
            if name is not None and name in self.single_baseline:
                return self.single_baseline[name]
        return None

    def canary_floor_for(self, name: str) -> float:
        if self.canary_floor is not None:
            return self.canary_floor
        return CANARY_FLOORS.get(name, DEFAULT_CANARY_FLOOR)

    def worse_is_higher(self, key: RecordKey, lower_is_better: bool = True) -> bool:
        """Higher is worse unless the record says its metric is better higher
        (``lower_is_better``, the catalogue's direction as the run recorded it) or this
        configuration declares it so."""
        names = {key.metric, f"{key.requirement}.{key.metric}"}
        return lower_is_better and not names & self.higher_is_better

    def with_floor(self, name: str, floor: Floor) -> GateConfig:
        return replace(self, floors={**self.floors, name: floor})


_AMOUNT = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z%]*)\s*$")


def _relative(text: str) -> float:
    match = _AMOUNT.match(text)
    if match is None or match.group(2) not in ("", "%"):
        raise NfvUsageError(f"{text!r} is not a fraction like 0.05 or 5%")
    value = float(match.group(1)) / (100.0 if match.group(2) == "%" else 1.0)
    if not 0 <= value < 10:
        raise NfvUsageError(f"relative floor {text!r} is out of range")
    return value


def _absolute(text: str) -> float:
    match = _AMOUNT.match(text)
    units = [u for dim in UNITS.values() for u in dim]
    if match is None or match.group(2) not in units:
        raise NfvUsageError(f"{text!r} is not an amount with a unit ({', '.join(units)})")
    return to_base(float(match.group(1)), match.group(2))


def parse_floor(spec: str) -> tuple[str, Floor]:
    """``NAME=REL[,ABS]`` from the command line, e.g. ``time=5%,10us`` or ``memory=0.1,2MiB``.

    Raises:
        NfvUsageError: malformed spec; the message shows the expected form.
    """
    name, sep, value = spec.partition("=")
    parts = [p.strip() for p in value.split(",")]
    if not sep or not name.strip() or not 1 <= len(parts) <= 2 or not parts[0]:
        raise NfvUsageError(f"--floor {spec!r}: expected NAME=REL[,ABS], e.g. time=5%,10us")
    try:
        relative = _relative(parts[0])
        absolute = _absolute(parts[1]) if len(parts) == 2 else 0.0
    except NfvUsageError as exc:
        raise NfvUsageError(f"--floor {spec!r}: {exc}") from None
    return name.strip(), Floor(relative, absolute)


def _floor_table(path: Path, name: str, table: object) -> Floor:
    where = f"{path}: [{name}]"
    if not isinstance(table, dict):
        raise NfvUsageError(f"{where} is not a table")
    unknown = set(table) - {"relative", "absolute", "unit"}
    if unknown:
        raise NfvUsageError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    relative, absolute = table.get("relative", 0.0), table.get("absolute", 0.0)
    for key, value in (("relative", relative), ("absolute", absolute)):
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise NfvUsageError(f"{where}: {key} must be a number >= 0, not {value!r}")
    unit = table.get("unit")
    if absolute and unit is None:
        raise NfvUsageError(f"{where}: absolute needs a unit (s, ms, us, KiB, MiB, GiB)")
    try:
        return Floor(float(relative), to_base(float(absolute), str(unit)) if absolute else 0.0)
    except NfvUsageError as exc:
        raise NfvUsageError(f"{where}: {exc}") from None


def _floor_tables(
    path: Path, data: Mapping[str, object], key: str, defaults: Mapping[str, Floor]
) -> dict[str, Floor]:
    """``defaults`` with the ``[key.NAME]`` tables of the file over them."""
    floors = dict(defaults)
    raw = data.get(key, {})
    if not isinstance(raw, dict):
        raise NfvUsageError(f"{path}: {key} must be a table of tables")
    for name, table in raw.items():
        floors[name] = _floor_table(path, f"{key}.{name}", table)
    return floors


def load_gate_config(path: Path) -> GateConfig:
    """Read a gate TOML file over the defaults.

    Raises:
        NfvUsageError: unreadable file, bad TOML, unknown key or bad value; names the file.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NfvUsageError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise NfvUsageError(f"{path}: not valid TOML ({exc})") from None
    unknown = set(data) - {
        "alpha",
        "two_sided",
        "hosts",
        "floor",
        "direction",
        "single_baseline",
        "canary_floor",
        "calibration",
    }
    if unknown:
        raise NfvUsageError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    floors = _floor_tables(path, data, "floor", DEFAULT_FLOORS)
    single = _floor_tables(path, data, "single_baseline", SINGLE_BASELINE_FLOORS)
    directions = data.get("direction", {})
    if not isinstance(directions, dict) or any(v not in DIRECTIONS for v in directions.values()):
        raise NfvUsageError(f"{path}: [direction] values must be one of {', '.join(DIRECTIONS)}")
    alpha = data.get("alpha", 0.01)
    two_sided = data.get("two_sided", False)
    if not isinstance(alpha, float | int) or isinstance(alpha, bool):
        raise NfvUsageError(f"{path}: alpha must be a number, not {alpha!r}")
    if not isinstance(two_sided, bool):
        raise NfvUsageError(f"{path}: two_sided must be true or false, not {two_sided!r}")
    canary_floor = data.get("canary_floor")
    if canary_floor is not None and (
        not isinstance(canary_floor, float | int) or isinstance(canary_floor, bool)
    ):
        raise NfvUsageError(f"{path}: canary_floor must be a number, not {canary_floor!r}")
    calibration = data.get("calibration")
    if calibration is not None and (not isinstance(calibration, str) or not calibration):
        raise NfvUsageError(f"{path}: calibration must be a file name, not {calibration!r}")
    return GateConfig(
        calibration_path=None if calibration is None else path.parent / calibration,
        canary_floor=None if canary_floor is None else float(canary_floor),
        alpha=float(alpha),
        two_sided=two_sided,
        hosts=str(data.get("hosts", "refuse")),
        floors=floors,
        higher_is_better=frozenset(k for k, v in directions.items() if v == "higher_is_better"),
        source=str(path),
        single_baseline=single,
    )
