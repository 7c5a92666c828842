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
"""

from __future__ import annotations

import contextlib
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
    return libvirt


def dotted_version(number: int) -> str:
    """libvirt's version numbers (major * 1,000,000 + minor * 1,000 + micro) as ``a.b.c``."""
    return f"{number // 1_000_000}.{number // 1000 % 1000}.{number % 1000}"


class LibvirtConnection:
    """One connection to a hypervisor, for one backend's domains.

    Args:
        uri: the libvirt URI (``qemu:///system``, ``xen:///system``, ``test:///default``).
        backend: the backend whose domains these are (their tag says so).
    """

    def __init__(self, uri: str, backend: str) -> None:
        self.uri = uri
        self.backend = backend
        self._libvirt: Any = None
        self._conn: Any = None

    def open(self) -> LibvirtConnection:
        """Connect.

        Raises:
            BackendUnavailable: no libvirt-python, or nothing answers at the URI.
        """
        libvirt = import_libvirt(self.backend)
        try:
            self._conn = libvirt.open(self.uri)
        except libvirt.libvirtError as exc:
            raise BackendUnavailable(
                f"{self.backend} backend: cannot connect to libvirt at {self.uri}: "
                f"{exc.get_error_message()} (is libvirtd running? scripts/engines start libvirt)"
            ) from exc
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
        """``(name, tag)`` of every domain this backend's runs tagged, live or dead."""
        libvirt = self._libvirt
        found = []
        for domain in self.handle.listAllDomains():
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

    A missing libvirt-python or a libvirt that does not answer reaps as empty (cleanup must
    never fail on an engine that is not there) and is named in ``uninspected``.

    Args:
        uri: the libvirt URI to look at.
        rule: which runs go.
        dry_run: only report what would be destroyed.
        backend: whose domains (``osv``, ``clickos``); no other backend's are touched.
    """
    try:
        connection = LibvirtConnection(uri, backend).open()
    except BackendUnavailable as exc:
        return CleanupReport(uninspected=[f"libvirt at {uri} ({backend} domains): {exc}"])
    with connection:
        return connection.reap(rule, dry_run=dry_run)
