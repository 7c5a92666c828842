"""The throughput suite's fixtures: the session's traffic generator and a frame size's rounds.

The generator is asked of the ``pytest_nfv_traffic_generator`` hook first (a hardware
runner's plugin answers with its TRex, or replaces a built-in generator), then of the
registry (``harness.traffic.registry``), where the built-in generators and any registered
from a conftest are. A name nobody answers fails the test with the names that are known.
"""

from __future__ import annotations

import pytest

from pytest_nfv.harness.proxy_path import ProxyPath
from pytest_nfv.harness.traffic.generator import FrameSize, Stream, TrafficGenerator
from pytest_nfv.harness.traffic.registry import make_generator
from pytest_nfv.harness.traffic.throughput import GeneratorMaker, ThroughputRounds
from pytest_nfv.plugin.state import nfv_state_key

__all__ = ["generator_maker", "nfv_frame_size", "nfv_throughput", "nfv_traffic_generator"]


def generator_maker(config: pytest.Config, name: str) -> GeneratorMaker:
    """Builds ``name``'s generator for a stream: a plugin's answer, else the registry's.

    Raises (when called):
        NfvUsageError: neither a plugin nor the registry knows ``name``.
    """

    def make(stream: Stream) -> TrafficGenerator:
        mine: TrafficGenerator | None = config.hook.pytest_nfv_traffic_generator(
            name=name, stream=stream, config=config
        )
        return mine if mine is not None else make_generator(name, stream)

    return make


@pytest.fixture(scope="session")
def nfv_traffic_generator(pytestconfig: pytest.Config) -> GeneratorMaker:
    """The generator ``--nfv-generator`` names, as a function of the stream it sends."""
    settings = pytestconfig.stash[nfv_state_key].settings
    return generator_maker(pytestconfig, settings.generator)


@pytest.fixture
def nfv_frame_size(nfv_frame: FrameSize) -> int:
    """The bytes per frame of the search (FCS included; a mix's mean size)."""
    return nfv_frame.size


@pytest.fixture(scope="session")
def _nfv_ceilings() -> dict[FrameSize, float]:
    """The generator's ceiling per frame size, taken once per session on the testbed."""
    return {}


@pytest.fixture
def nfv_throughput(
    pytestconfig: pytest.Config,
    nfv_testbed: ProxyPath,
    nfv_traffic_generator: GeneratorMaker,
    nfv_frame: FrameSize,
    _nfv_ceilings: dict[FrameSize, float],
) -> ThroughputRounds:
    """One frame size's NDR/PDR searches through the proxy VNF, a search per round.

    A mix is sent by the generator's ``-imix`` form (``csender-imix``): a generator that has
    none fails the test with the names that are known.
    """
    make = nfv_traffic_generator
    if nfv_frame.mix is not None:
        name = pytestconfig.stash[nfv_state_key].settings.generator
        make = generator_maker(pytestconfig, f"{name}-{nfv_frame.label}")
    nfv_testbed.set_mode("proxy")
    nfv_testbed.back_to_b()  # the stream is counted at B's receiver
    rounds = ThroughputRounds(nfv_testbed.testbed, make, nfv_frame.size)
    rounds.ceiling_fps = _nfv_ceilings.get(nfv_frame)
    _nfv_ceilings[nfv_frame] = rounds.take_ceiling()
    return rounds
