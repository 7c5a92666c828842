"""The pytest-nfv plugin as users meet it: options, ini keys, skips, header, hooks, budgets.

Runs that start a session go through ``pytester.runpytest_subprocess``, so each gets a fresh
plugin state (options, ``config.stash``, the backend) exactly as a real ``pytest`` invocation
would; runs that must stop at option parsing run in process, which is faster and just as real.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pytest_nfv.host.canary import CPU_ROUNDS, PASSES_PER_TEST

USAGE_ERROR = int(pytest.ExitCode.USAGE_ERROR)

NFV_OPTIONS = (
    "--backend",
    "--nfv-instances",
    "--nfv-packet-sizes",
    "--nfv-frame-sizes",
    "--nfv-generator",
    "--nfv-budgets",
    "--nfv-ci-width",
    "--nfv-max-rounds",
    "--nfv-max-seconds",
    "--nfv-max-round-trips",
    "--nfv-max-round-trip-seconds",
    "--nfv-inconclusive",
    "--nfv-boot-timeout",
    "--nfv-image",
    "--nfv-kernel",
    "--nfv-docker-url",
    "--nfv-libvirt-uri",
    "--nfv-domain-template",
    "--nfv-cpus",
    "--nfv-echo",
    "--nfv-proxy-b",
    "--nfv-compare",
    "--nfv-gate",
    "--nfv-strict",
)

SETTINGS_TEST = """
from pytest_nfv import NfvSettings

def test_settings(nfv_settings: NfvSettings) -> None:
    print("INSTANCES=" + ",".join(map(str, nfv_settings.instances)))
    assert nfv_settings.instances == tuple(EXPECTED)
"""

LAB_TEST = """
def test_needs_lab(nfv_lab) -> None:
    pass
"""

BOOT_TEST = """
import pytest

from pytest_nfv import Lab, Recorder, Repeat, Series, summarize

pytestmark = pytest.mark.nfv_requirement("instantiation")


def test_boot_time(nfv_lab: Lab, nfv_n: int, nfv_repeat: Repeat, nfv_record: Recorder) -> None:
    per_instance: list[float] = []

    def one_boot() -> float:
        result = nfv_lab.boot_round(nfv_n)
        per_instance.extend(result.per_instance_s)
        return result.makespan_s

    makespan = nfv_repeat(one_boot)
    nfv_record.record(
        Series("boot_makespan", makespan, primary=True,
               extra={"probe_interval_s": nfv_lab.prober.interval_s}),
        Series("boot_per_instance", summarize(per_instance)),
        n=nfv_n,
    )
"""

CUSTOM_BACKEND_CONFTEST = """
from pytest_nfv.backends.base import EngineInfo


class MineBackend:
    def __init__(self, identity):
        self.name = "mine"
        self.identity = identity
        self.opened = False

    def open(self):
        self.opened = True

    def close(self):
        self.opened = False

    def engine(self):
        return EngineInfo("mine-engine", "9.9")


def pytest_nfv_backend_names():
    return ["mine"]


def pytest_nfv_make_backend(name, identity, config):
    return MineBackend(identity) if name == "mine" else None
"""

CUSTOM_BACKEND_TEST = """
def test_backend(nfv_backend, nfv_settings) -> None:
    print("BACKEND-CLASS=" + type(nfv_backend).__name__)
    assert nfv_settings.backend == EXPECTED
