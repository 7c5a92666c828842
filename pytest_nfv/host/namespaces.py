"""Network namespace primitives, in-process and fast.

``ip netns add`` (and pyroute2's ``netns.create``) fork a process per namespace; for 128
instances that fork dominates boot time. Instead the calling thread enters a fresh namespace
with pyroute2's ``setns(..., fork=False)``, opens what it needs there (a netlink socket, a
child process: both keep the namespace they were made in) and returns to where it was. Names
are bind-mounted under ``/run/netns`` exactly as iproute2 does, so ``ip netns`` sees them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from pyroute2 import IPRoute, netns

from pytest_nfv.errors import BackendError
from pytest_nfv.host.parent_death import dying_with_parent

__all__ = [
    "NETNS_DIR",
    "entered",
    "inside_new",
    "kill_and_wait",
    "kill_members",
    "list_namespaces",
    "namespace_inodes",
    "namespace_path",
    "pids_by_namespace",
    "remove_namespace",
    "set_sysctl_here",
    "spawn_in",
    "without_own_namespace",
    "write_sysctl",
]

NETNS_DIR = Path("/run/netns")


def namespace_path(name: str) -> str:
    return str(NETNS_DIR / name)


@contextlib.contextmanager
def entered(netns_path: str) -> Iterator[None]:
    """Run the body with the calling thread inside ``netns_path``; always come back.

    Sockets and child processes created in the body belong to that namespace for good.
    """
    netns.pushns()
    try:
        netns.setns(netns_path, flags=0, fork=False)
    except OSError as exc:
        netns.dropns()
        raise BackendError(f"cannot enter network namespace {netns_path}: {exc}") from exc
    try:
        yield
    finally:
        netns.popns()


@contextlib.contextmanager
def inside_new(name: str) -> Iterator[IPRoute]:
    """Create namespace ``name``, run the body inside it with a netlink socket, come back.

    The body can start processes and set ``/proc/sys/net`` values for the new namespace
    without another enter/leave round trip. The socket is the caller's to close.

    Only the main thread may create one: the name is bound to ``/proc/self/ns/net``, the
    main thread's namespace, so from any other thread it would name the host's namespace.

    Raises:
        BackendError: the name exists already, the kernel refused (no CAP_SYS_ADMIN), or the
            caller is not the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        raise BackendError(
            f"cannot create network namespace {name} from a thread other than the main one: "
            "its name would be bound to the host's namespace"
        )
    netns.pushns()
    try:
        netns.setns(name, flags=os.O_CREAT | os.O_EXCL, fork=False)
    except OSError as exc:
        netns.dropns()
        raise BackendError(f"cannot create network namespace {name}: {exc}") from exc
    try:
        yield IPRoute()
    finally:
        netns.popns()


def set_sysctl_here(key: str, value: str) -> None:
    """Set a ``net.*`` sysctl of the namespace the calling thread is in."""
    if not key.startswith("net."):
        raise ValueError(f"only per-namespace net.* sysctls may be set, got {key!r}")
    try:
        (Path("/proc/sys") / key.replace(".", "/")).write_text(value)
    except OSError as exc:
        raise BackendError(f"cannot set {key}={value}: {exc}") from exc


def spawn_in(
    netns_path: str, argv: Sequence[str], **popen_kwargs: object
) -> subprocess.Popen[bytes]:
    """Start ``argv`` (no shell) with its network namespace set to ``netns_path``.

    The child inherits the namespace of the thread that forks it, so no ``nsenter`` or
    ``ip netns exec`` process sits in between. It dies with the session
    (``host.parent_death``).
    """
    with entered(netns_path):
        try:
            return subprocess.Popen(dying_with_parent(argv), **popen_kwargs)  # type: ignore[call-overload, no-any-return]
        except OSError as exc:
            raise BackendError(f"cannot start {argv[0]} in {netns_path}: {exc}") from exc


def write_sysctl(netns_path: str, key: str, value: str) -> None:
    """Set a ``net.*`` sysctl of one namespace (``/proc/sys/net`` follows the opener's netns)."""
    with entered(netns_path):
        set_sysctl_here(key, value)


def list_namespaces(prefix: str) -> list[str]:
    """Names under ``/run/netns`` that start with ``prefix``."""
    try:
        return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(prefix))
    except FileNotFoundError:
        return []


