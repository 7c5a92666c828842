"""VM/container & VNF monitoring: response time through the proxy VNF, by packet size.

Host A sends a request of each size to the proxy; the proxy (Algorithm 1) rewrites it
towards host B, B echoes it, the proxy rewrites the reply back to A. The request is an ICMP
echo that B's own kernel answers where the proxy carries it, else a UDP datagram to B's echo
responder (``--nfv-echo``; the report header says which). Each round also takes
the same path with the proxy's own work replaced by plain forwarding at the same hop, so the
record shows what the VNF adds, measured pairwise under the same conditions: the two paths
alternate which goes first from round to round, so neither is always the one measured right
after the switch. Warm-up round trips of the size, discarded, come before the first round.

With ``--nfv-proxy-b SPEC`` each round also takes the path through variant B of the proxy VNF
(the order of the three rotating from round to round, so none is always first after a
switch), and the record gains B's figures, ``variant_response_time`` and
``variant_proxy_overhead``: an A/B comparison of two proxies under the same conditions.
"""

from __future__ import annotations

import pytest

from pytest_nfv import ProxyPath, Recorder, Repeat, Series, summarize

pytestmark = pytest.mark.nfv_requirement("monitoring")


def test_response_time(
    nfv_testbed: ProxyPath, nfv_packet_size: int, nfv_repeat: Repeat, nfv_record: Recorder
) -> None:
    direct: list[float] = []
    through_b: list[float] = []
    clocks: set[str] = set()
    variant = nfv_testbed.variant_b
    paths = ("proxy", "direct", "proxy_b") if variant else ("proxy", "direct")
    nfv_testbed.warm_up(nfv_packet_size)

    def one_pair() -> float:
        first = len(direct) % len(paths)
        order = paths[first:] + paths[:first]
        taken = {path: nfv_testbed.round_trip(nfv_packet_size, path) for path in order}
        direct.append(taken["direct"].seconds)
        if "proxy_b" in taken:
            through_b.append(taken["proxy_b"].seconds)
        clocks.update(sample.tx_clock for sample in taken.values())
        return taken["proxy"].seconds

    proxied = nfv_repeat(one_pair, "response_time")
    overhead = summarize([p - d for p, d in zip(proxied.samples, direct, strict=True)])
    variant_b = ()
    if variant:
        about_b = {"proxy_b": variant.spec}
        variant_b = (
            Series(
                "variant_response_time",
                summarize(through_b),
                "time",
                extra={"path": "A -> proxy VNF variant B -> B -> variant B -> A", **about_b},
            ),
            Series(
                "variant_proxy_overhead",
                summarize([b - d for b, d in zip(through_b, direct, strict=True)]),
                "time",
                extra=about_b,
            ),
        )
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
        *variant_b,
        size=nfv_packet_size,
    )
