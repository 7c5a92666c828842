"""What one pytest session of pytest-nfv keeps in ``config.stash``, and under which keys.

The keys live apart from the hooks that fill them and the fixtures and gate that read them, so
that no module of the plugin imports another only to reach its state: the fixtures need the
list of this run's records, which the optional in-run gate owns, without loading the gate.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from pytest_nfv.backends.base import Backend
from pytest_nfv.harness.budgets import BudgetBook, Judgement
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.model import EchoProtocol
from pytest_nfv.plugin.options import NfvSettings
from pytest_nfv.record import NotMeasured, extend_canary, run_conditions
from pytest_nfv.vnf.proxy import HOLD_ENV
from pytest_nfv.vnf.slowdown import SLOWDOWN_ENV

if TYPE_CHECKING:  # the gate's analysis is imported only when --nfv-compare asks for it
    from pytest_nfv.analysis.gate import GateResult
    from pytest_nfv.analysis.gate_config import GateConfig
    from pytest_nfv.analysis.history import Run

__all__ = [
    "GateState",
    "NfvState",
    "gate_state_key",
    "nfv_settings_key",
    "nfv_state_key",
    "recorded_key",
]


@dataclass
class NfvState:
    """Everything one session of pytest-nfv resolved at configure time."""

    settings: NfvSettings
    budgets: BudgetBook
    identity: RunIdentity
    backend: Backend
    budgets_why: str = ""
    """Why these budgets: the option, the backend's pick (and its reason), or the default."""
    echo: EchoProtocol = "udp"
    """What the testbed's requests are (``--nfv-echo`` resolved for the backend)."""
    prober: str = ""
    """Which ICMP prober child timed the boots (``EchoProber.kind``), once the lab is open."""
    judgements: list[Judgement] = field(default_factory=list)
    """Every figure's budget verdict, in the order recorded: the terminal summary reads it."""
    not_measured: list[NotMeasured] = field(default_factory=list)
    """Figures a test could not take on this backend or host: requirement, metrics, reason."""
    canary: dict[str, Any] = field(default_factory=dict)
    """The host canaries timed this run (``host.canary``), by name, as ``machine_info`` holds
    them: the regression gate tells a slower host from slower code with them."""

    def add_canary_samples(self, name: str, samples: tuple[float, ...]) -> None:
        """More samples of a canary already timed this run (the CPU loop, test by test)."""
        extend_canary(self.canary[name], samples)

    def run_conditions(self) -> dict[str, Any]:
        """What a saved run says about the conditions it ran in, beside the host's facts:
        its canaries, and a slowdown injected on purpose (``NFV_PROXY_HOLD_US``,
        ``NFV_PROXY_SLOWDOWN``), so that no one mistakes such a run for an ordinary one; and
        the variant B of the proxy VNF timed beside A (``--nfv-proxy-b``), for the same reason:
        its figures are the ``variant_*`` series."""
        injected = {}
        hold = os.environ.get(HOLD_ENV, "").strip()
        if hold and hold != "0":
            injected[HOLD_ENV] = hold
        slowdown = os.environ.get(SLOWDOWN_ENV, "").strip()
        if slowdown:
            injected[SLOWDOWN_ENV] = slowdown
        proxy_b = self.settings.proxy_b
        return run_conditions(
            self.canary, None if proxy_b is None else proxy_b.spec, injected, self.not_measured
        )


nfv_state_key = pytest.StashKey[NfvState]()
nfv_settings_key = pytest.StashKey[NfvSettings]()
"""The resolved options, stashed before the backend is built so backend hooks can read them."""


@dataclass
class GateState:
    """``--nfv-compare``: the baseline and settings read at configure time, then the verdict."""

    baseline: Run
    config: GateConfig
    result: GateResult | None = None
    error: str | None = None


gate_state_key = pytest.StashKey[GateState]()

recorded_key = pytest.StashKey[list[dict[str, Any]]]()
"""This run's records, each shaped like one entry of pytest-benchmark's ``benchmarks`` list.

Present only when the in-run gate is set up; ``nfv_record`` appends to it when it is there.
"""
