"""pytest-nfv's hooks: options, markers, parametrization, the report header, machine info.

Only hooks live here. State goes in ``config.stash`` under the keys of ``state.py``; fixtures
are in ``fixtures.py``; the work is in the backends, probes, ``stats`` and ``budgets``.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import pytest
from _pytest.config import parse_warning_filter

from pytest_nfv.backends import BUILTIN_BACKENDS, make_builtin
from pytest_nfv.backends.base import (
    Backend,
    BootDeadlines,
    HostCapacity,
    ProxyVariants,
    echo_protocol,
)
from pytest_nfv.errors import NfvUsageError
from pytest_nfv.harness.probes.response import ECHO_METHODS
from pytest_nfv.harness.stats import ABSOLUTE_FLOORS
from pytest_nfv.host.canary import PASSES_PER_TEST, cpu_loop_seconds
from pytest_nfv.host.capabilities import host_facts
from pytest_nfv.host.cpus import configure, harness_cpus, plan_cpus
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.model import REQUIREMENTS
from pytest_nfv.plugin import hookspecs, termination
from pytest_nfv.plugin.budget_pick import budget_choice, load_chosen_budgets
from pytest_nfv.plugin.options import NfvSettings, add_options, settings_from_config
from pytest_nfv.plugin.progress import setup_progress
from pytest_nfv.plugin.recorder import time_groups_only
from pytest_nfv.plugin.state import NfvState, nfv_settings_key, nfv_state_key
from pytest_nfv.record import write_run_info
from pytest_nfv.units import base_unit, display_unit, format_value

__all__: list[str] = []  # pytest finds the hooks by name; nothing here is for import


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def _known_backends(config: pytest.Config) -> list[str]:
    names = list(BUILTIN_BACKENDS)
    for extra in config.hook.pytest_nfv_backend_names():
        names += [n for n in extra if n not in names]
    return names


@pytest.hookimpl(trylast=True)
def pytest_nfv_make_backend(
    name: str, identity: RunIdentity, config: pytest.Config
) -> Backend | None:
    return make_builtin(name, identity, config.stash[nfv_settings_key].backend_settings)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"nfv_big: parametrized with N >= {BIG_N} instances (added by pytest-nfv; "
        "deselect with -m 'not nfv_big')",
    )
    config.addinivalue_line(
        "markers",
        "nfv_requirement(name): the NFV management requirement a test gates "
        f"({', '.join(REQUIREMENTS)}); selects the budgets it is judged by",
    )
    settings = settings_from_config(config)
    known = _known_backends(config)
    if settings.backend not in known:
        raise pytest.UsageError(
            f"--backend: unknown backend {settings.backend!r}; known: {', '.join(known)}"
        )
    config.stash[nfv_settings_key] = settings
    try:
        configure(plan_cpus(settings.cpus))
    except NfvUsageError as exc:
        raise pytest.UsageError(f"--nfv-cpus: {exc}") from None
    identity = RunIdentity.new()
    try:
        backend = config.hook.pytest_nfv_make_backend(
            name=settings.backend, identity=identity, config=config
        )
    except NfvUsageError as exc:
        raise pytest.UsageError(str(exc)) from None
    if backend is None:
        raise pytest.UsageError(f"--backend: no plugin built a backend for {settings.backend!r}")
    try:
        echo = echo_protocol(backend, settings.echo)
    except NfvUsageError as exc:
        raise pytest.UsageError(f"--nfv-echo: {exc}") from None
    if settings.proxy_b is not None and not isinstance(backend, ProxyVariants):
        raise pytest.UsageError(
            f"--nfv-proxy-b: the {settings.backend} backend cannot run a second proxy VNF "
            "beside the first (variant B runs on netns)"
        )
    settings = _fit_instances(settings, backend)
    config.stash[nfv_settings_key] = settings
    path, why = budget_choice(settings, backend)
    budgets = load_chosen_budgets(path, why, settings.backend)
    config.stash[nfv_state_key] = NfvState(settings, budgets, identity, backend, why, echo)
    config.pluginmanager.import_plugin("pytest_nfv.plugin.fixtures")
    config.pluginmanager.import_plugin("pytest_nfv.plugin.traffic")
    config.pluginmanager.import_plugin("pytest_nfv.plugin.summary")
    setup_progress(config)
    termination.install(config)  # SIGTERM / SIGHUP: teardown and the record, as on Ctrl-C
    # A run that recorded nothing (every test skipped or errored) makes pytest-benchmark warn
    # "Not saving anything" at session end; under a project's `filterwarnings = error` that
    # warning becomes a traceback that replaces the summary saying why. The nfv summary says
    # it instead, so the warning is not raised (pytest-benchmark still prints its notice).
    # Both: pytest re-applies the ini filters around its own hooks, and it applied them for the
    # whole session before this hook ran, so the session-wide filters need the entry as well.
    config.addinivalue_line("filterwarnings", NOT_SAVING_FILTER)
    warnings.filterwarnings(*parse_warning_filter(NOT_SAVING_FILTER, escape=False))
    if settings.compare:
        from pytest_nfv.plugin.gate import setup_gate

        setup_gate(config, settings.compare, settings.gate)


def _fit_instances(settings: NfvSettings, backend: object) -> NfvSettings:
    """The default N list cut to what the host holds (``HostCapacity``), unless N was chosen."""
    if settings.instances_given or not isinstance(backend, HostCapacity):
        return settings
    limit = backend.most_instances()
    if limit is None:
        return settings
    most, why = limit
    kept = tuple(n for n in settings.instances if n <= most) or settings.instances[:1]
    if kept == settings.instances:
        return settings
    return replace(
        settings,
        instances=kept,
        instances_why=f"the default list cut at {most}: {why}; --nfv-instances goes further",
    )


BIG_N = 64
NOT_SAVING_FILTER = (
    "ignore:Not saving anything, no benchmarks have been run:"
    "pytest_benchmark.logger.PytestBenchmarkWarning"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("nfv_n", 0) >= BIG_N:
            item.add_marker("nfv_big")
        marker = item.get_closest_marker("nfv_requirement")
        if marker is None:
            continue
        if len(marker.args) != 1 or marker.args[0] not in REQUIREMENTS:
            raise pytest.UsageError(
                f"{item.nodeid}: nfv_requirement takes one of {', '.join(REQUIREMENTS)}, "
                f"got {marker.args!r}"
            )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    state = metafunc.config.stash.get(nfv_state_key, None)
    if state is None:
        return
    if "nfv_n" in metafunc.fixturenames:
        metafunc.parametrize(
            "nfv_n",
            state.settings.instances,
            ids=[f"N={n}" for n in state.settings.instances],
            scope="module",
        )
    if "nfv_frame" in metafunc.fixturenames:
        metafunc.parametrize(
            "nfv_frame",
            state.settings.frame_sizes,
            ids=[f.label for f in state.settings.frame_sizes],
        )
    if "nfv_packet_size" in metafunc.fixturenames:
        metafunc.parametrize(
            "nfv_packet_size",
            state.settings.packet_sizes,
            ids=[f"{s}B" for s in state.settings.packet_sizes],
        )


def _floors() -> str:
    """The stop rule's absolute floors, so a header reader knows why a near-zero figure stops."""
    shown = []
    for dimension, value in ABSOLUTE_FLOORS.items():
        unit = display_unit(base_unit(dimension), value)
        shown.append(format_value(value, unit))
    return " / ".join(shown)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Time the CPU-loop canary again before each test once the lab has opened, so that it
    samples the host across the run rather than at one moment (``host.canary``)."""
    state = item.config.stash.get(nfv_state_key, None)
    if state is not None and "cpu_loop" in state.canary:
        state.add_canary_samples("cpu_loop", cpu_loop_seconds(PASSES_PER_TEST, warm_up=0))


def _boot_deadline(settings: NfvSettings, backend: object) -> str:
    if not settings.boot_timeout_auto:
        return f"{settings.boot_timeout_s:g} s (--nfv-boot-timeout)"
    if isinstance(backend, BootDeadlines):
        return f"auto: at least {settings.boot_timeout_s:g} s; {backend.boot_deadline_rule}"
    return f"auto: {settings.boot_timeout_s:g} s"


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(nfv_state_key, None)
    if state is None:
        return []
    s = state.settings
    budgets = f"{state.budgets.path} ({state.budgets_why})" if state.budgets.path else "none"
    rule = s.stop_rule
    trips = s.rule_for("round_trip")
    return [
        f"nfv: backend {s.backend} ({state.backend.engine().describe()})"
        f"{', strict' if s.strict else ''}",
        f"nfv: host {host_facts().describe()}; CPUs: {harness_cpus().describe()}",
        f"nfv: N={','.join(map(str, s.instances))} (N>={BIG_N} marked nfv_big"
        + (f"; {s.instances_why}" if s.instances_why else "")
        + "); packet sizes "
        f"{','.join(map(str, s.packet_sizes))} B; budgets {budgets}",
        f"nfv: response time: {ECHO_METHODS[state.echo]} (--nfv-echo {s.echo})"
        + (f"; variant B of the proxy VNF: {s.proxy_b.spec}" if s.proxy_b else ""),
        f"nfv: throughput: NDR/PDR by MLRsearch, generator {s.generator}, frames "
        f"{', '.join(f.describe() for f in s.frame_sizes)} (FCS included)",
        f"nfv: boot deadline {_boot_deadline(s, state.backend)}",
        f"nfv: repeat until 95% CI within {rule.ci_width:.0%} of the mean or "
        f"{_floors()}, at least {rule.min_rounds} rounds, at most "
        f"{rule.max_rounds} rounds / {rule.max_seconds:g} s; round trips: at least "
        f"{trips.min_rounds}, at most {trips.max_rounds} / {trips.max_seconds:g} s per figure; "
        f"run {state.identity.run_id}",
    ]


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(
    config: pytest.Config, machine_info: dict[str, Any]
) -> None:
    state = config.stash.get(nfv_state_key, None)
    if state is None:
        return
    write_run_info(
        machine_info,
        backend=state.settings.backend,
        engine=state.backend.engine().describe(),
        host=host_facts().as_dict(),
        cpus=harness_cpus().as_dict(),
        prober=state.prober or None,
        echo=state.echo,
        budgets=str(state.budgets.path) if state.budgets.path else None,
        conditions=state.run_conditions(),
    )


@pytest.hookimpl(wrapper=True, optionalhook=True)
def pytest_benchmark_group_stats(
    config: pytest.Config, benchmarks: list[dict[str, Any]], group_by: str
) -> Any:
    """Keep memory out of pytest-benchmark's table, which labels every column as time.

    Only its terminal table reads these groups; the saved JSON keeps every record, and the
    nfv summary shows the memory figures in MiB.
    """
    groups = yield
    return time_groups_only(groups)
