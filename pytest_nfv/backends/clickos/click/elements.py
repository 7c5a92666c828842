"""The Click elements pytest-nfv's ClickOS configurations use, as executable Python.

Each class does to a packet what the ClickOS source of the same class does (the file is cited
in each docstring: ``elements/<group>/<name>.cc`` of cnplab/clickos), for the configuration
forms the shipped templates use; any other form is refused at configure time with a clear
error, so the model never silently runs something it does not model.

One module for the element set, though it is long: ``MODELS`` is the whole vocabulary the
shipped templates may use, each class is a short translation of one ClickOS source file and
is reviewed against it, and the classes share the packet and checksum helpers at the top.
Split by element group, what the model runs (``MODELS``, which ``click.model`` refuses
anything outside of) would no longer be read in one place.
"""

from __future__ import annotations

import ipaddress
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass

from pytest_nfv.backends.clickos.click.language import ClickConfigError
from pytest_nfv.vnf.checksum import internet_checksum
from pytest_nfv.vnf.rewrite import mac_bytes

__all__ = ["MODELS", "Discard", "Element", "FromDevice", "Packet", "Switch", "ToDevice"]

ETH_HLEN = 14
PROTO = {"icmp": 1, "tcp": 6, "udp": 17}
ICMP_TYPES = {"echo-reply": 0, "echo": 8}


@dataclass
class Packet:
    """Frame bytes plus the two annotations these elements read and write."""

    data: bytearray
    network_header: int | None = None
    dst_ip_anno: bytes = b"\0\0\0\0"

    @property
    def ip(self) -> int:
        if self.network_header is None:
            raise ClickConfigError("an IP element got a packet without an IP header annotation")
        return self.network_header

    @property
    def ihl(self) -> int:
        return (self.data[self.ip] & 0x0F) * 4

    @property
    def transport(self) -> int:
        return self.ip + self.ihl

    @property
    def frag_offset(self) -> int:
        return int(struct.unpack_from("!H", self.data, self.ip + 6)[0]) & 0x1FFF

    @property
    def is_fragment(self) -> bool:  # IP_ISFRAG: MF set or offset non-zero
        return bool(struct.unpack_from("!H", self.data, self.ip + 6)[0] & 0x3FFF)


Outputs = list[tuple[int, Packet]]


def _ones_update(checksum: int, old: int, new: int) -> int:
    """click_update_in_cksum: RFC 1624 update of a checksum for one changed 16-bit sum."""
    total = (~checksum & 0xFFFF) + (~old & 0xFFFF) + new
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _word_sum(data: bytes) -> int:
    total = int(sum(struct.unpack(f"!{len(data) // 2}H", data)))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


class Element:
    """One element: ``ports`` is (inputs, minimum outputs, maximum outputs)."""

    ports: tuple[int, int, int] = (1, 1, 1)

    def __init__(self, name: str, args: list[str]) -> None:
        self.name = name
        self.configure(args)

    def configure(self, args: list[str]) -> None:
        if args:
            raise ClickConfigError(f"{self.name}: takes no arguments, got {args}")

    def push(self, packet: Packet) -> Outputs:
        raise NotImplementedError


def _ip(text: str, where: str) -> bytes:
    try:
        return ipaddress.IPv4Address(text.strip()).packed
    except ValueError:
        raise ClickConfigError(f"{where}: {text!r} is not an IPv4 address") from None


def _optional_number(args: list[str], refused: str, *, signed: bool = False) -> int:
    """An element's one optional whole-number argument (0 without it), as Click reads it;
    anything else is refused with the element's own message ``refused``."""
    digits = args[0].lstrip("-") if signed and args else "".join(args[:1])
    if len(args) > 1 or (args and not digits.isdigit()):
        raise ClickConfigError(refused)
    return int(args[0]) if args else 0


def _mac(text: str, where: str) -> bytes:
    try:
        return mac_bytes(text.strip())
    except ValueError:
        raise ClickConfigError(f"{where}: {text!r} is not an Ethernet address") from None


class FromDevice(Element):
    """elements/minios/fromdevice.cc: the domain's vif DEVID (default 0); pushes frames."""

    ports = (0, 1, 1)

    def configure(self, args: list[str]) -> None:
        self.devid = _optional_number(
            args, f"{self.name}: FromDevice takes one device id, got {args}"
        )


class ToDevice(FromDevice):
    """elements/minios/todevice.cc: transmits on vif DEVID."""

    ports = (1, 0, 0)

    def push(self, packet: Packet) -> Outputs:
        return []


class Discard(Element):
    """elements/standard/discard.cc."""

    ports = (1, 0, 0)

    def push(self, packet: Packet) -> Outputs:
        return []


