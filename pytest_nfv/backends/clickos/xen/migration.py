"""Moving a ClickOS domain within its dom0 with xl: live (``xl migrate``), cold (save, restore).

Why xl and not libvirt: libvirt's libxl driver migrates only between two libvirtds, and on
one host the destination's would have to hold a second domain of the same name and UUID
while the source still runs, which its domain list refuses; a second libvirtd would be a
daemon the run does not own. xl moves a domain within one host by design: the source is
renamed ``<name>--migratedaway`` and the destination created as ``<name>--incoming`` until
the switch-over (``xen.xl``).

dom0 has no network and no ssh. ``xl migrate`` normally runs ``ssh HOST xl migrate-receive``;
given an empty ssh command (``-s ''``) it runs its HOST argument itself as the whole
receiver command, through ``sh -c`` (Xen 4.17, ``tools/xl/xl_migrate.c``, ``main_migrate``:
``if (!ssh_command[0]) rune = host;``). That command is the constant ``RECEIVER``, built
here with no outside input: ``dd`` counts the stream on its way to ``xl migrate-receive -e``
(``-e``: no xl process stays to watch the domain afterwards).

The figures, and where each comes from:

- total time: the wall clock of the ``xl migrate`` process, from its start to its exit
  (the source destroyed, the destination running);
- hypervisor downtime: xl reports none, so it is the time between two lines of xl's own
  log, each stamped as it arrives on the pipe from xl (the logger flushes every line):
  libxl's "guest has suspended" on the sender (debug level, hence ``-vvv``), which follows
  the guest's suspension, and the receiver's "Domain started successsfully" (xl's spelling),
  printed right after it unpaused the destination. A log without both lines gives no figure
  and the move is reported failed rather than measured;
- setup time: from the start to the receiver's "Ready to receive domain";
- bytes moved: what ``dd`` copied from the sender to the receiver, as ``dd`` reports it
  when it ends (the xl preamble with the domain's configuration, libxc's stream, the
  handshake);
- pre-copy iterations: not reported. libxc counts them, but xl hides its progress output
  for the whole transfer (``XTL_STDIOSTREAM_HIDE_PROGRESS``), and nothing else shows them.

A move that fails leaves no destination: every domain of the name other than the source is
destroyed. The source runs on when xl resumed it (xl does so itself when the failure came
before the switch-over); one that does not run is destroyed, and the error says which.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_nfv.backends.clickos.xen.xl import Xl, base_name
from pytest_nfv.backends.migration import MigrationProgress, ProgressCallback
from pytest_nfv.errors import BackendError
from pytest_nfv.host.identity import REGISTRY_DIR
from pytest_nfv.host.parent_death import dying_with_parent
from pytest_nfv.host.reap import CleanupReport, ReapRule, reap_named_files

__all__ = [
    "LIVE_METHOD",
    "RECEIVER",
    "SAVE_DIR",
    "SAVE_METHOD",
    "XlMove",
    "live_block",
    "live_figures",
    "reap_save_images",
    "recover",
    "save_image",
    "save_restore",
]

_log = logging.getLogger(__name__)
LIVE_METHOD = "xl migrate to the same dom0 (xl -s '': the receiver runs locally, no ssh)"
SAVE_METHOD = "xl save to a file, then xl restore"
RECEIVER = "dd bs=65536 | xl migrate-receive -e"
"""The receiver command xl runs with ``sh -c``: a constant, no outside input in it."""
MIGRATION_TIMEOUT_S = 300.0
POLL_S = 0.05
SAVE_DIR = REGISTRY_DIR / "clickos"
_SAVE_SUFFIX = ".save"

SUSPENDED = "guest has suspended"
READY = "migration target: Ready to receive domain."
STARTED = "migration target: Domain started successsfully."
_DD_BYTES = re.compile(r"^(\d+) bytes\b.*copied")


def live_block(virt_caps: frozenset[str]) -> str | None:
    """Why a PV domain cannot move live on this hypervisor; None when it can.

    Live migration sends the pages a guest dirtied while the previous pass was being sent,
    which Xen tracks for a PV domain with shadow paging (log-dirty mode); a hypervisor built
    without it refuses (``xc: error: Failed to enable logdirty: 95``, EOPNOTSUPP) once the
    destination is already made. ``xl save`` stops the domain first and needs no such
    tracking.
    """
    if "shadow" in virt_caps:
        return None
    caps = " ".join(sorted(virt_caps)) or "none"
    return (
        "live migration of a PV domain needs Xen's log-dirty tracking, which Xen does with "
        f"shadow paging, and this hypervisor has none (xl info virt_caps: {caps}); "
        "save/restore does not need it"
    )


def _first(lines: Sequence[tuple[float, str]], needle: str) -> float | None:
    return next((stamp for stamp, line in lines if needle in line), None)


def live_figures(
    lines: Sequence[tuple[float, str]], started: float, ended: float
) -> dict[str, Any]:
    """``LiveMigration``'s figures from xl's log lines, each ``(arrival time, text)``.

    Raises:
        BackendError: a line a figure comes from is missing (named in the message).
    """
    suspended = _first(lines, SUSPENDED)
    resumed = _first(lines, STARTED)
    ready = _first(lines, READY)
    moved = next((int(m[1]) for _t, line in lines if (m := _DD_BYTES.match(line))), None)
    missing = [
        what
        for what, value in (
            (f"libxl's {SUSPENDED!r}", suspended),
            (f"the receiver's {STARTED!r}", resumed),
            (f"the receiver's {READY!r}", ready),
            ("dd's count of bytes copied", moved),
        )
        if value is None
    ]
    if missing:
        raise BackendError(f"xl's log of the move lacks {', '.join(missing)}")
    assert suspended is not None
    assert resumed is not None
    assert ready is not None
    assert moved is not None
    if resumed < suspended:
        raise BackendError("xl's log has the destination started before the source suspended")
    return {
        "total_s": ended - started,
        "downtime_s": resumed - suspended,
        "setup_s": ready - started,
        "transferred_bytes": moved,
        "iterations": None,
        "settings": {"receiver": RECEIVER, "downtime": "xl log lines' arrival times"},
    }


class XlMove:
    """One ``xl migrate`` of a domain to the same dom0, watched until it ends.

    Args:
        name: the domain's name (the destination takes it at the switch-over).
        domid: the source's id.
    """

    def __init__(self, name: str, domid: int) -> None:
        self._name = name
        self._domid = domid
        self.log: list[tuple[float, str]] = []

    def run(
        self, on_progress: ProgressCallback | None, timeout_s: float = MIGRATION_TIMEOUT_S
    ) -> dict[str, Any]:
        """Move; the figures (``live_figures``).

        Raises:
            BackendError: xl failed, did not finish in time (killed), or its log lacks a
                figure; the caller recovers (``recover``).
        """
        argv = ["xl", "-vvv", "migrate", "-s", "", str(self._domid), RECEIVER]
        env = {**os.environ, "LC_ALL": "C"}  # dd's count in its plain words
        started = time.monotonic()
        try:
            process = subprocess.Popen(
                dying_with_parent(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
            )
        except OSError as exc:
            raise BackendError(f"xl migrate: {exc}") from exc
        reader = threading.Thread(target=self._read, args=(process,), name="xl-migrate")
        reader.start()
        try:
            self._wait(process, on_progress, started + timeout_s)
        finally:
            if process.poll() is None:
                _kill_tree(process.pid)
                process.wait()
            ended = time.monotonic()
            reader.join(timeout=10)
            assert process.stdout is not None
            process.stdout.close()
        if process.returncode != 0:
            _log.error(
                "xl migrate of domain %d failed; its whole log:\n%s",
                self._domid,
                "\n".join(line for _t, line in self.log),
            )
            raise BackendError(f"xl migrate ended with status {process.returncode}: {self._tail()}")
        return live_figures(self.log, started, ended)

    def _read(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        with contextlib.suppress(OSError, ValueError):  # closed under it after a kill
            for raw in process.stdout:
                self.log.append((time.monotonic(), raw.decode(errors="replace").rstrip()))

    def _wait(
        self,
        process: subprocess.Popen[bytes],
        on_progress: ProgressCallback | None,
        deadline: float,
    ) -> None:
        while process.poll() is None:
            if on_progress is not None:
                on_progress(_progress(process.pid))
            if time.monotonic() > deadline:
                raise BackendError("xl migrate did not finish in time (killed)")
            time.sleep(POLL_S)

    def _tail(self, lines: int = 8) -> str:
        wanted = [line for _t, line in self.log if "debug:" not in line]
        return " | ".join(wanted[-lines:]) or "no output"


def _progress(sender: int) -> MigrationProgress:
    """The receiver's processes and what ``dd`` has read so far (its ``/proc/PID/io``)."""
    import psutil

    receivers: dict[int, int] = {}
    moved = 0
    try:
        children = psutil.Process(sender).children(recursive=True)
    except psutil.Error:
        children = []
    for child in children:
        try:
            cmdline = child.cmdline()
            if "migrate-receive" in cmdline:
                receivers[child.pid] = child.ppid()
            elif cmdline[:1] == ["dd"]:
                moved = child.io_counters().read_chars
        except psutil.Error:
            continue  # ended meanwhile
    # libxl forks copies of xl (same command line) for its own work: the receiver is the one
    # whose parent is not a receiver
    first = tuple(sorted(pid for pid, parent in receivers.items() if parent not in receivers))
    return MigrationProgress("active", moved, first)


