"""Saved runs read back: what is a record, and every way a history file can be wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import synthetic_runs as sr

from pytest_nfv.analysis.history import HostFingerprint, load_run, resolve_ref, storage_dir
from pytest_nfv.errors import HistoryError, NfvError

BOOT: sr.Spec = ("instantiation", "boot_makespan", "s", 4, None, 0.03, "steady")
RT: sr.Spec = ("monitoring", "response_time", "s", None, 1024, 1.4e-4, "noisy")


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_records_carry_key_samples_unit_and_budget(tmp_path: Path) -> None:
    bench = sr.benchmark(BOOT, [0.03, 0.031, 0.029], limit=0.1)
    bench["extra_info"]["secondary"] = {
        "boot_per_instance": {"unit": "s", "samples": [0.007, 0.008], "budget": None}
    }
    run = load_run(_write(tmp_path / "run.json", sr.run_json([bench])))
    assert sorted(k.metric for k in run.records) == ["boot_makespan", "boot_per_instance"]
    (primary,) = [r for k, r in run.records.items() if k.metric == "boot_makespan"]
    assert primary.key.n == 4
    assert primary.key.size is None
    assert primary.key.test == "test_instantiation_boot_makespan"
    assert primary.key.label() == "instantiation/boot_makespan N=4"
    assert primary.samples == (0.03, 0.031, 0.029)
    assert primary.unit == "s"
    assert primary.within_budget is True
    assert run.fingerprint == HostFingerprint(
        "Synthetic CPU 3.6 GHz", 8, 31.2, "6.1.0-test", (("netns", "netns-engine 1.0"),)
    )
    assert run.datetime == "2026-11-24T10:00:00+00:00"


def test_benchmarks_that_are_not_ours_are_ignored(tmp_path: Path) -> None:
    foreign = {"name": "test_sort", "extra_info": {}, "stats": {"mean": 1.0}}
    run = load_run(_write(tmp_path / "r.json", sr.run_json([foreign, sr.benchmark(RT, [1e-4])])))
    assert len(run.records) == 1


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        pytest.param("", "empty file", id="empty"),
        pytest.param('{"benchmarks": [', r"not valid JSON \(line 1, column 17", id="truncated"),
        pytest.param("[1, 2]", "not a JSON object", id="array"),
        pytest.param('{"machine_info": {}}', "no 'benchmarks' list", id="no-benchmarks"),
        pytest.param(
            json.dumps({"benchmarks": [{"name": "t", "extra_info": {}}]}),
            "none of its 1 entries is a pytest-nfv record",
            id="not-ours",
        ),
        pytest.param(
            json.dumps(sr.run_json([{**sr.benchmark(RT, [1.0]), "name": "x"}])).replace(
                "[1.0]", '["fast"]'
            ),
            r"benchmark x monitoring/response_time.*: samples are missing",
            id="bad-samples",
        ),
        pytest.param(
            json.dumps(sr.run_json([sr.benchmark(RT, [1.0]), sr.benchmark(RT, [2.0])])),
            "a second record for monitoring/response_time 1024B",
            id="duplicate",
        ),
        pytest.param(
            json.dumps(sr.run_json([sr.benchmark(BOOT, [1.0])])).replace('"n": 4', '"n": "4"'),
            "n is '4', not an integer",
            id="bad-n",
        ),
    ],
)
def test_a_corrupt_file_is_one_error_naming_the_file(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "0003_broken.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(HistoryError, match=problem) as caught:
        load_run(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert isinstance(caught.value, NfvError)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match=r"nope\.json: no such file"):
        load_run(tmp_path / "nope.json")


def test_a_binary_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(HistoryError, match=r"r\.json: cannot be read"):
        load_run(path)


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    root = tmp_path / ".benchmarks"
    machine = root / "Linux-CPython-3.11-64bit"
    machine.mkdir(parents=True)
    for name in ("0001_first.json", "0002_second.json", "0010_tenth.json"):
        _write(machine / name, sr.run_json([sr.benchmark(RT, [1e-4])]))
    return root


def test_storage_names_resolve_like_pytest_benchmark(storage: Path) -> None:
    machine = storage / "Linux-CPython-3.11-64bit"
    assert resolve_ref("0002", storage) == machine / "0002_second.json"
    assert resolve_ref("0001_first", storage) == machine / "0001_first.json"
    assert resolve_ref("Linux-CPython-3.11-64bit/0010_tenth.json", storage) == (
        machine / "0010_tenth.json"
    )
    assert resolve_ref("0010", storage, "Linux-CPython-3.11-64bit") == machine / "0010_tenth.json"
    assert resolve_ref(str(machine / "0001_first.json"), storage) == machine / "0001_first.json"


def test_unknown_or_ambiguous_names_are_errors_listing_what_exists(storage: Path) -> None:
    with pytest.raises(HistoryError, match=r"0004: no such file or saved run.*0010_tenth"):
        resolve_ref("0004", storage)
    with pytest.raises(HistoryError, match=r"000: names 2 saved runs"):
        resolve_ref("000", storage)
    with pytest.raises(HistoryError, match=r"gone\.json: no such file"):
        resolve_ref("gone.json", storage)
    with pytest.raises(HistoryError, match="no benchmark storage"):
        resolve_ref("0001", storage / "absent")


def test_storage_option_values() -> None:
    assert storage_dir(None) == Path(".benchmarks")
    assert storage_dir("file://./ci/bench") == Path("ci/bench")
    assert storage_dir("/abs/dir") == Path("/abs/dir")
    with pytest.raises(HistoryError, match="only file:// storage"):
        storage_dir("elasticsearch+https://host:9200/index")