class Classifier(Element):
    """elements/standard/classifier.cc: ``OFFSET/HEX[%MASK]`` clauses, ANDed; ``-`` is any."""

    ports = (1, 1, 1)

    def configure(self, args: list[str]) -> None:
        if not args:
            raise ClickConfigError(f"{self.name}: Classifier needs at least one pattern")
        self.patterns = [self._pattern(a) for a in args]
        self.ports = (1, len(args), len(args))

    def _pattern(self, text: str) -> list[tuple[int, bytes, bytes]]:
        if text.strip() == "-":
            return []
        clauses = []
        for clause in text.split():
            m = re.fullmatch(r"(\d+)/([0-9a-fA-F]+)(?:%([0-9a-fA-F]+))?", clause)
            if m is None or len(m[2]) % 2 or (m[3] and len(m[3]) != len(m[2])):
                raise ClickConfigError(f"{self.name}: bad Classifier clause {clause!r}")
            value = bytes.fromhex(m[2])
            mask = bytes.fromhex(m[3]) if m[3] else b"\xff" * len(value)
            clauses.append((int(m[1]), value, mask))
        return clauses

    def push(self, packet: Packet) -> Outputs:
        d = packet.data
        for port, clauses in enumerate(self.patterns):
            if all(
                off + len(v) <= len(d)
                and all((d[off + i] & k) == (v[i] & k) for i, k in enumerate(m))
                for off, v, m in clauses
            ):
                return [(port, packet)]
        return []


class ARPResponder(Element):
    """elements/ethernet/arpresponder.cc: answers ARP requests for its ``IP MAC`` entries."""

    ports = (1, 1, 2)

    def configure(self, args: list[str]) -> None:
        self.table: dict[bytes, bytes] = {}
        for arg in args:
            words = arg.split()
            if len(words) != 2:
                raise ClickConfigError(f"{self.name}: ARPResponder entry must be 'IP MAC': {arg!r}")
            self.table[_ip(words[0], self.name)] = _mac(words[1], self.name)
        if not self.table:
            raise ClickConfigError(f"{self.name}: ARPResponder needs an entry")

    def push(self, packet: Packet) -> Outputs:
        d = bytes(packet.data)
        if (
            len(d) >= 42
            and d[12:14] == b"\x08\x06"
            and d[14:16] == b"\x00\x01"
            and d[16:18] == b"\x08\x00"
            and d[20:22] == b"\x00\x01"
        ):
            sha, spa, tpa = d[22:28], d[28:32], d[38:42]
            mac = self.table.get(tpa)
            if mac is not None:
                reply = sha + mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2)
                reply += mac + tpa + sha + spa
                return [(0, Packet(bytearray(reply)))]
        return [(1, packet)]


class CheckIPHeader(Element):
    """elements/ip/checkipheader.cc: valid IPv4 header at OFFSET, trimmed to its length."""

    ports = (1, 1, 2)

    def configure(self, args: list[str]) -> None:
        self.offset = _optional_number(args, f"{self.name}: only CheckIPHeader(OFFSET) is modelled")

    def push(self, packet: Packet) -> Outputs:
        d, o = packet.data, self.offset
        plen = len(d) - o
        if plen < 20 or d[o] >> 4 != 4:
            return [(1, packet)]
        hlen = (d[o] & 0x0F) * 4
        length = struct.unpack_from("!H", d, o + 2)[0]
        if hlen < 20 or length > plen or length < hlen or internet_checksum(d[o : o + hlen]):
            return [(1, packet)]
        if bytes(d[o + 12 : o + 16]) in (b"\0\0\0\0", b"\xff\xff\xff\xff"):
            return [(1, packet)]  # default BADSRC: 0.0.0.0 and 255.255.255.255
        del d[o + length :]
        packet.network_header = o
        packet.dst_ip_anno = bytes(d[o + 16 : o + 20])
        return [(0, packet)]


