"""Whole pytest sessions run back to back, each saving its own pytest-benchmark JSON.

``pytest-nfv ab`` and ``pytest-nfv calibrate`` both judge from whole sessions, since the
session (not the round) is the unit when sessions differ. Each session is a fresh interpreter
(``python -m pytest``), so nothing one session warmed up or leaked carries into the next;
its JSON goes into a directory that this run created for itself, so that no file another
user planted is taken for a result and nothing root writes follows their symlink.
"""

from __future__ import annotations

import os
import shlex
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pytest_nfv.errors import HistoryError, NfvUsageError

__all__ = [
    "SessionResult",
    "Variant",
    "parse_env",
    "private_dir",
    "run_session",
]

DEFAULT_SESSION_TIMEOUT_S = 900.0
TAIL_LINES = 15


@dataclass(frozen=True)
class Variant:
    """One side of a comparison: what its sessions run, where, and with which interpreter.

    ``pytest_args`` come after the arguments both sides share; ``env`` is added to this
    process's environment; ``cwd`` and ``python`` let a side be another checkout with its own
    virtualenv.
    """

    name: str
    pytest_args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    python: str = sys.executable

    def describe(self) -> str:
        parts = [shlex.join(self.pytest_args)] if self.pytest_args else []
        parts += [f"{k}={v}" for k, v in sorted(self.env.items())]
        if self.cwd is not None:
            parts.append(f"in {self.cwd}")
        if self.python != sys.executable:
            parts.append(f"with {self.python}")
        return " ".join(parts) or "(the shared arguments alone)"


@dataclass(frozen=True)
class SessionResult:
    """One finished session: its JSON, its exit status, how long it took."""

    variant: str
    index: int
    json_path: Path
    exit_code: int
    seconds: float


def parse_env(specs: Sequence[str], what: str) -> dict[str, str]:
    """``KEY=VALUE`` pairs from the command line.

    Raises:
        NfvUsageError: a pair without ``=`` or with an empty or malformed name.
    """
    env: dict[str, str] = {}
    for spec in specs:
        key, sep, value = spec.partition("=")
        if not sep or not key or not key.replace("_", "a").isalnum() or key[0].isdigit():
            raise NfvUsageError(f"{what} {spec!r}: expected NAME=VALUE")
        env[key] = value
    return env


def private_dir(path: Path, *, reuse: bool = False) -> Path:
    """``path`` as a directory of this user's alone, created (mode 0700) if absent.

    Raises:
        NfvUsageError: ``path`` is a symlink, not a directory, owned by another user or
            writable by others, or (unless ``reuse``) already holds files.
    """
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    except OSError as exc:
        raise NfvUsageError(f"{path}: cannot be created ({exc.strerror or exc})") from None
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise NfvUsageError(f"{path}: not a directory (a symlink or a file); name another")
    if info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise NfvUsageError(
            f"{path}: owned by another user or writable by others; results there could have "
            "been planted. Name a directory of your own"
        )
    if not reuse and any(path.iterdir()):
        raise NfvUsageError(f"{path}: already holds files; name an empty or new directory")
    return path


def _tail(text: str) -> str:
    return "\n".join(text.strip().splitlines()[-TAIL_LINES:])


def run_session(
    variant: Variant,
    shared_args: Sequence[str],
    out: Path,
    index: int,
    *,
    timeout_s: float = DEFAULT_SESSION_TIMEOUT_S,
) -> SessionResult:
    """Run one pytest session of ``variant`` saving its JSON to ``out`` (a new file).

    A session whose tests failed (a blown budget, say) still measured: its JSON counts, and
    its exit status is kept for the report. A session that saved nothing, or outlived
    ``timeout_s``, ends the comparison: judging without it would be judging other sessions.

    Raises:
        HistoryError: the session timed out or saved no JSON; the message has its last lines.
    """
    if out.exists() or out.is_symlink():
        raise NfvUsageError(f"{out}: already exists; sessions never overwrite a result")
    command = [
        variant.python,
        "-m",
        "pytest",
        *shared_args,
        *variant.pytest_args,
        "-p",
        "no:cacheprovider",
        "-q",
        f"--benchmark-json={out}",
    ]
    env = {**os.environ, **variant.env}
    started = time.monotonic()
    process = subprocess.Popen(  # no shell: every argument is passed as it is
        command,
        cwd=variant.cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        # SIGINT first: the session tears down what it started, as on Ctrl-C.
        os.killpg(process.pid, signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
        raise HistoryError(
            f"session {variant.name}{index} ran past {timeout_s:g} s and was stopped "
            f"({shlex.join(command)}):\n{_tail(output)}"
        ) from None
    except BaseException:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
        raise
    seconds = time.monotonic() - started
    if not out.is_file():
        raise HistoryError(
            f"session {variant.name}{index} saved no results (exit {process.returncode}; "
            f"{shlex.join(command)}):\n{_tail(output)}"
        )
    return SessionResult(variant.name, index, out, process.returncode, seconds)
