"""``pytest-nfv report``: the scorecard (Markdown), the figures (PNG) and one HTML page.

The scorecard is written first and needs nothing optional; the figures need matplotlib, so
``--no-figures`` gives a host without it the scorecard and the page alone. ``index.html``
shows the figures, the scorecard and every figure's verdict, offline. The paper's claims on
migration are judged too (``analysis.claims``): ``--fail-on-claims`` makes a contradicted one
fail the command, so a CI job can hold a deployment to them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pytest_nfv.cli import EXIT_FAILED, EXIT_OK
from pytest_nfv.errors import NfvUsageError

__all__ = ["add_parser"]


def _report(args: argparse.Namespace) -> int:
    from pytest_nfv.analysis.claims import judge_all
    from pytest_nfv.analysis.history import load_run
    from pytest_nfv.analysis.migration_plot import write_gaps_figure
    from pytest_nfv.analysis.page import write_page
    from pytest_nfv.analysis.report import write_figures
    from pytest_nfv.analysis.scorecard import render_scorecard
    from pytest_nfv.analysis.throughput_plot import write_throughput_figures

    out = Path(args.out)
    runs = [load_run(Path(p)) for p in args.runs]
    requirement, sep, metric = args.trend.partition("/")
    if not sep or not requirement or not metric:
        raise NfvUsageError(f"--trend {args.trend!r}: expected REQUIREMENT/METRIC")
    out.mkdir(parents=True, exist_ok=True)
    card = out / "scorecard.md"
    card.write_text(render_scorecard(runs), encoding="utf-8")
    print(f"wrote {card}")
    figures = [] if args.no_figures else write_figures(runs, out, (requirement, metric))
    figures += [] if args.no_figures else write_throughput_figures(runs, out)
    figures += [] if args.no_figures else write_gaps_figure(runs, out)
    for figure in figures:
        print(f"wrote {figure.path}")
    page = write_page(runs, out, [(f.path.name, f.title) for f in figures])
    print(f"wrote {page}")
    verdicts = judge_all(runs)
    for verdict in verdicts:
        print(f"claim: {verdict.claim.statement}: {verdict.status} ({verdict.evidence})")
    contradicted = [v for v in verdicts if v.status == "contradicted"]
    if args.fail_on_claims and contradicted:
        print(f"{len(contradicted)} of the paper's claims contradicted beyond both intervals")
        return EXIT_FAILED
    return EXIT_OK


def add_parser(commands: Any) -> None:
    """Register ``report`` on the ``pytest-nfv`` sub-command parser."""
    report = commands.add_parser(
        "report",
        help="figures (PNG), a management-requirement scorecard (Markdown) and index.html "
        "showing both with every figure's verdict, of saved runs",
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
        "--no-figures",
        action="store_true",
        help="write the scorecard and the page without figures (no matplotlib)",
    )
    report.add_argument(
        "--fail-on-claims",
        action="store_true",
        help="exit 1 when a claim of the paper (scorecard.md's last section) is contradicted "
        "beyond both 95%% intervals; a claim the runs cannot settle never fails",
    )
    report.set_defaults(handler=_report)