class IPClassifier(Element):
    """elements/ip/ipclassifier.cc, for the primitives the templates use.

    ``src host A``, ``dst host A``, ``host A``, ``udp``/``tcp``/``icmp``, ``icmp type echo``,
    ``ip frag``/``ip unfrag``, ``-``/``any``/``true``/``false``, joined by ``and``/``or``/
    ``not``, parentheses, or adjacency (and). Transport fields match first fragments only.
    """

    ports = (1, 1, 1)

    def configure(self, args: list[str]) -> None:
        if not args:
            raise ClickConfigError(f"{self.name}: IPClassifier needs at least one pattern")
        self.tests = [self._compile(a) for a in args]
        self.ports = (1, len(args), len(args))

    def _compile(self, text: str) -> Callable[[Packet], bool]:
        toks = re.findall(r"\(|\)|&&|\|\||!|[^\s()!]+", text)
        pos = 0

        def peek() -> str | None:
            return toks[pos] if pos < len(toks) else None

        def take() -> str:
            nonlocal pos
            if pos >= len(toks):
                raise ClickConfigError(f"{self.name}: pattern {text!r} ends too early")
            pos += 1
            return str(toks[pos - 1])

        def disjunction() -> Callable[[Packet], bool]:
            terms = [conjunction()]
            while peek() in ("or", "||"):
                take()
                terms.append(conjunction())
            return lambda p: any(t(p) for t in terms)

        def conjunction() -> Callable[[Packet], bool]:
            factors = [factor()]
            while peek() is not None and peek() not in ("or", "||", ")"):
                if peek() in ("and", "&&"):
                    take()
                factors.append(factor())
            return lambda p: all(f(p) for f in factors)

        def factor() -> Callable[[Packet], bool]:
            word = take()
            if word in ("not", "!"):
                inner = factor()
                return lambda p: not inner(p)
            if word == "(":
                inner = disjunction()
                if take() != ")":
                    raise ClickConfigError(f"{self.name}: unbalanced '(' in {text!r}")
                return inner
            return primitive(word)

        def primitive(word: str) -> Callable[[Packet], bool]:
            if word in ("-", "any", "all", "true"):
                return lambda p: True
            if word == "false":
                return lambda p: False
            if word in ("src", "dst") or word == "host":
                where = [word] if word != "host" else ["src", "dst"]
                if word != "host" and take() != "host":
                    raise ClickConfigError(f"{self.name}: only '{word} host ADDR' is modelled")
                addr = _ip(take(), self.name)
                offsets = [12 if w == "src" else 16 for w in where]
                return lambda p: any(p.data[p.ip + o : p.ip + o + 4] == addr for o in offsets)
            if word == "ip":
                kind = take()
                if kind not in ("frag", "unfrag"):
                    raise ClickConfigError(f"{self.name}: 'ip {kind}' is not modelled")
                return lambda p: p.is_fragment == (kind == "frag")
            if word in PROTO:
                proto = PROTO[word]
                if word == "icmp" and peek() == "type":
                    take()
                    name = take()
                    icmp_type = ICMP_TYPES[name] if name in ICMP_TYPES else int(name)
                    return lambda p: (
                        p.data[p.ip + 9] == proto
                        and p.frag_offset == 0
                        and len(p.data) > p.transport
                        and p.data[p.transport] == icmp_type
                    )
                return lambda p: p.data[p.ip + 9] == proto
            raise ClickConfigError(f"{self.name}: IPClassifier primitive {word!r} is not modelled")

        test = disjunction()
        if pos != len(toks):
            raise ClickConfigError(f"{self.name}: unexpected {toks[pos]!r} in {text!r}")
        return test

    def push(self, packet: Packet) -> Outputs:
        for port, test in enumerate(self.tests):
            if test(packet):
                return [(port, packet)]
        return []


class ICMPPingResponder(Element):
    """elements/icmp/icmppingresponder.cc: echo request -> reply (addresses swapped, TTL 255)."""

    ports = (1, 1, 2)

    def push(self, packet: Packet) -> Outputs:
        d, ip, l4 = packet.data, packet.ip, packet.transport
        if len(d) - l4 < 8 or d[ip + 9] != 1 or d[l4] != 8:
            return [(1, packet)]
        d[ip + 12 : ip + 16], d[ip + 16 : ip + 20] = d[ip + 16 : ip + 20], d[ip + 12 : ip + 16]
        csum = struct.unpack_from("!H", d, ip + 10)[0]
        csum = _ones_update(csum, struct.unpack_from("!H", d, ip + 6)[0], 0)
        d[ip + 6 : ip + 8] = b"\0\0"
        old = struct.unpack_from("!H", d, ip + 8)[0]
        d[ip + 8] = 255
        csum = _ones_update(csum, old, struct.unpack_from("!H", d, ip + 8)[0])
        struct.pack_into("!H", d, ip + 10, csum)
        old = struct.unpack_from("!H", d, l4)[0]
        d[l4], d[l4 + 1] = 0, 0
        icmp_csum = _ones_update(struct.unpack_from("!H", d, l4 + 2)[0], old, 0)
        struct.pack_into("!H", d, l4 + 2, icmp_csum)
        if icmp_csum == 0 and not any(d[l4:]):  # click_update_zero_in_cksum (lib/in_cksum.c)
            d[l4 + 2 : l4 + 4] = b"\xff\xff"
        packet.dst_ip_anno = bytes(d[ip + 16 : ip + 20])
        return [(0, packet)]


class EtherMirror(Element):
    """elements/ethernet/ethermirror.cc: swaps the Ethernet source and destination."""

    def push(self, packet: Packet) -> Outputs:
        d = packet.data
        if len(d) >= ETH_HLEN:
            d[0:6], d[6:12] = d[6:12], d[0:6]
        return [(0, packet)]


