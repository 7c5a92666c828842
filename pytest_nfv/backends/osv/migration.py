"""Moving an osv domain: live to a second QEMU on this host over QMP, cold through a file.

libvirt refuses a migration whose source and destination are one host (their host UUIDs
match), and a second libvirtd with a made-up host UUID would be a daemon the run does not
own. So the live move is QEMU's own, driven as QEMU's migration tests drive it, while both
ends stay libvirt domains of the run:

- the destination is a transient domain made from the source's own recipe (same template,
  kernel, command line and MAC; its own name, tap and console) with ``-incoming defer`` on
  QEMU's command line. libvirt starts it as usual and its ``cont`` only arms QEMU to run once
  the state has arrived. It carries the run's tag like every domain, so a run that dies
  mid-move leaves it to ``reap`` like any other;
- QMP through libvirt (``qemuMonitorCommand``): ``migrate-incoming`` on the destination (a
  loopback port QEMU picks), ``migrate`` on the source, ``query-migrate`` until it ends;
- the switch sends the instance's MAC to the destination's port once QEMU says the state
  has moved (the bridge's entry is static; a real network learns it from QEMU's announce);
- the source, paused by QEMU at the end, is destroyed through libvirt.

libvirt's view stays whole: it sees both domains start, the source pause and the
destination resume (QEMU's events), and the source go when it is destroyed; it marks both
tainted for the monitor commands and the extra argument, and nothing else of them is hidden
from it. A move that fails destroys the destination and resumes the source (QEMU resumes it
itself when the failure comes before the switch-over); a source that will not run again is
destroyed too, and the error says so.

The cold move is libvirt's ``save`` (the domain stops, its state goes to a file) and
``restore`` (the same domain, same name, from that file). The file is the run's
(``<domain>.save`` beside the console logs) and ``reap_save_images`` removes those of dead runs.
"""

from __future__ import annotations

import contextlib
import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_nfv.backends.migration import MigrationProgress, ProgressCallback
from pytest_nfv.backends.shared.libvirt import LibvirtConnection
from pytest_nfv.errors import BackendError
from pytest_nfv.host.reap import CleanupReport, ReapRule, reap_named_files

__all__ = [
    "LIVE_METHOD",
    "MIGRATION_TIMEOUT_S",
    "SAVE_METHOD",
    "QmpMove",
    "incoming_xml",
    "live_figures",
    "reap_save_images",
    "save_restore",
    "source_running",
]

QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0"
LIVE_METHOD = "QEMU pre-copy over QMP to a second QEMU on this host (loopback TCP)"
SAVE_METHOD = "libvirt save to a file, then restore"
MIGRATION_TIMEOUT_S = 300.0
"""How long a live move may take before it is cancelled: a guest dirtying memory faster than
the link carries it never converges under pre-copy."""
POLL_S = 0.01
"""Between two ``query-migrate``: the switch-over waits at most this long for the port move."""
SETTLE_S = 10.0
"""How long QEMU may take, once the source is done, to run the destination and to reckon the
move's figures (an emulated CPU on a loaded host is slow at both)."""
_ENDED = ("completed", "failed", "cancelled")
_SAVE_SUFFIX = ".save"


def incoming_xml(xml: str) -> str:
    """The domain ``xml`` started waiting for an incoming migration (``-incoming defer``)."""
    root = ET.fromstring(xml)
    commandline = ET.SubElement(root, f"{{{QEMU_NS}}}commandline")
    for value in ("-incoming", "defer"):
        ET.SubElement(commandline, f"{{{QEMU_NS}}}arg", value=value)
    return ET.tostring(root, encoding="unicode")


def qmp(domain: Any, command: str, **arguments: object) -> Any:
    """One QMP command to a libvirt domain's QEMU; its ``return``.

    Raises:
        BackendError: libvirt or QEMU refused.
    """
    import libvirt
    import libvirt_qemu

    message = json.dumps({"execute": command, "arguments": arguments})
    try:
        answer = json.loads(libvirt_qemu.qemuMonitorCommand(domain, message, 0))
    except libvirt.libvirtError as exc:
        raise BackendError(f"QMP {command}: {exc}") from exc
    if "error" in answer:
        raise BackendError(f"QMP {command}: {answer['error'].get('desc', answer['error'])}")
    return answer.get("return")


