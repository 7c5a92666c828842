"""The Docker engine as the coreos backend reaches it: connecting, labels, and crash recovery.

Kept apart from the backend so that ``pytest-nfv cleanup`` and the session's start-up sweep
(``reap``) need none of the backend's machinery: they list what carries the plugin's labels,
ask ``identity.owner_alive`` about each run, and remove the containers and networks of dead
runs. An engine that does not answer within a few seconds reaps as empty.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from typing import Any

from pytest_nfv.backends.base import CleanupReport, EngineTargets
from pytest_nfv.backends.coreos.checkpoint import reap_checkpoints
from pytest_nfv.backends.coreos.image import LABEL_OWNER, OWNER
from pytest_nfv.errors import BackendError, BackendUnavailable
from pytest_nfv.host.namespaces import kill_members
from pytest_nfv.host.reap import ReapRule

__all__ = [
    "LABEL_PID",
    "LABEL_ROLE",
    "LABEL_RUN",
    "Stuck",
    "client_for",
    "reap",
    "remove_network",
    "target_of",
]

LABEL_RUN = "io.pytest-nfv.run"
LABEL_PID = "io.pytest-nfv.pid"
LABEL_ROLE = "io.pytest-nfv.role"
REAP_TIMEOUT_S = 3


def target_of(url: str | None) -> str:
    """The engine a URL option means: itself, else ``$DOCKER_HOST``, else the local socket."""
    return url or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def client_for(url: str | None, timeout: int) -> Any:
    """A Docker client for ``url`` (None: ``$DOCKER_HOST`` or the local socket).

    Raises:
        BackendUnavailable: the SDK is not installed or no engine answers.
    """
    try:
        import docker
    except ImportError as exc:
        raise BackendUnavailable(
            "coreos backend needs the Docker SDK for Python: pip install 'pytest-nfv[coreos]'"
        ) from exc
    where = target = target_of(url)
    if target.startswith("unix://") and not os.path.exists(target[len("unix://") :]):
        raise BackendUnavailable(
            f"coreos backend: no Docker engine answers at {where}: "
            f"there is no socket {target[len('unix://') :]} (is dockerd running?)"
        )
    client = None
    try:
        client = (
            docker.DockerClient(base_url=url, timeout=timeout)
            if url
            else docker.from_env(timeout=timeout)
        )
        client.ping()
    except Exception as exc:  # DockerException, or the transport's own connection errors
        if client is not None:
            client.close()
        raise BackendUnavailable(
            f"coreos backend: no Docker engine answers at {where}: {exc}"
        ) from None
    return client


@contextlib.contextmanager
def _reap_client(url: str | None, report: CleanupReport) -> Iterator[Any]:
    try:
        client = client_for(url, REAP_TIMEOUT_S)
    except BackendUnavailable as exc:
        report.uninspected.append(f"docker at {target_of(url)}: {exc}")
        yield None
        return
    try:
        yield client
    finally:
        client.close()


class Stuck(BackendError):
    """The engine refuses to remove something nothing uses, for a fault of its own."""


def remove_network(api: Any, network: str, timeout_s: float = 10.0) -> None:
    """Remove a network, waiting out the engine's asynchronous release of endpoints.

    Right after many containers are removed, dockerd may still count their endpoints for a
    moment and refuse with "has active endpoints".
    """
    from docker.errors import APIError, NotFound

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            api.remove_network(network)
            return
        except NotFound:
            return
        except APIError as exc:
            if "active endpoints" not in str(exc):
                raise
            if time.monotonic() > deadline:
                if api.inspect_network(network).get("Containers"):
                    raise
                raise Stuck(
                    "dockerd counts endpoints on it though no container is attached "
                    "(moby/moby#42119); it can be removed once dockerd restarts"
                ) from exc
        time.sleep(0.2)


def _netns_inode(pid: int) -> tuple[int, int] | None:
    try:
        st = os.stat(f"/proc/{pid}/ns/net")
    except OSError:
        return None
    return st.st_dev, st.st_ino


def reap(
    rule: ReapRule, *, dry_run: bool = False, targets: EngineTargets | None = None
) -> CleanupReport:
    """Remove the containers and networks of the runs ``rule`` takes.

    Only what carries the plugin's owner label is looked at. Host processes a run placed in
    its containers' namespaces go first. An engine that does not answer within a few seconds
    reaps as empty, and the report names it as not inspected.
    """
    report = CleanupReport()
    report.merge(reap_checkpoints(rule, dry_run=dry_run))
    with _reap_client((targets or EngineTargets()).docker_url, report) as client:
        if client is None:
            return report
        selector = {"label": [f"{LABEL_OWNER}={OWNER}", LABEL_RUN]}
        if rule.only_run is not None:
            selector["label"].append(f"{LABEL_RUN}={rule.only_run}")
        try:
            containers = client.api.containers(all=True, filters=selector)
            networks = client.api.networks(filters=selector)
        except Exception as exc:
            report.errors.append(f"docker: cannot list containers: {exc}")
            return report

        def doomed(labels: dict[str, str], what: str) -> bool:
            run, pid = labels.get(LABEL_RUN, ""), labels.get(LABEL_PID, "")
            return rule.takes(run, int(pid) if pid.isdigit() else 0, what, report)

        victims = [c for c in containers if doomed(c["Labels"], f"container {c['Names'][0][1:]}")]
        nets = [n for n in networks if doomed(n["Labels"], f"network {n['Name']}")]
        if dry_run:
            report.removed += [f"container {c['Names'][0][1:]}" for c in victims]
            report.removed += [f"network {n['Name']}" for n in nets]
            return report
        inodes = set()
        for container in victims:
            with contextlib.suppress(Exception):
                pid = int(client.api.inspect_container(container["Id"])["State"]["Pid"])
                if pid and (inode := _netns_inode(pid)) is not None:
                    inodes.add(inode)
        with contextlib.suppress(BackendError):
            kill_members(inodes)
        for container in victims:
            name = container["Names"][0][1:]
            try:
                client.api.remove_container(container["Id"], force=True, v=True)
                report.removed.append(f"container {name}")
            except Exception as exc:
                if "No such container" not in str(exc):
                    report.errors.append(f"docker: cannot remove container {name}: {exc}")
        for network in nets:
            try:
                # Endpoints of containers just removed may take a moment to be released.
                remove_network(client.api, network["Id"], 3.0 if victims else 0.0)
                report.removed.append(f"network {network['Name']}")
            except Stuck as exc:
                report.stuck.append(f"network {network['Name']}: {exc}")
            except Exception as exc:
                if "not found" not in str(exc).lower():
                    report.errors.append(f"docker: cannot remove network {network['Name']}: {exc}")
    return report
