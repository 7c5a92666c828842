"""``pytest-nfv cleanup``: remove what crashed or killed runs left behind, and only that.

The same reap the plugin does before a backend opens (one rule for every engine: a run whose
owner process is gone is dead), for a host where no run is coming soon; ``--force`` takes live
runs too, for an operator who knows they are stuck.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pytest_nfv.cli import EXIT_ERROR, EXIT_FAILED, EXIT_OK

__all__ = ["add_parser"]


def _cleanup(args: argparse.Namespace) -> int:
    from pytest_nfv.backends import EngineTargets, reap_all
    from pytest_nfv.host.capabilities import has_netns_capabilities

    if not args.dry_run and not has_netns_capabilities():
        print(
            "pytest-nfv cleanup: needs CAP_SYS_ADMIN and CAP_NET_ADMIN (run as root); "
            "--dry-run lists what would be removed",
            file=sys.stderr,
        )
        return EXIT_ERROR
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
    for engine in report.uninspected:
        print(f"not inspected: {engine}")
    if not (report.removed or report.left_live or report.errors or report.stuck):
        where = " in what could be inspected" if report.uninspected else ""
        print(f"nothing to clean up{where}")
    return EXIT_FAILED if report.errors else EXIT_OK


def add_parser(commands: Any) -> None:
    """Register ``cleanup`` on the ``pytest-nfv`` sub-command parser."""
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
