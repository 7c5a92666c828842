"""``pytest-nfv compare`` and ``pytest-nfv report``: the commands over saved runs.

Exit statuses are what a CI step needs: 0 nothing regressed, 1 a regression (or, with
``--two-sided``, a significant improvement: renew the baseline), 2 the comparison could not be
made (missing or corrupt file, different hosts refused, nothing in common, bad option). A file
problem is one line naming the file, never a traceback and never a pass.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pytest_nfv.errors import NfvError

__all__ = ["add_commands"]

EXIT_OK, EXIT_REGRESSION, EXIT_ERROR = 0, 1, 2


def _fail(command: str, exc: Exception) -> int:
    print(f"pytest-nfv {command}: error: {exc}", file=sys.stderr)
    return EXIT_ERROR


def gate_config_from(args: argparse.Namespace) -> Any:
    """The gate configuration: file (if any), then the command-line flags over it."""
    from dataclasses import replace

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


def _load(ref: str, storage: Path) -> Any:
    from pytest_nfv.analysis.history import load_run, resolve_ref

    return load_run(resolve_ref(ref, storage))


def _compare(args: argparse.Namespace) -> int:
    from pytest_nfv.analysis.gate import compare_runs, format_markdown, format_text

    try:
        config = gate_config_from(args)
        storage = Path(args.storage)
        baseline = _load(args.baseline, storage)
        current = _load(args.current, storage)
        history = [_load(ref, storage) for ref in args.history]
        result = compare_runs(baseline, current, config, history)
        if args.markdown:
            Path(args.markdown).write_text(format_markdown(result), encoding="utf-8")
    except (NfvError, OSError) as exc:
        return _fail("compare", exc)
    print(format_text(result, everything=args.all))
    if args.require_all and result.missing:
        print(f"FAIL: {len(result.missing)} baseline benchmark(s) missing (--require-all)")
        return EXIT_REGRESSION
    return EXIT_REGRESSION if result.failed else EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from pytest_nfv.analysis.history import load_run
    from pytest_nfv.analysis.report import write_figures
    from pytest_nfv.analysis.scorecard import render_scorecard

    out = Path(args.out)
    try:
        runs = [load_run(Path(p)) for p in args.runs]
        requirement, sep, metric = args.trend.partition("/")
        if not sep or not requirement or not metric:
            raise NfvError(f"--trend {args.trend!r}: expected REQUIREMENT/METRIC")
        out.mkdir(parents=True, exist_ok=True)
        card = out / "scorecard.md"
        card.write_text(render_scorecard(runs), encoding="utf-8")
        print(f"wrote {card}")
        figures = [] if args.no_figures else write_figures(runs, out, (requirement, metric))
    except (NfvError, OSError) as exc:
        return _fail("report", exc)
    for figure in figures:
        print(f"wrote {figure.path}")
    return EXIT_OK


def add_commands(commands: Any) -> None:
    """Register ``compare`` and ``report`` on the ``pytest-nfv`` sub-command parser."""
    compare = commands.add_parser(
        "compare",
        help="regression gate: compare a run with a baseline run",
        description="Compare the raw samples of every benchmark two runs share. A regression "
        "is a change that is significant (one-sided Mann-Whitney U, Benjamini-Hochberg over "
        "all benchmarks), larger than its noise floor, and for the worse. Exit 0: none; "
        "1: regression; 2: the runs could not be compared.",
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
        help="an earlier run of the same code (repeatable): floors rise to the spread of "
        "run medians across these and the baseline, the drift samples within one run "
        "cannot show. Default: none",
    )
    compare.add_argument(
        "--require-all", action="store_true", help="fail when a baseline benchmark is missing"
    )
    compare.add_argument("--all", action="store_true", help="print every row, not just flagged")
    compare.add_argument("--markdown", metavar="PATH", help="also write the full table here")
    compare.set_defaults(handler=_compare)
    report = commands.add_parser(
        "report",
        help="figures (PNG) and a management-requirement scorecard (Markdown) of saved runs",
    )
    report.add_argument("runs", nargs="+", metavar="RUN.json")
    report.add_argument("--out", required=True, metavar="DIR", help="where to write")
    report.add_argument(
        "--trend",
        default="instantiation/boot_makespan",
        metavar="REQUIREMENT/METRIC",
        help="metric of the trend figure. Default: instantiation/boot_makespan",
    )
    report.add_argument(
        "--no-figures", action="store_true", help="write the scorecard only (no matplotlib)"
    )
    report.set_defaults(handler=_report)
