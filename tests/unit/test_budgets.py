"""Budgets: loading, validation with exact positions, the limit formula, and judging."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_nfv.errors import BudgetExceeded, BudgetFileError, NfvUsageError
from pytest_nfv.harness.budget_file import load_budgets
from pytest_nfv.harness.budgets import (
    VERDICTS,
    Budget,
    BudgetBook,
    Judgement,
    assess,
    judge,
)
from pytest_nfv.harness.stats import summarize
from pytest_nfv.model import METRICS, REQUIREMENTS
from pytest_nfv.units import UNITS, from_base, to_base

VALID = """\
# budgets for the netns backend
backend = "netns"

[instantiation.boot_makespan]
unit = "ms"
base = 50.0
per_instance = 15
source = "measured on a 2-core host; budget = 2x measured"

[monitoring.response_time]
unit = "us"
base = 200
per_kib = 10.5
statistic = "median"
source = "measured"

[coexistence]
memory = { unit = "GiB", base = 1, statistic = "max", source = "host has 4 GiB" }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "netns.toml"
    path.write_text(text, encoding="utf-8")
    return path


def budget(**overrides: object) -> Budget:
    fields: dict[str, object] = {
        "requirement": "instantiation",
        "metric": "boot_makespan",
        "unit": "ms",
        "base": 50.0,
        "per_instance": 15.0,
        "source": "measured on 2-core host, 2x margin",
        "path": Path("fixtures/budgets/netns.toml"),
        "line": 7,
    }
    fields.update(overrides)
    return Budget(**fields)  # type: ignore[arg-type]


def test_metrics_table_matches_requirements() -> None:
    assert REQUIREMENTS == ("instantiation", "deployment", "monitoring", "coexistence")
    assert tuple(METRICS) == REQUIREMENTS
    assert METRICS["monitoring"]["proxy_overhead"].dimension == "time"
    assert METRICS["instantiation"]["memory_per_instance"].dimension == "memory"


