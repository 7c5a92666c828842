"""The osv guest's build steps that need no network: the cpio writer, vmlinux extraction,
the recipe key, and the KVM verdict's logic (the probe itself is an integration test)."""

from __future__ import annotations

import gzip
import json
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from pytest_nfv.backends.osv import kvm as osv_kvm
from pytest_nfv.backends.osv.guest import RECIPE
from pytest_nfv.backends.osv.kvm import KvmVerdict, cpu_has_virtualization, decide
from pytest_nfv.backends.shared.debian_guest import extract_vmlinux, write_cpio
from pytest_nfv.errors import BackendUnavailable

ENTRIES: list[tuple[str, int, bytes | str | tuple[int, int] | None]] = [
    ("bin", stat.S_IFDIR | 0o755, None),
    ("bin/busybox", stat.S_IFREG | 0o755, b"\x7fELF" + bytes(1001)),
    ("bin/sh", stat.S_IFLNK | 0o777, "busybox"),
    ("dev", stat.S_IFDIR | 0o755, None),
    ("dev/console", stat.S_IFCHR | 0o600, (5, 1)),
    ("init", stat.S_IFREG | 0o755, b"#!/bin/sh\n"),
]


def test_cpio_is_reproducible_and_readable_by_cpio(tmp_path: Path) -> None:
    archive = write_cpio(ENTRIES)
    assert archive == write_cpio(list(reversed(ENTRIES)))  # order of the recipe does not matter
    assert len(archive) % 512 == 0
    if shutil.which("cpio") is None:
        pytest.skip("cpio is not installed to read the archive back")
    listing = subprocess.run(
        ["cpio", "-itv", "--quiet"], input=archive, capture_output=True, check=True
    ).stdout.decode()
    lines = listing.splitlines()
    assert [line.split()[-1] if "->" not in line else line.split()[-3] for line in lines] == [
        "bin",
        "bin/busybox",
        "bin/sh",
        "dev",
        "dev/console",
        "init",
    ]
    console = next(line for line in lines if line.endswith("dev/console"))
    assert console.startswith("crw-------")
    assert "5," in console
    assert "1" in console
    assert "-> busybox" in next(line for line in lines if "bin/sh" in line)


def test_vmlinux_is_found_inside_a_bzimage() -> None:
    elf = b"\x7fELF" + bytes(range(256)) * 40
    bzimage = b"MZ setup code" + bytes(700) + gzip.compress(elf, mtime=0) + b"trailer" * 9
    assert extract_vmlinux("guest", bzimage) == elf


def test_a_bzimage_without_a_kernel_inside_is_refused() -> None:
    with pytest.raises(BackendUnavailable, match="no ELF kernel"):
        extract_vmlinux("guest", b"MZ" + bytes(4096))


def test_recipe_key_is_stable() -> None:
    assert RECIPE.key() == RECIPE.key()
    assert len(RECIPE.key()) == 16


@pytest.mark.parametrize(
    ("cpuinfo", "expected"),
    [
        ("flags\t\t: fpu vme de pse vmx sse\n", True),
        ("flags\t\t: fpu svm\n", True),
        ("flags\t\t: fpu vme de pse hypervisor\n", False),
        ("model name: x\n", False),
    ],
)
def test_cpu_flags(cpuinfo: str, expected: bool) -> None:
    assert cpu_has_virtualization(cpuinfo) is expected


class _Caps:
    def __init__(self, refuse: bool) -> None:
        self.refuse = refuse

    def getDomainCapabilities(self, *args: object) -> str:
        if self.refuse:
            raise RuntimeError("no kvm")
        return "<domainCapabilities/>"


def test_decide_without_vmx_never_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(osv_kvm.Path, "read_text", lambda self, **kw: "flags : fpu hypervisor\n")
    calls: list[int] = []
    verdict = decide(_Caps(False), lambda: calls.append(1) or KvmVerdict(True, "x"))
    assert verdict == KvmVerdict(False, "the CPU flags lack vmx/svm")
    assert calls == []


def test_decide_probes_once_per_boot_and_caches(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real_read = Path.read_text

    def fake_read(self: Path, *args: object, **kwargs: object) -> str:
        if str(self) == "/proc/cpuinfo":
            return "flags : fpu vmx\n"
        return real_read(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(osv_kvm.Path, "read_text", fake_read)
    monkeypatch.setattr(osv_kvm.os, "open", lambda *a: 99)
    monkeypatch.setattr(osv_kvm.os, "close", lambda fd: None)
    monkeypatch.setattr(osv_kvm, "REGISTRY_DIR", tmp_path)
    probes: list[int] = []

    def probe() -> KvmVerdict:
        probes.append(1)
        return KvmVerdict(False, "a kvm probe guest printed nothing in 15 s")

    first = decide(_Caps(False), probe)
    second = decide(_Caps(False), probe)
    assert first == second == KvmVerdict(False, "a kvm probe guest printed nothing in 15 s")
    assert probes == [1]
    (cache,) = tmp_path.glob("kvm-*.json")
    assert json.loads(cache.read_text())["usable"] is False
    refused = decide(_Caps(True), probe)
    assert not refused.usable
    assert "libvirt offers no kvm" in refused.reason
