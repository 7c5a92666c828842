"""Docstrings and comments carry no measured figures (style rule 14).

A figure measured once on one host goes stale in a docstring without anyone noticing; in
``benchmarks/RESULTS.md`` it sits beside how, when and where it was taken. The check is
narrow on purpose, so that it never fails on a design parameter (a timeout, a default pace):
it flags a sentence in which "measured", "took", "takes" or "cost(s)" is followed by a
number with a unit of time, memory, a share or a ratio. And a pointer to RESULTS.md must name
one of its sections.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "pytest_nfv"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"

FIGURE = re.compile(
    r"\b(?:measured|took|takes|costs?)\b"  # what was seen...
    r"(?:(?!\.\s)[^;])*?"  # ...later in the same sentence...
    r"\d(?:\.\d+)?\s?(?:ns|µs|us|ms|s|MiB|KiB|GiB|MB|KB|%|x)(?!\w)",  # ...a number with a unit
    re.IGNORECASE,
)
POINTER = re.compile(r'RESULTS\.md, ((?:"[^"]+"(?: and )?)+)')


def prose(source: str) -> list[tuple[int, str]]:
    """(line, text) of every docstring (module, class, function, attribute) and every block
    of consecutive comment lines, whitespace collapsed so a sentence reads across lines."""
    found = []
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        for statement in body if isinstance(body, list) else ():  # a lambda's is one expression
            if (
                isinstance(statement, ast.Expr)
                and isinstance(statement.value, ast.Constant)
                and isinstance(statement.value.value, str)
            ):
                found.append((statement.lineno, statement.value.value))
    block: list[str] = []
    start = last = 0
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT:
            continue
        line = token.start[0]
        if block and line != last + 1:
            found.append((start, " ".join(block)))
            block = []
        if not block:
            start = line
        block.append(token.string.lstrip("#: "))
        last = line
    if block:
        found.append((start, " ".join(block)))
    return [(line, " ".join(text.split())) for line, text in found]


def measured_figures(source: str, filename: str) -> list[str]:
    return [
        f"{filename}:{line}: ...{match.group(0)}"
        for line, text in prose(source)
        for match in FIGURE.finditer(text)
    ]


def _package_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_docstring_or_comment_in_the_package_holds_a_measured_figure() -> None:
    found = [
        hit
        for path in _package_files()
        for hit in measured_figures(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert not found, (
        "measured figures belong in benchmarks/RESULTS.md; say why and point there:\n"
        + "\n".join(found)
    )


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ('"""At N=128 0.25 ms took 9% of a core."""', True),
        ('"""Measured here: 35 s."""', True),
        ("# summing in Python took 18 us of a\n# datagram's time, this way 5 us\n", True),
        ('X = 1\n"""A wake-up costs the C child about 35 µs."""', True),
        ('"""Probes go every 0.5 ms by default."""', False),
        ('"""A probe after 5 s of silence; it took the lock."""', False),
        ('"""The figure is measured. Each takes 2 ms at most by design."""', True),
        ('"""The figure is measured. The floor is 2 ms."""', False),
        ('"""Up to 64 pre-charged pages per CPU."""', False),
        ('"""What it took (benchmarks/RESULTS.md)."""', False),
    ],
)
def test_the_check_flags_a_figure_said_to_be_seen(source: str, flagged: bool) -> None:
    assert bool(measured_figures(source, "x.py")) is flagged


def test_every_pointer_to_results_names_one_of_its_sections() -> None:
    headings = [
        line.lstrip("#").strip() for line in RESULTS.read_text().splitlines() if line[:1] == "#"
    ]
    missing = []
    for path in _package_files():
        for line, text in prose(path.read_text()):
            for titles in POINTER.findall(text):
                for title in re.findall(r'"([^"]+)"', titles):
                    if not any(h == title or h.startswith(f"{title} (") for h in headings):
                        missing.append(f"{path.relative_to(ROOT)}:{line}: {title!r}")
    assert not missing, "no such section in benchmarks/RESULTS.md:\n" + "\n".join(missing)
