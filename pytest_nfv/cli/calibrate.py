"""``pytest-nfv calibrate``: this runner's thresholds for a one-baseline gate, from A/A runs.

A gate with one baseline has no run-to-run spread of its own: it needs to know how far a
whole session's figures move on this runner when nothing changed. This command runs N
sessions of the same pytest arguments back to back (``sessions.run_session``: a fresh
interpreter each, its JSON in a directory of this run's own), or reads sessions saved
already (``--from``), and writes the calibration (``analysis.calibration``) that
``pytest-nfv compare`` and ``--nfv-compare`` use when a run carries this runner's host
fingerprint. The sessions are A/A: the same code and arguments, nothing injected.
"""

from __future__ import annotations

import argparse
import datetime
import shlex
from pathlib import Path
from typing import Any

from pytest_nfv.cli import EXIT_OK
from pytest_nfv.cli.argtypes import number, session_timeout, whole_number
from pytest_nfv.errors import NfvUsageError

__all__ = ["add_parser"]

DEFAULT_SESSIONS = 20
MIN_SESSIONS = 3


_sessions = whole_number(MIN_SESSIONS, None, "sessions")
_share = number(0.5, 1.0, "a share", inclusive=False)


def _run_sessions(args: argparse.Namespace, pytest_args: list[str], storage: Path) -> list[Path]:
    """Run the A/A sessions; return their JSON files in order."""
    from pytest_nfv.cli.sessions import Variant, private_dir, run_session

    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    runs_dir = private_dir(
        Path(args.runs_dir) if args.runs_dir else storage / "calibration" / stamp
    )
    sessions = args.sessions or DEFAULT_SESSIONS
    print(
        f"calibrate: {sessions} A/A sessions of pytest {shlex.join(pytest_args)}; their "
        f"results go to {runs_dir} (an interrupted calibration can go on from them with "
        "--from)",
        flush=True,
    )
    variant = Variant("aa")
    paths = []
    for index in range(1, sessions + 1):
        out = runs_dir / f"aa-{index:02d}.json"
        result = run_session(variant, pytest_args, out, index, timeout_s=args.timeout)
        status = "" if result.exit_code == 0 else f", exit {result.exit_code} (it measured)"
        print(f"session {index}/{sessions}: {result.seconds:.1f} s{status}", flush=True)
        paths.append(result.json_path)
    return paths


def _calibrate(args: argparse.Namespace) -> int:
    from pytest_nfv.analysis.calibration import calibrate, describe
    from pytest_nfv.analysis.calibration_file import DEFAULT_NAME, save_calibration
    from pytest_nfv.analysis.history import load_run

    pytest_args = list(args.pytest_args)
    if pytest_args[:1] == ["--"]:
        pytest_args = pytest_args[1:]
    storage = Path(args.storage)
    if args.sources:
        if pytest_args or args.sessions is not None or args.runs_dir:
            raise NfvUsageError(
                "--from calibrates from saved sessions: give no pytest arguments, --sessions "
                "or --runs-dir with it"
            )
        paths = [Path(p) for p in args.sources]
        arguments = args.arguments or ""
    else:
        if not pytest_args:
            raise NfvUsageError(
                "name the pytest arguments of the sessions after --, e.g. pytest-nfv "
                "calibrate --sessions 20 -- suites/test_monitoring.py --backend=netns; or "
                "calibrate from saved sessions with --from"
            )
        if args.arguments:
            raise NfvUsageError("--arguments goes with --from; the sessions' are given after --")
        paths = _run_sessions(args, pytest_args, storage)
        arguments = shlex.join(pytest_args)
    runs = [load_run(path) for path in paths]
    calibration = calibrate(
        runs, arguments=arguments, coverage=args.coverage, confidence=args.confidence
    )
    out = Path(args.out) if args.out else storage / DEFAULT_NAME
    saved = save_calibration(out, calibration)
    print(
        f"calibration of {calibration.fingerprint.describe()} (echo "
        f"{calibration.fingerprint.echo}) from {calibration.sessions} A/A sessions; "
        f"thresholds keep {calibration.coverage:.1%} of same-code pairs per record under "
        f"them with {calibration.confidence:.0%} confidence:"
    )
    for line in describe(calibration):
        print(f"  {line}")
    print(f"wrote {out} ({len(saved.entries)} calibration(s) in it)")
    return EXIT_OK


def add_parser(commands: Any) -> None:
    """Register ``calibrate`` on the ``pytest-nfv`` sub-command parser."""
    parser = commands.add_parser(
        "calibrate",
        help="this runner's thresholds for a one-baseline gate, from A/A sessions",
        description="Run N sessions of the same pytest arguments back to back on this "
        "runner (or read sessions saved already, --from) and write, per metric family, the "
        "run-to-run spread of each session's median and the threshold a one-baseline "
        "comparison flags beyond: a one-sided tolerance bound covering --coverage of "
        "same-code pairs with --confidence. pytest-nfv compare and --nfv-compare use it "
        "when a run carries this runner's host fingerprint. Example: pytest-nfv calibrate "
        "--sessions 20 -- suites/test_monitoring.py --backend=netns",
    )
    parser.add_argument(
        "--sessions",
        type=_sessions,
        metavar="N",
        help=f"A/A sessions to run (at least {MIN_SESSIONS}). Default: {DEFAULT_SESSIONS}",
    )
    parser.add_argument(
        "--from",
        dest="sources",
        nargs="+",
        metavar="JSON",
        help="calibrate from these saved sessions (pytest-benchmark JSON) instead of running",
    )
    parser.add_argument(
        "--arguments",
        metavar="TEXT",
        help="with --from: the pytest arguments the sessions ran with, kept to tell "
        "calibrations of one runner apart. Default: none",
    )
    parser.add_argument(
        "--storage",
        default=".benchmarks",
        metavar="DIR",
        help="benchmark storage: the default --out and --runs-dir are under it. "
        "Default: .benchmarks",
    )
    parser.add_argument(
        "--out",
        metavar="FILE",
        help="calibration file to add this runner's calibration to (written atomically; "
        "other runners' stay). Default: STORAGE/nfv-calibration.json",
    )
    parser.add_argument(
        "--runs-dir",
        metavar="DIR",
        help="new or empty directory of your own for the sessions' JSON. "
        "Default: STORAGE/calibration/<UTC time>",
    )
    parser.add_argument(
        "--coverage",
        type=_share,
        default=0.999,
        metavar="P",
        help="share of same-code pairs each record's threshold keeps under it. Default: 0.999",
    )
    parser.add_argument(
        "--confidence",
        type=_share,
        default=0.95,
        metavar="P",
        help="confidence that the threshold reaches that coverage. Default: 0.95",
    )
    parser.add_argument(
        "--timeout",
        type=session_timeout,
        default=900.0,
        metavar="S",
        help="stop a session that runs longer, and the calibration with it. Default: 900",
    )
    parser.add_argument(
        "pytest_args",
        nargs="*",
        metavar="PYTEST_ARG",
        help="after --: the arguments every session gives pytest",
    )
    parser.set_defaults(handler=_calibrate)
