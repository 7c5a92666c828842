"""Physical and virtual NFs coexistence: memory with the testbed up, and response time while
N other instances run on the same host and switch.
"""

from __future__ import annotations

import pytest

from pytest_nfv import Instance, Lab, ProxyPath, Recorder, Repeat, Series

pytestmark = pytest.mark.nfv_requirement("coexistence")


def test_memory_beside_testbed(
    nfv_testbed: ProxyPath, nfv_lab: Lab, nfv_n: int, nfv_repeat: Repeat, nfv_record: Recorder
) -> None:
    memory = nfv_repeat(lambda: nfv_lab.memory_round(nfv_n).host_delta_mib, "memory")
    nfv_record.record(
        Series(
            "memory",
            memory,
            "memory",
            primary=True,
            extra={
                "method": "host MemAvailable drop for N instances "
                "started beside the running testbed"
            },
        ),
        n=nfv_n,
    )


def test_response_time_among_instances(
    nfv_testbed: ProxyPath,
    nfv_population: list[Instance],
    nfv_n: int,
    nfv_packet_size: int,
    nfv_repeat: Repeat,
    nfv_record: Recorder,
) -> None:
    assert len(nfv_population) == nfv_n
    proxied = nfv_repeat(
        lambda: nfv_testbed.round_trip(nfv_packet_size, "proxy").seconds, "response_time"
    )
    nfv_record.record(
        Series("response_time", proxied, "time", primary=True, extra={"running_instances": nfv_n}),
        n=nfv_n,
        size=nfv_packet_size,
    )
