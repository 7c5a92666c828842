"""Does the one-baseline gate, calibrated on this runner, behave as it says it will?

Run as root from a clone::

    python benchmarks/calibrated_pairs.py --out DIR [--calibration-sessions 20] [--pairs 10]
        [--sizes 64,1400] [--ratios 1.2,1.5]

1. ``pytest-nfv calibrate`` runs ``--calibration-sessions`` A/A sessions of the monitoring
   suite (netns, ``--sizes``) and writes the runner's thresholds (``DIR/calibration.json``).
2. Then, ``--pairs`` times, fresh sessions the calibration never saw: a baseline ``a``, the
   same code again ``b``, and one session per ratio with the proxy's round trip slowed by it:
   a fixed hold of ``(R - 1)`` times the baseline's proxied round trip
   (``NFV_PROXY_SLOWDOWN=+Nus``), in turn. Each is gated against its pair's baseline with
   ``pytest-nfv compare --calibration``.

The table gives, per record, the share of pairs flagged against the share the calibration
predicts, ``Phi((log r - threshold) / (sqrt(2) sd))``, with a 95% binomial interval around
the observed share; same-code pairs must raise no regression at all. A hold costs the proxy a
little beyond itself, and the baseline's round trip is not the slowed session's, so ``r`` is
the ratio the pairs realized: the geometric mean over the pairs of the slowed session's median
over its baseline's; the share predicted at the nominal ratio is shown beside it. Sessions
whose JSON exists under ``--out`` are not run again.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from pytest_nfv.cli.sessions import private_dir

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "suites" / "test_monitoring.py"


def _suite_args(args: argparse.Namespace) -> list[str]:
    return [
        str(SUITE),
        *("-k", "not test_throughput"),  # the pairs time round trips
        "--backend=netns",
        f"--nfv-packet-sizes={args.sizes}",
    ]


def _session(args: argparse.Namespace, out: Path, slowdown: str) -> None:
    if out.is_file():
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith("NFV_PROXY_")}
    if slowdown:
        env["NFV_PROXY_SLOWDOWN"] = slowdown
    command = [sys.executable, "-m", "pytest", *_suite_args(args), "-p", "no:cacheprovider"]
    subprocess.run(
        [*command, "-q", f"--benchmark-json={out}"],
        check=False,
        stdout=subprocess.DEVNULL,
        env=env,
    )
    if not out.is_file():
        raise SystemExit(f"{out}: the session saved nothing (run it by hand to see why)")
    load = Path("/proc/loadavg").read_text().split()[0]
    print(f"  {out.name}: load {load}", flush=True)


def _hold_us(baseline: Path, ratio: float) -> int:
    """``(ratio - 1)`` of the baseline session's proxied round trip (the geometric mean of its
    response_time medians), as a fixed hold: the relative form of the slowdown overshoots."""
    from pytest_nfv.analysis.history import load_run

    medians = [
        r.median for k, r in load_run(baseline).records.items() if k.metric == "response_time"
    ]
    center = math.exp(sum(math.log(m) for m in medians) / len(medians))
    return max(1, round((ratio - 1.0) * center * 1e6))


def _gate(args: argparse.Namespace, baseline: Path, current: Path) -> tuple[int, set[str]]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_nfv.cli",
            "compare",
            str(baseline),
            str(current),
            f"--calibration={args.out / 'calibration.json'}",
        ],
        check=False,
        capture_output=True,
        text=True,
    )
    if done.returncode == 2:
        raise SystemExit(f"compare {baseline.name} {current.name}: {done.stderr.strip()}")
    flagged = {
        " ".join(line.split()[1:3])
        for line in done.stdout.splitlines()
        if line.startswith("REGRESSION")
    }
    return done.returncode, flagged


def _realized(args: argparse.Namespace, ratio: float, record: str) -> float:
    """The ratio the slowdown realized on ``record``: the geometric mean over the pairs of the
    slowed session's median over its baseline's."""
    from pytest_nfv.analysis.history import load_run

    logs = []
    for pair in range(1, args.pairs + 1):
        base = load_run(args.out / f"pair{pair:02d}-a.json")
        slow = load_run(args.out / f"pair{pair:02d}-x{ratio:g}.json")
        for key, value in base.records.items():
            if key.label() == record and key in slow.records:
                logs.append(math.log(slow.records[key].median / value.median))
    return math.exp(sum(logs) / len(logs)) if logs else ratio


def _binomial_interval(hits: int, n: int) -> tuple[float, float]:
    from scipy import stats as scipy_stats

    low = 0.0 if hits == 0 else float(scipy_stats.beta.ppf(0.025, hits, n - hits + 1))
    high = 1.0 if hits == n else float(scipy_stats.beta.ppf(0.975, hits + 1, n - hits))
    return low, high


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--calibration-sessions", type=int, default=20)
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--sizes", default="64,1400")
    parser.add_argument("--ratios", default="1.2,1.5")
    args = parser.parse_args()
    private_dir(args.out, reuse=True)  # of this user's alone: nothing planted is read
    ratios = [float(r) for r in args.ratios.split(",")]
    calibration = args.out / "calibration.json"
    if not calibration.is_file():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest_nfv.cli",
                "calibrate",
                f"--sessions={args.calibration_sessions}",
                f"--out={calibration}",
                f"--runs-dir={args.out / 'aa'}",
                "--",
                *_suite_args(args),
            ],
            check=True,
        )
    families: dict[str, Any] = {
        f"{f['requirement']}/{f['metric']}": f
        for entry in json.loads(calibration.read_text())["calibrations"]
        for f in entry["families"]
    }
    for pair in range(1, args.pairs + 1):
        _session(args, args.out / f"pair{pair:02d}-a.json", "")
        _session(args, args.out / f"pair{pair:02d}-b.json", "")
        for ratio in ratios:
            hold = _hold_us(args.out / f"pair{pair:02d}-a.json", ratio)
            _session(args, args.out / f"pair{pair:02d}-x{ratio:g}.json", f"+{hold}us")
    same_alarms = 0
    flagged: dict[tuple[float, str], int] = {}
    for pair in range(1, args.pairs + 1):
        base = args.out / f"pair{pair:02d}-a.json"
        code, _ = _gate(args, base, args.out / f"pair{pair:02d}-b.json")
        same_alarms += code == 1
        for ratio in ratios:
            _, rows = _gate(args, base, args.out / f"pair{pair:02d}-x{ratio:g}.json")
            for row in rows:
                flagged[(ratio, row)] = flagged.get((ratio, row), 0) + 1
    records = sorted(
        {
            f"monitoring/{metric} {size}B"
            for metric in ("response_time", "proxy_overhead")
            for size in args.sizes.split(",")
        }
    )
    from scipy import stats as scipy_stats

    print(
        "\n| asked | record | realized ratio | predicted share (at the nominal ratio) "
        "| flagged | 95% interval of the share |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    within = 0
    for ratio in ratios:
        for record in records:
            family = families.get(record.split()[0])
            if family is None:
                continue
            realized = _realized(args, ratio, record)

            def share(r: float, family: dict[str, Any] = family) -> float:
                z = (math.log(r) - family["threshold"]) / (math.sqrt(2) * family["sd"])
                return float(scipy_stats.norm.cdf(z))

            predicted = share(realized)
            hits = flagged.get((ratio, record), 0)
            low, high = _binomial_interval(hits, args.pairs)
            within += low <= predicted <= high
            print(
                f"| x{ratio:g} | {record} | x{realized:.2f} | {predicted:.0%} ({share(ratio):.0%}) "
                f"| {hits} of {args.pairs} | {low:.0%}..{high:.0%} |"
            )
    print(f"\nsame code: {same_alarms} of {args.pairs} pairs raised a regression")
    print(f"predicted shares inside the observed share's 95% interval: {within} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
