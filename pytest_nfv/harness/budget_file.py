"""Reading one budgets TOML file into a ``BudgetBook``, every error at its line and key.

Kept apart from the budget model because validation is most of the code and all of the
file's spelling (fields, units, the ``backend`` key), while the verdicts only need the loaded
numbers. Positions come from ``harness.toml_lines``.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

from pytest_nfv import model
from pytest_nfv.errors import BudgetFileError
from pytest_nfv.harness.budgets import Budget, BudgetBook
from pytest_nfv.harness.stats import STATISTICS
from pytest_nfv.harness.toml_lines import Key, Locator, dotted
from pytest_nfv.units import UNITS

__all__ = ["MAX_BUDGET_NUMBER", "load_budgets"]

MAX_BUDGET_NUMBER = 1e9
"""Largest number a budget's field may hold, in its unit: larger ones are typos, and one near
the float limit overflows the limit to infinity, which no figure could ever blow."""
_FIELDS: tuple[str, ...] = ("unit", "base", "per_instance", "per_kib", "statistic", "source")


def _toml_type(value: object) -> str:
    names = {
        bool: "boolean",
        int: "integer",
        float: "float",
        str: "string",
        list: "array",
        dict: "table",
    }
    return names.get(type(value), "date/time")


def _suggest(word: str, choices: Mapping[str, object] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}expected one of {', '.join(choices)}"


class _File:
    """Validation state for one file, so every error carries the same ``file:line: key:``."""

    def __init__(self, path: Path, text: str) -> None:
        self.path, self.text = path, text
        self.locator = Locator(text)

    def error(self, key: Key, problem: str, line: int | None = None) -> BudgetFileError:
        line = self.locator.line_of(key) if line is None else line
        return BudgetFileError(f"{self.path}:{line}: {dotted(key)}: {problem}")

    def number(self, key: Key, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"expected a number, got {_toml_type(value)}")
        if not math.isfinite(value):
            raise self.error(key, f"must be a finite number, got {value}")
        if value < 0:
            raise self.error(key, f"must not be negative, got {value}")
        if value > MAX_BUDGET_NUMBER:
            raise self.error(
                key, f"must be at most {MAX_BUDGET_NUMBER:g}, got {value}: no limit is that large"
            )
        return float(value)

    def string(self, key: Key, value: object) -> str:
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {_toml_type(value)}")
        return value

    def budget(self, requirement: str, metric: str, table: dict[str, object]) -> Budget:
        head = (requirement, metric)
        for name in table:
            if name not in _FIELDS:
                raise self.error((*head, name), f"unknown field; {_suggest(name, _FIELDS)}")
        for name in ("unit", "base", "source"):
            if name not in table:
                raise self.error((*head, name), "missing required field")
        unit = self.string((*head, "unit"), table["unit"])
        dimension = model.METRICS[requirement][metric].dimension
        if unit not in UNITS[dimension]:
            allowed = ", ".join(UNITS[dimension])
            raise self.error((*head, "unit"), f"{unit!r} is not a {dimension} unit; use {allowed}")
        amounts = {
            name: self.number((*head, name), table.get(name, 0.0))
            for name in ("base", "per_instance", "per_kib")
        }
        statistic = self.string((*head, "statistic"), table.get("statistic", "mean"))
        if statistic not in STATISTICS:
            raise self.error(
                (*head, "statistic"),
                f"unknown statistic {statistic!r}; {_suggest(statistic, STATISTICS)}",
            )
        source = self.string((*head, "source"), table["source"])
        if not source.strip():
            raise self.error((*head, "source"), "must say where the number came from, got ''")
        return Budget(
            requirement=requirement,
            metric=metric,
            unit=unit,
            statistic=statistic,
            source=source,
            path=self.path,
            line=self.locator.line_of(head),
            **amounts,
        )


def load_budgets(path: Path, backend: str | None = None) -> BudgetBook:
    """Read and validate a budgets TOML file.

    Args:
        path: the file, e.g. ``fixtures/budgets/netns.toml``.
        backend: the backend the run measures; a file whose ``backend`` key names another is
            refused, since its limits would judge figures they were never meant for.

    Raises:
        BudgetFileError: the file is missing, unreadable, not TOML, breaks the schema, or is
            for another backend; the message is ``"{file}:{line}: {key}: {problem}"`` where a
            position is known.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BudgetFileError(f"{path}: cannot read budgets file: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise BudgetFileError(f"{path}:{line}: <document>: not UTF-8 text") from exc
    file = _File(path, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(found.group(1)) if found else max(1, len(text.rstrip("\n").split("\n")))
        problem = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(exc))
        raise file.error(file.locator.key_at(line), f"TOML syntax: {problem}", line) from exc
    written_for: str | None = None
    budgets: dict[tuple[str, str], Budget] = {}
    for name, value in data.items():
        if name == "backend":
            written_for = file.string((name,), value)
            if backend is not None and written_for != backend:
                raise file.error(
                    (name,),
                    f"the file holds budgets of {written_for!r}, but the run measures "
                    f"{backend!r}; pass the budgets of {backend!r} with --nfv-budgets",
                )
        elif name not in model.METRICS:
            what = "requirement" if isinstance(value, dict) else "top-level key"
            raise file.error(
                (name,), f"unknown {what}; {_suggest(name, ('backend', *model.METRICS))}"
            )
        elif not isinstance(value, dict):
            raise file.error((name,), f"expected a table of metrics, got {_toml_type(value)}")
        else:
            for metric, table in value.items():
                if metric not in model.METRICS[name]:
                    hint = _suggest(metric, tuple(model.METRICS[name]))
                    raise file.error((name, metric), f"unknown metric for {name}; {hint}")
                if not isinstance(table, dict):
                    raise file.error(
                        (name, metric), f"expected a budget table, got {_toml_type(table)}"
                    )
                budgets[(name, metric)] = file.budget(name, metric, table)
    return BudgetBook(path=path, backend=written_for, budgets=budgets)
