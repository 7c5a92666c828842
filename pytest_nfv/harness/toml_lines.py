"""Where a dotted key sits in a TOML text, since ``tomllib`` gives no positions.

Errors in a budgets file name the file, the line and the dotted key, because a CI log is often
the only place anyone sees them. This is a line locator, not a TOML parser: it is asked only
about text ``tomllib`` accepted (or for the key nearest a syntax error), so it rejects nothing
itself and knows nothing of budgets.
"""

from __future__ import annotations

import json
import re

__all__ = ["Key", "Locator", "dotted"]

_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_DOTTED = rf"{_PART}(?:\s*\.\s*{_PART})*"
_PART_RE = re.compile(_PART)
_HEADER_RE = re.compile(rf"\s*\[\[?\s*({_DOTTED})\s*\]")
_ASSIGN_RE = re.compile(rf"\s*({_DOTTED})\s*=\s*")
_BARE_RE = re.compile(r"[A-Za-z0-9_-]+")
Key = tuple[str, ...]


def _split_key(dotted: str) -> Key:
    return tuple(p[1:-1] if p[0] in "\"'" else p for p in _PART_RE.findall(dotted))


def dotted(key: Key) -> str:
    """``key`` as TOML spells it, quoting the parts that are not bare keys."""
    return ".".join(p if _BARE_RE.fullmatch(p) else json.dumps(p) for p in key) or "<document>"


def _skip_string(text: str, i: int) -> int:
    """Index just past the string starting at ``i`` (``len(text)`` if it does not close here)."""
    quote = text[i] * 3 if text.startswith(text[i] * 3, i) else text[i]
    j = i + len(quote)
    while j < len(text):
        if text[j] == "\\" and quote[0] == '"':
            j += 2
        elif text.startswith(quote, j):
            return j + len(quote)
        else:
            j += 1
    return len(text)


class Locator:
    """Where each dotted key is defined: header tables, ``a.b = 1`` and one-line inline tables.

    A heuristic, not a TOML parser: its answers matter only for text ``tomllib`` accepted (and
    for naming the key near a syntax error), so it need not reject anything itself.
    """

    def __init__(self, text: str) -> None:
        self._lines: dict[Key, int] = {}
        self._context: dict[int, Key] = {}
        table: Key = ()
        closer: str | None = None  # delimiter of a multi-line string still open
        depth = 0  # brackets of a multi-line array still open
        for number, raw in enumerate(text.split("\n"), start=1):
            self._context[number] = table
            if closer is not None:
                closer = None if closer in raw else closer
                continue
            if depth > 0:
                depth, closer = self._scan(raw, depth)
                continue
            if header := _HEADER_RE.match(raw):
                table = _split_key(header.group(1))
                self._note(table, number)
            elif assign := _ASSIGN_RE.match(raw):
                key = table + _split_key(assign.group(1))
                self._note(key, number)
                value = raw[assign.end() :]
                if value.startswith("{"):
                    self._inline(key, value, number)
                depth, closer = self._scan(value, 0)

    def _note(self, key: Key, line: int) -> None:
        for cut in range(1, len(key) + 1):  # ``a.b.c = 1`` also defines tables a and a.b here
            self._lines.setdefault(key[:cut], line)
        self._context[line] = key

    @staticmethod
    def _scan(text: str, depth: int) -> tuple[int, str | None]:
        i = 0
        while i < len(text):
            ch = text[i]
            if ch in "\"'":
                end = _skip_string(text, i)
                if end == len(text) and text.startswith(ch * 3, i):
                    return depth, ch * 3
                i = end
                continue
            if ch == "#":
                break
            depth += (ch in "[{") - (ch in "]}")
            i += 1
        return max(depth, 0), None

    def _inline(self, prefix: Key, text: str, line: int) -> None:
        stack, i, expect_key, arrays = [prefix], 1, True, 0
        while i < len(text) and stack:
            if expect_key and arrays == 0:
                expect_key = False
                if m := _ASSIGN_RE.match(text, i):
                    key = stack[-1] + _split_key(m.group(1))
                    self._note(key, line)
                    i = m.end()
                    if text.startswith("{", i):
                        stack.append(key)
                        i, expect_key = i + 1, True
                    continue
            ch = text[i]
            if ch in "\"'":
                i = _skip_string(text, i)
                continue
            if ch == "#":
                return
            arrays += (ch == "[") - (ch == "]")
            if arrays == 0 and ch == ",":
                expect_key = True
            elif arrays == 0 and ch == "}":
                stack.pop()
            i += 1

    def line_of(self, key: Key) -> int:
        """Line defining ``key`` (or first using it as a table); else its nearest table; else 1."""
        if key in self._lines:
            return self._lines[key]
        for cut in range(len(key) - 1, 0, -1):
            if key[:cut] in self._lines:
                return self._lines[key[:cut]]
        return 1

    def key_at(self, line: int) -> Key:
        return self._context.get(line, ())
