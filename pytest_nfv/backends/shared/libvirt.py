"""The one libvirt layer: connection, transient domains, the run's tag on them, and the reap.

The osv backend (QEMU) and the clickos backend (libxl) both drive libvirt; what they share
lives here, so both tag, find and reap their domains by one rule.

Every domain of ours is transient (``createXML``): destroying it leaves no definition
behind, so a run that dies leaves only running domains. Each carries the run identity
twice: in its name (``nfv-<run>-p<pid>-<role>``) and in a metadata element::

    <metadata><run xmlns="urn:x-pytest-nfv:run:1" run_id=... owner_pid=... role=...
                   backend=.../></metadata>

A domain is ours only if both agree on the run and the owner, and a backend's reap takes
only domains tagged with that backend: never a domain of the other backend, nor a user's
that merely has a similar name.

libvirt-python is imported only when a backend needs it, with its default error printer
(every failure on stderr, even those handled) silenced: errors arrive as exceptions, which
this layer turns into ``BackendError`` or, for a missing module or daemon,
``BackendUnavailable``.

No call waits forever on a daemon that stopped answering (stopped, hung, its socket kept by a
dead process): ``open`` runs in a thread the caller waits for at most ``OPEN_DEADLINE_S``,
and every connection then uses libvirt's own keepalive (as ``virsh`` does), served by
libvirt's default event loop in a thread of its own: a daemon silent for
``KEEPALIVE_INTERVAL_S * (KEEPALIVE_COUNT + 1)`` seconds closes the connection, and the call
waiting on it fails with that reason.
"""

from __future__ import annotations

import contextlib
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from pytest_nfv.backends.base import CleanupReport
from pytest_nfv.errors import BackendError, BackendUnavailable
from pytest_nfv.host.identity import parse_name
from pytest_nfv.host.reap import ReapRule

__all__ = [
    "METADATA_NS",
    "LibvirtConnection",
    "RunTag",
    "dotted_version",
    "import_libvirt",
    "reap_domains",
]

OPEN_DEADLINE_S = 15.0
"""How long ``open`` waits for the daemon: a local libvirtd answers in milliseconds, and one
starting up (its drivers probing the emulators) in a few seconds."""
KEEPALIVE_INTERVAL_S = 5
KEEPALIVE_COUNT = 5
"""libvirt's keepalive: a probe after 5 s of silence, the connection closed after 5 more
unanswered (30 s); virsh's defaults are 5 and 6."""

METADATA_NS = "urn:x-pytest-nfv:run:1"
"""Namespace of the ``<run>`` element every domain of ours carries; reaping looks for it."""


@dataclass(frozen=True)
class RunTag:
    """The run identity a domain carries in its metadata, and which backend made it."""

    run_id: str
    owner_pid: int
    role: str
    backend: str

    def element(self) -> str:
        """The metadata element, as ``domain_xml`` puts it in a domain."""
        return (
            f"<run xmlns='{METADATA_NS}' run_id='{self.run_id}' owner_pid='{self.owner_pid}' "
            f"role='{self.role}' backend='{self.backend}'/>"
        )

    @classmethod
    def parse(cls, xml: str | None) -> RunTag | None:
        """The tag in a domain's metadata element, or None if it is not a whole one of ours."""
        if not xml:
            return None
        try:
            element = ET.fromstring(xml)
            return cls(
                element.attrib["run_id"],
                int(element.attrib["owner_pid"]),
                element.attrib["role"],
                element.attrib["backend"],
            )
        except (ET.ParseError, KeyError, ValueError):
            return None


def import_libvirt(backend: str) -> Any:
    """The libvirt module, with its default stderr error printer silenced.

    Args:
        backend: the backend that needs it, whose extra installs it.

    Raises:
        BackendUnavailable: libvirt-python is not installed.
    """
    try:
        import libvirt
    except ImportError as exc:
        raise BackendUnavailable(
            f"{backend} backend needs libvirt-python: pip install 'pytest-nfv[{backend}]'"
        ) from exc
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    _start_event_loop(libvirt)
    return libvirt


_event_loop_lock = threading.Lock()
_event_loop_started = False


