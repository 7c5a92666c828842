"""ClickOS domain XML for libvirt's libxl driver, from a template the user may replace.

The template (``fixtures/domains/clickos.xml``, ``--nfv-domain-template``) has placeholders
for what makes one instance, and must keep the two marks of the run identity that
``pytest_nfv.backends.shared.libvirt`` finds and reaps domains by: the name
(``nfv-<run>-p<pid>-<role>``) and the run's metadata element, to which ``render_domain`` adds
``backend='clickos'`` so that a reap never takes a domain of another backend.
"""

from __future__ import annotations

import string
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from pytest_nfv.backends.shared.libvirt import METADATA_NS
from pytest_nfv.errors import NfvUsageError
from pytest_nfv.host.identity import RunIdentity

__all__ = ["BACKEND", "DomainSpec", "read_template", "render_domain"]

BACKEND = "clickos"
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
    if (
        tag is None
        or tag.get("run_id") != identity.run_id
        or tag.get("owner_pid") != str(identity.owner_pid)
        or tag.get("role") != spec.role
    ):
        raise NfvUsageError(
            f"domain template {source}: keep <metadata><nfv:run xmlns:nfv='{METADATA_NS}' "
            "run_id='${RUN}' owner_pid='${OWNER_PID}' role='${ROLE}'/></metadata>"
        )
    tag.set("backend", BACKEND)
    return ET.tostring(root, encoding="unicode")


def read_template(path: Path) -> str:
    """The template's text.

    Raises:
        NfvUsageError: it cannot be read.
    """
    try:
        return path.read_text()
    except OSError as exc:
        raise NfvUsageError(f"cannot read domain template {path}: {exc}") from exc
