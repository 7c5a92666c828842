"""A checked Click configuration as a router that frames can be pushed through.

The proxy VNF runs inside a Xen domain this project's CI cannot start, so its packet
behaviour is checked here instead: ``check`` refuses what Click or ClickOS would refuse, and
``Router`` wires the element models of ``click.elements`` exactly as the parsed
configuration says. A frame pushed into ``FromDevice`` comes out of ``ToDevice`` (sent),
``Discard`` (dropped) or nowhere (killed by an element, as Click does when an optional output
is not connected).

Only the classes the shipped templates use are modelled; a configuration using another class
fails ``check`` with a clear error, so the model can never silently pass over an element.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pytest_nfv.backends.clickos.click.elements import (
    MODELS,
    Discard,
    Element,
    FromDevice,
    Packet,
    Switch,
    ToDevice,
)
from pytest_nfv.backends.clickos.click.language import (
    ClickConfigError,
    ClickConfiguration,
    clickos_element_classes,
    split_arguments,
)

__all__ = ["Packet", "Router", "RunResult", "check"]


def _instantiate(conf: ClickConfiguration) -> dict[str, Element]:
    elements: dict[str, Element] = {}
    for decl in conf.elements.values():
        model = MODELS.get(decl.cls)
        if model is None:
            raise ClickConfigError(
                f"line {decl.line}: {decl.name} :: {decl.cls} has no executable model; "
                f"modelled classes: {', '.join(sorted(MODELS))}"
            )
        elements[decl.name] = model(decl.name, split_arguments(decl.config))
    return elements


def check(conf: ClickConfiguration) -> dict[str, Element]:
    """What Click and ClickOS would refuse, as one error listing every problem.

    Every class must be one a ClickOS image ships and one the model runs; every connection
    must use ports the element has; every output must be connected exactly once, except the
    optional second output of elements that drop when it is absent; every input at least once.

    Raises:
        ClickConfigError: with one line per problem.
    """
    problems = []
    shipped = clickos_element_classes()
    for decl in conf.elements.values():
        if decl.cls not in shipped:
            problems.append(f"line {decl.line}: {decl.cls} is not an element ClickOS ships")
    if problems:
        raise ClickConfigError("; ".join(problems))
    elements = _instantiate(conf)
    for name, element in elements.items():
        n_in, min_out, max_out = element.ports
        line = conf.elements[name].line
        for port, conns in conf.outputs_of(name).items():
            if port >= max_out:
                problems.append(f"line {conns[0].line}: {name} has no output {port}")
            elif len(conns) > 1:
                problems.append(f"line {conns[1].line}: {name} output {port} connected twice")
        for port, conns in conf.inputs_of(name).items():
            if port >= n_in:
                problems.append(f"line {conns[0].line}: {name} has no input {port}")
        outs = conf.outputs_of(name)
        problems += [
            f"line {line}: {name} output {p} is not connected"
            for p in range(min_out)
            if p not in outs
        ]
        ins = conf.inputs_of(name)
        problems += [
            f"line {line}: {name} input {p} is not connected" for p in range(n_in) if p not in ins
        ]
    if problems:
        raise ClickConfigError("; ".join(problems))
    return elements


@dataclass
class RunResult:
    """Where the frames pushed into a router ended up."""

    sent: list[bytes] = field(default_factory=list)
    dropped: list[bytes] = field(default_factory=list)


class Router:
    """A checked configuration that frames can be pushed through (FromDevice 0 -> ToDevice 0)."""

    def __init__(self, conf: ClickConfiguration) -> None:
        self.conf = conf
        self.elements = check(conf)
        sources = [
            e for e in self.elements.values() if isinstance(e, FromDevice) and e.ports[0] == 0
        ]
        if len(sources) != 1:
            raise ClickConfigError(f"expected one FromDevice, found {len(sources)}")
        self.source = sources[0]
        self.wires = {
            (c.source, c.source_port): (c.target, c.target_port) for c in conf.connections
        }

    def write_handler(self, element: str, handler: str, value: str) -> None:
        """What ClickOS does on a xenstore write to ``elements/<element>/<handler>``."""
        target = self.elements.get(element)
        if not isinstance(target, Switch):
            raise ClickConfigError(f"no writable handler {element}.{handler} in the model")
        target.write_handler(handler, value, len(self.conf.outputs_of(element)))

    def push(self, frame: bytes) -> RunResult:
        """Run one received frame through the configuration."""
        result = RunResult()
        pending: list[tuple[str, int, Packet]] = [(self.source.name, 0, Packet(bytearray(frame)))]
        steps = 0
        while pending:
            name, port, packet = pending.pop()
            target = self.wires.get((name, port))
            if target is None:
                continue  # an optional output left unconnected: Click kills the packet
            steps += 1
            if steps > 10_000:
                raise ClickConfigError("a packet loops through the configuration")
            element = self.elements[target[0]]
            if isinstance(element, ToDevice):
                result.sent.append(bytes(packet.data))
            elif isinstance(element, Discard):
                result.dropped.append(bytes(packet.data))
            else:
                pending += [(element.name, p, q) for p, q in element.push(packet)]
        return result
