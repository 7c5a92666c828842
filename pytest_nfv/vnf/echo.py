"""Host B of the testbed: answer every UDP datagram with itself, to its sender.

Run inside host B's namespace: ``python -m pytest_nfv.vnf.echo --port 7``. Kept as small as
an echo can be, because its cost is in both the proxied and the direct figure and only the
difference between them is the proxy's.
"""

from __future__ import annotations

import argparse
import socket
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pytest_nfv.vnf.echo")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("0.0.0.0", args.port))
    buffer = bytearray(65536)
    print("ready", flush=True)
    while True:
        length, peer = sock.recvfrom_into(buffer)
        sock.sendto(memoryview(buffer)[:length], peer)


if __name__ == "__main__":
    sys.exit(main())
