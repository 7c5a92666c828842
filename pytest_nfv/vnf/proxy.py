"""The proxy VNF of the netns backend: Algorithm 1 as a process on one interface.

Run inside the proxy instance's namespace::

    python -m pytest_nfv.vnf.proxy --iface eth0 --host-a 10.213.0.3 --mac-a 02:.. \
        --host-b 10.213.0.4 --mac-b 02:.. [--sink-port 7]

It reads every frame addressed to its own MAC on ``--iface`` through an AF_PACKET socket,
rewrites it (``rewrite.rewrite_frame``) and sends it back out of the same interface. Its
standard input is a control channel, one command per line, each answered ``ok`` on stdout:
``set-b IP MAC`` (reconfigure: B is now elsewhere), ``pause`` / ``resume`` (close the packet
socket while the kernel routes the same path, for the direct-path comparison; open it again),
and EOF ends it.
``--sink-port`` binds a UDP socket on the proxy's address so datagrams A sends to the proxy
are not answered with ICMP port-unreachable by the proxy's own kernel.
``--hold-us`` holds every frame that long before sending it on (a busy wait, exact to a few
microseconds where a sleep would not be): a known slowdown of the proxy's hop, with which a
benchmark checks that the regression gate sees one. The netns backend passes the value of
``NFV_PROXY_HOLD_US`` from its environment; unset or 0, nothing is held.
``--slowdown`` (``x1.2``, ``+20%``, ``+30us``; from ``NFV_PROXY_SLOWDOWN``) slows each round
trip rather than each frame, relatively or by a fixed amount: see ``vnf.slowdown``.
``--paused`` starts it as a ``pause`` leaves it: a second variant of the proxy (``--nfv-proxy-b``)
waits so beside the first until it is resumed in the first's place.
"""

from __future__ import annotations

import argparse
import ipaddress
import selectors
import socket
import struct
import sys
import time
from collections.abc import Mapping

from pytest_nfv.errors import NfvUsageError
from pytest_nfv.vnf.rewrite import ETH_HLEN, ProxyTable, mac_bytes, rewrite_frame
from pytest_nfv.vnf.slowdown import Slowdown, Slower, parse_slowdown

ETH_P_ALL = 0x0003
PACKET_HOST = 0
PACKET_IGNORE_OUTGOING = 23
SOL_PACKET = 263
FRAME_BUFFER = 65536 + 64
SO_TIMESTAMPNS = 35  # and SCM_TIMESTAMPNS: a struct timespec of CLOCK_REALTIME
_TIMESPEC = struct.Struct("@qq")
_STAMP_SPACE = socket.CMSG_SPACE(_TIMESPEC.size)
_SRC = slice(ETH_HLEN + 12, ETH_HLEN + 16)
HOLD_ENV = "NFV_PROXY_HOLD_US"
MAX_HOLD_US = 100_000


def hold_from_env(environ: Mapping[str, str]) -> int:
    """Microseconds the proxy holds each frame, from ``NFV_PROXY_HOLD_US`` (0 when unset).

    Raises:
        NfvUsageError: the value is not a whole number of microseconds in 0..100000.
    """
    text = environ.get(HOLD_ENV, "").strip()
    if not text:
        return 0
    if not text.isdigit() or int(text) > MAX_HOLD_US:
        raise NfvUsageError(f"{HOLD_ENV}={text!r}: expected whole microseconds in 0..{MAX_HOLD_US}")
    return int(text)


def hold(nanoseconds: int) -> None:
    """Busy-wait ``nanoseconds``: a sleep would add the scheduler's slack on top."""
    until = time.perf_counter_ns() + nanoseconds
    while time.perf_counter_ns() < until:
        pass


def _slowdown(text: str) -> Slowdown | None:
    try:
        return parse_slowdown(text, "--slowdown")
    except NfvUsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _ip(text: str) -> bytes:
    return ipaddress.IPv4Address(text).packed


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pytest_nfv.vnf.proxy", description=__doc__)
    parser.add_argument("--iface", default="eth0")
    parser.add_argument("--host-a", required=True)
    parser.add_argument("--mac-a", required=True)
    parser.add_argument("--host-b", required=True)
    parser.add_argument("--mac-b", required=True)
    parser.add_argument("--sink-port", type=int, default=0)
    parser.add_argument("--hold-us", type=int, default=0, metavar="US")
    parser.add_argument("--slowdown", type=_slowdown, default=None, metavar="SPEC")
    parser.add_argument("--paused", action="store_true", help="start as after a pause")
    return parser.parse_args(argv)


