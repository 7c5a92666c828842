"""The Click parser, the ClickOS element allow-list and the template renderer."""

from __future__ import annotations

import ipaddress

import pytest

from pytest_nfv.backends.clickos.click.language import (
    ClickConfigError,
    clickos_element_classes,
    parse,
    split_arguments,
)
from pytest_nfv.backends.clickos.click.model import check
from pytest_nfv.backends.clickos.click.render import (
    instance_config,
    proxy_config,
    render,
    rendered_and_checked,
    userlevel,
)
from pytest_nfv.model import Endpoint


def _endpoint(ip: str, mac: str) -> Endpoint:
    return Endpoint("x", ipaddress.IPv4Address(ip), mac, "")


PROXY = _endpoint("10.213.0.2", "02:4e:46:00:00:02")
A = _endpoint("10.213.0.3", "02:4e:46:00:00:03")
B = _endpoint("10.213.0.4", "02:4e:46:00:00:04")
B2 = _endpoint("10.213.0.5", "02:4e:46:00:00:05")


def test_declarations_chains_and_ports() -> None:
    conf = parse("""
        // a comment
        src :: FromDevice(0); /* block
        comment */ c :: Classifier(12/0806, -);
        src -> c;
        c[1] -> Discard;
        c [0] -> [0] out :: ToDevice(0);
    """)
    assert list(conf.elements) == ["src", "c", "Discard@1", "out"]
    assert conf.elements["c"].line == 4
    assert conf.elements["c"].config == "12/0806, -"
    assert [(x.source, x.source_port, x.target, x.target_port) for x in conf.connections] == [
        ("src", 0, "c", 0),
        ("c", 1, "Discard@1", 0),
        ("c", 0, "out", 0),
    ]
    check(conf)


def test_the_proxy_template_parses_to_the_expected_graph() -> None:
    conf = rendered_and_checked(proxy_config(PROXY, A, B, B2))
    ip = conf.elements["ip"]
    assert ip.cls == "IPClassifier"
    assert split_arguments(ip.config) == [
        "src host 10.213.0.3 and dst host 10.213.0.2",
        "src host 10.213.0.4 or src host 10.213.0.5",
        "src host 10.213.0.3 and dst host 10.213.0.4",
        "src host 10.213.0.3 and dst host 10.213.0.5",
        "icmp type echo and dst host 10.213.0.2",
        "-",
    ]
    assert sorted(conf.outputs_of("ip")) == [0, 1, 2, 3, 4, 5]
    assert conf.elements["target"].cls == "Switch"
    # into the device: ARP, echo, and UDP, TCP and other IP after the checksums are made right
    # (the plain path joins Algorithm 1's there, so an offloaded partial checksum is completed)
    assert len(conf.inputs_of("out")[0]) == 5
    assert len(conf.inputs_of("fix")[0]) == 5
    assert conf.classes <= clickos_element_classes()


def test_the_allow_list_comes_from_the_clickos_sources() -> None:
    shipped = clickos_element_classes()
    # MiniOS's own device elements are in; minios/elements.exclude and user-level ones are out.
    assert {"FromDevice", "ToDevice", "IPClassifier", "StoreIPAddress"} <= shipped
    assert not {"Script", "FromDump", "KernelTun", "Socket"} & shipped
    # a class is named as configurations name it (class_name()), also where the element's
    # header lives under include/ (ELEMENT_HEADER): errorelement.cc's is "Error"
    assert "Error" in shipped
    assert "ErrorElement" not in shipped


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a :: FromDevice; a -> Script -> Discard;", "Script is not an element ClickOS ships"),
        ("a :: FromDevice; a -> FromDump(x) -> Discard;", "FromDump is not an element ClickOS"),
        ("a :: FromDevice; a[1] -> Discard;", "a has no output 1"),
        ("a :: FromDevice; a -> Discard; a -> Discard;", "a output 0 connected twice"),
        ("a :: FromDevice; c :: Classifier(-, -); a -> c -> Discard;", "c output 1 is not"),
        ("a :: FromDevice; a -> [1] Discard;", "has no input 1"),
        ("a :: FromDevice; a -> Counter -> Discard;", "Counter has no executable model"),
        ("a :: FromDevice; a -> Classifier(12/08x) -> Discard;", "bad Classifier clause"),
        ("a :: FromDevice; a -> IPClassifier(tcp port 80) -> Discard;", "'port' is not"),
    ],
)
def test_check_refuses_what_click_or_clickos_would(text: str, message: str) -> None:
    with pytest.raises(ClickConfigError, match=message):
        check(parse(text))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a :: FromDevice(0;", "line 1: unbalanced parenthesis"),
        ("a :: FromDevice;\n\nb -> a;", "line 3: undeclared element 'b'"),
        ("a :: FromDevice;\na :: Discard;", "line 2: element 'a' redeclared"),
        ("elementclass X { input -> output }", "outside the Click subset"),
        ("a :: FromDevice a -> Discard;", "expected ';' between statements"),
        ("a :: FromDevice; a -> ;", "expected an element name"),
        ("a :: FromDevice; a -> $x;", "unexpected text"),
    ],
)
def test_parse_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ClickConfigError, match=message):
        parse(text)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"IP": "10.0.0.300", "MAC": "02:00:00:00:00:01"}, "IP='10.0.0.300' is not a valid"),
        ({"IP": "10.0.0.3", "MAC": "02:00:00:00:00"}, "MAC='02:00:00:00:00' is not a valid"),
        ({"IP": "10.0.0.3"}, "needs a value for 'MAC'"),
        ({"IP": "10.0.0.3", "MAC": "02:00:00:00:00:01", "PORT": "7"}, "unknown template slot"),
    ],
)
def test_render_refuses_bad_values(values: dict[str, str], message: str) -> None:
    with pytest.raises(ClickConfigError, match=message):
        render("instance", values)


