"""VM/container & VNF monitoring: response time through the proxy VNF, by packet size.

Host A sends requests of each size to the proxy; the proxy (Algorithm 1) rewrites each
towards host B, B echoes it, the proxy rewrites the reply back to A. The request is an ICMP
echo that B's own kernel answers where the proxy carries it, else a UDP datagram to B's echo
responder (``--nfv-echo``; the report header says which). Each round times a block of
requests on the proxied path and a block on the same path with the proxy's own work replaced
by plain forwarding at the same hop, so the record shows what the VNF adds, measured pairwise
under the same conditions (the i-th request of one block against the i-th of the other): the
two paths alternate which goes first from round to round, so neither is always the one
measured right after the switch. Warm-up round trips of the size, discarded, come before the
first round. Each of the three figures (proxied, plain, and what the proxy adds) has its own
interval and convergence; the rounds go on until every one of them may stop.

With ``--nfv-proxy-b SPEC`` each round also takes the path through variant B of the proxy VNF
(A, plain, B in one round, B, plain, A in the next: each proxy is as often measured right
after the plain path as right after itself, so neither pays the cost of a switch more often;
a rotation of the three made B follow the plain path twice as often as A did, and A/A
comparisons then saw B slower: benchmarks/RESULTS.md), and the record gains B's figures,
``variant_response_time`` and ``variant_proxy_overhead``: an A/B comparison of two proxies
under the same conditions.

Throughput belongs here too: monitoring a running VNF asks how much it forwards without loss,
on the same testbed and proxy as the response time (a proxy that answers one request fast
can still collapse under load). ``test_throughput`` finds the NDR and PDR (RFC 2544, by
MLRsearch) through the proxy VNF per frame size, a whole search per round, and records the
time per frame at each (``1 / rate``: lower is better, as every other time figure), with the
rates in frames/s and bit/s, the generator's ceiling on the testbed and every search's
trials beside them (``harness.traffic.throughput``), and the p50, p99 and maximum of round
trips through the proxy while it forwards 10%, 50% and 90% of that NDR (latency under load).
"""

from __future__ import annotations

import pytest

from pytest_nfv import ProxyPath, Recorder, Repeat, Series
from pytest_nfv.errors import TrafficError
from pytest_nfv.harness.traffic.generator import FrameSize
from pytest_nfv.harness.traffic.throughput import ThroughputRounds

pytestmark = pytest.mark.nfv_requirement("monitoring")

METRICS_OF_A_PAIR = ("response_time", "direct_response_time", "proxy_overhead")
METRICS_OF_VARIANT_B = ("variant_response_time", "variant_proxy_overhead")
ROUND_TRIPS_PER_SWITCH = 16
"""Requests timed on one path before the next switch: a switch (the VNF paused or resumed)
costs about a hundred round trips, so one request per switch left the series a few hundred
samples in its time cap, too few for the mean of a heavy-tailed round trip."""