"""


def _usage_run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """A run that stops at configure time, in-process: no session starts, so no plugin state
    outlives it, and it saves the ~1.5 s interpreter start-up a subprocess costs per case."""
    return pytester.runpytest_inprocess(*args)


def _nfv_help_entries(lines: list[str]) -> dict[str, str]:
    """The ``nfv`` group of ``--help``: option flag -> its help text, whitespace collapsed."""
    start = next(
        i
        for i, line in enumerate(lines)
        if line.startswith("NFV virtualization benchmarks (pytest-nfv):")
    )
    entries: dict[str, str] = {}
    current: str | None = None
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        if line.startswith("  -"):
            current = line.split()[0].split("=")[0]
            entries[current] = line
        else:
            assert current is not None
            entries[current] += " " + line
    return {flag: " ".join(text.split()) for flag, text in entries.items()}


def test_help_lists_the_nfv_group_with_every_option_and_its_default(
    pytester: pytest.Pytester,
) -> None:
    result = pytester.runpytest_subprocess("--help")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "NFV virtualization benchmarks (pytest-nfv):",
            *[f"  {flag}[= ]*" for flag in NFV_OPTIONS],
        ],
        consecutive=False,
    )
    entries = _nfv_help_entries(result.stdout.lines)
    assert sorted(entries) == sorted(NFV_OPTIONS)
    for flag, text in entries.items():
        assert re.search(r"Default: \S.*$", text), f"{flag} help lacks 'Default: ...': {text}"
    assert entries["--backend"].endswith("Default: netns")
    assert entries["--nfv-instances"].endswith("Default: 1,2,4,8,16,32,64,128")
    assert entries["--nfv-packet-sizes"].endswith("Default: 64,256,1024,1472,4096,16384,65507")
    assert entries["--nfv-frame-sizes"].endswith("Default: 64")
    assert entries["--nfv-generator"].endswith("Default: csender")
    assert entries["--nfv-ci-width"].endswith("Default: 0.05")
    assert entries["--nfv-max-rounds"].endswith("Default: 30")
    assert entries["--nfv-max-seconds"].endswith("Default: 30")
    assert entries["--nfv-max-round-trips"].endswith("Default: 1000")
    assert entries["--nfv-max-round-trip-seconds"].endswith("Default: 3")
    assert "ROUND_TRIPS" in entries["--nfv-max-round-trips"]
    assert entries["--nfv-boot-timeout"].endswith("Default: auto")
    assert entries["--nfv-strict"].endswith("Default: off")
    assert entries["--nfv-inconclusive"].endswith("Default: report")
    assert entries["--nfv-cpus"].endswith("Default: auto")
    assert entries["--nfv-echo"].endswith("Default: auto")
    # offers only what the backends accept today
    assert "ssh://" not in entries["--nfv-docker-url"]
    assert "refused" in entries["--nfv-docker-url"]
    assert "+ssh" not in entries["--nfv-libvirt-uri"]
    assert "osv refuses a remote URI" in entries["--nfv-libvirt-uri"]
    assert "qcow2" in entries["--nfv-image"]  # osv boots a user's OSv image


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        pytest.param(["--nfv-instances", "0"], "--nfv-instances", id="instances-0"),
        pytest.param(["--nfv-instances", "abc"], "--nfv-instances", id="instances-abc"),
        pytest.param(["--nfv-instances", "2000"], "--nfv-instances", id="instances-2000"),
        pytest.param(["--nfv-packet-sizes", "4"], "--nfv-packet-sizes", id="size-4"),
        pytest.param(["--nfv-packet-sizes", "70000"], "--nfv-packet-sizes", id="size-70000"),
        pytest.param(["--nfv-frame-sizes", "60"], "--nfv-frame-sizes", id="frame-60"),
        pytest.param(["--nfv-frame-sizes", "9000"], "--nfv-frame-sizes", id="frame-9000"),
        pytest.param(["--nfv-generator", "a b"], "--nfv-generator", id="generator-bad"),
        pytest.param(["--nfv-ci-width", "1.5"], "--nfv-ci-width", id="ci-1.5"),
        pytest.param(["--nfv-ci-width", "0"], "--nfv-ci-width", id="ci-0"),
        pytest.param(["--nfv-max-rounds", "0"], "--nfv-max-rounds", id="rounds-0"),
        pytest.param(["--nfv-max-seconds=-1"], "--nfv-max-seconds", id="seconds-neg"),
        pytest.param(["--nfv-max-round-trips", "0"], "--nfv-max-round-trips", id="trips-0"),
        pytest.param(["--nfv-max-round-trips", "1e3"], "--nfv-max-round-trips", id="trips-1e3"),
        pytest.param(
            ["--nfv-max-round-trip-seconds", "0"], "--nfv-max-round-trip-seconds", id="trip-s-0"
        ),
        pytest.param(
            ["--nfv-max-round-trip-seconds=nan"],
            "--nfv-max-round-trip-seconds",
            id="trip-s-nan",
        ),
        pytest.param(["--nfv-boot-timeout", "inf"], "--nfv-boot-timeout", id="boot-inf"),
        pytest.param(["--nfv-boot-timeout", "1e10"], "--nfv-boot-timeout", id="boot-1e10"),
        pytest.param(["--nfv-max-seconds", "90000"], "--nfv-max-seconds", id="seconds-day"),
        pytest.param(["--nfv-inconclusive", "maybe"], "--nfv-inconclusive", id="inconcl-bad"),
        pytest.param(["--nfv-budgets", "/nonexistent"], "--nfv-budgets", id="budgets-missing"),
        pytest.param(["--backend", "nosuch"], "--backend", id="backend-unknown"),
        pytest.param(["--nfv-image", " "], "--nfv-image", id="image-empty"),
        pytest.param(["--nfv-cpus", "fast"], "--nfv-cpus", id="cpus-bad"),
        pytest.param(["--nfv-cpus", "0,4096"], "--nfv-cpus", id="cpus-not-allowed"),
        pytest.param(["--nfv-echo", "tcp"], "--nfv-echo", id="echo-bad"),
        pytest.param(
            ["--nfv-domain-template", "/nonexistent.xml"],
            "--nfv-domain-template",
            id="template-missing",
        ),
    ],
)
def test_invalid_option_is_a_usage_error_naming_the_option(
    pytester: pytest.Pytester, args: list[str], needle: str
) -> None:
    result = _usage_run(pytester, *args)
    assert result.ret == USAGE_ERROR
    assert needle in result.stderr.str()


def test_unknown_backend_message_lists_the_known_backends(pytester: pytest.Pytester) -> None:
    result = _usage_run(pytester, "--backend", "nosuch")
    assert result.ret == USAGE_ERROR
    result.stderr.fnmatch_lines(["*--backend*'nosuch'*netns*coreos*osv*clickos*"])


def test_ini_help_shows_a_plain_percent_sign(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--help")
    text = " ".join(result.stdout.str().split())
    assert "nfv_ci_width (string): stop repeating once the 95% CI half-width" in text


def test_invalid_ini_value_is_a_usage_error_naming_the_key(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nnfv_instances = 0\n")
    result = _usage_run(pytester)
    assert result.ret == USAGE_ERROR
    result.stderr.fnmatch_lines(["*nfv_instances*"])


@pytest.mark.parametrize("backend", ["osv", "clickos"])
def test_icmp_echo_where_the_proxy_cannot_carry_it_is_a_usage_error(
    pytester: pytest.Pytester, backend: str
) -> None:
    result = _usage_run(pytester, "--backend", backend, "--nfv-echo", "icmp")
    assert result.ret == USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"*--nfv-echo: icmp: the {backend} backend's proxy VNF does not carry ICMP echo*"]
    )


def test_the_echo_ini_key_is_checked_like_the_option(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nnfv_echo = sometimes\n")
    result = _usage_run(pytester)
    assert result.ret == USAGE_ERROR
    result.stderr.fnmatch_lines(["*nfv_echo*'sometimes'*auto, udp, icmp*"])
    pytester.makeini("[pytest]\nnfv_backend = osv\nnfv_echo = icmp\n")
    result = _usage_run(pytester)
    assert result.ret == USAGE_ERROR
    result.stderr.fnmatch_lines(["*--nfv-echo: icmp: the osv backend's proxy VNF*"])


_UDP = "UDP to host B's echo responder"
HEADER_ECHO = {
    "netns": ((), "ICMP echo answered by host B's kernel (--nfv-echo auto)"),
    "netns-udp": (("--nfv-echo", "udp"), f"{_UDP} (--nfv-echo udp)"),
    "osv": (("--backend", "osv"), f"{_UDP} (--nfv-echo auto)"),
    "clickos": (("--backend", "clickos"), f"{_UDP} (--nfv-echo auto)"),
    "coreos": (("--backend", "coreos"), "ICMP echo answered by host B's kernel (--nfv-echo auto)"),
}


@pytest.mark.parametrize("case", sorted(HEADER_ECHO))
def test_report_header_says_what_answers_the_response_time_requests(
    pytester: pytest.Pytester, case: str
) -> None:
    args, line = HEADER_ECHO[case]
    pytester.makepyfile("def test_nothing() -> None:\n    pass\n")
    result = pytester.runpytest_subprocess("--co", *args)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([f"nfv: response time: {line}"])


def test_ini_value_is_used(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nnfv_instances = 3, 1\n")
    pytester.makepyfile(SETTINGS_TEST.replace("EXPECTED", "(1, 3)"))
    result = pytester.runpytest_subprocess("-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*INSTANCES=1,3*"])


def test_command_line_wins_over_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nnfv_instances = 3, 1\n")
    pytester.makepyfile(SETTINGS_TEST.replace("EXPECTED", "(2,)"))
    result = pytester.runpytest_subprocess("-s", "--nfv-instances", "2")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*INSTANCES=2*"])


def test_command_line_value_overrides_an_invalid_ini_value(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nnfv_instances = 0\n")
    pytester.makepyfile(SETTINGS_TEST.replace("EXPECTED", "(2,)"))
    result = pytester.runpytest_subprocess("--nfv-instances", "2")
    result.assert_outcomes(passed=1)


def test_budget_file_with_unknown_key_names_file_line_and_key(pytester: pytest.Pytester) -> None:
    budgets = pytester.path / "mybudgets.toml"
    budgets.write_text(
        'backend = "netns"\n'
        "\n"
        "[instantiation.boot_makespan]\n"
        'unit = "s"\n'
        "base = 1\n"
        'source = "test"\n'
        "bogus_field = 3\n",
        encoding="utf-8",
    )
    result = _usage_run(pytester, "--nfv-budgets", str(budgets))
    assert result.ret == USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--nfv-budgets*mybudgets.toml:7: instantiation.boot_makespan.bogus_field: unknown*"]
    )


def test_budgets_of_another_backend_are_a_usage_error(pytester: pytest.Pytester) -> None:
    budgets = pytester.path / "theirs.toml"
    budgets.write_text(f'backend = "clickos"\n\n{BOOT_BUDGET}', encoding="utf-8")
    result = _usage_run(pytester, "--backend", "netns", "--nfv-budgets", str(budgets))
    assert result.ret == USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--nfv-budgets*theirs.toml:1: backend: the file holds budgets of 'clickos'*'netns'*"]
    )


BOOT_BUDGET = '[instantiation.boot_makespan]\nunit = "s"\nbase = 1\nsource = "test"\n'


# clickos needs a Xen dom0, which no test machine of this project has: it is the built-in
# backend that is always unavailable here.
def test_unavailable_backend_skips_with_its_reason(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(LAB_TEST)
    result = pytester.runpytest_subprocess("--backend", "clickos", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED*clickos*"])


def test_unavailable_backend_fails_under_nfv_strict(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(LAB_TEST)
    result = pytester.runpytest_subprocess("--backend", "clickos", "--nfv-strict")
    outcomes = result.parseoutcomes()
    assert "passed" not in outcomes
    assert "skipped" not in outcomes
    assert outcomes.get("failed", 0) + outcomes.get("errors", 0) == 1
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*--nfv-strict:*clickos*"])


def test_unavailable_backend_fails_under_ini_nfv_strict(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nnfv_strict = true\n")
    pytester.makepyfile(LAB_TEST)
    result = pytester.runpytest_subprocess("--backend", "clickos")
    outcomes = result.parseoutcomes()
    assert "passed" not in outcomes
    assert "skipped" not in outcomes
    assert outcomes.get("failed", 0) + outcomes.get("errors", 0) == 1
    result.stdout.fnmatch_lines(["*--nfv-strict:*clickos*"])


def test_report_header(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing() -> None:\n    pass\n")
    result = pytester.runpytest_subprocess("--co")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "nfv: backend netns*",
            "nfv: host kernel*",
            "nfv: N=1,2,4*",
            "nfv: repeat until 95% CI within 5% of the mean or 2 µs / 0.25 MiB, at least 3 rounds*",
        ]
    )


def test_report_header_shows_where_the_harness_runs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing() -> None:\n    pass\n")
    result = pytester.runpytest_subprocess("--co", "--nfv-cpus", "off")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["nfv: host kernel*; CPUs: not pinned"])
    cpu = min(os.sched_getaffinity(0))
    result = pytester.runpytest_subprocess("--co", "--nfv-cpus", f"{cpu},{cpu}")
    result.stdout.fnmatch_lines([f"nfv: host *CPUs: path * on CPU {cpu}, prober on CPU {cpu}"])


def test_report_header_shows_options_and_strict(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing() -> None:\n    pass\n")
    result = pytester.runpytest_subprocess(
        "--co",
        "--backend",
        "clickos",
        "--nfv-strict",
        "--nfv-instances",
        "3,1",
        "--nfv-packet-sizes",
        "100",
        "--nfv-max-rounds",
        "7",
    )
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "nfv: backend clickos (*), strict",
            "nfv: N=1,3 (N>=64 marked nfv_big); packet sizes 100 B; budgets *clickos.toml (*)",
            "nfv: *at most 7 rounds*",
        ]
    )


def test_unknown_nfv_requirement_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.nfv_requirement("teleportation")
        def test_x() -> None:
            pass
    """)
    result = pytester.runpytest_subprocess("--strict-markers")
    assert result.ret == USAGE_ERROR
    assert "teleportation" in result.stderr.str() + result.stdout.str()
    assert "nfv_requirement" in result.stderr.str() + result.stdout.str()