def _kill_tree(pid: int) -> None:
    """The sender and the receiver pipeline it started: none outlives a cancelled move."""
    import psutil

    try:
        parent = psutil.Process(pid)
        family = [*parent.children(recursive=True), parent]
    except psutil.Error:
        return
    for process in family:
        with contextlib.suppress(psutil.Error):
            process.kill()


def recover(xl: Xl, name: str, source: int) -> bool:
    """After a failed move: no destination left, the source running or destroyed.

    Every domain of ``name`` (under any of xl's move suffixes) other than ``source`` goes;
    the source gets its name back and is kept if it runs, destroyed if not.

    Returns:
        Whether the source runs on.
    """
    left = None
    for domain in xl.domains():
        if domain.domid == source:
            left = domain
        elif base_name(domain.name) == name and "d" not in domain.state:
            xl.destroy(domain.domid)
    if left is None:
        return False
    if left.running:
        if left.name != name:
            xl.rename(source, name)
        return True
    xl.destroy(source)
    return False


def save_image(name: str, directory: Path = SAVE_DIR) -> Path:
    """Where the domain ``name`` is saved to, in a directory only root can write.

    Raises:
        BackendError: the directory cannot be made, or is not root's own directory.
    """
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.lstat()
    except OSError as exc:
        raise BackendError(f"cannot make {directory} for saved domains: {exc}") from exc
    if directory.is_symlink() or not directory.is_dir() or info.st_uid != os.geteuid():
        raise BackendError(f"{directory} is not a directory of this user's own")
    return directory / f"{name}{_SAVE_SUFFIX}"


