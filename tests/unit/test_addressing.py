"""The address plan the switch and the coreos network share: lowest free address first, an
address back once released, and the MACs derived from addresses under each one's prefix."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_nfv.backends.shared.addressing import AddressPool, mac_for
from pytest_nfv.errors import BackendError
from pytest_nfv.host.identity import RunIdentity

IDENTITY = RunIdentity("abc123", 4242, 0.0)
SUBNET = ipaddress.IPv4Network("10.213.0.0/16")  # the switch's plan
MAC_PREFIX = "02:4e:46"


def test_instances_start_at_the_256th_address_with_derived_names_and_macs() -> None:
    pool = AddressPool(SUBNET, MAC_PREFIX)
    first, second = pool.plan(2, IDENTITY)
    assert (first.name, str(first.address), first.mac) == (
        "nfv-abc123-p4242-i0",
        "10.213.1.0",
        "02:4e:46:d5:01:00",
    )
    assert (second.name, str(second.address)) == ("nfv-abc123-p4242-i1", "10.213.1.1")
    assert first.role == "vnf"


def test_released_addresses_come_back_lowest_first_and_only_once() -> None:
    pool = AddressPool(SUBNET, MAC_PREFIX)
    specs = pool.plan(4, IDENTITY)
    pool.release(specs[2].address)
    pool.release(specs[1].address)
    pool.release(specs[1].address)  # twice: still handed out once
    pool.release(SUBNET[2])  # the fabric's (the proxy's): never an instance's
    again = pool.plan(3, IDENTITY)
    assert [s.address for s in again] == [specs[1].address, specs[2].address, SUBNET[256 + 4]]
    assert again[0].name == specs[1].name  # the same address is the same instance name


def test_a_full_plan_is_a_backend_error() -> None:
    pool = AddressPool(ipaddress.IPv4Network("10.214.0.0/23"), "02:4e:44")
    specs = pool.plan(255, IDENTITY)  # 10.214.1.0 .. 10.214.1.254; .255 is the broadcast
    assert str(specs[-1].address) == "10.214.1.254"
    with pytest.raises(BackendError, match=r"10\.214\.0\.0/23 is full"):
        pool.plan(1, IDENTITY)


def test_macs_carry_the_prefix_and_the_addresss_last_three_octets() -> None:
    address = ipaddress.IPv4Address("10.214.1.7")
    assert mac_for(address, "02:4e:44") == "02:4e:44:d6:01:07"
    assert mac_for(address, "02:4e:46") == "02:4e:46:d6:01:07"


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 40)), max_size=60))
def test_a_reserved_address_is_never_handed_out_twice(steps: list[tuple[bool, int]]) -> None:
    pool = AddressPool(SUBNET, MAC_PREFIX)
    held: list[ipaddress.IPv4Address] = []
    for take, n in steps:
        if take or not held:
            new = [s.address for s in pool.plan(n % 5 + 1, IDENTITY)]
            assert not set(new) & set(held)
            held += new
        else:
            address = held.pop(n % len(held))
            pool.release(address)
    assert len(set(held)) == len(held)