def _start_event_loop(libvirt: Any) -> None:
    """libvirt's default event loop, run in a daemon thread: what its keepalive needs.

    It must be registered before the first connection opens, and once per process.
    """
    global _event_loop_started
    with _event_loop_lock:
        if _event_loop_started:
            return
        libvirt.virEventRegisterDefaultImpl()

        def run() -> None:
            while True:
                libvirt.virEventRunDefaultImpl()

        threading.Thread(target=run, name="libvirt-events", daemon=True).start()
        _event_loop_started = True


def _open_within(libvirt: Any, uri: str, deadline_s: float) -> Any:
    """``libvirt.open(uri)``, waited for at most ``deadline_s``; None if it did not return.

    A connection that arrives after the caller gave up is closed by the thread that made it.

    Raises:
        libvirt.libvirtError: the daemon answered with a refusal.
    """
    outcome: list[Any] = []
    lock = threading.Lock()
    abandoned = False

    def connect() -> None:
        try:
            conn: Any = libvirt.open(uri)
        except libvirt.libvirtError as exc:
            conn = exc
        with lock:
            if abandoned and not isinstance(conn, BaseException):
                with contextlib.suppress(Exception):
                    conn.close()
                return
            outcome.append(conn)

    worker = threading.Thread(target=connect, name=f"libvirt-open {uri}", daemon=True)
    worker.start()
    worker.join(deadline_s)
    with lock:
        if not outcome:
            abandoned = True
            return None
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


def dotted_version(number: int) -> str:
    """libvirt's version numbers (major * 1,000,000 + minor * 1,000 + micro) as ``a.b.c``."""
    return f"{number // 1_000_000}.{number // 1000 % 1000}.{number % 1000}"


