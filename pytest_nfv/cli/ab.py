"""``pytest-nfv ab``: two variants, interleaved sessions on one host, one verdict per family.

A variant is a set of pytest and plugin arguments (two images, two templates, two backends),
an environment, or a checkout with its own interpreter. The sessions alternate A B B A A B
..., so a host that drifts over the minutes the comparison takes moves both sides alike;
each session saves its JSON under ``--out``, and the verdict (``analysis.ab``) is printed,
written beside them (``ab.txt``, ``ab.json``) and given as the exit status: 0 no
regression, 1 a regression (or with ``--two-sided`` an improvement), 2 the comparison could
not be made (a session saved nothing, bad arguments).

``--proxy-b SPEC`` is the stronger form where the variants are two proxy VNFs: every session
runs both, alternated round by round (``--nfv-proxy-b``), and each session's own ratio is
the evidence.

``--judge-only`` judges the sessions already saved under ``--out`` again, without running.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from pytest_nfv.cli import EXIT_FAILED, EXIT_OK
from pytest_nfv.cli.argtypes import number, session_timeout, share, whole_number

__all__ = ["add_parser"]

DEFAULT_SESSIONS = 12


# Two sessions leave a t test one degree of freedom: no change short of a huge one reaches the
# comparison's level, and a pass would say nothing.
_sessions = whole_number(3, 1000, "sessions")
_alpha = number(0.0, 1.0, "alpha", inclusive=False)


def _order(sessions: int) -> list[str]:
    """A B, B A, A B, ...: each side goes first in half the pairs, so neither always meets
    the host right after the other's session (or after a pause)."""
    order: list[str] = []
    for i in range(sessions):
        order += ["a", "b"] if i % 2 == 0 else ["b", "a"]
    return order


def _variants(args: argparse.Namespace) -> dict[str, Any]:
    from pytest_nfv.cli.sessions import Variant, parse_env

    sides = {}
    for side in ("a", "b"):
        extra = tuple(shlex.split(getattr(args, side) or ""))
        if args.proxy_b:
            extra = (*extra, f"--nfv-proxy-b={args.proxy_b}")
        python = getattr(args, f"{side}_python") or sys.executable
        folder = getattr(args, f"{side}_dir")
        sides[side] = Variant(
            name=side.upper(),
            pytest_args=extra,
            env=parse_env(getattr(args, f"{side}_env"), f"--{side}-env"),
            cwd=Path(folder) if folder else None,
            python=python,
        )
    return sides


def _run(args: argparse.Namespace, out: Path) -> list[str]:
    """Run the sessions; returns one line per session for the log."""
    from pytest_nfv.cli.sessions import run_session

    sides = _variants(args)
    shared = list(args.pytest_args)
    if shared[:1] == ["--"]:
        shared = shared[1:]
    if args.proxy_b:
        order = ["p"] * args.sessions
        sides["p"] = sides["a"]
    else:
        order = _order(args.sessions)
    lines = []
    counts = {"a": 0, "b": 0, "p": 0}
    for side in order:
        counts[side] += 1
        index = counts[side]
        result = run_session(
            sides[side], shared, out / f"{side}-{index:02d}.json", index, timeout_s=args.timeout
        )
        line = (
            f"{side.upper()}{index}: {result.seconds:.1f} s, exit {result.exit_code} "
            f"({result.json_path.name})"
        )
        print(line, file=sys.stderr, flush=True)
        lines.append(line)
    return lines


def _load(out: Path, side: str) -> list[Any]:
    from pytest_nfv.analysis.history import load_run

    files = sorted(p for p in out.glob(f"{side}-*.json") if p.is_file() and not p.is_symlink())
    return [load_run(p) for p in files]


