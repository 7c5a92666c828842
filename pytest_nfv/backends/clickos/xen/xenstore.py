"""Loading Click configurations into running ClickOS domains, through xenstore.

This is the protocol of ClickOS's own control tool, read from its sources (sysml/clickos-ctl
``xs.cc``/``xs.hh``, and the guest side in cnplab/clickos ``minios/click.cc``):

- at boot the guest creates ``/local/domain/<id>/data/clickos`` and watches it; a tool must
  wait for that node (clickos-ctl refuses a domain without it: "doesn't seem to be a ClickOS
  domain");
- a router is installed under the lowest free id ``<r>``: ``<r>/config_name``, empty
  ``<r>/control`` and ``<r>/elements``, and the configuration text in ``<r>/config/0..n``,
  chunks of at most 512 bytes (clickos-ctl's ``chunk_max_len``: "ClickOS is not accepting
  big chunk sizes");
- writing ``Running`` to ``<r>/status`` starts it: the guest reads the chunks and runs the
  router; ``Halted`` stops it (click.cc's ``on_status``; clickos-ctl writes ``Stopped``, which
  that guest ignores, so this module writes ``Halted``);
- a write to ``<r>/elements/<element>/<handler>`` calls that write handler in the running
  router: how a configuration is changed while it runs.

The tools are xen-utils' ``xenstore-*`` commands, run through a ``CommandRunner`` (argv
lists, never a shell) so that tests can capture exactly what would run on a dom0. Each
``xenstore-write`` call is one xenstore transaction, so a configuration appears whole.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence

from pytest_nfv.errors import BackendError

__all__ = [
    "CHUNK_BYTES",
    "CLICKOS_ROOT",
    "ClickosControl",
    "CommandRunner",
    "run_command",
]

CLICKOS_ROOT = "data/clickos"
CHUNK_BYTES = 512

CommandRunner = Callable[[Sequence[str]], str]
"""Runs one argv (no shell) and returns its stdout; raises ``BackendError`` if it fails."""


def run_command(argv: Sequence[str], timeout_s: float = 10.0) -> str:
    """The real runner: ``subprocess.run`` on an argv list; failures become ``BackendError``."""
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackendError(f"{argv[0]}: {exc}") from exc
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()
        raise BackendError(f"{' '.join(argv)} failed ({done.returncode}): {detail}")
    return done.stdout


class ClickosControl:
    """Install, start, stop and write handlers of Click routers in ClickOS domains.

    Args:
        runner: runs the ``xenstore-*`` argv lists.
        sleep: how to wait between polls (tests pass a fake clock).
    """

    def __init__(
        self, runner: CommandRunner = run_command, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._run = runner
        self._sleep = sleep

    @staticmethod
    def root(domid: int) -> str:
        return f"/local/domain/{domid}/{CLICKOS_ROOT}"

    def is_clickos(self, domid: int) -> bool:
        """Whether the guest has announced itself (created its control root)."""
        try:
            self._run(["xenstore-exists", self.root(domid)])
        except BackendError:
            return False
        return True

    def wait_for_clickos(self, domid: int, timeout_s: float, poll_s: float = 0.002) -> None:
        """Until the domain's ClickOS has booted far enough to take a configuration.

        Raises:
            BackendError: it did not within ``timeout_s`` (not a ClickOS image, or it crashed).
        """
        deadline = time.monotonic() + timeout_s
        while not self.is_clickos(domid):
            if time.monotonic() >= deadline:
                raise BackendError(
                    f"domain {domid} did not create {self.root(domid)} within {timeout_s:g} s: "
                    "is the image a ClickOS (MiniOS + Click) kernel?"
                )
            self._sleep(poll_s)

    def routers(self, domid: int) -> list[int]:
        """Router ids installed in the domain."""
        listed = self._run(["xenstore-list", self.root(domid)])
        return sorted(int(word) for word in listed.split() if word.isdigit())

    def install(self, domid: int, name: str, config: str) -> int:
        """Write a configuration under the lowest free router id; returns that id."""
        used = set(self.routers(domid))
        rid = next(i for i in range(len(used) + 1) if i not in used)
        base = f"{self.root(domid)}/{rid}"
        pairs = [
            (f"{base}/config_name", name),
            (f"{base}/control", ""),
            (f"{base}/elements", ""),
            (f"{base}/status", "Stopped"),
        ]
        if not config or not config.isascii():
            raise BackendError("a Click configuration for ClickOS must be non-empty ASCII text")
        for i in range(0, len(config), CHUNK_BYTES):
            pairs.append((f"{base}/config/{i // CHUNK_BYTES}", config[i : i + CHUNK_BYTES]))
        self._run(["xenstore-write", *(item for pair in pairs for item in pair)])
        return rid

    def set_status(self, domid: int, rid: int, running: bool) -> None:
        status = "Running" if running else "Halted"
        self._run(["xenstore-write", f"{self.root(domid)}/{rid}/status", status])

    def start(self, domid: int, name: str, config: str) -> int:
        """Install and run a configuration (what ``clickos-ctl install --start`` does)."""
        rid = self.install(domid, name, config)
        self.set_status(domid, rid, running=True)
        return rid

    def write_handler(self, domid: int, rid: int, element: str, handler: str, value: str) -> None:
        """Call a write handler of a running router."""
        path = f"{self.root(domid)}/{rid}/elements/{element}/{handler}"
        self._run(["xenstore-write", path, value])