class StoreIPAddress(Element):
    """elements/ip/storeipaddress.cc, ``StoreIPAddress(ADDR, src|dst)``: incremental sums."""

    ports = (1, 1, 2)

    def configure(self, args: list[str]) -> None:
        if len(args) != 2 or args[1].lower() not in ("src", "dst"):
            raise ClickConfigError(f"{self.name}: only StoreIPAddress(ADDR, src|dst) is modelled")
        self.address = _ip(args[0], self.name)
        self.field = 12 if args[1].lower() == "src" else 16

    def push(self, packet: Packet) -> Outputs:
        if packet.network_header is None or packet.ihl < 20:
            return [(1, packet)]
        d, ip = packet.data, packet.ip
        at = ip + self.field
        old = _word_sum(bytes(d[at : at + 4]))
        d[at : at + 4] = self.address
        new = _word_sum(self.address)
        csum = struct.unpack_from("!H", d, ip + 10)[0]
        struct.pack_into("!H", d, ip + 10, _ones_update(csum, old, new))
        l4, proto = packet.transport, d[ip + 9]
        if packet.frag_offset == 0:
            if proto == 6 and len(d) - l4 >= 20:
                csum = struct.unpack_from("!H", d, l4 + 16)[0]
                struct.pack_into("!H", d, l4 + 16, _ones_update(csum, old, new))
            elif proto == 17 and len(d) - l4 >= 8 and d[l4 + 6 : l4 + 8] != b"\0\0":
                csum = struct.unpack_from("!H", d, l4 + 6)[0]
                struct.pack_into("!H", d, l4 + 6, _ones_update(csum, old, new))
        return [(0, packet)]


class StoreEtherAddress(Element):
    """elements/ethernet/storeetheraddress.cc, ``StoreEtherAddress(ADDR, src|dst)``."""

    ports = (1, 1, 2)

    def configure(self, args: list[str]) -> None:
        if len(args) != 2 or args[1].lower() not in ("src", "dst"):
            raise ClickConfigError(
                f"{self.name}: only StoreEtherAddress(ADDR, src|dst) is modelled"
            )
        self.address = _mac(args[0], self.name)
        self.offset = 6 if args[1].lower() == "src" else 0

    def push(self, packet: Packet) -> Outputs:
        if len(packet.data) < self.offset + 6:
            return [(1, packet)]
        packet.data[self.offset : self.offset + 6] = self.address
        return [(0, packet)]


class Switch(Element):
    """elements/standard/switch.cc: every packet to output OUTPUT; its ``switch`` handler is
    writable (an output out of range means: drop)."""

    ports = (1, 0, 1 << 16)

    def configure(self, args: list[str]) -> None:
        self.output = _optional_number(
            args, f"{self.name}: Switch takes one output number, got {args}", signed=True
        )

    def write_handler(self, handler: str, value: str, outputs: int) -> None:
        if handler != "switch" or not value.strip().lstrip("-").isdigit():
            raise ClickConfigError(f"{self.name}: cannot write {handler!r} = {value!r}")
        chosen = int(value)
        self.output = chosen if chosen < outputs else -1

    def push(self, packet: Packet) -> Outputs:
        return [(self.output, packet)] if self.output >= 0 else []


class _SetChecksum(Element):
    """elements/tcpudp/set{udp,tcp}checksum.cc: summed afresh; fragments go to output 1."""

    ports = (1, 1, 2)
    proto = 0
    field = 0
    length_field: int | None = None

    def push(self, packet: Packet) -> Outputs:
        d, ip, l4 = packet.data, packet.ip, packet.transport
        tlen = len(d) - l4
        minimum = 8 if self.proto == 17 else 20
        if packet.is_fragment or tlen < minimum:
            return [(1, packet)]
        length = struct.unpack_from("!H", d, l4 + 4)[0] if self.proto == 17 else tlen
        if length > tlen or length < minimum:
            return [(1, packet)]
        d[l4 + self.field : l4 + self.field + 2] = b"\0\0"
        pseudo = bytes(d[ip + 12 : ip + 20]) + struct.pack("!BBH", 0, self.proto, length)
        struct.pack_into(
            "!H", d, l4 + self.field, internet_checksum(pseudo + bytes(d[l4 : l4 + length]))
        )
        return [(0, packet)]


class SetUDPChecksum(_SetChecksum):
    proto, field = 17, 6


class SetTCPChecksum(_SetChecksum):
    proto, field = 6, 16


MODELS: dict[str, type[Element]] = {
    cls.__name__: cls
    for cls in (
        FromDevice,
        ToDevice,
        Discard,
        Classifier,
        ARPResponder,
        CheckIPHeader,
        IPClassifier,
        ICMPPingResponder,
        EtherMirror,
        StoreIPAddress,
        StoreEtherAddress,
        SetUDPChecksum,
        SetTCPChecksum,
        Switch,
    )
}
