"""A user's OSv image: which files each option takes, and the budgets picked for what runs."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from pytest_nfv.backends.base import BackendSettings
from pytest_nfv.backends.osv import capacity
from pytest_nfv.backends.osv.backend import OsvBackend
from pytest_nfv.backends.osv.image import (
    disk_cmdline,
    disk_format,
    kernel_cmdline,
    resolve_image,
)
from pytest_nfv.backends.osv.kvm import KvmVerdict
from pytest_nfv.errors import NfvUsageError
from pytest_nfv.host.identity import RunIdentity


def _raw_disk(cmdline: str) -> bytes:
    """A raw disk's first sectors: a boot sector, then OSv's command line at byte 512."""
    return bytes(510) + b"\x55\xaa" + cmdline.encode() + bytes(1024 - len(cmdline))


def _qcow2_disk(cmdline: str, cluster_bits: int = 16) -> bytes:
    """A qcow2 file whose guest disk holds ``_raw_disk(cmdline)`` in its first cluster:
    header, L1 table, L2 table and one data cluster, in the format's own layout."""
    cluster = 1 << cluster_bits
    l1, l2, data = cluster, 2 * cluster, 3 * cluster
    header = struct.pack(">4sIQIIQIIQQIIQ", b"QFI\xfb", 2, 0, 0, cluster_bits, 1 << 30, 0, 1,
                         l1, 0, 0, 0, 0)  # fmt: skip
    content = bytearray(4 * cluster)
    content[: len(header)] = header
    content[l1 : l1 + 8] = struct.pack(">Q", l2 | 1 << 63)  # the copied flag, as qemu sets
    content[l2 : l2 + 8] = struct.pack(">Q", data | 1 << 63)
    disk = _raw_disk(cmdline)
    content[data : data + len(disk)] = disk
    return bytes(content)


@pytest.fixture
def images(tmp_path: Path) -> Path:
    """A directory QEMU's user could enter, with one file of each kind."""
    tmp_path.chmod(0o755)
    for parent in tmp_path.parents:  # pytest's base temp is 0700: lend it o+x for the test
        if not parent.stat().st_mode & 0o001:
            parent.chmod(parent.stat().st_mode | 0o001)
    (tmp_path / "usr.qcow2").write_bytes(b"QFI\xfb" + bytes(508))
    (tmp_path / "usr.img").write_bytes(_raw_disk("/nfv-relay 7 12"))
    (tmp_path / "loader.elf").write_bytes(b"\x7fELF" + bytes(60))
    (tmp_path / "notes.txt").write_text("not an image\n" * 100)
    for path in tmp_path.iterdir():
        path.chmod(0o644)
    return tmp_path


def test_disk_format_is_read_from_the_bytes_not_the_name(images: Path) -> None:
    assert disk_format(images / "usr.qcow2") == "qcow2"
    assert disk_format(images / "usr.img") == "raw"
    renamed = images / "looks.qcow2"
    (images / "usr.img").rename(renamed)
    assert disk_format(renamed) == "raw"
    with pytest.raises(NfvUsageError, match="not an OSv disk image"):
        disk_format(images / "notes.txt")


def test_the_two_forms(images: Path) -> None:
    disk = resolve_image(str(images / "usr.qcow2"), None)
    assert disk is not None
    assert disk.kernel is None
    assert disk.disk_format == "qcow2"
    assert "its own command line" in disk.form
    kernel = resolve_image(str(images / "usr.img"), images / "loader.elf")
    assert kernel is not None
    assert kernel.kernel == images / "loader.elf"
    assert kernel.disk == images / "usr.img"
    assert "read-only disk" in kernel.form
    alone = resolve_image(None, images / "loader.elf")
    assert alone is not None
    assert alone.disk is None
    assert resolve_image(None, None) is None


@pytest.mark.parametrize(
    ("image", "kernel", "message"),
    [
        ("notes.txt", None, "--nfv-image .*not an OSv disk image"),
        ("absent.img", None, "--nfv-image .*no such file"),
        (None, "notes.txt", "--nfv-kernel .*not an ELF"),
        ("usr.img", "usr.img", "--nfv-kernel .*not an ELF"),
    ],
)
def test_wrong_files_are_usage_errors_naming_the_option(
    images: Path, image: str | None, kernel: str | None, message: str
) -> None:
    with pytest.raises(NfvUsageError, match=message):
        resolve_image(str(images / image) if image else None, images / kernel if kernel else None)


def test_a_file_qemu_cannot_read_is_refused(images: Path) -> None:
    (images / "usr.img").chmod(0o600)
    with pytest.raises(NfvUsageError, match="QEMU's user cannot read it"):
        resolve_image(str(images / "usr.img"), None)
    (images / "usr.img").chmod(0o644)
    images.chmod(0o700)
    try:
        with pytest.raises(NfvUsageError, match=f"{images} has mode drwx------"):
            resolve_image(str(images / "usr.img"), None)
    finally:
        images.chmod(0o755)


def test_kernel_command_line_gives_address_gateway_then_program() -> None:
    assert kernel_cmdline("10.213.1.0", "255.255.0.0", "10.213.0.1", "/nfv-relay a b") == (
        "--ip=eth0,10.213.1.0,255.255.0.0 --defaultgw=10.213.0.1 /nfv-relay a b"
    )


