"""A parser for the part of the Click language ClickOS configurations are written in.

A rendered configuration is checked before it goes near a hypervisor: ClickOS reports a bad
configuration only on the domain's console, after the boot the benchmark was timing. So the
configuration is parsed here into its element declarations and connections, and ``check``
verifies what Click itself would refuse (unknown names, ports out of range, push outputs left
unconnected or connected twice) plus what only ClickOS refuses: an element class the MiniOS
image does not ship (``clickos_elements.txt``, generated from the ClickOS sources).

Covered: ``//`` and ``/* */`` comments, ``name :: Class(config)`` declarations (standalone or
inside a connection chain), anonymous ``Class(config)`` elements, ``[n]`` ports on either side
of an element, ``->`` chains, ``;`` separators. ``elementclass``, ``require`` and compound
elements are refused with a clear error rather than half-understood.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from pytest_nfv.errors import NfvError

__all__ = [
    "ClickConfigError",
    "ClickConfiguration",
    "Connection",
    "ElementDecl",
    "clickos_element_classes",
    "parse",
    "split_arguments",
]

_ELEMENTS_FILE = Path(__file__).with_name("clickos_elements.txt")


class ClickConfigError(NfvError):
    """A Click configuration that Click (or ClickOS) would refuse; the message names the line."""


@dataclass(frozen=True)
class ElementDecl:
    name: str
    cls: str
    config: str
    line: int


@dataclass(frozen=True)
class Connection:
    source: str
    source_port: int
    target: str
    target_port: int
    line: int


@dataclass
class ClickConfiguration:
    """Elements by name, in declaration order, and the connections between them."""

    elements: dict[str, ElementDecl] = field(default_factory=dict)
    connections: list[Connection] = field(default_factory=list)

    def outputs_of(self, name: str) -> dict[int, list[Connection]]:
        """Connections leaving ``name``, by its output port."""
        return self._by_port(name, outgoing=True)

    def inputs_of(self, name: str) -> dict[int, list[Connection]]:
        """Connections entering ``name``, by its input port."""
        return self._by_port(name, outgoing=False)

    def _by_port(self, name: str, outgoing: bool) -> dict[int, list[Connection]]:
        found: dict[int, list[Connection]] = {}
        for c in self.connections:
            end, port = (c.source, c.source_port) if outgoing else (c.target, c.target_port)
            if end == name:
                found.setdefault(port, []).append(c)
        return found

    @property
    def classes(self) -> set[str]:
        return {e.cls for e in self.elements.values()}


@cache
def clickos_element_classes() -> frozenset[str]:
    """Element classes a ClickOS image ships (see the header of ``clickos_elements.txt``)."""
    names = []
    for line in _ELEMENTS_FILE.read_text().splitlines():
        if line and not line.startswith("#"):
            names.append(line.split("\t", 1)[0])
    return frozenset(names)


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<arrow>->)
  | (?P<declare>::)
  | (?P<port>\[\s*\d+\s*\])
  | (?P<semi>;)
  | (?P<comma>,)
  | (?P<config>\()
  | (?P<brace>[{}])
  | (?P<word>[A-Za-z_@][A-Za-z0-9_@/]*)
    """,
    re.X | re.S,
)


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    line: int