def test_valid_file_loads(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    book = load_budgets(path)
    assert book.backend == "netns"
    assert book.path == path
    assert len(book) == 3
    boot = book.get("instantiation", "boot_makespan")
    assert boot is not None
    assert (boot.unit, boot.base, boot.per_instance, boot.per_kib) == ("ms", 50.0, 15.0, 0.0)
    assert boot.statistic == "mean"
    assert (boot.path, boot.line) == (path, 4)
    response = book.get("monitoring", "response_time")
    assert response is not None
    assert (response.statistic, response.per_kib, response.line) == ("median", 10.5, 10)
    memory = book.get("coexistence", "memory")
    assert memory is not None
    assert (memory.unit, memory.statistic, memory.line) == ("GiB", "max", 18)
    assert book.get("deployment", "boot_time") is None


def test_backend_is_optional(tmp_path: Path) -> None:
    book = load_budgets(write(tmp_path, "[deployment.memory]\nunit='MiB'\nbase=1\nsource='x'\n"))
    assert book.backend is None
    assert len(book) == 1


def test_get_unknown_metric_is_a_usage_error() -> None:
    with pytest.raises(NfvUsageError, match="monitoring/boot_time"):
        BudgetBook.empty().get("monitoring", "boot_time")
    assert len(BudgetBook.empty()) == 0


def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(BudgetFileError, match=re.escape(str(path))):
        load_budgets(path)


HEAD = "[instantiation.boot_makespan]\n"
GOOD = 'unit = "ms"\nbase = 1\nsource = "x"\n'

ERRORS = [
    # (file text, line, dotted key, problem fragment)
    (HEAD + 'unit = "ms"\nbase = = 1\n', 3, "instantiation.boot_makespan.base", "TOML syntax"),
    ('backend = "a"\nbackend = "b"\n', 2, "backend", "TOML syntax"),
    ("backend = 3\n", 1, "backend", "expected a string, got integer"),
    ('backend = "x"\ncolour = "red"\n', 2, "colour", "unknown top-level key"),
    ("\n[instantiaton.boot_makespan]\n" + GOOD, 2, "instantiaton", "did you mean"),
    ("\n\nmonitoring = 5\n", 3, "monitoring", "expected a table of metrics, got integer"),
    ("[monitoring.boot_time]\n" + GOOD, 1, "monitoring.boot_time", "unknown metric"),
    ("[monitoring]\n\nresponse_time = 5\n", 3, "monitoring.response_time", "budget table"),
    (
        HEAD + GOOD + "per_instanse = 1\n",
        5,
        "instantiation.boot_makespan.per_instanse",
        "did you mean 'per_instance'",
    ),
    (
        HEAD + GOOD + "per_kib = true\n",
        5,
        "instantiation.boot_makespan.per_kib",
        "expected a number, got boolean",
    ),
    (
        HEAD + 'unit = "ms"\nbase = "5"\nsource = "x"\n',
        3,
        "instantiation.boot_makespan.base",
        "expected a number, got string",
    ),
    (
        HEAD + GOOD + "per_instance = -1\n",
        5,
        "instantiation.boot_makespan.per_instance",
        "must not be negative",
    ),
    (HEAD + GOOD + "per_kib = nan\n", 5, "instantiation.boot_makespan.per_kib", "finite"),
    (HEAD + GOOD + "per_kib = 1e308\n", 5, "instantiation.boot_makespan.per_kib", "at most 1e+09"),
    (
        HEAD + 'unit = 5\nbase = 1\nsource = "x"\n',
        2,
        "instantiation.boot_makespan.unit",
        "expected a string",
    ),
    (
        "\n" + HEAD + 'unit = "ms"\nbase = 1\n',
        2,
        "instantiation.boot_makespan.source",
        "missing required field",
    ),
    (
        "\n" + HEAD + 'base = 1\nsource = "x"\n',
        2,
        "instantiation.boot_makespan.unit",
        "missing required field",
    ),
    (
        "\n" + HEAD + 'unit = "s"\nsource = "x"\n',
        2,
        "instantiation.boot_makespan.base",
        "missing required field",
    ),
    (
        HEAD + 'unit = "MiB"\nbase = 1\nsource = "x"\n',
        2,
        "instantiation.boot_makespan.unit",
        "not a time unit",
    ),
    (
        "[deployment.memory]\nbase = 1\nunit = \"ms\"\nsource = 'x'\n",
        3,
        "deployment.memory.unit",
        "not a memory unit",
    ),
    (
        HEAD + GOOD + 'statistic = "p95"\n',
        5,
        "instantiation.boot_makespan.statistic",
        "unknown statistic",
    ),
    (
        HEAD + GOOD + "statistic = 1\n",
        5,
        "instantiation.boot_makespan.statistic",
        "expected a string",
    ),
    (
        HEAD + 'unit = "ms"\nbase = 1\nsource = "  "\n',
        4,
        "instantiation.boot_makespan.source",
        "where the number came from",
    ),
    # dotted keys at top level and inside a table
    (
        'backend = "x"\ninstantiation.boot_makespan.base = -2\n'
        "instantiation.boot_makespan.unit = 's'\ninstantiation.boot_makespan.source = 'x'\n",
        2,
        "instantiation.boot_makespan.base",
        "negative",
    ),
    (
        'backend = "x"\n\ninstantiation.boot_makespan.base = 2\n',
        3,
        "instantiation.boot_makespan.unit",
        "missing required field",
    ),
    (
        "[instantiation]\n\nboot_makespan.unit = 'ms'\nboot_makespan.base = 1\n"
        "boot_makespan.sauce = 'x'\n",
        5,
        "instantiation.boot_makespan.sauce",
        "unknown field",
    ),
    # inline tables, with the key pinned to the line that holds it
    (
        "[deployment]\n\nmemory = { unit = 'MiB', base = 1, source = 'x', per_kib = -3 }\n",
        3,
        "deployment.memory.per_kib",
        "negative",
    ),
    (
        "[deployment]\nboot_time = { unit = 's', base = 1 }\n",
        2,
        "deployment.boot_time.source",
        "missing",
    ),
]


@pytest.mark.parametrize(("text", "line", "key", "problem"), ERRORS)
def test_validation_errors_name_file_line_and_key(
    tmp_path: Path, text: str, line: int, key: str, problem: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(BudgetFileError) as info:
        load_budgets(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: {key}: "), message
    assert problem in message


def test_syntax_error_at_end_of_document_points_at_last_line(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + 'unit = "ms"\nbase =\n')
    with pytest.raises(BudgetFileError, match=rf"^{re.escape(str(path))}:3: "):
        load_budgets(path)


def test_multiline_strings_and_arrays_do_not_confuse_the_locator(tmp_path: Path) -> None:
    text = (
        HEAD
        + 'source = """\nbase = 1\n[monitoring.response_time]\n"""\n'  # lines 2-5
        + "unit = 'ms'\nbase = 1\n"  # lines 6-7
        + "per_kib = [\n  1,\n]\n"  # lines 8-10
    )
    with pytest.raises(BudgetFileError, match=r":8: instantiation\.boot_makespan\.per_kib: "):
        load_budgets(write(tmp_path, text))


def test_not_utf8_is_a_budget_file_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(b'backend = "x"\nsource = "\xff"\n')
    with pytest.raises(BudgetFileError, match=r":2: "):
        load_budgets(path)


def test_limit_formula_with_n_and_size() -> None:
    b = budget(per_kib=2.0)
    # 50 ms + 15 ms * 128 + 2 ms * (2048 B / 1024) = 1974 ms
    assert b.limit(128, 2048) == pytest.approx(1.974)
    assert b.describe_limit(128, 2048) == "50 ms + 15 ms*N + 2 ms*KiB = 1974 ms"
    assert budget(per_instance=0.0).describe_limit(None, None) == "50 ms"
    assert budget(unit="GiB", base=2, per_instance=0).limit(None, None) == 2048.0


@pytest.mark.parametrize(
    ("overrides", "n", "size", "needs"),
    [({}, None, 64, "instance count N"), ({"per_kib": 1.0}, 4, None, "packet size")],
)
def test_missing_quantity_is_a_usage_error(
    overrides: dict[str, float], n: int | None, size: int | None, needs: str
) -> None:
    b = budget(**overrides)
    with pytest.raises(NfvUsageError, match=needs):
        b.limit(n, size)
    with pytest.raises(NfvUsageError, match=needs):
        judge(b, summarize([0.001, 0.001]), backend="netns", n=n, size_bytes=size)


def test_negative_quantity_is_a_usage_error() -> None:
    with pytest.raises(NfvUsageError, match="negative"):
        budget().limit(-1, None)


def test_bad_unit_or_statistic_in_code_is_a_usage_error() -> None:
    with pytest.raises(NfvUsageError, match="unit"):
        budget(unit="kB")
    with pytest.raises(NfvUsageError, match="statistic"):
        budget(statistic="p95")


def test_judge_passes_at_and_below_the_limit() -> None:
    b = budget(per_instance=0.0, base=1000.0)  # 1 s
    judge(b, summarize([1.0, 1.0, 1.0], converged=True), backend="netns")
    judge(b, summarize([0.5, 0.6, 0.7], converged=False), backend="netns")


def test_judge_raises_with_every_part_of_the_message() -> None:
    summary = summarize([2.05, 2.1, 2.15, 2.1], converged=True)
    with pytest.raises(BudgetExceeded) as info:
        judge(budget(), summary, backend="netns", n=128, size_bytes=1500)
    assert isinstance(info.value, AssertionError)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("instantiation/boot_makespan on netns, N=128, packet 1500 B: ")
    assert "mean 2100 ms ± 65 ms (4 rounds)" in message
    assert "not converged" not in message
    assert "> budget 50 ms + 15 ms*N = 1970 ms" in message
    assert message.endswith("[fixtures/budgets/netns.toml:7: measured on 2-core host, 2x margin]")


@pytest.mark.parametrize(("statistic", "shown"), [("median", "median 1000 ms"), ("max", "max 5")])
def test_judge_uses_the_budget_statistic(statistic: str, shown: str) -> None:
    # mean 1.33 s, median 1.0 s, max 5.0 s; 12 rounds, so the median's interval is x(3)..x(10)
    summary = summarize([1.0] * 6 + [5.0] + [1.0] * 5, converged=True)
    b = budget(per_instance=0.0, base=1500.0, statistic=statistic)
    if statistic == "median":
        assert judge(b, summary, backend="netns") == "kept"
        b = budget(per_instance=0.0, base=900.0, statistic=statistic)
    with pytest.raises(BudgetExceeded) as info:
        judge(b, summary, backend="netns")
    message = str(info.value)
    assert shown in message
    assert "(mean 1333 ms ± " in message
    assert "12 rounds" in message


def test_judge_marks_a_series_that_did_not_converge() -> None:
    summary = summarize([2.0, 2.1, 2.0], converged=False)
    with pytest.raises(BudgetExceeded, match=r"\(3 rounds\) \(not converged\)"):
        judge(budget(per_instance=0.0), summary, backend="docker")


def test_judge_message_collapses_multiline_source() -> None:
    b = budget(per_instance=0.0, source="measured\non host A\n  twice")
    with pytest.raises(BudgetExceeded, match=r"measured on host A twice\]$"):
        judge(b, summarize([1.0, 1.0, 1.0]), backend="netns")


COMMON: dict[str, object] = {
    "requirement": "instantiation",
    "metric": "boot_makespan",
    "dimension": "time",
    "backend": "netns",
}


def verdict_of(b: Budget | None, samples: list[float]) -> Judgement:
    return assess(b, summarize(samples, converged=True), **COMMON)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("samples", "verdict"),
    [
        ([0.90, 0.92, 0.91, 0.93], "kept"),  # CI 0.89..0.94 s, wholly under 1 s
        ([1.10, 1.12, 1.11, 1.13], "blown"),  # CI 1.09..1.14 s, wholly over
        ([0.97, 1.03, 0.99, 1.02], "inconclusive"),  # mean 1.0025 s, CI holds 1 s
        ([0.97, 0.995, 0.98, 1.005], "inconclusive"),  # mean under, CI reaches over the limit
    ],
)
def test_the_verdict_follows_the_interval_not_the_point(samples: list[float], verdict: str) -> None:
    judgement = verdict_of(budget(per_instance=0.0, base=1000.0), samples)
    assert judgement.verdict == verdict
    assert judgement.insufficient is False
    if verdict == "inconclusive":
        assert "inconclusive, its 95% interval holds the limit" in judgement.message
        assert judgement.message.startswith("instantiation/boot_makespan on netns: mean ")


@pytest.mark.parametrize("samples", [[0.1], [0.1, 0.1]])
def test_too_few_rounds_are_never_kept(samples: list[float]) -> None:
    judgement = verdict_of(budget(per_instance=0.0, base=1000.0), samples)
    assert judgement.verdict == "inconclusive"
    assert judgement.insufficient is True
    assert "too few rounds for a 95% interval (at least 3)" in judgement.message


def test_a_round_over_a_max_budget_blows_it_even_alone() -> None:
    b = budget(per_instance=0.0, base=1000.0, statistic="max")
    assert verdict_of(b, [1.5]).verdict == "blown"
    assert verdict_of(b, [0.5]).verdict == "inconclusive"
    assert verdict_of(b, [0.5, 0.6, 0.7]).verdict == "kept"


def test_a_median_budget_needs_enough_rounds_for_its_interval() -> None:
    b = budget(per_instance=0.0, base=1000.0, statistic="median")
    assert verdict_of(b, [0.5, 0.6, 0.7, 0.5, 0.6]).verdict == "inconclusive"
    assert verdict_of(b, [0.5, 0.6, 0.7, 0.5, 0.6, 0.6]).verdict == "kept"


def test_a_budgets_file_for_another_backend_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "budgets.toml"
    path.write_text(
        '# for ClickOS\n\nbackend = "clickos"\n\n[monitoring.response_time]\n'
        'unit = "ms"\nbase = 1\nsource = "x"\n'
    )
    assert load_budgets(path, "clickos").backend == "clickos"
    assert load_budgets(path).backend == "clickos"
    with pytest.raises(BudgetFileError) as info:
        load_budgets(path, "netns")
    assert str(info.value) == (
        f"{path}:3: backend: the file holds budgets of 'clickos', but the run measures "
        "'netns'; pass the budgets of 'netns' with --nfv-budgets"
    )


ALL_UNITS = [unit for units in UNITS.values() for unit in units]


@given(st.floats(0, 1e9), st.sampled_from(ALL_UNITS))
def test_a_flat_limit_is_its_base_in_the_base_unit(value: float, unit: str) -> None:
    b = budget(unit=unit, base=value, per_instance=0.0)
    if unit in UNITS["memory"]:
        b = budget(metric="memory", unit=unit, base=value, per_instance=0.0)
    assert from_base(b.limit(None, None), unit) == pytest.approx(value)


amounts = st.floats(0, 1e6)
counts = st.integers(0, 10_000)


@given(st.tuples(amounts, amounts, amounts), st.tuples(counts, counts), st.tuples(counts, counts))
def test_limit_is_monotonic_in_n_and_size(
    rates: tuple[float, float, float], ns: tuple[int, int], sizes: tuple[int, int]
) -> None:
    base, per_n, per_kib = rates
    b = budget(base=base, per_instance=per_n, per_kib=per_kib)
    lo_n, hi_n = sorted(ns)
    lo_s, hi_s = sorted(sizes)
    assert b.limit(lo_n, lo_s) <= b.limit(hi_n, lo_s) <= b.limit(hi_n, hi_s)
    assert b.limit(lo_n, lo_s) >= to_base(base, "ms")


def test_assess_gives_each_figure_a_verdict_word() -> None:
    flat = budget(per_instance=0.0, base=1000.0)  # 1 s
    kept = verdict_of(flat, [0.5, 0.6, 0.7])
    blown = verdict_of(flat, [1.9, 2.0, 2.1])
    unjudged = verdict_of(None, [1.9, 2.0, 2.1])
    assert (kept.verdict, kept.limit, kept.message) == ("kept", 1.0, "")
    assert blown.verdict == "blown"
    assert "> budget 1000 ms" in blown.message
    assert unjudged.verdict == "not judged"
    assert unjudged.limit is None
    assert {kept.verdict, blown.verdict, unjudged.verdict} <= set(VERDICTS)


SHIPPED = sorted(Path(__file__).resolve().parents[2].joinpath("fixtures", "budgets").glob("*.toml"))
"""Every budgets file the project ships."""

#: Where a backend measures memory as the kernel (or hypervisor) accounts it, that figure is
#: the primary one (``suites/``): a file that budgets the host's figure must budget it too, or
#: the figure the stop rule follows would only be listed as not judged.
KERNEL_TWINS = {
    ("instantiation", "memory"): ("instantiation", "memory_kernel"),
    ("instantiation", "memory_per_instance"): ("instantiation", "memory_kernel_per_instance"),
    ("coexistence", "memory"): ("coexistence", "memory_kernel"),
}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_file_budgets_the_kernel_memory_figure(path: Path) -> None:
    book = load_budgets(path)
    for (requirement, metric), (k_requirement, k_metric) in KERNEL_TWINS.items():
        if book.get(requirement, metric) is not None:
            assert book.get(k_requirement, k_metric) is not None, (
                f"{path.name} budgets {requirement}.{metric} but not {k_requirement}.{k_metric}"
            )


def test_the_shipped_files_are_found() -> None:
    assert {p.stem for p in SHIPPED} >= {"netns", "coreos", "osv", "osv-tcg", "clickos"}