def save_restore(xl: Xl, name: str, domid: int, image: Path) -> tuple[int, float, float, int]:
    """``xl save`` then ``xl restore``; the restored domid, seconds of each, the file's bytes.

    The file is removed whatever happens. A domain saved but not restored is gone (a part
    restored is destroyed).

    Raises:
        BackendError: xl refused either (the message says whether the domain is gone).
    """
    try:
        started = time.monotonic()
        xl.save(domid, str(image))
        saved = time.monotonic()
        size = image.stat().st_size
        try:
            xl.restore(str(image))
        except BackendError as exc:
            partial = xl.named(name)
            if partial is not None:
                xl.destroy(partial.domid)
            raise BackendError(f"{exc}; {name} was saved and is gone") from exc
        restored = time.monotonic()
    finally:
        image.unlink(missing_ok=True)
    domain = xl.named(name)
    if domain is None or not domain.running:
        raise BackendError(f"xl restored {name} but it does not run: {domain}")
    return domain.domid, saved - started, restored - saved, size


def reap_save_images(rule: ReapRule, *, dry_run: bool) -> CleanupReport:
    """Remove the saved domain images of the runs ``rule`` takes."""
    return reap_named_files(SAVE_DIR, _SAVE_SUFFIX, "file", rule, dry_run=dry_run)
