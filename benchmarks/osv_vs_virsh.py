"""The osv backend's figures next to what a shell script with virsh and ping would measure.

Run as root with libvirtd up::

    python benchmarks/osv_vs_virsh.py [--counts 1,2,4,8,16] [--rounds 1] \
        [--sizes 64,1024,16384,65507] [--requests 20]

For each N, interleaved in the same run:

- **backend**: the osv backend boots N VMs together (``createXML``, a few at a time) and its
  prober times each from its start request to its first ICMP echo reply; then host memory
  (MemAvailable before/after) and the QEMU processes' PSS of N running VMs;
- **virsh loop**: the same domain XML, same guest, same switch, done the way a shell script
  would: one ``virsh create`` per VM, ``ip link set <tap> netns``/``master br0`` per tap,
  then ``ping -c1 -W1`` each VM in turn until every one has answered. Timed from the first
  ``virsh create`` to the last reply (1 s ping resolution is the loop's own limit).

Then the response time through the proxy VM (Algorithm 1 as a C UDP relay) and on the
direct path (the same hop with the guest kernel forwarding, or where the guest cannot
forward, as on OSv, A and B on the switch without the proxy VM), by payload size,
``--requests`` each.

``--image``/``--kernel`` boot a user's OSv image, as ``--nfv-image``/``--nfv-kernel`` do;
without them, the stand-in guest.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from pytest_nfv.backends.base import BackendSettings
from pytest_nfv.backends.osv.backend import LOG_DIR, OsvBackend
from pytest_nfv.backends.osv.domain import domain_xml
from pytest_nfv.harness.lab import Lab
from pytest_nfv.harness.probes.icmp import EchoProber
from pytest_nfv.harness.proxy_path import ProxyPath
from pytest_nfv.host.identity import RunIdentity


def run(*argv: str) -> None:
    subprocess.run(list(argv), check=True, capture_output=True)


def virsh_round(backend: OsvBackend, n: int, workdir: Path) -> float:
    """N VMs by ``virsh create`` and ``ip``, then a ping loop until all have answered."""
    switch = Path(backend.probe_netns or "").name
    specs = backend.plan(n)
    template = backend.domain_template
    names: list[str] = []
    try:
        start = time.monotonic()
        for k, spec in enumerate(specs):
            name = backend.identity.name(f"v{k}")
            dspec = backend.instance_domain(spec, "vnf", name=name)
            xml = workdir / f"{name}.xml"
            xml.write_text(domain_xml(template, dspec))
            run("virsh", "-q", "-c", backend.libvirt_uri, "create", str(xml))
            names.append(name)
            run("ip", "link", "set", str(dspec.tap), "netns", switch)
            run("ip", "-n", switch, "link", "set", str(dspec.tap), "master", "br0", "up")
        waiting = [str(spec.address) for spec in specs]
        deadline = time.monotonic() + 120
        while waiting and time.monotonic() < deadline:
            address = waiting[0]
            ping = ["ip", "netns", "exec", switch, "ping", "-c1", "-W1", "-q", address]
            if subprocess.run(ping, capture_output=True, check=False).returncode == 0:
                waiting.pop(0)
        if waiting:
            raise RuntimeError(f"{len(waiting)} virsh-created VMs never answered ping")
        return time.monotonic() - start
    finally:
        for name in names:
            subprocess.run(
                ["virsh", "-q", "-c", backend.libvirt_uri, "destroy", name],
                capture_output=True,
                check=False,
            )
            (workdir / f"{name}.xml").unlink(missing_ok=True)
            (LOG_DIR / f"{name}.log").unlink(missing_ok=True)
        backend.release(specs)  # the backend never started them: their addresses only


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--counts", default="1,2,4,8,16")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--sizes", default="64,1024,16384,65507")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--image", help="an OSv disk image (as --nfv-image)")
    parser.add_argument("--kernel", type=Path, help="an OSv kernel ELF (as --nfv-kernel)")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    sizes = [int(s) for s in args.sizes.split(",")]
    settings = BackendSettings(image=args.image, kernel=args.kernel, boot_timeout_s=300.0)
    with (
        OsvBackend(RunIdentity.new(), settings) as backend,
        EchoProber(backend.probe_netns, backend.probe_interval_s) as prober,
        tempfile.TemporaryDirectory() as workdir,
    ):
        print(f"engine: {backend.engine().describe()}")
        lab = Lab(backend, prober, 300)
        print("N  backend makespan  per-instance mean  virsh+ping loop  host MiB  PSS MiB")
        for n in counts:
            ours, per, theirs, host, pss = [], [], [], [], []
            for _ in range(args.rounds):
                boot = lab.boot_round(n)
                ours.append(boot.makespan_s)
                per.extend(boot.per_instance_s)
                theirs.append(virsh_round(backend, n, Path(workdir)))
                memory = lab.memory_round(n)
                host.append(memory.host_delta_mib)
                pss.append(memory.pss_mib)
            print(
                f"{n:<3}{statistics.fmean(ours):>14.2f} s{statistics.fmean(per):>17.2f} s"
                f"{statistics.fmean(theirs):>15.2f} s{statistics.fmean(host):>10.0f}"
                f"{statistics.fmean(pss):>9.0f}",
                flush=True,
            )
        path = ProxyPath(lab, path_timeout_s=120)
        try:
            print("payload  proxy VM (C UDP relay)  direct path (see the engine's notes)")
            for size in sizes:
                proxied = [path.round_trip(size, "proxy").seconds for _ in range(args.requests)]
                direct = [path.round_trip(size, "direct").seconds for _ in range(args.requests)]
                print(
                    f"{size:>7}  {statistics.median(proxied) * 1e3:>10.2f} ms median"
                    f"{statistics.median(direct) * 1e3:>22.2f} ms median",
                    flush=True,
                )
        finally:
            path.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
