"""ClickOS domains through libvirt's libxl driver: defined from a template, tagged, reaped.

Domains are created transient (``createXML``): destroying one leaves no definition behind, so
a run that dies leaves only running domains, which ``reap`` finds by their name and metadata.
Each carries the run identity twice: its name (``nfv-<run>-p<pid>-<role>``, what ``reap``
parses) and a metadata element (``<nfv:run run= owner_pid= role= backend=>``, what makes it
ours and a clickos domain, so that a reap never takes a domain of another backend or a user's
that merely has a similar name).
"""

from __future__ import annotations

import string
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from pytest_nfv.backends.base import CleanupReport
from pytest_nfv.errors import BackendError, BackendUnavailable, NfvUsageError
from pytest_nfv.host.identity import RunIdentity, parse_name
from pytest_nfv.host.reap import ReapRule

__all__ = ["METADATA_NS", "DomainSpec", "Domains", "reap_domains", "render_domain"]

METADATA_NS = "https://github.com/pytest-nfv/run"
BACKEND_TAG = "clickos"
MEMORY_MIB = 12  # the paper, section III-B: one vCPU with 12 MB of memory per ClickOS VM
VCPUS = 1
CMDLINE = "-d standard"  # cnplab/cosmos etc/xen/example.cfg: extra = '-d  standard'


@dataclass(frozen=True)
class DomainSpec:
    """What one ClickOS domain needs beyond its template."""

    name: str
    role: str
    kernel: str
    bridge: str
    mac: str
    memory_mib: int = MEMORY_MIB
    vcpus: int = VCPUS
    cmdline: str = CMDLINE


def render_domain(template: str, spec: DomainSpec, identity: RunIdentity, source: str) -> str:
    """The domain XML for ``spec``; the result is checked to be XML carrying name and tag.

    Raises:
        NfvUsageError: the template (``source`` names it) is malformed, has unknown
            placeholders, or drops the name or the run metadata.
    """
    values = {
        "NAME": spec.name,
        "MEMORY_MIB": str(spec.memory_mib),
        "VCPUS": str(spec.vcpus),
        "KERNEL": spec.kernel,
        "CMDLINE": spec.cmdline,
        "BRIDGE": spec.bridge,
        "MAC": spec.mac,
        "RUN": identity.run_id,
        "OWNER_PID": str(identity.owner_pid),
        "ROLE": spec.role,
    }
    quoted = {k: escape(v, {"'": "&apos;", '"': "&quot;"}) for k, v in values.items()}
    try:
        text = string.Template(template).substitute(quoted)
    except (KeyError, ValueError) as exc:
        raise NfvUsageError(f"domain template {source}: unknown or bad placeholder {exc}") from None
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise NfvUsageError(f"domain template {source}: not well-formed XML ({exc})") from None
    if root.findtext("name") != spec.name:
        raise NfvUsageError(f"domain template {source}: <name> must be ${{NAME}}")
    tag = root.find(f"metadata/{{{METADATA_NS}}}run")
    if tag is None or tag.get("run") != identity.run_id or tag.get("role") != spec.role:
        raise NfvUsageError(
            f"domain template {source}: keep <metadata><nfv:run xmlns:nfv='{METADATA_NS}' "
            "run='${RUN}' owner_pid='${OWNER_PID}' role='${ROLE}'/></metadata>"
        )
    tag.set("backend", BACKEND_TAG)
    return ET.tostring(root, encoding="unicode")


def _libvirt() -> Any:
    try:
        import libvirt
    except ImportError as exc:
        raise BackendUnavailable(
            "clickos backend needs libvirt-python (pip install 'pytest-nfv[clickos]')"
        ) from exc
    libvirt.registerErrorHandler(lambda *_: None, None)  # errors arrive as exceptions
    return libvirt


class Domains:
    """One libvirt connection and the domains this run created through it."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._conn: Any = None

    def open(self) -> Domains:
        libvirt = _libvirt()
        try:
            self._conn = libvirt.open(self.uri)
        except libvirt.libvirtError as exc:
            raise BackendUnavailable(f"cannot connect to libvirt at {self.uri}: {exc}") from exc
        return self

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def conn(self) -> Any:
        if self._conn is None:
            raise BackendError(f"libvirt connection to {self.uri} is not open")
        return self._conn

    def version(self) -> str:
        """Hypervisor and libvirt versions, as the connection reports them."""

        def dotted(n: int) -> str:
            return f"{n // 1_000_000}.{n // 1000 % 1000}.{n % 1000}"

        conn = self.conn
        return (
            f"{conn.getType()} {dotted(conn.getVersion())}, libvirt {dotted(conn.getLibVersion())}"
        )

    def create(self, xml: str) -> int:
        """Start a transient domain; returns its Xen domain id."""
        libvirt = _libvirt()
        try:
            return int(self.conn.createXML(xml, 0).ID())
        except libvirt.libvirtError as exc:
            raise BackendError(f"libvirt refused to start a ClickOS domain: {exc}") from exc

    def destroy(self, name: str) -> bool:
        """Destroy (and so remove) a domain; False if it was already gone."""
        libvirt = _libvirt()
        try:
            domain = self.conn.lookupByName(name)
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
        """The domain's current memory as the hypervisor accounts it."""
        libvirt = _libvirt()
        try:
            return float(self.conn.lookupByName(name).info()[2]) / 1024
        except libvirt.libvirtError as exc:
            raise BackendError(f"cannot read the memory of domain {name}: {exc}") from exc

    def tagged(self) -> list[tuple[str, str, int]]:
        """``(name, run, owner pid)`` of every clickos domain tagged by some pytest-nfv run."""
        libvirt = _libvirt()
        found = []
        for domain in self.conn.listAllDomains():
            parsed = parse_name(domain.name())
            if parsed is None:
                continue
            try:
                meta = domain.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS)
            except libvirt.libvirtError:
                continue  # no metadata of ours: not our domain, whatever its name
            tag = ET.fromstring(meta)
            if tag.get("backend") != BACKEND_TAG or tag.get("run") != parsed[0]:
                continue
            found.append((domain.name(), parsed[0], parsed[1]))
        return found


def reap_domains(uri: str, rule: ReapRule, *, dry_run: bool) -> CleanupReport:
    """Destroy the clickos domains of the runs ``rule`` takes at ``uri``.

    An unreachable libvirt reaps as empty.
    """
    report = CleanupReport()
    try:
        domains = Domains(uri).open()
    except BackendUnavailable:
        return report
    try:
        for name, run_id, pid in domains.tagged():
            if not rule.takes(run_id, pid, f"domain {name}", report):
                continue
            if dry_run:
                report.removed.append(f"domain {name} ({uri})")
                continue
            try:
                domains.destroy(name)
                report.removed.append(f"domain {name} ({uri})")
            except BackendError as exc:
                report.errors.append(str(exc))
    finally:
        domains.close()
    return report


def read_template(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise NfvUsageError(f"cannot read domain template {path}: {exc}") from exc
