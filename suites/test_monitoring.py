"""VM/container & VNF monitoring: response time through the proxy VNF, by packet size.

Host A sends a request of each size to the proxy; the proxy (Algorithm 1) rewrites it
towards host B, B echoes it, the proxy rewrites the reply back to A. The request is an ICMP
echo that B's own kernel answers where the proxy carries it, else a UDP datagram to B's echo
responder (``--nfv-echo``; the report header says which). Each round also takes
the same path with the proxy's own work replaced by plain forwarding at the same hop, so the
record shows what the VNF adds, measured pairwise under the same conditions: the two paths
alternate which goes first from round to round, so neither is always the one measured right
after the switch. Warm-up round trips of the size, discarded, come before the first round.
"""

from __future__ import annotations

import pytest

from pytest_nfv import ProxyPath, Recorder, Repeat, Series, summarize

pytestmark = pytest.mark.nfv_requirement("monitoring")


def test_response_time(
    nfv_testbed: ProxyPath, nfv_packet_size: int, nfv_repeat: Repeat, nfv_record: Recorder
) -> None:
    direct: list[float] = []
    clocks: set[str] = set()
    nfv_testbed.warm_up(nfv_packet_size)

    def one_pair() -> float:
        if len(direct) % 2:
            plain = nfv_testbed.round_trip(nfv_packet_size, "direct")
            proxied = nfv_testbed.round_trip(nfv_packet_size, "proxy")
        else:
            proxied = nfv_testbed.round_trip(nfv_packet_size, "proxy")
            plain = nfv_testbed.round_trip(nfv_packet_size, "direct")
        direct.append(plain.seconds)
        clocks.update((proxied.tx_clock, plain.tx_clock))
        return proxied.seconds

    proxied = nfv_repeat(one_pair, "response_time")
    overhead = summarize([p - d for p, d in zip(proxied.samples, direct, strict=True)])
    nfv_record.record(
        Series(
            "response_time",
            proxied,
            "time",
            primary=True,
            extra={"path": "A -> proxy VNF -> B -> proxy VNF -> A", "tx_clock": sorted(clocks)},
        ),
        Series(
            "direct_response_time",
            summarize(direct),
            "time",
            extra={"path": "A -> same hop, kernel forwarding -> B -> A"},
        ),
        Series("proxy_overhead", overhead, "time"),
        size=nfv_packet_size,
    )
