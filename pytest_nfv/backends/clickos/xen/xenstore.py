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

Waiting for guests to announce themselves is one ``xenstore-watch`` on ``/local/domain``
(xenstored reports each changed path as it happens) for all the domains of a start, under
one deadline: no domain waits behind another's boot, and no process is forked per poll.
"""

from __future__ import annotations

import contextlib
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from pytest_nfv.errors import BackendError

__all__ = [
    "CHUNK_BYTES",
    "CLICKOS_ROOT",
    "ClickosControl",
    "CommandRunner",
    "PathWatch",
    "run_command",
    "watch_paths",
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


PathWatch = Callable[[str], contextlib.AbstractContextManager[Callable[[float], str | None]]]
"""``watch(path)`` opens a watch on ``path`` and its descendants; inside it, ``next(timeout_s)``
returns the next changed path, or ``None`` when none came within the timeout."""


@contextlib.contextmanager
def watch_paths(path: str) -> Iterator[Callable[[float], str | None]]:
    """The real watch: ``xenstore-watch PATH`` prints one changed path per line.

    A reader thread hands the lines over a queue so that the caller's deadline holds even
    while xenstored stays silent; the process is killed when the watch closes.
    """
    try:
        process = subprocess.Popen(
            ["xenstore-watch", path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
    except OSError as exc:
        raise BackendError(f"xenstore-watch: {exc}") from exc
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.strip())
        lines.put(None)  # the watch ended

    reader = threading.Thread(target=pump, name="xenstore-watch", daemon=True)
    reader.start()

    def next_path(timeout_s: float) -> str | None:
        try:
            found = lines.get(timeout=max(0.0, timeout_s))
        except queue.Empty:
            return None
        if found is None:
            raise BackendError(f"xenstore-watch {path} ended (exit {process.wait()})")
        return found

    try:
        yield next_path
    finally:
        process.kill()
        process.wait()
        reader.join(timeout=5)  # the pipe is at its end once the process is gone
        assert process.stdout is not None
        process.stdout.close()


class ClickosControl:
    """Install, start, stop and write handlers of Click routers in ClickOS domains.

    Args:
        runner: runs the ``xenstore-*`` argv lists.
        watch: opens a xenstore watch (tests pass a scripted one).
    """

    def __init__(self, runner: CommandRunner = run_command, watch: PathWatch = watch_paths) -> None:
        self._run = runner
        self._watch = watch

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

    def announced(self, domids: Sequence[int], deadline: float) -> Iterator[int]:
        """Each of ``domids`` once its ClickOS has booted far enough to take a configuration.

        Yields in the order the guests announce themselves (not the order given), so the
        caller configures each at once; all share one ``deadline`` (``time.monotonic()``).

        Raises:
            BackendError: some had not announced themselves by the deadline (not ClickOS
                images, or they crashed); the message names them.
        """
        pending = {self.root(domid): domid for domid in domids}
        with self._watch("/local/domain") as next_path:
            # Registered now; a guest that announced itself before that gets no event.
            for root, domid in list(pending.items()):
                if self.is_clickos(domid):
                    del pending[root]
                    yield domid
            while pending:
                left = deadline - time.monotonic()
                changed = next_path(left) if left > 0 else None
                if changed is None:
                    if time.monotonic() < deadline:
                        continue
                    names = ", ".join(str(d) for d in pending.values())
                    raise BackendError(
                        f"domain(s) {names} did not create {CLICKOS_ROOT} in time: "
                        "is the image a ClickOS (MiniOS + Click) kernel?"
                    )
                if changed in pending:
                    yield pending.pop(changed)

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