def test_nfv_requirement_marker_is_registered(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.nfv_requirement("monitoring")
        def test_x() -> None:
            pass
    """)
    result = pytester.runpytest_subprocess("--strict-markers", "--co", "-q")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*test_x*", "1 test collected*"])
    markers = pytester.runpytest_subprocess("--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.nfv_requirement(name):*instantiation*"])


def test_generate_tests_parametrizes_n_and_packet_size(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_gen="""
        def test_x(nfv_n: int, nfv_packet_size: int) -> None:
            pass

        def test_plain() -> None:
            pass
    """
    )
    result = pytester.runpytest_subprocess(
        "--co", "-q", "--nfv-instances", "3,1", "--nfv-packet-sizes", "100,64"
    )
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "test_gen.py::test_x[N=1-64B]",
            "test_gen.py::test_x[N=1-100B]",
            "test_gen.py::test_x[N=3-64B]",
            "test_gen.py::test_x[N=3-100B]",
            "test_gen.py::test_plain",
            "5 tests collected*",
        ]
    )


def test_custom_backend_from_conftest_is_accepted(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CUSTOM_BACKEND_CONFTEST)
    pytester.makepyfile(CUSTOM_BACKEND_TEST.replace("EXPECTED", "'mine'"))
    result = pytester.runpytest_subprocess("--backend", "mine", "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["nfv: backend mine (mine-engine 9.9)", "*BACKEND-CLASS=MineBackend*"]
    )


def test_custom_backend_hook_returning_none_leaves_the_builtin(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CUSTOM_BACKEND_CONFTEST)
    pytester.makepyfile(LAB_TEST)
    result = pytester.runpytest_subprocess("--backend", "clickos", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["nfv: backend clickos (*", "SKIPPED*clickos*"])
    default = pytester.runpytest_subprocess("--co")
    assert default.ret == pytest.ExitCode.OK
    default.stdout.fnmatch_lines(["nfv: backend netns (linux-netns*"])


PICKING_BACKEND_CONFTEST = """
from pathlib import Path

from pytest_nfv.backends.base import EngineInfo


class PickingBackend:
    name = "picky"

    def __init__(self, identity):
        self.identity = identity
        self.opened = False

    def budget_choice(self):
        stem = "after-open" if self.opened else "before-open"
        return Path(f"{stem}.toml").absolute(), f"{stem}: what runs decides"

    def open(self):
        self.opened = True

    def close(self):
        pass

    def engine(self):
        return EngineInfo("picky-engine", "1")


def pytest_nfv_backend_names():
    return ["picky"]


def pytest_nfv_make_backend(name, identity, config):
    return PickingBackend(identity) if name == "picky" else None
"""


def test_a_backend_picks_its_budgets_before_and_after_it_opens(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(PICKING_BACKEND_CONFTEST)
    for stem in ("before-open", "after-open"):
        pytester.makefile(".toml", **{stem: f'backend = "picky"\n# {stem}\n'})
    pytester.makepyfile(CUSTOM_BACKEND_TEST.replace("EXPECTED", "'picky'"))
    result = pytester.runpytest_subprocess("--backend", "picky", "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "nfv: *budgets */before-open.toml (before-open: what runs decides)",
            "*nfv: budgets now */after-open.toml (after-open: what runs decides)*",
        ]
    )
    mine = pytester.path / "mine.toml"
    mine.write_text('backend = "picky"\n')
    chosen = pytester.runpytest_subprocess("--backend", "picky", "--nfv-budgets", str(mine))
    chosen.assert_outcomes(passed=1)
    chosen.stdout.fnmatch_lines([f"nfv: *budgets {mine} (--nfv-budgets)"])
    assert "budgets now" not in chosen.stdout.str()


def test_custom_backend_listed_in_unknown_backend_message(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CUSTOM_BACKEND_CONFTEST)
    result = _usage_run(pytester, "--backend", "nosuch")
    assert result.ret == USAGE_ERROR
    result.stderr.fnmatch_lines(["*known: netns, coreos, osv, clickos, mine*"])


# --- end to end on the real netns backend ---------------------------------------------------


def _run_id(result: pytest.RunResult) -> str:
    found = re.search(r"^nfv: repeat until .*; run ([0-9a-f]{6})$", result.stdout.str(), re.M)
    assert found, result.stdout.str()
    return found.group(1)


def _leftover_namespaces(run_id: str) -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    names = [line.split()[0] for line in out.stdout.splitlines() if line.strip()]
    return [n for n in names if n.startswith(f"nfv-{run_id}-")]


@pytest.fixture
def netns_host() -> None:
    if (
        not Path("/proc/self/ns/net").exists()
        or subprocess.run(["ip", "netns", "list"], capture_output=True, check=False).returncode != 0
    ):
        pytest.skip("needs iproute2 and network namespaces")


E2E_ARGS = (
    "--nfv-instances",
    "1",
    "--nfv-max-rounds",
    "3",
    "--nfv-max-seconds",
    "5",
    "-p",
    "no:cacheprovider",
)


@pytest.mark.usefixtures("netns_host")
def test_impossible_budget_fails_with_one_line(pytester: pytest.Pytester) -> None:
    budgets = pytester.path / "impossible.toml"
    budgets.write_text(
        '[instantiation.boot_makespan]\nunit = "us"\nbase = 1\n'
        'source = "deliberately impossible"\n',
        encoding="utf-8",
    )
    pytester.makepyfile(test_boot=BOOT_TEST)
    result = pytester.runpytest_subprocess("--nfv-budgets", str(budgets), *E2E_ARGS, timeout=60)
    result.assert_outcomes(failed=1)
    lines = [
        line
        for line in result.stdout.lines
        if "instantiation/boot_makespan on netns, N=1" in line
        and "> budget" in line
        and "deliberately impossible" in line
    ]
    assert lines, result.stdout.str()
    assert f"{budgets}:1" in lines[0]
    assert _leftover_namespaces(_run_id(result)) == []


def _run_generous_boot(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, Path]:
    """The boot test against a 60 s budget; returns the result and its benchmark JSON."""
    budgets = pytester.path / "generous.toml"
    budgets.write_text(
        '[instantiation.boot_makespan]\nunit = "s"\nbase = 60\nsource = "generous"\n',
        encoding="utf-8",
    )
    pytester.makepyfile(test_boot=BOOT_TEST)
    out = pytester.path / "bench.json"
    result = pytester.runpytest_subprocess(
        "--nfv-budgets", str(budgets), *args, f"--benchmark-json={out}", timeout=60
    )
    return result, out


@pytest.mark.usefixtures("netns_host")
def test_generous_budget_passes_and_records_benchmark_json(pytester: pytest.Pytester) -> None:
    result, out = _run_generous_boot(pytester, *E2E_ARGS)
    result.assert_outcomes(passed=1)
    data = json.loads(out.read_text(encoding="utf-8"))
    assert len(data["benchmarks"]) == 1
    info = data["benchmarks"][0]["extra_info"]
    assert info["backend"] == "netns"
    assert info["requirement"] == "instantiation"
    assert info["metric"] == "boot_makespan"
    assert info["n"] == 1
    assert info["unit"] == "s"
    assert isinstance(info["samples"], list)
    assert info["samples"]
    assert isinstance(info["converged"], bool)
    assert info["budget"]["source"] == "generous"
    assert data["machine_info"]["nfv"]["backend"] == "netns"
    cpus = sorted(os.sched_getaffinity(0))
    path, prober = (cpus[0], cpus[-1]) if len(cpus) > 1 else (None, None)  # the default: auto
    assert data["machine_info"]["nfv"]["cpus"] == {"path_cpu": path, "prober_cpu": prober}
    prober_kind = "C (" if shutil.which("gcc") else "Python, since the C one cannot be used"
    assert data["machine_info"]["nfv"]["prober"].startswith(prober_kind)
    assert data["machine_info"]["nfv"]["echo"] == "icmp"  # netns: B's kernel answers
    assert _leftover_namespaces(_run_id(result)) == []


@pytest.mark.usefixtures("netns_host")
def test_the_cpu_canary_is_timed_again_before_every_later_test(pytester: pytest.Pytester) -> None:
    """The lab opens in the first test's setup with CPU_ROUNDS passes of the CPU loop; every
    later test adds PASSES_PER_TEST, so the canary spans the run (two tests: N=1 and N=2)."""
    args = [a if a != "1" else "1,2" for a in E2E_ARGS]
    result, out = _run_generous_boot(pytester, *args)
    result.assert_outcomes(passed=2)
    canary = json.loads(out.read_text(encoding="utf-8"))["machine_info"]["nfv"]["canary"]
    assert len(canary["cpu_loop"]["samples"]) == CPU_ROUNDS + PASSES_PER_TEST
    assert all(0 < s < 5 for s in canary["cpu_loop"]["samples"])
    assert "before each test" in canary["cpu_loop"]["method"]


def test_big_n_items_are_marked_and_deselectable(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_n(nfv_n: int) -> None:\n    pass\n")
    result = pytester.runpytest_subprocess(
        "--co", "-q", "--nfv-instances", "1,64,128", "-m", "not nfv_big"
    )
    result.stdout.fnmatch_lines(["*test_n?N=1?*", "*1/3 tests collected (2 deselected)*"])


@pytest.mark.usefixtures("netns_host")
@pytest.mark.parametrize("policy", ["report", "fail"])
def test_too_few_rounds_are_inconclusive_and_fail_only_when_asked(
    pytester: pytest.Pytester, policy: str
) -> None:
    args = [a if a != "3" else "2" for a in E2E_ARGS]  # two rounds: below the minimum of 3
    result, out = _run_generous_boot(pytester, *args, f"--nfv-inconclusive={policy}")
    if policy == "fail":
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*boot_makespan on netns, N=1*inconclusive, too few rounds*"])
    else:
        result.assert_outcomes(passed=1)
    info = json.loads(out.read_text(encoding="utf-8"))["benchmarks"][0]["extra_info"]
    assert (info["verdict"], info["insufficient"], info["rounds"]) == ("inconclusive", True, 2)
    assert info["secondary"]["boot_per_instance"]["verdict"] == "not judged"