def source_running(domain: Any) -> bool:
    """Whether the source runs again after a failed move, resumed here if QEMU did not.

    QEMU resumes a source whose migration failed before the switch-over; one that failed
    after it (the destination lost with the state) is left paused, and resuming it is safe
    since the destination is gone.
    """
    try:
        status = qmp(domain, "query-status")
        if status.get("running"):
            return True
        domain.resume()
        return bool(qmp(domain, "query-status").get("running"))
    except Exception:
        return False


class QmpMove:
    """One live move of a domain to a new domain on the same libvirt, over QMP.

    Args:
        libvirt: the backend's open connection.
        source: the running domain's handle.
        destination: the new domain's name and its (plain) XML.
        plug: puts the new domain's tap on the switch, not yet carrying the instance's MAC.
        switch_over: sends the instance's MAC to the new tap.
        pid_of: the host process of a domain by its name, if known.
    """

    def __init__(
        self,
        libvirt: LibvirtConnection,
        source: Any,
        destination: tuple[str, str],
        plug: Callable[[], None],
        switch_over: Callable[[], None],
        pid_of: Callable[[str], int | None],
    ) -> None:
        self._libvirt = libvirt
        self._source = source
        self._name, self._xml = destination
        self._plug = plug
        self._switch_over = switch_over
        self._pid_of = pid_of

    def run(
        self, on_progress: ProgressCallback | None, timeout_s: float = MIGRATION_TIMEOUT_S
    ) -> tuple[Any, dict[str, Any], dict[str, Any]]:
        """Move; the destination's handle, QEMU's ``query-migrate`` and its parameters.

        Raises:
            BackendError: the move failed; the destination is gone (see the module docstring
                for the source).
        """
        destination = self._libvirt.create(incoming_xml(self._xml), self._name)
        try:
            self._plug()
            qmp(destination, "migrate-incoming", uri="tcp:127.0.0.1:0")
            uri = _listening_uri(qmp(destination, "query-migrate"))
            parameters = qmp(self._source, "query-migrate-parameters")
            qmp(self._source, "migrate", uri=uri)
            info = self._wait(on_progress, timeout_s)
            if info.get("status") != "completed":
                raise BackendError(
                    f"QEMU's migration ended {info.get('status')}: "
                    f"{info.get('error-desc', 'no reason given')}"
                )
            self._await_running(destination)
            self._switch_over()
            info = self._settled(info)
        except BaseException as exc:
            self._abandon(destination)
            if isinstance(exc, BackendError):
                raise BackendError(f"live migration to {self._name} failed: {exc}") from exc
            raise
        return destination, info, parameters

    def _wait(self, on_progress: ProgressCallback | None, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        pid = self._pid_of(self._name)
        while True:
            info: dict[str, Any] = qmp(self._source, "query-migrate")
            status = str(info.get("status", "none"))
            if on_progress is not None:
                moved = int(info.get("ram", {}).get("transferred", 0))
                on_progress(MigrationProgress(status, moved, () if pid is None else (pid,)))
            if status in _ENDED:
                return info
            if time.monotonic() > deadline:
                qmp(self._source, "migrate_cancel")
                raise BackendError(f"not done within {timeout_s:g} s (cancelled)")
            time.sleep(POLL_S)

    def _await_running(self, destination: Any) -> None:
        """Until the destination runs: the source is done once it has sent the last pages,
        the destination a moment later, once it has loaded them.

        Raises:
            BackendError: it stopped migrating without running, or did not run in time.
        """
        deadline = time.monotonic() + SETTLE_S
        while True:
            status = qmp(destination, "query-status")
            if status.get("running"):
                return
            if status.get("status") not in ("inmigrate", "finish-migrate", "prelaunch"):
                raise BackendError(
                    f"the destination QEMU received the state but is {status.get('status')}"
                )
            if time.monotonic() > deadline:
                raise BackendError(
                    f"the destination QEMU did not run within {SETTLE_S:g} s of the move"
                )
            time.sleep(POLL_S)

    def _settled(self, info: dict[str, Any]) -> dict[str, Any]:
        """QEMU's report once its figures are in.

        QEMU says ``completed`` a moment before it has reckoned the move's total time and
        downtime, and reports them as 0 until then: asked again until they are there.
        """
        deadline = time.monotonic() + SETTLE_S
        while not info.get("total-time") and time.monotonic() < deadline:
            time.sleep(POLL_S)
            info = qmp(self._source, "query-migrate")
        if not info.get("total-time"):
            raise BackendError(f"QEMU reported the move done but never its total time: {info}")
        return info

    def _abandon(self, destination: Any) -> None:
        """The destination goes whatever happened; a migration still running is cancelled."""
        try:
            if qmp(self._source, "query-migrate").get("status") not in (*_ENDED, None):
                qmp(self._source, "migrate_cancel")
        except BackendError:
            pass  # the source's QEMU is gone: the backend finds it not running
        with contextlib.suppress(BackendError):  # else reaped with the run's domains at close
            self._libvirt.destroy(self._name, destination)


def _listening_uri(info: dict[str, Any]) -> str:
    """The loopback address the destination listens on (QEMU picked the port)."""
    for address in info.get("socket-address", []):
        if address.get("type") == "inet":
            return f"tcp:{address['host']}:{address['port']}"
    raise BackendError(f"the destination QEMU reports no listening address: {info}")


def live_figures(info: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """``LiveMigration``'s figures from QEMU's ``query-migrate`` (its times are in ms)."""
    ram = info.get("ram", {})
    if "total-time" not in info or "downtime" not in info or "transferred" not in ram:
        raise BackendError(f"QEMU's migration report lacks its figures: {info}")
    settings = {
        key: str(parameters[key])
        for key in ("downtime-limit", "max-bandwidth")
        if key in parameters
    }
    return {
        "total_s": info["total-time"] / 1e3,
        "downtime_s": info["downtime"] / 1e3,
        "setup_s": info.get("setup-time", 0) / 1e3,
        "transferred_bytes": int(ram["transferred"]),
        "iterations": int(ram["dirty-sync-count"]) if "dirty-sync-count" in ram else None,
        "settings": settings,
    }


def save_restore(
    libvirt: LibvirtConnection, domain: Any, name: str, image: Path
) -> tuple[Any, float, float, int]:
    """Save ``domain`` to ``image`` and restore it; handle, seconds of each, the file's bytes.

    The file is removed whatever happens; a domain saved but not restored is gone.

    Raises:
        BackendError: libvirt refused either.
    """
    import libvirt as lv

    try:
        started = time.monotonic()
        try:
            domain.save(str(image))
        except lv.libvirtError as exc:
            raise BackendError(f"libvirt could not save {name}: {exc}") from exc
        saved = time.monotonic()
        size = image.stat().st_size
        try:
            libvirt.handle.restore(str(image))
            restored_domain = libvirt.handle.lookupByName(name)
        except lv.libvirtError as exc:
            raise BackendError(f"libvirt could not restore {name} from {image}: {exc}") from exc
        restored = time.monotonic()
    finally:
        image.unlink(missing_ok=True)
    return restored_domain, saved - started, restored - saved, size


def reap_save_images(directory: Path, rule: ReapRule, *, dry_run: bool) -> CleanupReport:
    """Remove the saved domain images of the runs ``rule`` takes."""
    return reap_named_files(directory, _SAVE_SUFFIX, "file", rule, dry_run=dry_run)


def save_image(directory: Path, name: str) -> Path:
    """Where the domain ``name`` is saved to."""
    return directory / f"{name}{_SAVE_SUFFIX}"
