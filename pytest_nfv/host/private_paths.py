"""Paths root reads code or images from: root's, no symlink, writable by no one else.

Root runs the compiled helpers and boots the cached guests; a file another user could have
replaced, or a directory where they could have planted an entry, would hand that user root's
rights (a helper) or the run's results (a guest). Every such path is checked, and every
directory above it, each time it is handed out.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pytest_nfv.errors import BackendUnavailable

__all__ = ["check_private"]


def check_private(path: Path) -> None:
    """``path`` and every directory above it: root's, no symlink, writable by root alone.

    A sticky directory (``/tmp``) above the immediate parent is accepted: others may add
    entries there but not replace root's own.

    Raises:
        BackendUnavailable: one of them is not (the message names it and why).
    """
    for part in (path, *path.parents):
        info = os.lstat(part)
        if stat.S_ISLNK(info.st_mode):
            raise BackendUnavailable(f"{part} is a symbolic link: root takes nothing through it")
        if info.st_uid != 0:
            raise BackendUnavailable(f"{part} belongs to uid {info.st_uid}, not root")
        sticky = stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX
        if info.st_mode & 0o022 and not (sticky and part != path.parent):
            raise BackendUnavailable(f"{part} is writable by others (mode {info.st_mode:o})")
