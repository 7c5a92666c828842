"""The regression gate's verdict as a CI log reads it, and as Markdown.

Kept apart from ``analysis.gate`` so that the statistics can be read (and tested) without the
layout, and the layout changed without touching a verdict.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from pytest_nfv.analysis.calibration import family_label, family_of
from pytest_nfv.analysis.gate import (
    BELOW_FLOOR,
    HOST_DRIFT,
    IMPROVED,
    REGRESSION,
    WITHIN_RUN,
    Comparison,
    GateResult,
    calibrated_threshold,
)
from pytest_nfv.units import display_unit, format_value

__all__ = ["HEADERS", "format_markdown", "format_text", "missed_line", "summary"]


def _share(value: float) -> str:
    return "any" if math.isinf(value) else f"{value:+.0%}"


def _detectable_cell(c: Comparison) -> str:
    if c.detectable is None:
        return f"unknown (floor {_share(c.worse_sign * c.floor_relative)})"
    return _share(c.detectable)


def _cells(c: Comparison) -> list[str]:
    unit = display_unit(c.baseline.unit, c.baseline.median)
    rel = c.relative
    change = "n/a" if math.isinf(rel) else f"{rel:+.1%}"
    shift = format_value(c.shift, unit)
    if c.interval is not None:
        shift += f"; 95% {c.interval[0]:+.0%}..{c.interval[1]:+.0%}"
    return [
        c.verdict + (" (low n)" if c.low_n else ""),
        c.key.label(),
        c.key.backend,
        f"{format_value(c.baseline.median, unit)} ({len(c.baseline.samples)})",
        f"{format_value(c.current.median, unit)} ({len(c.current.samples)})",
        f"{change} ({'+' if c.shift >= 0 else ''}{shift})",
        format_value(c.threshold, unit),
        f"{c.q:.2g}",
        _detectable_cell(c),
    ]


HEADERS = [
    "verdict",
    "benchmark",
    "backend",
    "baseline",
    "current",
    "change",
    "floor",
    "p",
    "detectable",
]
"""``p`` is Benjamini-Hochberg adjusted for rows judged by a test, the calibrated t's own for
calibrated rows (their threshold decides); ``detectable`` is the smallest change for the worse
found with 80% power (see ``missed_line``)."""


def _rows(result: GateResult, everything: bool) -> list[list[str]]:
    """Regressions first, then improvements, then the rest by p-value.

    The concise table (not ``everything``) keeps what a reader must see: the flagged rows,
    significant changes that stayed under their floor, and changes for the worse that too few
    samples could not confirm.
    """
    order = {REGRESSION: 0, HOST_DRIFT: 1, IMPROVED: 2, BELOW_FLOOR: 3}
    chosen = [
        c
        for c in result.comparisons
        if everything or c.verdict in order or (c.low_n and c.looks_worse)
    ]
    chosen.sort(key=lambda c: (order.get(c.verdict, 4), c.q, c.key))
    return [_cells(c) for c in chosen]


def _canary_line(result: GateResult) -> str:
    """How the host canaries moved: a slower host is told apart from slower code."""
    if result.no_canary:
        return (
            f"host canary: none in {', '.join(result.no_canary)}: a slower host cannot be told "
            "from slower code"
        )
    if not result.drift:
        return "host canary: the runs share no canary: a slower host cannot be told apart"
    cells = ", ".join(
        f"{d.name} {format_value(d.current, display_unit('s', d.current))} x{d.ratio:.2f} "
        f"(p {d.p:.2g}{', SLOWER' if d.slower else ''})"
        for d in result.drift
    )
    if result.host_slowdown is not None:
        verdict = (
            f"HOST DRIFT (x{result.host_slowdown:.2f}, the least slowdown of them): records "
            f"worse only as far as the slower host explains are labelled '{HOST_DRIFT}', not "
            "passed and not counted as the code's"
        )
    elif result.host_slower:
        verdict = (
            "not host drift: every canary must slow beyond its floor, and "
            f"{', '.join(d.name for d in result.drift if not d.slower)} did not; the "
            "verdicts stand"
        )
    else:
        verdict = "no drift beyond their floors"
    return f"host canary: {cells}; {verdict}"


def _floors_line(result: GateResult, rows: Sequence[Comparison]) -> str:
    cfg = result.config
    floors = ", ".join(f"{dim} {f.relative:.0%}" for dim, f in sorted(cfg.single_baseline.items()))
    thresholds = result.thresholds
    if thresholds is None:
        why = "no calibration given"
    elif thresholds.note:
        why = thresholds.note
    else:
        reasons: dict[str, str] = {}
        for c in rows:
            family = family_of(c.key)
            reasons[family_label(family)] = thresholds.left_out(family) or (
                "a median not positive in these runs"
                if thresholds.family(family)
                else "not in this runner's calibration"
            )
        why = "; ".join(f"{name}: {reason}" for name, reason in sorted(reasons.items()))
    scope = "" if len(rows) == len(result.comparisons) else f" for {len(rows)} record(s)"
    return (
        f"shipped coarse floors{scope}: {why}. One baseline: Mann-Whitney U "
        f"({'two' if cfg.two_sided else 'one'}-sided) on raw samples, Benjamini-Hochberg at "
        f"alpha={cfg.alpha:g}, floors raised to {floors or 'none set'}: set above the largest "
        "same-code movement seen on the project's reference host, not this runner's spread; "
        "run pytest-nfv calibrate on this runner, or pass earlier runs with --history"
    )


def _calibrated_lines(result: GateResult) -> list[str]:
    thresholds = result.thresholds
    assert thresholds is not None
    cfg = result.config
    entries: dict[int, str] = {}
    families: dict[tuple[str, str, str], Comparison] = {}
    for c in result.calibrated:
        found = thresholds.family(family_of(c.key))
        assert found is not None
        entry, _ = found
        entries[id(entry)] = f"{thresholds.path}, {entry.sessions} A/A sessions, {entry.date}" + (
            f", {entry.arguments}" if entry.arguments else ""
        )
        families.setdefault(family_of(c.key), c)
    first = next(iter(families.values()))
    found = thresholds.family(family_of(first.key))
    assert found is not None
    coverage, confidence = found[1].coverage, found[1].confidence
    lines = [
        f"thresholds: calibrated on this runner ({'; '.join(entries.values())}): a record "
        "regresses when its log ratio of medians (current / baseline) is beyond its family's "
        f"bound, which keeps {coverage:.1%} of same-code pairs under it with "
        f"{confidence:.0%} confidence; p: calibrated t, unadjusted (the bound decides)"
    ]
    for family, c in sorted(families.items()):
        found = thresholds.family(family)
        assert found is not None
        fam = found[1]
        bound = calibrated_threshold(fam, cfg, c.key, c.baseline.unit, c.worse_sign)
        sign = c.worse_sign
        lines.append(
            f"  {family_label(family)}: flags beyond {_share(math.exp(sign * bound) - 1)} "
            f"(run-to-run sd {fam.sd:.3f} on the log scale, {fam.df} df); 80% power at "
            f"{_share(math.exp(sign * fam.detectable(bound)) - 1)}; predicted share of pairs "
            f"flagged: x1.2 {fam.flagged_share(1.2, bound):.0%}, "
            f"x1.5 {fam.flagged_share(1.5, bound):.0%}"
        )
    return lines


def _header_lines(result: GateResult) -> list[str]:
    cfg = result.config
    lines = [
        f"pytest-nfv compare: {result.current.source} against baseline {result.baseline.source}",
        f"config: {cfg.source}",
    ]
    if result.history:
        m = len(result.comparisons)
        lines.append(
            f"thresholds: run-to-run: each record's median against the medians of the baseline "
            f"and {result.history} earlier run(s) (Student-t prediction test; the run is the "
            f"unit), Benjamini-Hochberg at alpha={cfg.alpha:g} and the floors; detectable: 80% "
            f"power at one-sided alpha/m = {cfg.alpha:g}/{m}"
            + ("/2" if cfg.two_sided else "")
            + f" = {result.level:.2g}, the level Benjamini-Hochberg asks of a record that "
            "changed alone"
        )
    else:
        if result.calibrated:
            lines += _calibrated_lines(result)
        rest = [c for c in result.comparisons if c.basis == WITHIN_RUN]
        if rest:
            lines.append(_floors_line(result, rest))
    lines.append(_canary_line(result))
    for run in (result.baseline, result.current):
        if run.injected:
            shown = ", ".join(f"{k}={v}" for k, v in sorted(run.injected.items()))
            lines.append(f"{run.source} ran with a slowdown injected on purpose ({shown})")
    if result.host_differences:
        lines.append("DIFFERENT HOSTS (figures may differ for that reason alone): ")
        lines[-1] += "; ".join(result.host_differences)
    return lines


def missed_line(result: GateResult) -> str:
    """What the comparison could have missed: the smallest change for the worse each record's
    evidence finds with 80% power, summed up; "unknown" where there is no run-to-run spread.

    A pass is read as "nothing changed"; this line says how large a change could have
    passed all the same.
    """
    known = sorted(abs(c.detectable) for c in result.comparisons if c.detectable is not None)
    unknown = [c for c in result.comparisons if c.detectable is None]
    parts = []
    if known:
        parts.append(
            f"effects up to {_share(statistics.median(known))} (median over {len(known)} "
            f"record(s); largest {_share(known[-1])})"
        )
    if unknown:
        floors = sorted(c.floor_relative for c in unknown)
        span = _share(floors[0]) + ("" if floors[-1] == floors[0] else f" to {_share(floors[-1])}")
        parts.append(
            f"unknown for {len(unknown)} record(s): no run-to-run spread (run pytest-nfv "
            f"calibrate); their floors flag no change under {span}"
        )
    return "could have missed: " + "; ".join(parts)


def format_text(result: GateResult, everything: bool = False) -> str:
    """The table for a CI log: flagged rows only unless ``everything``; medians (samples)."""
    rows = _rows(result, everything)
    lines = _header_lines(result)
    if rows:
        widths = [max(len(r[i]) for r in [HEADERS, *rows]) for i in range(len(HEADERS))]
        for row in [HEADERS, *rows]:
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    if everything or len(result.missing) <= 5:
        for key in result.missing:
            lines.append(f"only in baseline: {key.label()} {key.backend} ({key.test})")
    lines.append(missed_line(result))
    lines.append(("FAIL: " if result.failed else "PASS: ") + summary(result))
    return "\n".join(lines)


def format_markdown(result: GateResult) -> str:
    """Every compared row as a Markdown table, e.g. for ``$GITHUB_STEP_SUMMARY``."""
    lines = [f"> {line}" for line in _header_lines(result)]
    lines += ["", "| " + " | ".join(HEADERS) + " |", "|" + " --- |" * len(HEADERS)]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(result, True)]
    lines += ["", missed_line(result)]
    lines += ["", ("**FAIL**: " if result.failed else "**PASS**: ") + summary(result), ""]
    return "\n".join(lines)


def summary(result: GateResult) -> str:
    """The verdict in one line: the counts, the host's drift, the rows too small to tell."""
    parts = [
        f"{len(result.regressions)} regression(s)",
        *(
            [f"{len(result.host_drift)} worse as far as host drift explains"]
            if result.host_drift
            else []
        ),
        *([f"{len(result.improvements)} improvement(s)"] if result.config.two_sided else []),
        f"{len(result.comparisons)} compared",
    ]
    if result.missing:
        parts.append(f"{len(result.missing)} only in baseline")
    if result.added:
        parts.append(f"{len(result.added)} new")
    if result.not_gated:
        parts.append(f"{len(result.not_gated)} not gated (pooled or repeated reads)")
    if result.host_slower:
        slower = ", ".join(f"{d.name} x{d.ratio:.2f}" for d in result.host_slower)
        parts.append(
            f"HOST DRIFT: the host ran slower ({slower})"
            if result.host_slowdown is not None
            else f"not host drift: only some canaries slowed ({slower})"
        )
    low = sum(c.low_n for c in result.comparisons)
    if low:
        parts.append(f"{low} with too few samples to show a change")
    return ", ".join(parts)
