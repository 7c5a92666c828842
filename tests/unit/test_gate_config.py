"""Gate settings: floors from flags and TOML, which floor applies, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nfv.analysis.gate_config import (
    DEFAULT_FLOORS,
    SINGLE_BASELINE_FLOORS,
    Floor,
    GateConfig,
    load_gate_config,
    parse_floor,
)
from pytest_nfv.analysis.history import RecordKey
from pytest_nfv.errors import NfvUsageError

MEMORY = RecordKey("instantiation", "memory", "netns", 16, None, "test_memory")
BOOT = RecordKey("instantiation", "boot_makespan", "netns", 16, None, "test_boot_time")


@pytest.mark.parametrize(
    ("spec", "name", "floor"),
    [
        ("time=5%,10us", "time", Floor(0.05, 10e-6)),
        ("memory=0.1,2MiB", "memory", Floor(0.1, 2.0)),
        ("instantiation.memory=20%", "instantiation.memory", Floor(0.2, 0.0)),
        ("boot_makespan = 3% , 1.5ms", "boot_makespan", Floor(0.03, 1.5e-3)),
    ],
)
def test_floor_specs(spec: str, name: str, floor: Floor) -> None:
    got_name, got = parse_floor(spec)
    assert got_name == name
    assert got.relative == pytest.approx(floor.relative)
    assert got.absolute == pytest.approx(floor.absolute)


@pytest.mark.parametrize(
    "spec", ["time", "=5%", "time=", "time=5%,10", "time=5%,10parsecs", "time=lots", "t=1,2,3"]
)
def test_bad_floor_specs_say_the_expected_form(spec: str) -> None:
    with pytest.raises(NfvUsageError, match="--floor"):
        parse_floor(spec)


def test_most_specific_floor_wins() -> None:
    config = GateConfig().with_floor("memory", Floor(0.1, 2.0))
    assert config.floor_for(MEMORY, "MiB") == Floor(0.1, 2.0)
    config = config.with_floor("instantiation.memory", Floor(0.3))
    assert config.floor_for(MEMORY, "MiB") == Floor(0.3)
    assert config.floor_for(BOOT, "s") == DEFAULT_FLOORS["time"]
    assert GateConfig(floors={}).floor_for(BOOT, "furlongs") == DEFAULT_FLOORS["*"]


def test_floor_threshold_is_the_larger_of_relative_and_absolute() -> None:
    assert Floor(0.05, 1.0).threshold(100.0) == pytest.approx(5.0)
    assert Floor(0.05, 1.0).threshold(-4.0) == pytest.approx(1.0)


def test_toml_settings_over_defaults(tmp_path: Path) -> None:
    path = tmp_path / "gate.toml"
    path.write_text(
        "alpha = 0.001\ntwo_sided = true\nhosts = 'mark'\n"
        "[floor.time]\nrelative = 0.1\nabsolute = 50\nunit = 'us'\n"
        "[floor.'coexistence.memory']\nrelative = 0.2\nabsolute = 4\nunit = 'MiB'\n"
        "[direction]\nthroughput = 'higher_is_better'\n",
        encoding="utf-8",
    )
    config = load_gate_config(path)
    assert (config.alpha, config.two_sided, config.hosts) == (0.001, True, "mark")
    assert config.floor_for(BOOT, "s") == Floor(0.1, pytest.approx(50e-6))  # type: ignore[arg-type]
    coexist = RecordKey("coexistence", "memory", "netns", 4, None, "t")
    assert config.floor_for(coexist, "MiB") == Floor(0.2, 4.0)
    assert config.floor_for(MEMORY, "MiB") == DEFAULT_FLOORS["memory"]
    throughput = RecordKey("monitoring", "throughput", "netns", None, None, "t")
    assert not config.worse_is_higher(throughput)
    assert config.worse_is_higher(BOOT)
    assert config.source == str(path)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("alpha = 2\n", r"alpha 2\.0 is not in \(0, 1\)"),
        ("alpha = 'low'\n", "alpha must be a number"),
        ("hosts = 'maybe'\n", "hosts must be refuse or mark"),
        ("two_sided = 'yes'\n", "two_sided must be true or false"),
        ("colour = 'red'\n", r"unknown key\(s\) colour"),
        ("[floor.time]\nrelative = 0.1\nabsolute = 3\n", "absolute needs a unit"),
        ("[floor.time]\nrelative = -1\n", "relative must be a number >= 0"),
        ("[floor.time]\nrelatve = 0.1\n", r"unknown key\(s\) relatve"),
        ("[floor.time]\nabsolute = 3\nunit = 'parsec'\n", "unknown unit 'parsec'"),
        ("[direction]\nboot = 'up'\n", "values must be one of"),
        ("alpha = \n", "not valid TOML"),
    ],
)
def test_bad_settings_files_name_the_file(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "gate.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(NfvUsageError, match=problem) as caught:
        load_gate_config(path)
    assert str(path) in str(caught.value)


def test_missing_settings_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(NfvUsageError, match=r"gone\.toml: cannot be read"):
        load_gate_config(tmp_path / "gone.toml")


def test_the_shipped_example_settings_load() -> None:
    example = Path(__file__).parents[2] / "examples" / "github-actions" / "nfv-gate.toml"
    config = load_gate_config(example)
    assert config.alpha == 0.01
    assert config.floor_for(MEMORY, "MiB") == Floor(0.1, 4.0)


def test_single_baseline_floors_default_and_from_the_file(tmp_path: Path) -> None:
    assert GateConfig().single_baseline["time"] == SINGLE_BASELINE_FLOORS["time"]
    path = tmp_path / "gate.toml"
    path.write_text("[single_baseline.time]\nrelative = 0.2\nabsolute = 5\nunit = 'us'\n")
    config = load_gate_config(path)
    floor = config.single_baseline["time"]
    assert (floor.relative, floor.absolute) == (0.2, pytest.approx(5e-6))
    path.write_text("[single_baseline.time]\nrelative = -1\n")
    with pytest.raises(NfvUsageError, match=r"\[single_baseline\.time\]: relative must be"):
        load_gate_config(path)