def _ab(args: argparse.Namespace) -> int:
    from pytest_nfv.analysis.ab import AbConfig, judge_paired, judge_sessions
    from pytest_nfv.analysis.ab_render import format_markdown, format_text, result_json
    from pytest_nfv.cli.sessions import private_dir
    from pytest_nfv.errors import NfvUsageError

    if args.out is None:
        if args.judge_only:
            raise NfvUsageError("--judge-only needs --out DIR, the sessions to judge")
        args.out = Path(time.strftime("ab-%Y%m%d-%H%M%S"))
    out = private_dir(Path(args.out), reuse=args.judge_only)
    config = AbConfig(alpha=args.alpha, floor=args.floor, two_sided=args.two_sided)
    started = time.monotonic()
    if not args.judge_only:
        _run(args, out)
    elapsed = time.monotonic() - started
    paired = args.proxy_b is not None or (
        args.judge_only and any(out.glob("p-*.json")) and not any(out.glob("a-*.json"))
    )
    if paired:
        result = judge_paired(_load(out, "p"), config)
        sides = f"variant B: --nfv-proxy-b={args.proxy_b}" if args.proxy_b else "paired sessions"
    else:
        result = judge_sessions(_load(out, "a"), _load(out, "b"), config)
        if args.judge_only:
            sides = "A and B: the sessions saved"
        else:
            variants = _variants(args)
            sides = f"A: {variants['a'].describe()} | B: {variants['b'].describe()}"
    took = "" if args.judge_only else f"; {elapsed / 60:.1f} min"
    sources = f"{sides}; sessions' JSON in {out}{took}"
    text = format_text(result, sources)
    print(text)
    (out / "ab.txt").write_text(text + "\n", encoding="utf-8")
    data = {**result_json(result), "seconds": None if args.judge_only else elapsed}
    (out / "ab.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if args.markdown:
        Path(args.markdown).write_text(format_markdown(result, sources), encoding="utf-8")
    return EXIT_FAILED if result.failed else EXIT_OK


def add_parser(commands: Any) -> None:
    """Register ``ab`` on the ``pytest-nfv`` sub-command parser."""
    ab = commands.add_parser(
        "ab",
        help="A/B test: two variants as interleaved sessions on this host, judged run by run",
        description="Run the pytest arguments after -- as interleaved sessions of variant A "
        "and variant B (A B B A ...), then judge every metric family run by run: one figure "
        "per session (its median), Welch t on the log medians, a family test that must agree "
        "across sizes, a test per figure (Holm), an effect floor. Exit 0: no regression; 1: "
        "regression; 2: could not compare. Example: pytest-nfv ab --sessions 12 "
        "--b-env NFV_PROXY_SLOWDOWN=x1.2 -- suites/test_monitoring.py --backend=netns "
        "--nfv-packet-sizes 64,1400",
    )
    ab.add_argument(
        "--sessions",
        type=_sessions,
        default=DEFAULT_SESSIONS,
        metavar="N",
        help=f"sessions per variant (with --proxy-b: sessions in all). Default: {DEFAULT_SESSIONS}",
    )
    for side in ("a", "b"):
        upper = side.upper()
        ab.add_argument(
            f"--{side}",
            metavar="ARGS",
            help=f"pytest arguments of variant {upper} only, one string (--{side}='--nfv-image "
            f"x.qcow2'). Default: none",
        )
        ab.add_argument(
            f"--{side}-env",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help=f"environment of variant {upper}'s sessions (repeatable). Default: none",
        )
        ab.add_argument(
            f"--{side}-dir",
            metavar="DIR",
            help=f"run variant {upper} in this checkout. Default: the current directory",
        )
        ab.add_argument(
            f"--{side}-python",
            metavar="PYTHON",
            help=f"interpreter of variant {upper} (another checkout's virtualenv). "
            "Default: this one",
        )
    ab.add_argument(
        "--proxy-b",
        metavar="SPEC",
        help="the paired form: every session runs with --nfv-proxy-b=SPEC, timing proxy "
        "variants A and B round by round (netns). Default: off",
    )
    ab.add_argument(
        "--out",
        metavar="DIR",
        help="a new directory for the sessions' JSON and the verdict. Default: ./ab-TIMESTAMP",
    )
    ab.add_argument(
        "--judge-only", action="store_true", help="judge the sessions saved under --out again"
    )
    ab.add_argument(
        "--alpha",
        type=_alpha,
        default=0.01,
        metavar="P",
        help="false-alarm rate of the whole comparison. Default: 0.01",
    )
    ab.add_argument(
        "--floor",
        type=share,
        default=0.05,
        metavar="SHARE",
        help="smallest relative change reported as a regression. Default: 5%%",
    )
    ab.add_argument("--two-sided", action="store_true", help="improvements fail too")
    ab.add_argument(
        "--timeout",
        type=session_timeout,
        default=900.0,
        metavar="SECONDS",
        help="a session running longer is stopped and the comparison ends. Default: 900",
    )
    ab.add_argument("--markdown", metavar="PATH", help="also write the table as Markdown here")
    ab.add_argument(
        "pytest_args",
        nargs=argparse.REMAINDER,
        metavar="-- PYTEST ARGS",
        help="what every session runs, both variants",
    )
    ab.set_defaults(handler=_ab)
