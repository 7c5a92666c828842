"""The coreos backend's instance image, built locally from the host's own binaries.

No registry is needed (or reachable, on CI): the image is ``FROM scratch`` plus Debian's
``busybox-static`` (the shell, ``sleep`` and ``sed`` the VNF scripts use), the ``iptables``
(nf_tables) and ``conntrack`` binaries, the xtables extensions iptables loads at run time,
every shared library ``ldd`` says these need, and ``proxy_vnf/iptables/`` under ``/proxy``.
Nothing more: a container of it starts as fast as Docker can start anything.

The build context is a deterministic tar (fixed owners and times, sorted), so its SHA-256 is
the image's content hash: the tag carries it and an unchanged recipe on an unchanged host is
built once and reused by every later run. The image is labelled as pytest-nfv's, with the
hash, but belongs to no run: it is a cache, not a run's resource, and runs never remove it.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_nfv.errors import BackendError, BackendUnavailable
from pytest_nfv.resources import proxy_vnf_dir

__all__ = ["IMAGE_REPOSITORY", "LABEL_CONTENT", "LABEL_OWNER", "OWNER", "ImageRecipe", "ensure"]

IMAGE_REPOSITORY = "pytest-nfv/coreos-vnf"
LABEL_OWNER = "io.pytest-nfv.owner"
LABEL_CONTENT = "io.pytest-nfv.content"
OWNER = "pytest-nfv"
XTABLES_DIR = Path("/usr/lib/x86_64-linux-gnu/xtables")
BUSYBOX_APPLETS = ("sh", "sleep", "sed", "cat", "printf", "echo", "ip", "ping", "true")
IPTABLES_NAMES = ("iptables", "iptables-restore", "iptables-save")
# (command, Debian package that provides it): what a missing tool tells the user to install.
TOOLS = (
    ("busybox", "busybox-static"),
    ("xtables-nft-multi", "iptables"),
    ("conntrack", "conntrack"),
)
DOCKERFILE = b"FROM scratch\nCOPY rootfs/ /\nENV PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"


def _which(command: str, package: str) -> Path:
    found = shutil.which(command, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if found is None:
        raise BackendUnavailable(
            f"coreos backend builds its image from this host's {command!r}, which is missing: "
            f"install Debian's {package} (or pass --nfv-image with an image of your own)"
        )
    return Path(found)


def _libraries(binaries: list[Path]) -> set[Path]:
    """Every shared object the binaries load, by ``ldd`` (including the dynamic loader)."""
    needed: set[Path] = set()
    for binary in binaries:
        try:
            done = subprocess.run(
                ["ldd", str(binary)], capture_output=True, text=True, check=False, timeout=30
            )
        except subprocess.TimeoutExpired:
            raise BackendError(f"ldd {binary} did not answer within 30 s") from None
        if done.returncode != 0:  # a static binary: "not a dynamic executable"
            continue
        for line in done.stdout.splitlines():
            words = line.split()
            path = words[2] if len(words) >= 3 and words[1] == "=>" else words[0]
            if path.startswith("/"):
                needed.add(Path(path))
    return needed


@dataclass(frozen=True)
class ImageRecipe:
    """What goes into the image: ``(path in image, host file or None, symlink target)``."""

    files: tuple[tuple[str, Path], ...]
    links: tuple[tuple[str, str], ...]
    proxy: Path

    @classmethod
    def from_host(cls) -> ImageRecipe:
        """Collect the host's binaries and their libraries.

        Raises:
            BackendUnavailable: a needed tool is not installed (naming its Debian package).
        """
        busybox, xtables, conntrack = (_which(c, p).resolve() for c, p in TOOLS)
        extensions = sorted(XTABLES_DIR.glob("*.so")) if XTABLES_DIR.is_dir() else []
        if not extensions:
            raise BackendUnavailable(
                f"coreos backend: no xtables extensions in {XTABLES_DIR}; install Debian's iptables"
            )
        files: dict[str, Path] = {
            "/bin/busybox": busybox,
            "/usr/sbin/xtables-nft-multi": xtables,
            "/usr/sbin/conntrack": conntrack,
        }
        for extension in extensions:
            files[str(extension)] = extension.resolve()
        for library in _libraries([busybox, xtables, conntrack, *extensions]):
            files[str(library)] = library.resolve()
        links = [(f"/bin/{applet}", "busybox") for applet in BUSYBOX_APPLETS]
        links += [(f"/usr/sbin/{name}", "xtables-nft-multi") for name in IPTABLES_NAMES]
        return cls(tuple(sorted(files.items())), tuple(sorted(links)), proxy_vnf_dir() / "iptables")

    def context(self) -> bytes:
        """The build context as a deterministic tar: same recipe, same bytes, same hash."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            _add_bytes(tar, "Dockerfile", DOCKERFILE, 0o644)
            for directory in ("tmp", "run", "proc", "sys", "dev", "etc"):
                info = tarfile.TarInfo(f"rootfs/{directory}")
                info.type, info.mode = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755
                tar.addfile(info)
            _add_bytes(tar, "rootfs/etc/passwd", b"root:x:0:0:root:/:/bin/sh\n", 0o644)
            for inside, host in self.files:
                _add_bytes(tar, "rootfs" + inside, host.read_bytes(), host.stat().st_mode & 0o755)
            for inside, target in self.links:
                info = tarfile.TarInfo("rootfs" + inside)
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
                tar.addfile(info)
            for script in sorted(self.proxy.iterdir()):
                if script.is_file():
                    mode = 0o755 if os.access(script, os.X_OK) else 0o644
                    _add_bytes(tar, f"rootfs/proxy/{script.name}", script.read_bytes(), mode)
        return buffer.getvalue()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 0
    tar.addfile(info, io.BytesIO(data))


def ensure(client: Any, recipe: ImageRecipe | None = None) -> str:
    """The tag of the plugin's image in ``client``'s engine, built first if it is not there.

    Raises:
        BackendUnavailable: a tool the image is made of is missing on this host.
        BackendError: the engine refused the build.
    """
    from docker.errors import DockerException, ImageNotFound

    context = (recipe or ImageRecipe.from_host()).context()
    digest = hashlib.sha256(context).hexdigest()
    tag = f"{IMAGE_REPOSITORY}:{digest[:16]}"
    try:
        client.images.get(tag)
        return tag
    except ImageNotFound:
        pass
    except DockerException as exc:
        raise BackendError(f"cannot look up image {tag}: {exc}") from exc
    try:
        log = client.api.build(
            fileobj=io.BytesIO(context),
            custom_context=True,
            tag=tag,
            labels={LABEL_OWNER: OWNER, LABEL_CONTENT: digest},
            rm=True,
            forcerm=True,
            decode=True,
        )
        for entry in log:
            if "error" in entry:
                raise BackendError(f"building image {tag} failed: {entry['error'].strip()}")
    except DockerException as exc:
        raise BackendError(f"building image {tag} failed: {exc}") from exc
    return tag