def pids_by_namespace(names: Iterable[str]) -> dict[str, list[int]]:
    """Processes living in each named namespace, found by the namespace's inode.

    One pass over ``/proc`` serves every name, so reaping 128 namespaces stays cheap.
    """
    wanted: dict[tuple[int, int], str] = {}
    for name in names:
        with contextlib.suppress(OSError):
            st = os.stat(namespace_path(name))
            wanted[(st.st_dev, st.st_ino)] = name
    found: dict[str, list[int]] = {name: [] for name in wanted.values()}
    if not wanted:
        return found
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{entry}/ns/net")
        except OSError:
            continue
        owner = wanted.get((st.st_dev, st.st_ino))
        if owner is not None:
            found[owner].append(int(entry))
    return found


NetnsInode = tuple[int, int]
"""A network namespace as the kernel knows it: (st_dev, st_ino) of its nsfs file."""


def namespace_inodes(names: Iterable[str]) -> set[NetnsInode]:
    """The namespaces behind these names (names that are gone are left out)."""
    found = set()
    for name in names:
        with contextlib.suppress(OSError):
            st = os.stat(namespace_path(name))
            found.add((st.st_dev, st.st_ino))
    return found


def without_own_namespace(
    inodes: set[NetnsInode], own: NetnsInode | None = None, init: NetnsInode | None = None
) -> set[NetnsInode]:
    """``inodes`` less the namespace the harness itself runs in (``own``) and init's (``init``,
    PID 1's: the host's); each read when None.

    A run's name can end up bound to the host's namespace (a namespace created from a thread
    whose process stayed in the host's is bound as ``/proc/self/ns/net``, the host's); its
    members are then every process of the host, and killing them would take the host down.
    No namespace a run creates is the one its own process runs in, nor the host's. The
    second guard is for a reaper that does not run in the host's namespace (``cleanup`` in
    a container that shares the host's PID namespace): its own namespace is not the host's.
    """
    if own is None:
        own = _netns_of(os.getpid())
    if init is None:
        init = _netns_of(1)
    return {inode for inode in inodes if inode not in (own, init)}


def _netns_of(pid: int) -> NetnsInode | None:
    try:
        st = os.stat(f"/proc/{pid}/ns/net")
    except OSError:
        return None
    return st.st_dev, st.st_ino


def kill_members(inodes: set[NetnsInode], timeout: float = 5.0) -> None:
    """SIGKILL every process inside these namespaces and wait until each has exited.

    A pid from a scan of ``/proc`` may belong to another process by the time it is signalled.
    So each is held by a pidfd, and the namespace is checked again after the pidfd is open:
    the signal then goes to the process that was seen inside, or to no one.

    Raises:
        BackendError: a process outlived SIGKILL.
    """
    inodes = without_own_namespace(inodes)
    if not inodes:
        return
    held: dict[int, int] = {}
    try:
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or (pid := int(entry)) == os.getpid():
                continue
            if _netns_of(pid) not in inodes:
                continue
            try:
                fd = os.pidfd_open(pid)
            except OSError:
                continue  # gone already
            if _netns_of(pid) in inodes:  # still the process that was seen inside
                held[pid] = fd
            else:
                os.close(fd)
        for fd in held.values():
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(fd, signal.SIGKILL)
        _wait_exited(held, timeout)
    finally:
        for fd in held.values():
            os.close(fd)


def _wait_exited(held: dict[int, int], timeout: float) -> None:
    """Wait until every pidfd reports its process exited; reap those that are our children."""
    pending = dict(held)
    deadline = time.monotonic() + timeout
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            raise BackendError(f"processes {sorted(pending)} did not exit after SIGKILL")
        readable = select.select(list(pending.values()), [], [], left)[0]
        for pid, fd in list(pending.items()):
            if fd in readable:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)  # a pidfd cannot be recycled; its pid can't
                del pending[pid]


def kill_and_wait(pids: Iterable[int], timeout: float = 5.0) -> None:
    """SIGKILL ``pids`` and wait until they are gone (reaping our own children).

    Only for our own children, whose pids cannot be reused before we reap them; a process
    found by a scan goes through ``kill_members``.
    """
    pending = set(pids)
    for pid in pending:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done:
                    pending.discard(pid)
                    continue
            except ChildProcessError:
                pass
            if not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
                pending.discard(pid)
        if pending:
            time.sleep(0.005)
    if pending:
        raise BackendError(f"processes {sorted(pending)} did not exit after SIGKILL")


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def remove_namespace(name: str) -> None:
    """Unmount and delete a namespace name; its interfaces go when its last user does."""
    try:
        netns.remove(name)
    except FileNotFoundError:
        return
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise BackendError(f"cannot remove network namespace {name}: {exc}") from exc