def test_b_and_b2_are_both_in_the_proxy_configuration() -> None:
    text = proxy_config(PROXY, A, B, B2)
    assert "StoreIPAddress(10.213.0.4, dst)" in text
    assert "StoreIPAddress(10.213.0.5, dst)" in text
    assert "target :: Switch(0)" in text


def test_instance_template_has_no_placeholders_left() -> None:
    text = instance_config(ipaddress.IPv4Address("10.213.1.7"), "02:4e:46:00:01:07")
    assert "$" not in text
    assert rendered_and_checked(text).classes == {
        "FromDevice",
        "ToDevice",
        "Classifier",
        "ARPResponder",
        "CheckIPHeader",
        "IPClassifier",
        "ICMPPingResponder",
        "EtherMirror",
        "Discard",
    }


@pytest.mark.parametrize(
    "clickos",
    [proxy_config(PROXY, A, B, B2), instance_config(ipaddress.IPv4Address("10.213.1.7"), B.mac)],
    ids=["proxy", "instance"],
)
def test_the_user_level_flavour_changes_only_the_devices(clickos: str) -> None:
    """Same elements and connections as ClickOS gets; the device ends take the interface,
    the kernel is kept off it, and a Queue takes the pushes user level's ToDevice pulls."""
    ours, theirs = parse(clickos), parse(userlevel(clickos, "eth0"))
    assert theirs.elements["in"].cls == "FromDevice"
    assert split_arguments(theirs.elements["in"].config) == ["eth0", "SNIFFER false"]
    assert theirs.elements["out"].cls == "Queue"
    (device,) = [n for n, e in theirs.elements.items() if e.cls == "ToDevice"]
    assert theirs.elements[device].config == "eth0"
    assert [(c.source, c.target) for c in theirs.connections if c.target == device] == [
        ("out", device)
    ]
    # Anonymous elements are numbered in declaration order, which the new ToDevice shifts:
    # pair the rest up in that order (named ones must keep their name).
    rest = [n for n in theirs.elements if n != device]
    assert len(rest) == len(ours.elements)
    rename = dict(zip(rest, ours.elements, strict=True))
    for name, was in rename.items():
        assert name == was or "@" in name
        if name not in ("in", "out"):
            assert theirs.elements[name].cls == ours.elements[was].cls
            assert theirs.elements[name].config == ours.elements[was].config
    assert [
        (rename[c.source], c.source_port, rename[c.target], c.target_port)
        for c in theirs.connections
        if c.target != device
    ] == [(c.source, c.source_port, c.target, c.target_port) for c in ours.connections]


@pytest.mark.parametrize(
    ("text", "interface", "message"),
    [
        ("in :: FromDevice(0); out :: ToDevice(0);", "eth0; x", "not a Linux interface"),
        ("in :: FromDevice(0);\nout :: ToDevice(0);", "a" * 16, "not a Linux interface"),
        ("in :: FromDevice(1);\nout :: ToDevice(0);", "eth0", "FromDevice\\(0\\).*found 0"),
        (
            "in :: FromDevice(0);\nout :: ToDevice(0);\nx :: ToDevice(0);",
            "eth0",
            "ToDevice\\(0\\).*found 2",
        ),
    ],
)
def test_the_user_level_flavour_refuses(text: str, interface: str, message: str) -> None:
    with pytest.raises(ClickConfigError, match=message):
        userlevel(text, interface)
