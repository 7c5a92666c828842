"""Does ``pytest-nfv ab`` stay quiet on A/A, and see +20% and +30 us on the proxy path?

Run as root from a clone::

    python benchmarks/ab_targets.py --out DIR [--comparisons 10] [--form sessions|paired]
        [--sessions 12] [--sizes 64,1400] [--relative 0.2] [--fixed +30us]
        [--round-trip-seconds S]

Each comparison is one ``pytest-nfv ab`` over the monitoring suite (netns, ``--sizes``):

- ``aa``: A and B are the same code and the same settings: it must report no regression;
- ``rel``: B's proxy VNF adds to each round trip through it ``--relative`` (a share) of the
  proxied round trip as measured just before, in one plain session of the same suite: a
  fixed hold of that size (``NFV_PROXY_SLOWDOWN=+Nus``, ``pytest_nfv.vnf.slowdown``). A
  fixed hold is what the proxy adds most exactly; its relative form (``x1.2``) adds its own
  bookkeeping to every frame and overshoots (``benchmarks/RESULTS.md``). It must be flagged;
- ``fix``: B's proxy adds ``--fixed`` to each round trip through it: it must be flagged.

With ``--form sessions`` A and B are separate sessions, interleaved (``--sessions`` a side);
with ``--form paired`` every session runs both proxies round by round (``--proxy-b``).
The kinds take turns (aa, rel, fix, aa, ...), so a host that changes over the hour the
benchmark takes changes under all three alike. A comparison whose ``ab.json`` exists under
``--out`` is not run again: the benchmark can be taken in chunks and re-tabled. The last
lines say whether each target was met (A/A quiet in all, +20% flagged in at least 9 of 10,
+30 us in all, each comparison within 6 minutes); the exit status is 1 only when nothing
could be compared.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pytest_nfv.cli.sessions import private_dir

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "suites" / "test_monitoring.py"
MINUTES_PER_COMPARISON = 6.0


def _probe_hold_us(args: argparse.Namespace, index: int) -> int:
    """``--relative`` of the proxied round trip, from one plain session run now: the geometric
    mean over ``--sizes`` of its response_time medians."""
    from pytest_nfv.analysis.history import load_run

    probe = args.out / f"probe-{index:02d}.json"
    if not probe.is_file():
        subprocess.run(
            [sys.executable, "-m", "pytest", *_suite(args), "-p", "no:cacheprovider", "-q",
             f"--benchmark-json={probe}"],
            check=False,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
    run = load_run(probe)
    medians = [r.median for k, r in run.records.items() if k.metric == "response_time"]
    center = math.exp(sum(math.log(m) for m in medians) / len(medians))
    return max(1, round(args.relative * center * 1e6))


def _suite(args: argparse.Namespace) -> list[str]:
    return [
        str(SUITE),
        *("-k", "not test_throughput"),  # the gate's targets are the round trips
        "--backend=netns",
        f"--nfv-packet-sizes={args.sizes}",
        f"--nfv-max-round-trip-seconds={args.round_trip_seconds:g}",
    ]


def _command(args: argparse.Namespace, kind: str, out: Path, slowdown: str) -> list[str]:
    command = [sys.executable, "-m", "pytest_nfv.cli", "ab", f"--out={out}"]
    if args.form == "paired":
        # A/A in the paired form: B is a second proxy with nothing injected
        spec = f"slowdown={slowdown}" if slowdown else "hold-us=0"
        command += [f"--sessions={args.sessions}", f"--proxy-b={spec}"]
    else:
        command += [f"--sessions={args.sessions}"]
        if slowdown:
            command += [f"--b-env=NFV_PROXY_SLOWDOWN={slowdown}"]
    return [*command, "--", *_suite(args)]


def _compare(args: argparse.Namespace, kind: str, index: int) -> dict[str, Any] | None:
    out = args.out / f"{kind}-{index:02d}"
    verdict = out / "ab.json"
    if not verdict.is_file():
        if args.report_only:
            return None
        if out.exists():  # an interrupted comparison: its sessions are not judged half-done
            for stale in out.iterdir():
                stale.unlink()
            out.rmdir()
        slowdown = {"aa": "", "fix": args.fixed}.get(kind, "")
        if kind == "rel":
            slowdown = f"+{_probe_hold_us(args, index)}us"
        load = Path("/proc/loadavg").read_text().split()[0]
        started = time.monotonic()
        done = subprocess.run(
            _command(args, kind, out, slowdown), check=False, capture_output=True, text=True
        )
        took = time.monotonic() - started
        if done.returncode == 2 or not verdict.is_file():
            print(f"{out.name}: could not compare (exit {done.returncode}):\n{done.stderr[-2000:]}")
            return None
        data = json.loads(verdict.read_text())
        data["load_before"] = load
        data["wall_seconds"] = took
        data["slowdown"] = slowdown
        verdict.write_text(json.dumps(data, indent=2) + "\n")
        print(
            f"{out.name}: exit {done.returncode}, {took / 60:.1f} min, load {load}: "
            f"{', '.join(data['regressions']) or 'no regression'}",
            flush=True,
        )
    data = json.loads(verdict.read_text())
    data["name"] = out.name
    return data


def _effect(data: dict[str, Any], family: str) -> str:
    for fam in data["families"]:
        if fam["family"].startswith(f"monitoring/{family} "):
            return (
                f"{fam['relative']:+.1%} [{fam['relative_low']:+.1%}, "
                f"{fam['relative_high']:+.1%}] (detectable {fam['detectable_relative']:+.1%})"
            )
    return "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--comparisons", type=int, default=10)
    parser.add_argument("--first", type=int, default=1, help="number of the first comparison")
    parser.add_argument("--form", choices=("sessions", "paired"), default="sessions")
    parser.add_argument("--sessions", type=int, default=12)
    parser.add_argument("--sizes", default="64,1400")
    parser.add_argument("--relative", type=float, default=0.2, help="share of a round trip")
    parser.add_argument("--round-trip-seconds", type=float, default=3.0)
    parser.add_argument("--fixed", default="+30us")
    parser.add_argument("--kinds", default="aa,rel,fix", help="which kinds to run")
    parser.add_argument("--report-only", action="store_true", help="table what is saved")
    args = parser.parse_args()
    private_dir(args.out, reuse=True)  # of this user's alone: nothing planted is read
    kinds = args.kinds.split(",")
    results: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    for index in range(args.first, args.first + args.comparisons):
        for kind in kinds:
            data = _compare(args, kind, index)
            if data is not None:
                results[kind].append(data)
    print(
        "\n| comparison | B's slowdown | exit | families flagged | response_time B/A "
        "| proxy_overhead B/A | minutes |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for kind in kinds:
        for data in results[kind]:
            print(
                f"| {data['name']} | {data.get('slowdown') or '-'} | "
                f"{1 if data['failed'] else 0} | "
                f"{len(data['regressions'])} | {_effect(data, 'response_time')} | "
                f"{_effect(data, 'proxy_overhead')} | {data.get('wall_seconds', 0) / 60:.1f} |"
            )
    total = sum(len(v) for v in results.values())
    if not total:
        return 1
    slowest = max(d.get("wall_seconds", 0) for v in results.values() for d in v) / 60
    lines = []
    if "aa" in results:
        quiet = sum(not d["failed"] for d in results["aa"])
        lines.append(f"A/A quiet in {quiet} of {len(results['aa'])}")
    if "rel" in results:
        seen = sum(d["failed"] for d in results["rel"])
        lines.append(f"+{args.relative:.0%} flagged in {seen} of {len(results['rel'])}")
    if "fix" in results:
        seen = sum(d["failed"] for d in results["fix"])
        lines.append(f"{args.fixed} flagged in {seen} of {len(results['fix'])}")
    lines.append(f"slowest comparison {slowest:.1f} min (target {MINUTES_PER_COMPARISON:g})")
    print("\n" + "; ".join(lines))
    met = (
        all(not d["failed"] for d in results.get("aa", []))
        and sum(d["failed"] for d in results.get("rel", [])) >= 0.9 * len(results.get("rel", []))
        and all(d["failed"] for d in results.get("fix", []))
        and slowest <= MINUTES_PER_COMPARISON
    )
    print(f"targets met: {'yes' if met else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
