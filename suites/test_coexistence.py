"""Physical and virtual NFs coexistence: memory with the testbed up, and response time while
N other instances run on the same host and switch.

Memory is what the host spends for the N instances, kernel-accounted where it can be (as in
``test_instantiation``), with the host's MemAvailable drop beside it.
"""

from __future__ import annotations

import pytest

from pytest_nfv import Instance, Lab, NfvSettings, ProxyPath, Recorder, Repeat, Series, summarize
from pytest_nfv.harness.growth import SharedGrowth

pytestmark = pytest.mark.nfv_requirement("coexistence")


def test_memory_beside_testbed(
    nfv_testbed: ProxyPath,
    nfv_lab: Lab,
    nfv_n: int,
    nfv_settings: NfvSettings,
    nfv_repeat: Repeat,
    nfv_record: Recorder,
    nfv_memory_growth_beside_testbed: SharedGrowth,
) -> None:
    """Memory of N instances started beside the running testbed, read at N on one population
    grown through every N per round; the kernel's figure (where it accounts the instances)
    decides and is judged, the host's MemAvailable drop stays beside it."""
    growth = nfv_memory_growth_beside_testbed.figures(nfv_repeat.together)
    measured = growth.summaries[nfv_n]
    host_method = {
        "method": "host MemAvailable drop for N instances started beside the running testbed"
    }
    host = Series(
        "memory",
        measured
        if not growth.by_kernel
        else summarize(
            growth.column(nfv_n, 1), ci_width=nfv_settings.stop_rule.ci_width, absolute=0.25
        ),
        primary=not growth.by_kernel,
        extra=host_method,
    )
    if not growth.by_kernel:
        nfv_record.record(host, n=nfv_n)
        return
    kernel = Series(
        "memory_kernel",
        measured,
        primary=True,
        extra={"method": nfv_lab.host_spend_method, "beside": "the running testbed"},
        parts=growth.breakdown(nfv_n),
    )
    nfv_record.record(kernel, host, n=nfv_n)


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
        Series("response_time", proxied, primary=True, extra={"running_instances": nfv_n}),
        n=nfv_n,
        size=nfv_packet_size,
    )
