"""pytest-nfv: the commands around the suites.

pytest-nfv cleanup [--force] [--dry-run] [--docker-url URL] [--libvirt-uri URI]
                   remove what crashed or killed runs left behind (only ours)
pytest-nfv suites  print where the shipped suites are (for a wheel install)
pytest-nfv run [PYTEST ARGS]
                   run the shipped suites: pytest <suites> PYTEST ARGS
pytest-nfv compare BASELINE CURRENT
                   regression gate over two saved runs (exit 1: regression, 2: cannot compare)
pytest-nfv report RUN.json [RUN.json ...] --out DIR
                   figures (PNG) and a management-requirement scorecard (Markdown)
"""

from __future__ import annotations

import argparse
import sys

from pytest_nfv.cli.history import add_commands as add_history_commands

__all__ = ["main"]


def _cleanup(args: argparse.Namespace) -> int:
    from pytest_nfv.backends import EngineTargets, reap_all
    from pytest_nfv.host.capabilities import has_netns_capabilities

    if not args.dry_run and not has_netns_capabilities():
        print(
            "pytest-nfv cleanup: needs CAP_SYS_ADMIN and CAP_NET_ADMIN (run as root); "
            "--dry-run lists what would be removed",
            file=sys.stderr,
        )
        return 2
    report = reap_all(
        include_live=args.force,
        dry_run=args.dry_run,
        targets=EngineTargets(args.docker_url, args.libvirt_uri),
    )
    verb = "would remove" if args.dry_run else "removed"
    for name in report.removed:
        print(f"{verb} {name}")
    for name in report.left_live:
        print(f"left {name}: its run is still going (use --force to remove it anyway)")
    for name in report.stuck:
        print(f"left {name}")
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    if not (report.removed or report.left_live or report.errors or report.stuck):
        print("nothing to clean up")
    return 1 if report.errors else 0


def _suites(_args: argparse.Namespace) -> int:
    from pytest_nfv.resources import suites_dir

    print(suites_dir())
    return 0


def _run(pytest_args: list[str]) -> int:
    """Replace this process with pytest on the packaged suites.

    A fresh interpreter, so pytest imports (and assertion-rewrites) pytest_nfv itself.
    """
    import os

    from pytest_nfv.resources import suites_dir

    argv = [sys.executable, "-m", "pytest", str(suites_dir()), *pytest_args]
    os.execv(sys.executable, argv)
    return 1  # pragma: no cover  (execv does not return)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:
        return _run(argv[1:])
    parser = argparse.ArgumentParser(
        prog="pytest-nfv", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    cleanup = commands.add_parser("cleanup", help="remove resources left by dead runs")
    cleanup.add_argument(
        "--force",
        action="store_true",
        help="also remove resources of runs whose owner is still alive",
    )
    cleanup.add_argument(
        "--dry-run", action="store_true", help="list what would be removed, remove nothing"
    )
    cleanup.add_argument(
        "--docker-url",
        metavar="URL",
        help="Docker engine to clean (coreos). Default: $DOCKER_HOST, else the local socket",
    )
    cleanup.add_argument(
        "--libvirt-uri",
        metavar="URI",
        help="libvirt connection to clean. Default: qemu:///system (osv) and xen:///system "
        "(clickos)",
    )
    cleanup.set_defaults(handler=_cleanup)
    suites = commands.add_parser("suites", help="print the directory of the shipped suites")
    suites.set_defaults(handler=_suites)
    commands.add_parser("run", help="run the shipped suites; extra arguments go to pytest")
    add_history_commands(commands)
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
