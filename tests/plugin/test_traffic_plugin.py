"""A plugin brings its own traffic generator through ``pytest_nfv_traffic_generator``.

The throughput suite asks the hook first and the registry after, so a hardware runner's
plugin (TRex) is used by name with ``--nfv-generator``, and a built-in name still finds the
built-in generator when no plugin answers for it.
"""

from __future__ import annotations

import pytest

GENERATOR_CONFTEST = """
class HardwareGenerator:
    name = "tg-mine"

    def __init__(self, stream):
        self.stream = stream

    def open(self):
        pass

    def close(self):
        pass

    def describe(self):
        return "a runner's own generator"

    def trial(self, frame_size, offered_fps, duration_s):
        raise NotImplementedError


def pytest_nfv_traffic_generator(name, stream, config):
    return HardwareGenerator(stream) if name == "tg-mine" else None
"""

GENERATOR_TEST = """
import ipaddress

from pytest_nfv.harness.traffic.generator import Stream
from pytest_nfv.model import Endpoint

A = Endpoint("a", ipaddress.IPv4Address("10.0.0.1"), "02:00:00:00:00:01", "/run/netns/a")
B = Endpoint("b", ipaddress.IPv4Address("10.0.0.2"), "02:00:00:00:00:02", "/run/netns/b")


def test_generator(nfv_traffic_generator, nfv_settings) -> None:
    generator = nfv_traffic_generator(Stream.direct(A, B))
    print("GENERATOR=" + type(generator).__name__ + " " + generator.name)
    assert generator.stream.sink == B
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(GENERATOR_CONFTEST)
    pytester.makepyfile(test_generator=GENERATOR_TEST)
    return pytester


def test_a_plugin_answers_for_the_generator_it_registers(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("-s", "--nfv-generator", "tg-mine")
    result.stdout.fnmatch_lines(["*GENERATOR=HardwareGenerator tg-mine*", "*1 passed*"])
    result.stdout.fnmatch_lines(["nfv: throughput: *generator tg-mine*"])


def test_a_builtin_name_no_plugin_answers_finds_the_builtin(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("-s", "--nfv-generator", "trafgen")
    result.stdout.fnmatch_lines(["*GENERATOR=Trafgen trafgen*", "*1 passed*"])


def test_a_name_nobody_answers_fails_with_the_known_names(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("--nfv-generator", "nosuch")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*no traffic generator called 'nosuch'; known: csender, csender-imix, trafgen*"]
    )


FRAMES_TEST = """
def test_frame(nfv_frame, nfv_frame_size) -> None:
    print(f"FRAME={nfv_frame.label} {nfv_frame_size} {nfv_frame.describe()}")
"""


def test_an_imix_is_a_frame_size_of_its_own_recorded_at_its_mean(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_frames=FRAMES_TEST)
    result = pytester.runpytest_subprocess("-s", "-v", "--nfv-frame-sizes", "1518,imix,64")
    result.stdout.fnmatch_lines(
        ["nfv: throughput: *frames 64 B, 1518 B, imix (7 x 64 B, 4 x 570 B, 1 x 1518 B in turn;"
         " 354 B mean) (FCS included)*"]
    )  # fmt: skip
    result.stdout.fnmatch_lines(["*test_frame?64B?*", "*test_frame?1518B?*", "*test_frame?imix?*"])
    result.stdout.fnmatch_lines(["*FRAME=imix 354 imix (7 x 64 B*"])
    result.assert_outcomes(passed=3)


def test_an_imix_beside_its_own_mean_size_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_frames=FRAMES_TEST)
    result = pytester.runpytest_subprocess("--nfv-frame-sizes", "354,imix")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*354 and imix: an IMIX is recorded at its mean size*"])