def _unquoted(text: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """``(index, char, depth)`` of each character outside quotes, depth counted after it."""
    depth, quote, i = 0, "", start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        else:
            depth += (ch == "(") - (ch == ")")
            yield i, ch, depth
        i += 1


def _read_config(text: str, start: int, line: int) -> tuple[str, int]:
    """The text between the parenthesis at ``start`` and its match (quotes respected)."""
    for i, ch, depth in _unquoted(text, start):
        if ch == ")" and depth == 0:
            return text[start + 1 : i], i + 1
    raise ClickConfigError(f"line {line}: unbalanced parenthesis in a configuration string")


def _tokens(text: str) -> Iterator[_Tok]:
    pos, line = 0, 1
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            snippet = text[pos : pos + 20].split("\n", maxsplit=1)[0]
            raise ClickConfigError(f"line {line}: unexpected text {snippet!r}")
        kind = match.lastgroup or ""
        if kind == "config":
            body, end = _read_config(text, pos, line)
            yield _Tok("config", body, line)
            line += text.count("\n", pos, end)
            pos = end
            continue
        if kind not in ("space", "comment"):
            yield _Tok(kind, match.group(), line)
        line += match.group().count("\n")
        pos = match.end()


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = list(_tokens(text))
        self.i = 0
        self.conf = ClickConfiguration()
        self.anonymous = 0

    def peek(self, kind: str) -> bool:
        return self.i < len(self.toks) and self.toks[self.i].kind == kind

    def take(self, kind: str, what: str) -> _Tok:
        if not self.peek(kind):
            got = self.toks[self.i] if self.i < len(self.toks) else None
            where = f"line {got.line}" if got else "end of configuration"
            found = repr(got.text) if got else "nothing"
            raise ClickConfigError(f"{where}: expected {what}, found {found}")
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> ClickConfiguration:
        while self.i < len(self.toks):
            if self.peek("semi"):
                self.i += 1
                continue
            self.statement()
            if self.i < len(self.toks):
                self.take("semi", "';' between statements")
        return self.conf

    def port(self) -> int:
        return int(self.take("port", "a port").text.strip("[] \t\n"))

    def statement(self) -> None:
        input_port = self.port() if self.peek("port") else None
        if input_port is not None:
            raise ClickConfigError(
                f"line {self.toks[self.i - 1].line}: a statement cannot start with an input port"
            )
        previous, out_port = self.element()
        while self.peek("port") or self.peek("arrow"):
            if self.peek("port"):
                out_port = self.port()
            line = self.take("arrow", "'->'").line
            in_port = self.port() if self.peek("port") else 0
            current, next_out = self.element()
            self.conf.connections.append(
                Connection(previous, out_port or 0, current, in_port, line)
            )
            previous, out_port = current, next_out

    def element(self) -> tuple[str, int | None]:
        word = self.take("word", "an element name or class")
        if word.text in ("elementclass", "require", "input", "output"):
            raise ClickConfigError(
                f"line {word.line}: {word.text!r} is outside the Click subset pytest-nfv checks"
            )
        if self.peek("declare"):
            self.i += 1
            cls = self.take("word", "an element class after '::'")
            config = self.take("config", "").text if self.peek("config") else ""
            self.declare(word.text, cls.text, config, word.line)
            return word.text, None
        if self.peek("config") or word.text not in self.conf.elements:
            if not word.text[:1].isupper():
                raise ClickConfigError(f"line {word.line}: undeclared element {word.text!r}")
            config = self.take("config", "").text if self.peek("config") else ""
            self.anonymous += 1
            name = f"{word.text}@{self.anonymous}"
            self.declare(name, word.text, config, word.line)
            return name, None
        return word.text, None

    def declare(self, name: str, cls: str, config: str, line: int) -> None:
        if name in self.conf.elements:
            first = self.conf.elements[name].line
            raise ClickConfigError(f"line {line}: element {name!r} redeclared (first on {first})")
        if not cls[:1].isupper():
            raise ClickConfigError(f"line {line}: {cls!r} is not an element class")
        self.conf.elements[name] = ElementDecl(name, cls, " ".join(config.split()), line)


def parse(text: str) -> ClickConfiguration:
    """Parse a Click configuration into element declarations and connections.

    Raises:
        ClickConfigError: the text is not in the covered Click subset; the message has a line.
    """
    return _Parser(text).parse()


def split_arguments(config: str) -> list[str]:
    """A configuration string's comma-separated arguments, stripped (Click's ``cp_argvec``)."""
    cuts = [i for i, ch, depth in _unquoted(config) if ch == "," and depth == 0]
    if not cuts and not config.strip():
        return []
    bounds = [-1, *cuts, len(config)]
    return [config[lo + 1 : hi].strip() for lo, hi in itertools.pairwise(bounds)]