def _own_mac(iface: str) -> bytes:
    with open(f"/sys/class/net/{iface}/address") as f:
        return mac_bytes(f.read().strip())


def _open_wire(iface: str, stamped: bool) -> socket.socket:
    wire = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    wire.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    if stamped:
        wire.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    wire.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    wire.bind((iface, 0))
    wire.setblocking(False)
    return wire


def _arrival_ns(ancillary: list[tuple[int, int, bytes]]) -> int:
    """When the kernel received the frame, on ``CLOCK_MONOTONIC``; now where it gave no stamp.

    The kernel's stamp leaves out this process's own wake-up, which a slowdown's estimate of
    the round trip would otherwise count twice (``vnf.slowdown``). It is CLOCK_REALTIME, and
    is moved onto the monotonic clock host A's send time is on by their offset now.
    """
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            sec, nsec = _TIMESPEC.unpack_from(data)
            return int(sec * 1_000_000_000 + nsec - (time.time_ns() - time.monotonic_ns()))
    return time.monotonic_ns()


def serve(args: argparse.Namespace) -> int:
    """Forward until EOF on stdin.

    Paused, the proxy has no packet socket at all: the kernel then forwards the same hop
    exactly as it would without the VNF, with no tap copying every frame to a process that
    would only drop it.
    """
    table = ProxyTable(
        _ip(args.host_a),
        _ip(args.host_b),
        mac_bytes(args.mac_a),
        mac_bytes(args.mac_b),
        _own_mac(args.iface),
    )
    slower = Slower(args.slowdown) if args.slowdown is not None else None
    stamped = slower is not None and slower.slowdown.relative
    wire = None if args.paused else _open_wire(args.iface, stamped)
    sink = None
    if args.sink_port:
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
        sink.bind(("0.0.0.0", args.sink_port))
    control = sys.stdin.buffer
    selector = selectors.DefaultSelector()
    if wire is not None:
        selector.register(wire, selectors.EVENT_READ, "wire")
    selector.register(control, selectors.EVENT_READ, "control")
    buffer = bytearray(FRAME_BUFFER)
    hold_ns = args.hold_us * 1000
    print("ready", flush=True)
    while True:
        for key, _ in selector.select():
            if key.data == "control":
                line = control.readline()
                if not line:
                    return 0
                forwarding, table = _command(line.decode().split(), wire is not None, table)
                if forwarding and wire is None:
                    reopened = _open_wire(args.iface, stamped)
                    selector.register(reopened, selectors.EVENT_READ, "wire")
                    wire = reopened
                elif not forwarding and wire is not None:
                    selector.unregister(wire)
                    wire.close()
                    wire = None
                print("ok", flush=True)
                continue
            if wire is None:  # closed by the command handled just before, in this batch
                continue
            _forward(wire, buffer, table, hold_ns, slower, stamped)


def _forward(
    wire: socket.socket,
    buffer: bytearray,
    table: ProxyTable,
    hold_ns: int,
    slower: Slower | None,
    stamped: bool,
) -> None:
    """Rewrite and send on every frame the packet socket holds now."""
    while True:
        arrived_ns = 0
        try:
            if not stamped:
                length, address = wire.recvfrom_into(buffer)
            else:
                length, ancillary, _, address = wire.recvmsg_into([buffer], _STAMP_SPACE)
                arrived_ns = _arrival_ns(ancillary)
        except BlockingIOError:
            return
        if address[2] == PACKET_HOST and rewrite_frame(buffer, length, table):
            held_ns = hold_ns
            if slower is not None:
                from_a = buffer[_SRC] == table.host_a
                held_ns += slower.delay_ns(buffer, length, from_a, arrived_ns)
            if held_ns:
                hold(held_ns)
            wire.send(memoryview(buffer)[:length])


def _command(words: list[str], forwarding: bool, table: ProxyTable) -> tuple[bool, ProxyTable]:
    if words == ["pause"]:
        return False, table
    if words == ["resume"]:
        return True, table
    if len(words) == 3 and words[0] == "set-b":
        return forwarding, ProxyTable(
            table.host_a, _ip(words[1]), table.mac_a, mac_bytes(words[2]), table.own_mac
        )
    print(f"error unknown command {' '.join(words)!r}", file=sys.stderr, flush=True)
    return forwarding, table


def main(argv: list[str] | None = None) -> int:
    return serve(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