class LibvirtConnection:
    """One connection to a hypervisor, for one backend's domains.

    Args:
        uri: the libvirt URI (``qemu:///system``, ``xen:///system``, ``test:///default``).
        backend: the backend whose domains these are (their tag says so).
        open_deadline_s: how long ``open`` waits for the daemon.
        keepalive: libvirt's keepalive interval (s) and count: a daemon silent for
            interval * (count + 1) seconds ends the connection and the call waiting on it.
    """

    def __init__(
        self,
        uri: str,
        backend: str,
        open_deadline_s: float = OPEN_DEADLINE_S,
        keepalive: tuple[int, int] = (KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT),
    ) -> None:
        self.uri = uri
        self.backend = backend
        self.open_deadline_s = open_deadline_s
        self.keepalive = keepalive
        self._libvirt: Any = None
        self._conn: Any = None

    def open(self) -> LibvirtConnection:
        """Connect, and keep the connection alive (see the module note).

        Raises:
            BackendUnavailable: no libvirt-python, nothing answers at the URI, or the daemon
                did not answer within ``open_deadline_s``.
        """
        libvirt = import_libvirt(self.backend)
        try:
            conn = _open_within(libvirt, self.uri, self.open_deadline_s)
        except libvirt.libvirtError as exc:
            raise BackendUnavailable(
                f"{self.backend} backend: cannot connect to libvirt at {self.uri}: "
                f"{exc.get_error_message()} (is libvirtd running? scripts/engines start libvirt)"
            ) from exc
        if conn is None:
            raise BackendUnavailable(
                f"{self.backend} backend: libvirt at {self.uri} did not answer within "
                f"{self.open_deadline_s:g} s (libvirtd stopped or hung?)"
            )
        with contextlib.suppress(libvirt.libvirtError):  # a driver without keepalive (test:)
            conn.setKeepAlive(*self.keepalive)
        self._conn = conn
        self._libvirt = libvirt
        return self

    def close(self) -> None:
        """Disconnect; a connection that is already gone is fine."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # the daemon went first: nothing to close
                conn.close()

    def __enter__(self) -> LibvirtConnection:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def opened(self) -> bool:
        """Whether ``open`` succeeded and ``close`` has not been called since."""
        return self._conn is not None

    @property
    def handle(self) -> Any:
        """The libvirt ``virConnect`` itself, for calls this layer does not wrap."""
        if self._conn is None:
            raise BackendError(f"libvirt connection to {self.uri} is not open")
        return self._conn

    def versions(self) -> tuple[str, str]:
        """``(hypervisor and its version, libvirt's version)``, as the connection reports."""
        conn = self.handle
        hypervisor = f"{conn.getType()} {dotted_version(conn.getVersion())}"
        return hypervisor, dotted_version(conn.getLibVersion())

    def create(self, xml: str, name: str) -> Any:
        """Start a transient domain from ``xml``; returns its libvirt handle.

        Raises:
            BackendError: libvirt refused, with its reason.
        """
        try:
            return self.handle.createXML(xml, 0)
        except self._libvirt.libvirtError as exc:
            raise BackendError(f"libvirt refused to start {name}: {exc}") from exc

    def destroy(self, name: str, domain: Any = None) -> bool:
        """Destroy (and so remove) a domain; False if it was already gone.

        Args:
            name: the domain's name.
            domain: its handle from ``create``, which saves a lookup.

        Raises:
            BackendError: libvirt refused.
        """
        libvirt = self._libvirt
        try:
            if domain is None:
                domain = self.handle.lookupByName(name)
            persistent = domain.isPersistent()  # a transient domain is gone once destroyed
            if domain.isActive():
                domain.destroy()
            if persistent:
                domain.undefine()
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return False
            raise BackendError(f"cannot destroy domain {name}: {exc}") from exc
        return True

    def memory_mib(self, name: str) -> float:
        """The domain's current memory as the hypervisor accounts it.

        Raises:
            BackendError: no such domain, or libvirt refused.
        """
        try:
            return float(self.handle.lookupByName(name).info()[2]) / 1024
        except self._libvirt.libvirtError as exc:
            raise BackendError(f"cannot read the memory of domain {name}: {exc}") from exc

    def tagged(self) -> list[tuple[str, RunTag]]:
        """``(name, tag)`` of every domain this backend's runs tagged, live or dead.

        Raises:
            BackendUnavailable: the daemon stopped answering (the keepalive ended it).
        """
        libvirt = self._libvirt
        found = []
        try:
            domains = self.handle.listAllDomains()
        except libvirt.libvirtError as exc:
            raise BackendUnavailable(
                f"libvirt at {self.uri} did not list its domains: {exc.get_error_message()}"
            ) from exc
        for domain in domains:
            name = domain.name()
            parsed = parse_name(name)
            if parsed is None:
                continue
            try:
                meta = domain.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS)
            except libvirt.libvirtError:
                continue  # no metadata of ours: not our domain, whatever its name
            tag = RunTag.parse(meta)
            if (
                tag is not None
                and tag.backend == self.backend
                and (tag.run_id, tag.owner_pid) == parsed[:2]  # name and tag: the same run
            ):
                found.append((name, tag))
        return found

    def reap(self, rule: ReapRule, *, dry_run: bool) -> CleanupReport:
        """Destroy this backend's domains of the runs ``rule`` takes, on this connection.

        Args:
            rule: which runs go.
            dry_run: only report what would be destroyed.
        """
        report = CleanupReport()
        for name, tag in self.tagged():
            if not rule.takes(tag.run_id, tag.owner_pid, f"domain {name}", report):
                continue
            if not dry_run:
                try:
                    self.destroy(name)
                except BackendError as exc:
                    report.errors.append(str(exc))
                    continue
            report.removed.append(f"domain {name} ({self.uri})")
        return report


def reap_domains(uri: str, rule: ReapRule, *, dry_run: bool, backend: str) -> CleanupReport:
    """Destroy the domains ``backend`` tagged for the runs ``rule`` takes, at ``uri``.

    A missing libvirt-python or a libvirt that does not answer (or stops answering) reaps as
    empty (cleanup must never fail or hang on an engine that is not there) and is named in
    ``uninspected``.

    Args:
        uri: the libvirt URI to look at.
        rule: which runs go.
        dry_run: only report what would be destroyed.
        backend: whose domains (``osv``, ``clickos``); no other backend's are touched.
    """
    connection = LibvirtConnection(uri, backend)
    try:
        with connection:
            return connection.reap(rule, dry_run=dry_run)
    except BackendUnavailable as exc:
        return CleanupReport(uninspected=[f"libvirt at {uri} ({backend} domains): {exc}"])
