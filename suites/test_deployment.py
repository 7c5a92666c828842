"""VNF deployment: placing the proxy VNF, reconfiguring it while it runs, and its memory.

Deployment time runs from the proxy instance's start request until host A gets its first
reply through it from host B: the VNF is deployed when it does its job, not when its process
exists. Reconfiguration points the running proxy at another host B and times until that host's
replies come back through it.
"""

from __future__ import annotations

import pytest

from pytest_nfv import ProxyPath, Recorder, Repeat, Series

pytestmark = pytest.mark.nfv_requirement("deployment")


def test_deploy_time(nfv_testbed: ProxyPath, nfv_repeat: Repeat, nfv_record: Recorder) -> None:
    deployed = nfv_repeat(nfv_testbed.deploy, "boot_time")
    nfv_record.record(
        Series(
            "boot_time",
            deployed,
            primary=True,
            extra={"from": "proxy start request", "to": "first reply via proxy"},
        )
    )


def test_reconfigure_time(nfv_testbed: ProxyPath, nfv_repeat: Repeat, nfv_record: Recorder) -> None:
    reconfigured = nfv_repeat(nfv_testbed.reconfigure, "reconfigure_time")
    nfv_testbed.back_to_b()  # an odd number of rounds ends at B2: leave the testbed as found
    nfv_record.record(
        Series(
            "reconfigure_time",
            reconfigured,
            primary=True,
            extra={"change": "proxy destination B <-> B2"},
        )
    )


def test_proxy_memory(nfv_testbed: ProxyPath, nfv_repeat: Repeat, nfv_record: Recorder) -> None:
    memory = nfv_repeat(nfv_testbed.proxy_memory_mib, "memory")
    nfv_record.record(
        Series(
            "memory",
            memory,
            primary=True,
            extra={"method": "PSS of the proxy VNF's processes"},
        )
    )
