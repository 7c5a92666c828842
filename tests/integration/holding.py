"""Sessions for a test to end from outside: they record a figure, then hold their instances."""

from __future__ import annotations


def recording_then_holding(instances: int) -> str:
    """A test module: one recorded figure (so the JSON has something to save), then a test
    that starts ``instances`` instances and the testbed and waits to be ended."""
    return f"""
import time

import pytest

from pytest_nfv import Series, summarize


@pytest.mark.nfv_requirement("monitoring")
def test_recorded(nfv_record):
    figure = summarize([100e-6, 110e-6, 120e-6])
    nfv_record.record(Series("response_time", figure, "time", primary=True), size=64)


def test_hold(nfv_instances, nfv_testbed):
    nfv_instances({instances})
    time.sleep(600)
"""
