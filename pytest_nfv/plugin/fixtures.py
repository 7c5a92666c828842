"""The fixtures suites are written with, layered so each owns what it starts.

``nfv_backend`` (session) opens the backend and closes it, whatever happens -> ``nfv_lab``
(session) adds the ICMP prober -> ``nfv_testbed`` (session) adds Fig. 1's hosts and proxy VNF
-> ``nfv_instances`` (function) starts N ready instances and stops them after the test.
``nfv_record`` puts measured series into pytest-benchmark and judges them against budgets
(its ``Recorder`` is ``plugin.recorder``'s).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from pytest_nfv.backends import EngineTargets, reap_all
from pytest_nfv.backends.base import ProbeInterval
from pytest_nfv.errors import BackendUnavailable, NfvUsageError
from pytest_nfv.harness.lab import Lab
from pytest_nfv.harness.probes.icmp import DEFAULT_PROBE_INTERVAL_S, EchoProber
from pytest_nfv.harness.proxy_path import ProxyPath
from pytest_nfv.harness.repeat import StopRule, repeat_until_converged
from pytest_nfv.harness.stats import Summary
from pytest_nfv.harness.together import Key, Taken, repeat_together
from pytest_nfv.host.canary import (
    CPU_LOOP_ITERATIONS,
    PASSES_PER_TEST,
    cpu_loop_seconds,
)
from pytest_nfv.model import Instance, metric_of
from pytest_nfv.plugin.budget_pick import budget_choice, load_chosen_budgets
from pytest_nfv.plugin.options import NfvSettings
from pytest_nfv.plugin.progress import TerminalProgress, progress_of
from pytest_nfv.plugin.recorder import Recorder, Series
from pytest_nfv.plugin.state import NfvState, nfv_state_key
from pytest_nfv.record import canary_entry

__all__ = [
    "Recorder",
    "Repeater",
    "Series",
    "nfv_backend",
    "nfv_instances",
    "nfv_lab",
    "nfv_record",
    "nfv_repeat",
    "nfv_settings",
    "nfv_testbed",
]


def _state(config: pytest.Config) -> NfvState:
    return config.stash[nfv_state_key]


@pytest.fixture(scope="session")
def nfv_settings(pytestconfig: pytest.Config) -> NfvSettings:
    """The resolved ``--nfv-*`` options."""
    return _state(pytestconfig).settings


@pytest.fixture(scope="session")
def nfv_backend(pytestconfig: pytest.Config) -> Iterator[Any]:
    """The opened backend; skipped with the backend's reason if this host cannot run it.

    Before opening, what dead runs of this backend left behind is reaped (its engine and the
    run namespaces; no other engine is contacted), so a run killed with SIGKILL is cleaned
    up by the next one at the latest.
    """
    state = _state(pytestconfig)
    settings = state.settings
    reap_all(  # only runs whose owner process is gone
        targets=EngineTargets(settings.docker_url, settings.libvirt_uri),
        backends=(state.backend.name,),
    )
    unavailable: BackendUnavailable | None = None
    try:
        state.backend.open()
    except BackendUnavailable as exc:
        unavailable = exc
    if unavailable is not None:  # outside the except: the report shows the reason, no chain
        if state.settings.strict:
            pytest.fail(f"--nfv-strict: {unavailable}", pytrace=False)
        pytest.skip(str(unavailable))
    _budgets_after_open(pytestconfig, state)
    try:
        yield state.backend
    finally:
        state.backend.close()


def _budgets_after_open(config: pytest.Config, state: NfvState) -> None:
    """An open backend knows what runs (osv: KVM or TCG); its budget pick may change."""
    path, why = budget_choice(state.settings, state.backend)
    if path == state.budgets.path and why == state.budgets_why:
        return
    state.budgets = load_chosen_budgets(path, why, state.settings.backend)
    state.budgets_why = why
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"nfv: budgets now {path} ({why})")


@pytest.fixture(scope="session")
def nfv_lab(
    nfv_backend: Any, nfv_settings: NfvSettings, request: pytest.FixtureRequest
) -> Iterator[Lab]:
    """The backend plus a running ICMP readiness prober in its probe namespace.

    A backend may pace the prober itself (``ProbeInterval``): VMs that take seconds to boot
    gain nothing from the default sub-millisecond pace, and on a small host the flood of
    probes would take CPU from the very guests being timed.
    """
    interval = (
        float(nfv_backend.probe_interval_s)
        if isinstance(nfv_backend, ProbeInterval)
        else DEFAULT_PROBE_INTERVAL_S
    )
    _state(request.config).canary["cpu_loop"] = canary_entry(
        cpu_loop_seconds(),
        f"a Python loop of {CPU_LOOP_ITERATIONS} additions, when the lab opens and "
        f"{PASSES_PER_TEST} passes before each test after",
    )
    progress = progress_of(request.config)
    report = None if progress is None else progress.report
    with EchoProber(nfv_backend.probe_netns, interval) as prober:
        request.config.stash[nfv_state_key].prober = prober.kind
        yield Lab(
            nfv_backend,
            prober,
            nfv_settings.boot_timeout_s,
            report,
            backend_deadlines=nfv_settings.boot_timeout_auto,
        )


@pytest.fixture(scope="session")
def nfv_testbed(nfv_lab: Lab, pytestconfig: pytest.Config) -> Iterator[ProxyPath]:
    """Host A -- proxy VNF -- host B (and B2), with the proxied path already carrying traffic.

    The proxy's first proxied reply may take as long as an instance's boot (the boot
    timeout): an emulated guest takes its configuration long after its domain exists. The
    kernel-forwarded path is timed once as the run's host canary (``ProxyPath.canary``).
    """
    state = _state(pytestconfig)
    path = ProxyPath(
        nfv_lab,
        path_timeout_s=nfv_lab.boot_timeout_s,
        echo=state.echo,
        proxy_b=state.settings.proxy_b,  # --nfv-proxy-b: variant B, paused beside A
    )
    try:
        state.canary["direct_path"] = canary_entry(
            path.canary(),
            f"64 B {path.protocol.upper()} round trips A -> proxy's hop, kernel forwarding "
            "-> B -> A",
        )
        yield path
    finally:
        path.close()


@pytest.fixture
def nfv_instances(nfv_lab: Lab) -> Iterator[Callable[[int], list[Instance]]]:
    """``nfv_instances(n)`` starts N instances, returns once all answer; all stop after the test."""
    started: list[Instance] = []

    def start(n: int) -> list[Instance]:
        instances = nfv_lab.start_ready(n)
        started.extend(instances)
        return instances

    try:
        yield start
    finally:
        nfv_lab.backend.stop(started)


class Repeater:
    """``nfv_repeat(measure_once, metric)``: repeat until the CI is narrow enough or a cap is hit.

    Naming the ``metric`` the series is recorded as gives the stop rule the caps of its kind
    (a round-trip figure takes hundreds of samples, a boot round a few tens: the metric
    catalogue says which), the absolute floor of its dimension and, when a budget applies,
    keeps it measuring while the CI of the budget's statistic still straddles the limit. N
    and the packet size default to the test's ``nfv_n`` and ``nfv_packet_size`` parameters.
    """

    def __init__(
        self,
        request: pytest.FixtureRequest,
        state: NfvState,
        progress: TerminalProgress | None = None,
    ) -> None:
        self._request = request
        self._state = state
        self._progress = progress

    def _params(self) -> dict[str, Any]:
        callspec = getattr(self._request.node, "callspec", None)
        return dict(callspec.params) if callspec is not None else {}

    def __call__(
        self,
        measure_once: Callable[[], float],
        metric: str | None = None,
        *,
        n: int | None = None,
        size: int | None = None,
    ) -> Summary:
        rule, limit, statistic = self._rule(metric, n, size)
        progress = self._progress
        if progress is None:
            return repeat_until_converged(measure_once, rule, limit=limit, statistic=statistic)
        rounds = 0

        def announced() -> float:
            nonlocal rounds
            rounds += 1
            progress.round(rounds, rule.max_rounds)
            return measure_once()

        return repeat_until_converged(announced, rule, limit=limit, statistic=statistic)

    def _rule(
        self, metric: str | None, n: int | None, size: int | None
    ) -> tuple[StopRule, float | None, str]:
        """The stop rule for ``metric`` (its kind's caps, its dimension's floor), its
        budget's limit and the statistic that limit holds."""
        settings = self._state.settings
        rule: StopRule = settings.stop_rule
        limit: float | None = None
        statistic = "mean"
        marker = self._request.node.get_closest_marker("nfv_requirement")
        if metric is not None and marker is not None:
            requirement = str(marker.args[0])
            spec = metric_of(requirement, metric)
            rule = settings.rule_for(spec.kind).for_dimension(spec.dimension)
            budget = self._state.budgets.get(requirement, metric)
            params = self._params()
            n = params.get("nfv_n") if n is None else n
            size = params.get("nfv_packet_size") if size is None else size
            if budget is not None and budget.statistic != "max":  # a maximum is a fact
                with contextlib.suppress(NfvUsageError):  # the recorder reports it, by name
                    limit = budget.limit(n, size)
                statistic = budget.statistic
        return rule, limit, statistic

    def together(
        self,
        measure_once: Callable[[], Mapping[Key, Taken]],
        figures: Mapping[Key, tuple[str, int | None]],
    ) -> dict[Key, Summary]:
        """Rounds that each give a sample of several figures, until each figure may stop.

        Args:
            measure_once: one round, a sample (or a block of samples) per key of ``figures``.
            figures: per key, the metric it is recorded as and its N (for its budget).
        """
        rules = {key: self._rule(metric, n, None) for key, (metric, n) in figures.items()}
        progress = self._progress
        if progress is None:
            return repeat_together(measure_once, rules)
        rounds = 0
        cap = max((rule.max_rounds for rule, _, _ in rules.values()), default=0)

        def announced() -> Mapping[Key, Taken]:
            nonlocal rounds
            rounds += 1
            progress.round(rounds, cap)
            return measure_once()

        return repeat_together(announced, rules)


@pytest.fixture
def nfv_repeat(request: pytest.FixtureRequest, pytestconfig: pytest.Config) -> Repeater:
    """``nfv_repeat(measure_once, metric)``: repeat until the CI is narrow or a cap is hit.

    Each round is announced to the progress reporter (shown only once a test runs long).
    """
    return Repeater(request, _state(pytestconfig), progress_of(pytestconfig))


@pytest.fixture
def nfv_record(
    request: pytest.FixtureRequest, benchmark: Any, pytestconfig: pytest.Config
) -> Recorder:
    """Record measured series (pytest-benchmark) and judge them against the budgets."""
    return Recorder(request, benchmark, _state(pytestconfig))