@pytest.mark.parametrize(
    ("image", "verdict", "stem", "why"),
    [
        (False, KvmVerdict(True, "probe booted"), "osv-standin", "stand-in guest"),
        (False, KvmVerdict(False, "no vmx"), "osv-standin", "stand-in guest"),
        (True, KvmVerdict(True, "probe booted"), "osv", "paper's OS^v"),
        (True, KvmVerdict(False, "the CPU flags lack vmx/svm"), "osv-tcg", "vmx/svm"),
        (True, None, "osv", "not yet probed"),
    ],
)
def test_budgets_follow_the_guest_and_the_accelerator(
    images: Path,
    monkeypatch: pytest.MonkeyPatch,
    image: bool,
    verdict: KvmVerdict | None,
    stem: str,
    why: str,
) -> None:
    monkeypatch.setattr(capacity, "quick_verdict", lambda: verdict)
    settings = BackendSettings(image=str(images / "usr.img") if image else None)
    choice = OsvBackend(RunIdentity.new(), settings).budget_choice()
    assert choice is not None
    path, reason = choice
    assert path.name == f"{stem}.toml"
    assert path.is_file()
    assert why in reason


def test_an_image_boots_from_the_64_mib_template(images: Path) -> None:
    backend = OsvBackend(RunIdentity.new(), BackendSettings(image=str(images / "usr.img")))
    assert Path(backend._template_path).name == "osv-image.xml"
    assert os.path.basename(OsvBackend(RunIdentity.new(), BackendSettings())._template_path) == (
        "osv.xml"
    )


@pytest.mark.parametrize("form", ["raw", "qcow2"])
def test_a_disk_s_own_command_line_is_read_from_its_bytes(tmp_path: Path, form: str) -> None:
    disk = tmp_path / "usr.img"
    build = _raw_disk if form == "raw" else _qcow2_disk
    disk.write_bytes(build("--verbose /nfv-relay 7 12"))
    assert disk_cmdline(disk, disk_format(disk)) == "--verbose /nfv-relay 7 12"


@pytest.mark.parametrize("form", ["raw", "qcow2"])
def test_a_disk_whose_command_line_sets_an_address_is_refused_before_boot(
    images: Path, form: str
) -> None:
    """Every instance would take that address: each boot waited out the whole timeout."""
    build = _raw_disk if form == "raw" else _qcow2_disk
    (images / "fixed.img").write_bytes(build("--ip=eth0,192.168.122.5,255.255.255.0 /nfv-relay"))
    (images / "fixed.img").chmod(0o644)
    with pytest.raises(NfvUsageError, match=r"sets an address .*--ip=eth0,192\.168\.122\.5"):
        resolve_image(str(images / "fixed.img"), None)


def test_a_disk_that_runs_another_program_is_refused_before_boot(images: Path) -> None:
    (images / "other.img").write_bytes(_raw_disk("/tools/iperf3.so -s"))
    (images / "other.img").chmod(0o644)
    with pytest.raises(NfvUsageError, match=r"'/tools/iperf3\.so -s'\) does not run /nfv-relay"):
        resolve_image(str(images / "other.img"), None)


def test_with_a_kernel_the_disk_s_command_line_is_not_the_one_booted(images: Path) -> None:
    (images / "fixed.img").write_bytes(_raw_disk("--ip=eth0,10.0.0.5,255.0.0.0 /other"))
    (images / "fixed.img").chmod(0o644)
    booted = resolve_image(str(images / "fixed.img"), images / "loader.elf")
    assert booted is not None
    assert booted.kernel == images / "loader.elf"


def test_a_compressed_first_cluster_cannot_say_and_is_not_refused(tmp_path: Path) -> None:
    disk = tmp_path / "usr.qcow2"
    content = bytearray(_qcow2_disk("--ip=eth0,10.0.0.5,255.0.0.0 /other"))
    l2 = 2 << 16
    entry = struct.unpack(">Q", content[l2 : l2 + 8])[0]
    content[l2 : l2 + 8] = struct.pack(">Q", entry | 1 << 62)
    disk.write_bytes(bytes(content))
    assert disk_cmdline(disk, "qcow2") is None


def test_under_tcg_the_defaults_fit_the_host_and_under_kvm_nothing_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """16 stand-in guests booting beside 16 took 69 s here under TCG: past the 60 s floor."""
    monkeypatch.setattr(capacity.os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(capacity, "quick_verdict", lambda: KvmVerdict(False, "no vmx"))
    emulated = OsvBackend(RunIdentity.new(), BackendSettings())
    most = emulated.most_instances()
    assert most is not None
    assert most[0] == 16  # half of 2 CPUs at 0.06 CPU per idle guest
    assert emulated.boot_deadline_s(16) == pytest.approx(3 * 16 * 5 / 2)  # none running yet
    assert "under TCG" in emulated.boot_deadline_rule
    monkeypatch.setattr(capacity, "quick_verdict", lambda: KvmVerdict(True, "probe booted"))
    accelerated = OsvBackend(RunIdentity.new(), BackendSettings())
    assert accelerated.most_instances() is None
    assert accelerated.boot_deadline_s(128) == 0.0