def test_response_time(
    nfv_testbed: ProxyPath, nfv_packet_size: int, nfv_repeat: Repeat, nfv_record: Recorder
) -> None:
    """Every figure comes from the same rounds of round trips, and the rounds go on until
    each figure may stop by its own rule (its interval, its budget, its caps), so none is
    recorded as converged on another's say."""
    clocks: set[str] = set()
    rounds = 0
    variant = nfv_testbed.variant_b
    paths = ("proxy", "direct", "proxy_b") if variant else ("proxy", "direct")
    metrics = METRICS_OF_A_PAIR + (METRICS_OF_VARIANT_B if variant else ())
    nfv_testbed.warm_up(nfv_packet_size)

    def one_round() -> dict[str, list[float]]:
        nonlocal rounds
        # Two paths take turns going first. Three run A, plain, B and then B, plain, A: each
        # proxy follows the plain path as often as it follows itself (no switch at all), so
        # neither meets the cost of a switch more often than the other.
        order = paths if rounds % 2 == 0 else paths[::-1]
        taken = {
            path: nfv_testbed.round_trips(nfv_packet_size, path, ROUND_TRIPS_PER_SWITCH)
            for path in order
        }
        rounds += 1
        clocks.update(sample.tx_clock for block in taken.values() for sample in block)
        seconds = {path: [sample.seconds for sample in block] for path, block in taken.items()}
        proxied, plain = seconds["proxy"], seconds["direct"]
        samples = {
            "response_time": proxied,
            "direct_response_time": plain,
            # the i-th request of one path against the i-th of the other: the same place in
            # the block, the same distance from the switch
            "proxy_overhead": [p - d for p, d in zip(proxied, plain, strict=True)],
        }
        if "proxy_b" in seconds:
            variant = seconds["proxy_b"]
            samples["variant_response_time"] = variant
            samples["variant_proxy_overhead"] = [b - d for b, d in zip(variant, plain, strict=True)]
        return samples

    measured = nfv_repeat.together(one_round, {metric: (metric, None) for metric in metrics})
    variant_b = ()
    if variant:
        about_b = {"proxy_b": variant.spec}
        variant_b = (
            Series(
                "variant_response_time",
                measured["variant_response_time"],
                extra={"path": "A -> proxy VNF variant B -> B -> variant B -> A", **about_b},
            ),
            Series("variant_proxy_overhead", measured["variant_proxy_overhead"], extra=about_b),
        )
    nfv_record.record(
        Series(
            "response_time",
            measured["response_time"],
            primary=True,
            extra={"path": "A -> proxy VNF -> B -> proxy VNF -> A", "tx_clock": sorted(clocks)},
        ),
        Series(
            "direct_response_time",
            measured["direct_response_time"],
            extra={"path": "A -> same hop, kernel forwarding -> B -> A"},
        ),
        Series("proxy_overhead", measured["proxy_overhead"]),
        *variant_b,
        size=nfv_packet_size,
    )


def test_throughput(
    nfv_testbed: ProxyPath,
    nfv_throughput: ThroughputRounds,
    nfv_frame: FrameSize,
    nfv_repeat: Repeat,
    nfv_record: Recorder,
) -> None:
    """A round is one search: the searches' spread is what varies from run to run, and the
    figures' intervals are taken over it, never over one search's trials, which MLRsearch
    chose by looking at each other's losses."""

    def one_search() -> dict[str, float]:
        result = nfv_throughput.search()
        taken = {}
        for key, rate in (("ndr", result.ndr), ("pdr", result.pdr)):
            if rate is None:
                raise TrafficError(f"{nfv_frame.label}: no {key.upper()}: {result.describe()}")
            budget = nfv_record.budget(f"{key}_frame_interval")
            # a lower bound at the generator's limit can keep a budget, never blow one
            if rate.at_ceiling and budget and 1 / rate.fps > budget.limit(None, nfv_frame.size):
                raise TrafficError(
                    f"{nfv_frame.label}: the generator's limit ({rate.fps:,.0f} fps) is below "
                    f"the {key.upper()} the budget asks for: it cannot judge it"
                )
            taken[key] = 1.0 / rate.fps
        return taken

    measured = nfv_repeat.together(
        one_search, {"ndr": ("ndr_frame_interval", None), "pdr": ("pdr_frame_interval", None)}
    )
    # latency under load: 64 B round trips through the same proxy, interleaved with a stream
    # at 10%, 50% and 90% of the NDR just found
    nfv_throughput.under_load(lambda: nfv_testbed.round_trip(64, "proxy").seconds)
    about = nfv_throughput.record_info()
    nfv_record.record(
        Series(
            "ndr_frame_interval",
            measured["ndr"],
            primary=True,
            extra={
                "path": "A -> proxy VNF -> B",
                "rate": "NDR (loss 0)",
                "frames": nfv_frame.describe(),
                **about,
            },
            note=nfv_throughput.summary_note(),
        ),
        Series("pdr_frame_interval", measured["pdr"], extra={"rate": "PDR (loss <= 0.5%)"}),
        size=nfv_frame.size,
    )
