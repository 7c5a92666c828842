"""Xen domains as ``xl`` sees them: listing, destroying and reaping by the run's names.

libvirt's libxl driver knows only the domains it created itself: a domain that ``xl migrate``
or ``xl restore`` brings up (``xen.migration``) is xl's, and libvirt neither lists nor
destroys it. Those are found here by name through ``xl list``, which shows every domain the
hypervisor runs. Xen names are the run's names (``nfv-<run>-p<pid>-<role>``); while xl moves
a domain on one host the source is renamed ``<name>--migratedaway`` and the destination
created as ``<name>--incoming`` (Xen 4.17's ``tools/xl/xl_migrate.c`` and
``xl_vmcontrol.c``), so a run killed half-way through a move leaves names with those
suffixes, which ``reap_xl_domains`` strips before it decides whose a domain is.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pytest_nfv.backends.base import CleanupReport
from pytest_nfv.backends.clickos.xen.xenstore import run_command
from pytest_nfv.errors import BackendError
from pytest_nfv.host.reap import ReapRule

__all__ = [
    "MOVE_SUFFIXES",
    "XL_TIMEOUT_S",
    "Xl",
    "XlDomain",
    "base_name",
    "describe_hypervisor",
    "parse_virt_caps",
    "parse_xl_list",
    "reap_xl_domains",
]

MOVE_SUFFIXES = ("--incoming", "--migratedaway")
"""What xl appends to a domain's name while it moves it to the same host."""
XL_TIMEOUT_S = 300.0
"""For one xl command: saving or restoring a domain under emulation takes tens of seconds."""
_STOPPED_FLAGS = "pscd"  # paused, shut down (suspended included), crashed, dying


@dataclass(frozen=True)
class XlDomain:
    """One line of ``xl list``."""

    name: str
    domid: int
    memory_mib: int
    state: str

    @property
    def running(self) -> bool:
        """Scheduled or blocked, as a guest that runs is; not paused, suspended or dying."""
        return not any(flag in self.state for flag in _STOPPED_FLAGS)


def parse_xl_list(text: str) -> list[XlDomain]:
    """The domains in ``xl list``'s output (its header and dom0 included).

    Raises:
        BackendError: a line is not ``Name ID Mem VCPUs State Time(s)``.
    """
    found = []
    for line in text.splitlines():
        words = line.split()
        if not words or words[0] == "Name":
            continue
        if len(words) < 5 or not words[-5].isdigit() or not words[-4].isdigit():
            raise BackendError(f"xl list: cannot read the line {line!r}")
        # the state column: six places, each a flag letter or '-' (xl_info.c)
        name = " ".join(words[:-5])
        found.append(XlDomain(name, int(words[-5]), int(words[-4]), words[-2]))
    return found


def parse_virt_caps(info: str) -> frozenset[str]:
    """The hypervisor's capabilities from ``xl info`` (its ``virt_caps`` line).

    Raises:
        BackendError: ``xl info`` printed no such line.
    """
    for line in info.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "virt_caps":
            return frozenset(value.split())
    raise BackendError("xl info printed no virt_caps line")


def describe_hypervisor(info: str) -> str:
    """The running hypervisor as ``xl info`` gives it: its full version and capabilities.

    libvirt reports only the major and minor version, so a run on a user's own build (one
    with shadow paging, say) would read like Debian's; this tells them apart in the record.
    """
    fields = {}
    for line in info.splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    version = fields.get("xen_version") or "?"
    caps = fields.get("virt_caps") or "?"
    return f"Xen {version} as xl reports it (virt_caps: {caps})"


def base_name(name: str) -> str:
    """``name`` without the suffix xl gives a domain it is moving."""
    for suffix in MOVE_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _long_run(argv: Sequence[str]) -> str:
    return run_command(argv, XL_TIMEOUT_S)


class Xl:
    """The ``xl`` commands the backend needs, run as argv lists (never through a shell).

    Args:
        runner: runs one argv and returns its stdout (tests capture them).
    """

    def __init__(self, runner: Callable[[Sequence[str]], str] = _long_run) -> None:
        self._run = runner

    @staticmethod
    def missing() -> str | None:
        """Why xl cannot be run here; None when it can."""
        return None if shutil.which("xl") else "xl (xen-utils) is not on PATH"

    def virt_caps(self) -> frozenset[str]:
        return parse_virt_caps(self._run(["xl", "info"]))

    def hypervisor(self) -> str:
        return describe_hypervisor(self._run(["xl", "info"]))

    def domains(self) -> list[XlDomain]:
        return parse_xl_list(self._run(["xl", "list"]))

    def named(self, name: str) -> XlDomain | None:
        return next((d for d in self.domains() if d.name == name), None)

    def destroy(self, domid: int) -> None:
        """Destroy one domain by its id (a name may be reused by a move under way)."""
        self._run(["xl", "destroy", str(domid)])

    def rename(self, domid: int, name: str) -> None:
        self._run(["xl", "rename", str(domid), name])

    def save(self, domid: int, path: str) -> None:
        """``xl save``: the domain's state to ``path``; the domain is gone after."""
        self._run(["xl", "save", str(domid), path])

    def restore(self, path: str) -> None:
        """``xl restore -e``: no xl process stays behind to watch the restored domain."""
        self._run(["xl", "restore", "-e", path])


def reap_xl_domains(rule: ReapRule, *, dry_run: bool, xl: Xl | None = None) -> CleanupReport:
    """Destroy the domains xl lists under one of our names (a move's suffixes stripped) of
    the runs ``rule`` takes; a host without xl has none."""
    report = CleanupReport()
    if xl is None:
        if Xl.missing() is not None:
            return report
        xl = Xl()
    try:
        domains = xl.domains()
    except BackendError as exc:
        report.uninspected.append(f"xen domains (xl list): {exc}")
        return report
    for domain in domains:
        if "d" in domain.state:
            continue  # dying already (a libvirt reap before this one destroyed it)
        label = f"domain {domain.name}"
        if not rule.takes_name(base_name(domain.name), label, report):
            continue
        if not dry_run:
            try:
                xl.destroy(domain.domid)
            except BackendError as exc:
                report.errors.append(str(exc))
                continue
        report.removed.append(label)
    return report
