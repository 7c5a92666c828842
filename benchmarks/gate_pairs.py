"""Does the regression gate stay quiet on unchanged code, and see a real slowdown?

Run as root from a clone: ``python benchmarks/gate_pairs.py [--pairs 10] [--first 1]
[--out DIR] [--hold-us 30 | --slowdown x1.2] [--instances 1,8] [--sizes 64,1400]
[-k "not memory"]``.

Each pair is three back-to-back runs of the monitoring and instantiation suites (netns) on
this host, each saved as pytest-benchmark JSON under ``--out``:

- ``pairN-a``: the baseline;
- ``pairN-b``: the same code again: ``pytest-nfv compare pairN-a pairN-b`` must report no
  regression (exit 0; exit 3, host drift, is counted apart);
- ``pairN-slow``: the same code with the proxy's hop slowed for real: the proxy VNF holds
  every frame ``--hold-us`` microseconds before sending it on (``NFV_PROXY_HOLD_US``, a busy
  wait; twice per round trip), or with ``--slowdown SPEC`` slows each round trip through it
  (``NFV_PROXY_SLOWDOWN``: ``x1.2`` or ``+20%`` relative, ``+30us`` fixed; see
  ``pytest_nfv.vnf.slowdown``), while the kernel-forwarded direct path and the host canaries
  stay as they are. Without either option the hold is 30 us. ``pytest-nfv compare pairN-a
  pairN-slow`` must flag it (exit 1).

Runs whose JSON already exists under ``--out`` are not run again, so the pairs can be taken in
chunks (``--first 6 --pairs 5``) and the table printed over all of them at the end. The gate
is the shipped one, defaults and all: one baseline, no history. The last line says whether
both targets were met; the exit status is 1 only when no pair could be gated.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from pytest_nfv.cli.sessions import private_dir

ROOT = Path(__file__).resolve().parents[1]
SUITES = [ROOT / "suites" / "test_monitoring.py", ROOT / "suites" / "test_instantiation.py"]
SUMMARY = re.compile(r"^(PASS|FAIL): (\d+) regression")


def run_suites(out: Path, args: argparse.Namespace, hold_us: int, slowdown: str = "") -> str:
    """One run of the suites into ``out``; returns the load average before it."""
    load = Path("/proc/loadavg").read_text().split()[0]
    env = dict(os.environ)
    env.pop("NFV_PROXY_HOLD_US", None)
    env.pop("NFV_PROXY_SLOWDOWN", None)
    if hold_us:
        env["NFV_PROXY_HOLD_US"] = str(hold_us)
    if slowdown:
        env["NFV_PROXY_SLOWDOWN"] = slowdown
    command = [
        sys.executable,
        "-m",
        "pytest",
        *map(str, SUITES),
        "--backend=netns",
        f"--nfv-instances={args.instances}",
        f"--nfv-packet-sizes={args.sizes}",
        "-p",
        "no:cacheprovider",
        "-q",
        f"--benchmark-json={out}",
    ]
    if args.k:
        command += ["-k", args.k]
    started = time.monotonic()
    subprocess.run(command, check=False, stdout=subprocess.DEVNULL, env=env)
    if not out.is_file():
        raise SystemExit(f"{out}: the run saved nothing (run it by hand to see why)")
    print(f"  {out.name}: {time.monotonic() - started:.0f} s, load {load}", flush=True)
    return load


def gate(baseline: Path, current: Path) -> tuple[int, int, str]:
    """``pytest-nfv compare``: exit status, regressions reported, the flagged rows and canary."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest_nfv.cli", "compare", str(baseline), str(current)],
        check=False,
        capture_output=True,
        text=True,
    )
    regressions = 0
    for line in done.stdout.splitlines():
        match = SUMMARY.match(line)
        if match:
            regressions = int(match.group(2))
    lines = done.stdout.splitlines()
    shown = [ln for ln in lines if ln.startswith(("REGRESSION", "host drift", "host canary"))]
    if done.returncode == 2:
        shown.append(done.stderr.strip() or done.stdout.strip())
    return done.returncode, regressions, "\n".join(shown)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--first", type=int, default=1, help="number of the first pair")
    parser.add_argument("--out", type=Path, default=Path("gate-pairs"))
    parser.add_argument("--hold-us", type=int, default=None, help="per frame (default 30)")
    parser.add_argument("--slowdown", default="", metavar="SPEC", help="per round trip")
    parser.add_argument("--instances", default="1,8")
    parser.add_argument("--sizes", default="64,1400")
    parser.add_argument(
        "-k", default="not memory and not throughput", help="pytest -k of the suites' tests"
    )
    parser.add_argument("--report-only", action="store_true", help="gate what is saved")
    args = parser.parse_args()
    if args.hold_us is None:
        args.hold_us = 0 if args.slowdown else 30
    slowed = " and ".join(
        ([f"{args.hold_us} us per frame"] if args.hold_us else [])
        + ([f"{args.slowdown} per round trip"] if args.slowdown else [])
    )
    private_dir(args.out, reuse=True)  # of this user's alone: nothing planted is read
    if not args.report_only:
        for pair in range(args.first, args.first + args.pairs):
            for name, hold, slowdown in (
                ("a", 0, ""),
                ("b", 0, ""),
                ("slow", args.hold_us, args.slowdown),
            ):
                out = args.out / f"pair{pair:02d}-{name}.json"
                if not out.is_file():
                    run_suites(out, args, hold, slowdown)
    rows, quiet, flagged, total = [], 0, 0, 0
    for base in sorted(args.out.glob("pair*-a.json")):
        same, slow = (base.with_name(base.name.replace("-a.", f"-{s}.")) for s in ("b", "slow"))
        if not (same.is_file() and slow.is_file()):
            continue
        total += 1
        s_exit, s_reg, s_rows = gate(base, same)
        w_exit, w_reg, w_rows = gate(base, slow)
        quiet += s_exit == 0
        flagged += w_exit == 1
        rows.append(f"| {base.name[:6]} | {s_exit} | {s_reg} | {w_exit} | {w_reg} |")
        print(f"{base.name[:6]} same code: exit {s_exit}\n{s_rows}")
        print(f"{base.name[:6]} slowed by {slowed}: exit {w_exit}\n{w_rows}")
    print("\n| pair | same code: exit | regressions | slowed: exit | regressions |")
    print("| --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    print(f"\nsame code quiet in {quiet} of {total} pairs; slowed flagged in {flagged} of {total}")
    met = total > 0 and quiet == total and flagged == total
    print(f"targets (quiet in every pair, flagged in every pair) met: {'yes' if met else 'no'}")
    return 0 if total else 1


if __name__ == "__main__":
    sys.exit(main())
