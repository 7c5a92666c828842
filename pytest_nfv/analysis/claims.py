"""The paper's claims about migration, stated as comparisons and judged on saved runs.

The paper recommends ClickOS where VNFs migrate often because its VMs are small and their
memory dump is easy to move, and CoreOS only for static scenarios, but it measures none of
this. Each claim here names one figure and the backend that should come out lower; a saved
run of each backend settles it the way the scorecard ranks (beyond both 95% confidence
intervals), so a difference inside the noise, or a figure taken from one round, is "cannot
tell", never "holds". A side that did not measure the figure says why, from the run's own
"not measured" facts. A figure taken on a stand-in (an engine that says so) is judged like
any other, and the verdict says it was a stand-in: it tells about the stand-in, not about
the system the paper measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pytest_nfv.analysis.history import Record, Run
from pytest_nfv.analysis.selection import backends_of, newest_first, newest_records
from pytest_nfv.units import display_unit, format_value

__all__ = ["PAPER_CLAIMS", "Claim", "ClaimVerdict", "judge", "judge_all", "render_claims"]

Status = Literal["holds", "contradicted", "cannot tell", "not measured"]


@dataclass(frozen=True)
class Claim:
    """``lower``'s figure ``metric`` (of ``requirement``) is below ``higher``'s."""

    statement: str
    source: str
    requirement: str
    metric: str
    lower: str
    higher: str


_SMALL_VMS = (
    '"ClickOS is very suitable for VNF migration due to the small size of ClickOS VMs '
    '(approximately 12 MB)" (section V)'
)
PAPER_CLAIMS: tuple[Claim, ...] = (
    Claim(
        "a ClickOS domain moves fewer bytes than an OSv VM when it migrates live",
        _SMALL_VMS,
        "deployment",
        "migration_moved",
        "clickos",
        "osv",
    ),
    Claim(
        "a ClickOS domain saves to a smaller image than an OSv VM",
        '"its full virtualization approach, turning the memory dump easily" (section V)',
        "deployment",
        "save_image",
        "clickos",
        "osv",
    ),
    Claim(
        "a ClickOS domain migrates live in less time than an OSv VM",
        _SMALL_VMS,
        "deployment",
        "migration_time",
        "clickos",
        "osv",
    ),
    Claim(
        "a ClickOS domain is down for less time than a CoreOS container when moved",
        '"CoreOS ... is not suitable for migration due to its container-based '
        'virtualization" (section V)',
        "deployment",
        "migration_seen_downtime",
        "clickos",
        "coreos",
    ),
)


@dataclass(frozen=True)
class ClaimVerdict:
    """A claim's status and the evidence it rests on, in words a reader can check."""

    claim: Claim
    status: Status
    evidence: str


def _side(runs: Sequence[Run], claim: Claim, backend: str) -> Record | str:
    """``backend``'s record of the claim's figure, or why there is none."""
    found = newest_records(runs, backend, claim.requirement, claim.metric)
    if found is not None:
        return found[1][0]
    for run in newest_first(runs):
        if run.backends not in ([backend], []):
            continue
        for entry in run.not_measured:
            if entry.requirement == claim.requirement and claim.metric in entry.metrics:
                return f"{backend} did not measure it: {entry.reason}"
    if backend not in backends_of(runs):
        return f"no run of {backend} among these"
    return f"{backend}'s runs hold no {claim.metric}"


def _interval(record: Record) -> tuple[float, float] | None:
    if record.ci_half_width is None or len(record.samples) < 2:
        return None
    return record.mean - record.ci_half_width, record.mean + record.ci_half_width


def _described(backend: str, record: Record) -> str:
    unit = display_unit(record.unit, record.mean)
    text = f"{backend} {format_value(record.mean, unit)}"
    if record.ci_half_width is not None:
        text += f" ± {format_value(record.ci_half_width, unit)}"
    rounds = len(record.samples)
    text += f" ({rounds} round{'s' if rounds != 1 else ''})"
    if "stand-in" in record.engine:
        text += " on a stand-in"
    return text


def judge(runs: Sequence[Run], claim: Claim) -> ClaimVerdict:
    """The claim's status from the newest record of each side (see the module's rule)."""
    low, high = _side(runs, claim, claim.lower), _side(runs, claim, claim.higher)
    missing = [side for side in (low, high) if isinstance(side, str)]
    if missing:
        return ClaimVerdict(claim, "not measured", "; ".join(missing))
    assert isinstance(low, Record)
    assert isinstance(high, Record)
    evidence = f"{_described(claim.lower, low)} vs {_described(claim.higher, high)}"
    if not low.figure.lower_is_better:
        evidence += f" ({low.figure.label}: higher is better, the claim compares values)"
    low_ci, high_ci = _interval(low), _interval(high)
    if low_ci is None or high_ci is None:
        status: Status = "cannot tell"
        evidence += "; a side has no confidence interval (one round): no verdict from it"
    elif low_ci[1] < high_ci[0]:
        status = "holds"
    elif high_ci[1] < low_ci[0]:
        status = "contradicted"
    else:
        status = "cannot tell"
        evidence += "; the intervals overlap"
    return ClaimVerdict(claim, status, evidence)


def judge_all(runs: Sequence[Run]) -> list[ClaimVerdict]:
    """Every claim with at least one of its backends in ``runs``."""
    present = set(backends_of(runs))
    return [judge(runs, c) for c in PAPER_CLAIMS if {c.lower, c.higher} & present]


def render_claims(verdicts: Sequence[ClaimVerdict]) -> list[str]:
    """The claims as a Markdown section ([] when no claim concerns these runs)."""
    if not verdicts:
        return []
    lines = [
        "",
        "## The paper's claims on migration, checked",
        "",
        "A claim holds only when the two 95% intervals do not overlap; a figure from one round "
        'or inside the other\'s interval is "cannot tell".',
        "",
        "| claim | status | evidence | the paper |",
        "| --- | --- | --- | --- |",
    ]
    for v in verdicts:
        lines.append(f"| {v.claim.statement} | {v.status} | {v.evidence} | {v.claim.source} |")
    return lines
