"""``pytest-nfv compare``: the regression gate over two saved runs, as a CI step.

Exit 0 when nothing regressed; 1 on a regression (or, with ``--two-sided``, a significant
improvement: renew the baseline; or, with ``--require-all``, a baseline benchmark missing);
2 when the runs could not be compared; 3 when figures got worse only as far as a slower host
explains (host drift, from the host canary): rerun on a quiet host before blaming the code.
The gate itself is ``analysis.gate``; this module only turns the command line into its
settings and its verdict into an exit status.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_nfv.cli import EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    from pytest_nfv.analysis.gate_config import GateConfig
    from pytest_nfv.analysis.history import Run

__all__ = ["EXIT_HOST_DRIFT", "add_parser", "gate_config_from"]

EXIT_HOST_DRIFT = 3


def gate_config_from(args: argparse.Namespace) -> GateConfig:
    """The gate configuration: file (if any), then the command-line flags over it.

    Raises:
        NfvUsageError: the file or a ``--floor`` is malformed.
    """
    from pytest_nfv.analysis.gate_config import GateConfig, load_gate_config, parse_floor

    config = load_gate_config(Path(args.config)) if args.config else GateConfig()
    changes: dict[str, Any] = {}
    if args.alpha is not None:
        changes["alpha"] = args.alpha
    if args.two_sided:
        changes["two_sided"] = True
    if args.hosts is not None:
        changes["hosts"] = args.hosts
    if changes:
        config = replace(config, **changes, source=f"{config.source} + command line")
    for spec in args.floor:
        name, floor = parse_floor(spec)
        config = config.with_floor(name, floor)
    return config


def _load(ref: str, storage: Path) -> Run:
    from pytest_nfv.analysis.history import load_run, resolve_ref

    return load_run(resolve_ref(ref, storage))


def _with_calibration(config: GateConfig, args: argparse.Namespace, storage: Path) -> GateConfig:
    """``--calibration``, else the settings file's ``calibration``, else the default file
    under the storage when it exists; ``--no-calibration``: none (the shipped floors)."""
    from pytest_nfv.analysis.calibration_file import find_calibration

    if args.no_calibration:
        return config
    named = Path(args.calibration) if args.calibration else config.calibration_path
    return replace(config, calibration=find_calibration(named, storage))


def _compare(args: argparse.Namespace) -> int:
    from pytest_nfv.analysis.gate import compare_runs
    from pytest_nfv.analysis.gate_render import format_markdown, format_text

    storage = Path(args.storage)
    config = _with_calibration(gate_config_from(args), args, storage)
    baseline = _load(args.baseline, storage)
    current = _load(args.current, storage)
    history = [_load(ref, storage) for ref in args.history]
    result = compare_runs(baseline, current, config, history)
    if args.markdown:
        Path(args.markdown).write_text(format_markdown(result), encoding="utf-8")
    print(format_text(result, everything=args.all))
    if args.require_all and result.missing:
        print(f"FAIL: {len(result.missing)} baseline benchmark(s) missing (--require-all)")
        return EXIT_FAILED
    if result.regressions or result.improvements:
        return EXIT_FAILED
    return EXIT_HOST_DRIFT if result.host_drift else EXIT_OK


def add_parser(commands: Any) -> None:
    """Register ``compare`` on the ``pytest-nfv`` sub-command parser."""
    compare = commands.add_parser(
        "compare",
        help="regression gate: compare a run with a baseline run",
        description="Compare every benchmark two runs share. With --history, each run's "
        "median against the earlier runs' (a prediction test, Benjamini-Hochberg over all "
        "benchmarks, and the floors); with one baseline and this runner's calibration, the "
        "ratio of medians against its family's threshold; with one baseline alone, the raw "
        "samples (one-sided Mann-Whitney U) and coarse shipped floors. Every row says the "
        "smallest change it could have seen. Exit 0: none; "
        "1: regression; 2: the runs could not be compared; 3: worse only as far as a "
        "slower host explains (host drift, by the runs' host canaries).",
    )
    compare.add_argument("baseline", metavar="BASELINE", help="file or saved run name (0001)")
    compare.add_argument("current", metavar="CURRENT", help="file or saved run name")
    compare.add_argument(
        "--storage",
        default=".benchmarks",
        metavar="DIR",
        help="pytest-benchmark storage that run names refer to. Default: .benchmarks",
    )
    compare.add_argument("--config", metavar="TOML", help="gate settings file (alpha, floors)")
    compare.add_argument(
        "--alpha",
        type=float,
        metavar="P",
        help="false-alarm rate of the whole comparison. Default: 0.01",
    )
    compare.add_argument(
        "--floor",
        action="append",
        default=[],
        metavar="NAME=REL[,ABS]",
        help="noise floor for a metric, requirement.metric, or time/memory, e.g. "
        "time=5%%,10us (repeatable). Default: time=5%%,10us memory=5%%,1MiB",
    )
    compare.add_argument(
        "--two-sided",
        action="store_true",
        help="also fail on significant improvements (the baseline is stale)",
    )
    compare.add_argument(
        "--hosts",
        choices=("refuse", "mark"),
        help="runs from different hosts: refuse (exit 2) or compare them, marked. Default: refuse",
    )
    compare.add_argument(
        "--history",
        action="append",
        default=[],
        metavar="REF",
        help="an earlier run of the same code (repeatable): each run's median is the unit, "
        "judged against the spread of these runs' and the baseline's medians, the drift "
        "samples within one run cannot show. Default: none",
    )
    calibration = compare.add_mutually_exclusive_group()
    calibration.add_argument(
        "--calibration",
        metavar="FILE",
        help="this runner's A/A calibration (pytest-nfv calibrate): with one baseline, each "
        "record is judged by its run-level ratio against its family's threshold when both "
        "runs carry the calibrated host fingerprint. Default: the settings file's "
        "calibration, else STORAGE/nfv-calibration.json when it exists",
    )
    calibration.add_argument(
        "--no-calibration",
        action="store_true",
        help="ignore any calibration: the shipped coarse floors and the within-run test",
    )
    compare.add_argument(
        "--require-all", action="store_true", help="fail when a baseline benchmark is missing"
    )
    compare.add_argument("--all", action="store_true", help="print every row, not just flagged")
    compare.add_argument("--markdown", metavar="PATH", help="also write the full table here")
    compare.set_defaults(handler=_compare)
