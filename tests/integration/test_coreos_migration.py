"""The coreos backend's container checkpoint and restore, against the real Docker engine.

Where CRIU works and the daemon runs in experimental mode, the proxy container is
checkpointed and restored under host A's probe stream. Where not (CI's host: Debian's CRIU
3.17.1 fails ``criu check``), the boundary is what is tested: the backend's reason is the
probe's own output, and the round skips with it.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator

import pytest

from pytest_nfv.backends.base import Migratable
from pytest_nfv.backends.coreos.backend import CoreosBackend
from pytest_nfv.backends.coreos.checkpoint import LIVE_REASON, trusted_criu
from pytest_nfv.errors import BackendUnavailable
from pytest_nfv.harness.lab import Lab
from pytest_nfv.harness.migration import MigrationRounds
from pytest_nfv.harness.probes.icmp import EchoProber
from pytest_nfv.harness.proxy_path import ProxyPath
from pytest_nfv.host.identity import RunIdentity

docker = pytest.importorskip("docker", reason="the coreos extra (docker SDK) is not installed")


@pytest.fixture(scope="module")
def coreos() -> Iterator[CoreosBackend]:
    """The backend, or a skip with the engine's own answer where no Docker engine answers."""
    backend = CoreosBackend(RunIdentity.new())
    with contextlib.ExitStack() as stack:
        stack.callback(backend.close)
        try:
            backend.open()
        except BackendUnavailable as exc:
            pytest.skip(str(exc))
        yield backend


def _criu_check() -> subprocess.CompletedProcess[str] | None:
    criu = trusted_criu()
    if criu is None:
        return None
    return subprocess.run([str(criu), "check"], capture_output=True, text=True, check=False)


def test_the_reason_is_the_probes_own_output(coreos: CoreosBackend) -> None:
    assert isinstance(coreos, Migratable)
    reason = coreos.migration_block()
    experimental = bool(coreos.docker.client.version().get("Experimental"))
    check = _criu_check()
    if check is None:
        assert reason is not None
        assert "no criu in a root-owned system directory" in reason
    elif check.returncode != 0:
        first_error = next(line for line in check.stderr.splitlines() if line.strip())
        assert reason is not None
        assert first_error.strip() in reason
        assert reason.startswith("container checkpoint needs a working CRIU: `criu check`")
    if not experimental:
        assert reason is not None
        assert "experimental mode" in reason
    if check is not None and check.returncode == 0 and experimental:
        assert reason is None


@pytest.fixture
def path(coreos: CoreosBackend) -> Iterator[ProxyPath]:
    with EchoProber(coreos.probe_netns) as prober:
        testbed = ProxyPath(Lab(coreos, prober, boot_timeout_s=60), echo="udp")
        try:
            yield testbed
        finally:
            testbed.close()


def test_docker_has_no_live_move(coreos: CoreosBackend, path: ProxyPath) -> None:
    assert path.proxy is not None
    with pytest.raises(BackendUnavailable) as caught:
        coreos.migrate_live(path.proxy)
    assert str(caught.value) in (coreos.migration_block(), LIVE_REASON)
    path.round_trip(64, "proxy")  # the refusal left the proxy alone


def test_checkpoint_and_restore_keeps_the_proxy(coreos: CoreosBackend) -> None:
    reason = coreos.migration_block()
    if reason is not None:
        pytest.skip(reason)
    with EchoProber(coreos.probe_netns) as prober:
        path = ProxyPath(Lab(coreos, prober, boot_timeout_s=60), echo="udp")
        try:
            cold = MigrationRounds(path).cold()
            assert cold.engine.image_bytes > 0
            assert cold.engine.save_s > 0
            assert cold.engine.restore_s > 0
            assert cold.seen.lost > 0  # the container stopped while it was dumped
            path.round_trip(64, "proxy")
        finally:
            path.close()
