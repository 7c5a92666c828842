"""An A/B result as a CI log reads it, as Markdown, and as JSON for scripts.

Kept apart from ``analysis.ab`` so that the statistics can be read (and tested) without the
layout, and the layout changed without touching a verdict.
"""

from __future__ import annotations

import math
from typing import Any

from pytest_nfv.analysis.ab import REGRESSION, AbResult, FamilyVerdict, FigureVerdict
from pytest_nfv.analysis.runlevel import Effect
from pytest_nfv.units import display_unit, format_value

__all__ = ["format_markdown", "format_text", "result_json"]

HEADERS = ["verdict", "figure", "A", "B", "B/A (95% CI)", "p", "detectable"]


def _change(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:+.1%}"


def _ratio(effect: Effect) -> str:
    low, high = effect.relative_interval
    return f"{_change(effect.relative)} [{_change(low)}, {_change(high)}]"


def _detectable(effect: Effect) -> str:
    return _change(effect.relative_detectable)


def _figure_cells(f: FigureVerdict) -> list[str]:
    unit = display_unit(f.unit, f.a_center)
    size = f"{f.key.size}B" if f.key.size is not None else ""
    n = f"N={f.key.n}" if f.key.n is not None else ""
    where = " ".join(x for x in (n, size) if x) or f.key.test
    return [
        f"  {f.verdict}",
        f"  {where}",
        format_value(f.a_center, unit),
        format_value(f.b_center, unit),
        _ratio(f.effect),
        f"{f.p_holm:.2g}",
        _detectable(f.effect),
    ]


def _family_cells(fam: FamilyVerdict, result: AbResult) -> list[str]:
    agree = "" if fam.consistent else ", sizes disagree"
    return [
        fam.verdict,
        fam.label() + agree,
        "",
        "",
        _ratio(fam.effect),
        f"{fam.effect.p:.2g}",
        _detectable(fam.effect),
    ]


def _header(result: AbResult, sources: str = "") -> list[str]:
    cfg = result.config
    if result.form == "sessions":
        evidence = (
            f"{result.sessions_a} sessions of A and {result.sessions_b} of B, interleaved on "
            "one host; one figure per session (its median); Welch t on the log medians"
        )
    else:
        evidence = (
            f"{result.sessions_a} sessions, each timing A and B round by round; one log ratio "
            "B/A per session (of its medians); paired t over the sessions"
        )
    lines = [f"pytest-nfv ab: {evidence}"]
    if sources:
        lines.append(sources)
    lines.append(
        f"alpha {cfg.alpha:g} for the comparison: {cfg.alpha / 2:g} over "
        f"{len(result.families)} families (Bonferroni, {result.family_alpha:.2g} each, a family "
        f"must also agree across its sizes), {cfg.alpha / 2:g} over {result.figure_count} "
        f"figures (Holm); effect floor {cfg.floor:.0%}; "
        f"{'two' if cfg.two_sided else 'one'}-sided"
    )
    lines.append(
        "detectable: the smallest change found with 80% power at the level each row was tested at"
    )
    return lines


def _summary(result: AbResult) -> str:
    regressed = [f.label() for f in result.regressions]
    parts = [f"{len(regressed)} of {len(result.families)} families regressed"]
    if regressed:
        parts[0] += f" ({', '.join(regressed)})"
    if result.improvements:
        parts.append(f"{len(result.improvements)} improved")
    largest = max(
        (f.effect.relative_detectable for f in result.families),
        default=math.nan,
    )
    if math.isfinite(largest):
        parts.append(f"could have missed changes up to {_change(largest)} in a family")
    if result.left_out:
        parts.append(f"{len(result.left_out)} figure(s) not in every session, not compared")
    return ("FAIL: " if result.failed else "PASS: ") + ", ".join(parts)


def _rows(result: AbResult) -> list[list[str]]:
    rows = []
    for fam in result.families:
        rows.append(_family_cells(fam, result))
        rows += [_figure_cells(f) for f in fam.figures]
    return rows


def format_text(result: AbResult, sources: str = "") -> str:
    """Every family and its figures, aligned for a CI log, with the verdict line last."""
    lines = _header(result, sources)
    rows = _rows(result)
    widths = [max(len(r[i]) for r in [HEADERS, *rows]) for i in range(len(HEADERS))]
    for row in [HEADERS, *rows]:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    for line in result.left_out[:10]:
        lines.append(f"not compared: {line}")
    lines.append(_summary(result))
    return "\n".join(lines)


def format_markdown(result: AbResult, sources: str = "") -> str:
    """The same table as Markdown, e.g. for ``$GITHUB_STEP_SUMMARY``."""
    lines = [f"> {line}" for line in _header(result, sources)]
    lines += ["", "| " + " | ".join(HEADERS) + " |", "|" + " --- |" * len(HEADERS)]
    lines += ["| " + " | ".join(c.strip() for c in row) + " |" for row in _rows(result)]
    lines += ["", f"**{_summary(result)}**", ""]
    return "\n".join(lines)


def _effect_json(effect: Effect) -> dict[str, Any]:
    low, high = effect.relative_interval
    return {
        "relative": effect.relative,
        "relative_low": low,
        "relative_high": high,
        "p": effect.p,
        "df": effect.df,
        "sd": effect.sd,
        "log_scale": effect.log_scale,
        "detectable_relative": effect.relative_detectable,
        "alpha": effect.alpha,
        "method": effect.method,
    }


def result_json(result: AbResult) -> dict[str, Any]:
    """The verdicts as plain data: what a benchmark or a dashboard reads back."""
    return {
        "form": result.form,
        "alpha": result.config.alpha,
        "floor": result.config.floor,
        "two_sided": result.config.two_sided,
        "sessions_a": result.sessions_a,
        "sessions_b": result.sessions_b,
        "failed": result.failed,
        "regressions": [f.label() for f in result.regressions],
        "families": [
            {
                "family": fam.label(),
                "verdict": fam.verdict,
                "consistent": fam.consistent,
                **_effect_json(fam.effect),
                "figures": [
                    {
                        "figure": f.key.label(),
                        "verdict": f.verdict,
                        "unit": f.unit,
                        "a": f.a_center,
                        "b": f.b_center,
                        "p_holm": f.p_holm,
                        **_effect_json(f.effect),
                    }
                    for f in fam.figures
                ],
            }
            for fam in result.families
        ],
        "left_out": list(result.left_out),
        "regression_verdict": REGRESSION,
    }
