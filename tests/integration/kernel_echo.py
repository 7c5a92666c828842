"""What the backends' integration tests check alike of a testbed timed with ICMP echo."""

from __future__ import annotations

from pytest_nfv.harness.proxy_path import ProxyPath


def assert_the_kernels_of_b_and_b2_answer(path: ProxyPath) -> None:
    """Both paths at sizes around the MTU and 64 KiB, a reconfiguration each way and a
    deployment get the reply of the B they lead to. Called with B's and B2's UDP responders
    gone, it passes only if their kernels answer."""
    assert path.protocol == "icmp"
    for size in (64, 1472, 65507):
        assert path.round_trip(size, "proxy").seconds > 0
        assert path.round_trip(size, "direct").seconds > 0
    assert path.reconfigure() > 0  # B2's kernel, through the proxy
    assert path.round_trip(1024, "proxy").seconds > 0
    assert path.reconfigure() > 0  # and B's again
    assert path.deploy() > 0
