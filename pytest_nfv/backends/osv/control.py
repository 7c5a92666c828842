"""The proxy guest's control channel: one UDP command from the switch, one answer.

The relay (``proxy_vnf/c/relay.c``) listens on ``CONTROL_PORT`` and takes commands only from
the switch's address (the gateway), so the backend switches the path and reconfigures the
proxy without a console or an agent in the guest.
"""

from __future__ import annotations

import socket
import time

from pytest_nfv.backends.shared.switch import GATEWAY, PROXY
from pytest_nfv.errors import BackendError
from pytest_nfv.host.namespaces import entered

__all__ = ["CONTROL_PORT", "send_command"]

CONTROL_PORT = 7070
_CONTROL_TIMEOUT_S = 5.0


def send_command(
    netns: str, command: str, refusals_ok: tuple[str, ...] = (), console: str = ""
) -> str:
    """Send ``command`` to the proxy guest from the switch namespace ``netns``; its answer.

    Resent until answered: a command may be lost, or the guest still booting, and every
    command is idempotent.

    Raises:
        BackendError: no answer, or one other than ``ok`` and ``refusals_ok``'s prefixes;
            the message names ``console`` (the guest's console log) for a silent guest.
    """
    with entered(netns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((str(GATEWAY), 0))
        sock.settimeout(0.25)
        deadline = time.monotonic() + _CONTROL_TIMEOUT_S
        while time.monotonic() < deadline:
            sock.sendto(command.encode(), (str(PROXY), CONTROL_PORT))
            try:
                reply = sock.recv(256).decode(errors="replace")
            except TimeoutError:
                continue  # lost, or the guest is still booting: the command is idempotent
            if reply == "ok" or (refusals_ok and reply.startswith(refusals_ok)):
                return reply
            raise BackendError(f"proxy VNF refused {command!r}: {reply}")
    finally:
        sock.close()
    raise BackendError(
        f"proxy VNF did not acknowledge {command!r} within {_CONTROL_TIMEOUT_S:g} s "
        f"(console log: {console})"
    )
