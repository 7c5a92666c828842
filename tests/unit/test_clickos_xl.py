"""The clickos backend's xl side: ``xl list`` read, a move's figures from xl's log, what a
failed move leaves, and the reap by the run's names (a move's suffixes included).

The runner here is a fake that behaves like ``xl`` over a dictionary of domains and records
every argv; the real ``xl`` runs in the Xen lab (tests/integration/test_clickos_xen.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pytest_nfv.backends.clickos.xen.migration import RECEIVER, live_block, live_figures, recover
from pytest_nfv.backends.clickos.xen.xl import (
    Xl,
    base_name,
    describe_hypervisor,
    parse_virt_caps,
    parse_xl_list,
    reap_xl_domains,
)
from pytest_nfv.errors import BackendError
from pytest_nfv.host.reap import ReapRule

LISTED = """\
Name                                        ID   Mem VCPUs\tState\tTime(s)
Domain-0                                     0  1024     2     r-----     112.4
nfv-a1b2c3-p4242-proxy                       5    96     1     -b----       3.1
nfv-a1b2c3-p4242-proxy--incoming             6    96     0     --p---       0.0
foreign guest                                7   128     1     ---s--       1.0
"""


def test_xl_list_is_read_with_names_ids_memory_and_state() -> None:
    domains = parse_xl_list(LISTED)
    assert [(d.name, d.domid, d.memory_mib) for d in domains] == [
        ("Domain-0", 0, 1024),
        ("nfv-a1b2c3-p4242-proxy", 5, 96),
        ("nfv-a1b2c3-p4242-proxy--incoming", 6, 96),
        ("foreign guest", 7, 128),
    ]
    assert [d.running for d in domains] == [True, True, False, False]


def test_a_line_xl_list_never_prints_is_an_error() -> None:
    with pytest.raises(BackendError, match="cannot read the line"):
        parse_xl_list("Name ID Mem VCPUs State Time(s)\nnfv-x five 96 1 r----- 0.1\n")


def test_a_moves_suffixes_come_off_and_nothing_else_does() -> None:
    assert base_name("nfv-a1b2c3-p1-proxy--incoming") == "nfv-a1b2c3-p1-proxy"
    assert base_name("nfv-a1b2c3-p1-proxy--migratedaway") == "nfv-a1b2c3-p1-proxy"
    assert base_name("nfv-a1b2c3-p1-proxy--other") == "nfv-a1b2c3-p1-proxy--other"


def _log(**stamps: float) -> list[tuple[float, str]]:
    lines = {
        "ready": "migration target: Ready to receive domain.",
        "suspended": "libxl: debug: libxl_dom_suspend.c:358:domain_suspend_common_guest_"
        "suspended: Domain 5:guest has suspended",
        "dd": "104857600 bytes (105 MB, 100 MiB) copied, 9.1 s, 11.5 MB/s",
        "started": "migration target: Domain started successsfully.",
    }
    noise = [(0.0, "libxl: debug: libxl_create.c:1234: something else")]
    return noise + sorted((stamps[key], text) for key, text in lines.items() if key in stamps)


def test_the_figures_come_from_the_lines_xl_prints() -> None:
    figures = live_figures(
        _log(ready=0.5, suspended=8.0, dd=8.9, started=8.6), started=0.0, ended=9.5
    )
    assert figures["total_s"] == pytest.approx(9.5)
    assert figures["setup_s"] == pytest.approx(0.5)
    assert figures["downtime_s"] == pytest.approx(0.6)
    assert figures["transferred_bytes"] == 104857600
    assert figures["iterations"] is None
    assert figures["settings"]["receiver"] == RECEIVER


def test_a_log_without_its_lines_gives_no_figure_and_names_what_is_missing() -> None:
    with pytest.raises(BackendError, match=r"lacks libxl's 'guest has suspended'.*dd's count"):
        live_figures(_log(ready=0.5, started=8.6), started=0.0, ended=9.5)
    with pytest.raises(BackendError, match="started before the source suspended"):
        live_figures(_log(ready=0.5, suspended=8.0, dd=8.9, started=7.0), 0.0, 9.5)


class FakeXl:
    """``xl`` over a dictionary ``domid -> (name, state)``; records every argv."""

    def __init__(self, domains: dict[int, tuple[str, str]]) -> None:
        self.domains = domains
        self.ran: list[list[str]] = []

    def __call__(self, argv: Sequence[str]) -> str:
        self.ran.append(list(argv))
        verb = argv[1]
        if verb == "list":
            rows = [
                f"{name} {domid} 96 1 {state} 0.0" for domid, (name, state) in self.domains.items()
            ]
            return "\n".join(["Name ID Mem VCPUs State Time(s)", *rows])
        if verb == "destroy":
            del self.domains[int(argv[2])]
        elif verb == "rename":
            self.domains[int(argv[2])] = (argv[3], self.domains[int(argv[2])][1])
        return ""


def test_after_a_failed_move_the_destination_goes_and_the_resumed_source_stays() -> None:
    fake = FakeXl(
        {
            5: ("nfv-a1b2c3-p1-proxy--migratedaway", "-b----"),
            6: ("nfv-a1b2c3-p1-proxy--incoming", "--p---"),
            7: ("nfv-a1b2c3-p1-proxyb", "-b----"),  # another domain, not touched
        }
    )
    assert recover(Xl(fake), "nfv-a1b2c3-p1-proxy", 5) is True
    assert fake.domains == {5: ("nfv-a1b2c3-p1-proxy", "-b----"), 7: fake.domains[7]}
    assert ["xl", "destroy", "6"] in fake.ran


def test_a_source_left_suspended_is_destroyed_and_said_so() -> None:
    fake = FakeXl(
        {
            5: ("nfv-a1b2c3-p1-proxy--migratedaway", "---s--"),
            6: ("nfv-a1b2c3-p1-proxy", "-b----"),  # the destination had taken the name
        }
    )
    assert recover(Xl(fake), "nfv-a1b2c3-p1-proxy", 5) is False
    assert fake.domains == {}


def test_the_reap_takes_a_dead_runs_domains_under_any_move_name_and_nothing_else() -> None:
    fake = FakeXl(
        {
            0: ("Domain-0", "r-----"),
            5: ("nfv-a1b2c3-p999999999-proxy--migratedaway", "---s--"),
            6: ("nfv-a1b2c3-p999999999-proxy--incoming", "--p---"),
            7: ("nfv-d4e5f6-p999999999-vnf0", "-b----"),
            8: ("nfv-a1b2c3-p999999999-vnf1", "-b---d"),  # dying: a libvirt reap took it
            9: ("foreign-nfv-a1b2c3-p999999999-vnf0", "-b----"),
        }
    )
    report = reap_xl_domains(ReapRule(only_run="a1b2c3"), dry_run=False, xl=Xl(fake))
    assert sorted(fake.domains) == [0, 7, 8, 9]
    assert report.removed == [
        "domain nfv-a1b2c3-p999999999-proxy--migratedaway",
        "domain nfv-a1b2c3-p999999999-proxy--incoming",
    ]


def test_a_dry_run_reap_destroys_nothing_and_an_unreadable_xl_is_reported() -> None:
    fake = FakeXl({6: ("nfv-a1b2c3-p999999999-proxy--incoming", "--p---")})
    report = reap_xl_domains(ReapRule(only_run="a1b2c3"), dry_run=True, xl=Xl(fake))
    assert report.removed == ["domain nfv-a1b2c3-p999999999-proxy--incoming"]
    assert 6 in fake.domains

    def broken(argv: Sequence[str]) -> str:
        raise BackendError("xl list failed (1): cannot connect")

    report = reap_xl_domains(ReapRule(only_run="a1b2c3"), dry_run=False, xl=Xl(broken))
    assert report.uninspected == ["xen domains (xl list): xl list failed (1): cannot connect"]


INFO = """\
host                   : dom0
xen_version            : 4.17.7
virt_caps              : pv hvm hvm_directio pv_directio gnttab-v1 gnttab-v2
free_memory            : 1804
"""


def test_the_hypervisors_capabilities_come_from_xl_info() -> None:
    caps = parse_virt_caps(INFO)
    assert caps == {"pv", "hvm", "hvm_directio", "pv_directio", "gnttab-v1", "gnttab-v2"}
    with pytest.raises(BackendError, match="no virt_caps line"):
        parse_virt_caps("host : dom0\n")


def test_the_record_tells_a_users_hypervisor_build_from_debians() -> None:
    assert describe_hypervisor(INFO) == (
        "Xen 4.17.7 as xl reports it "
        "(virt_caps: pv hvm hvm_directio pv_directio gnttab-v1 gnttab-v2)"
    )
    assert describe_hypervisor("host : dom0\n") == "Xen ? as xl reports it (virt_caps: ?)"


def test_a_pv_domain_moves_live_only_where_xen_has_shadow_paging() -> None:
    reason = live_block(parse_virt_caps(INFO))
    assert reason is not None
    assert "shadow paging" in reason
    assert "virt_caps: gnttab-v1 gnttab-v2 hvm hvm_directio pv pv_directio" in reason
    assert live_block(frozenset({"pv", "shadow"})) is None
