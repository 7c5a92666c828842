"""pytest-nfv: the commands around the suites.

pytest-nfv cleanup [--force] [--dry-run] [--docker-url URL] [--libvirt-uri URI]
                   remove what crashed or killed runs left behind (only ours)
pytest-nfv suites  print where the shipped suites are (for a wheel install)
pytest-nfv run [PYTEST ARGS]
                   run the shipped suites: pytest <suites> PYTEST ARGS
pytest-nfv compare BASELINE CURRENT [--history REF ...] [--calibration FILE]
                   regression gate over saved runs (exit 1: regression, 2: cannot compare)
pytest-nfv calibrate [--sessions N] -- PYTEST ARGS
                   A/A sessions on this runner: its one-baseline thresholds, by fingerprint
pytest-nfv ab [--sessions N] [--a ARGS] [--b-env NAME=VALUE] ... -- PYTEST ARGS
                   A/B test: interleaved sessions of two variants, judged run by run
pytest-nfv report RUN.json [RUN.json ...] --out DIR
                   figures (PNG) and a management-requirement scorecard (Markdown)
"""

from __future__ import annotations

import argparse
import sys

from pytest_nfv.cli import EXIT_ERROR, EXIT_OK, ab, calibrate, cleanup, compare, report
from pytest_nfv.errors import NfvError

__all__ = ["main"]


def _suites(_args: argparse.Namespace) -> int:
    from pytest_nfv.resources import suites_dir

    print(suites_dir())
    return EXIT_OK


def _run(pytest_args: list[str]) -> int:
    """Replace this process with pytest on the packaged suites.

    A fresh interpreter, so pytest imports (and assertion-rewrites) pytest_nfv itself.
    """
    import os

    from pytest_nfv.resources import suites_dir

    argv = [sys.executable, "-m", "pytest", str(suites_dir()), *pytest_args]
    os.execv(sys.executable, argv)
    return 1  # pragma: no cover  (execv does not return)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pytest-nfv", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    cleanup.add_parser(commands)
    suites = commands.add_parser("suites", help="print the directory of the shipped suites")
    suites.set_defaults(handler=_suites)
    commands.add_parser("run", help="run the shipped suites; extra arguments go to pytest")
    compare.add_parser(commands)
    ab.add_parser(commands)
    calibrate.add_parser(commands)
    report.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one ``pytest-nfv`` command; return its exit status (see ``pytest_nfv.cli``).

    A problem the command can name (an unreadable run, a bad option value, a file it cannot
    write) is one line on stderr and exit 2, not a traceback.
    """
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:  # everything after "run" is pytest's, options included
        return _run(argv[1:])
    args = _parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (NfvError, OSError) as exc:
        print(f"pytest-nfv {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
