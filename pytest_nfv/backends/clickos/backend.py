"""ClickOS: each instance is a Xen domain (MiniOS + Click) running a Click configuration.

The paper's setup (section III-B): Xen on the VNF server, one ClickOS VM per VNF with one vCPU
and 12 MB, the proxy of Algorithm 1 as a Click configuration. Here, on a Xen dom0:

- a domain is created through libvirt's libxl driver (``--nfv-libvirt-uri``, default
  ``xen:///system``; ``backends.shared.libvirt``) from ``fixtures/domains/clickos.xml``
  (``xen.domains``);
- once the guest has announced itself in xenstore, its Click configuration is installed and
  started there, the way ClickOS's own tools do it (``xen.xenstore``); the
  configurations are the templates in ``proxy_vnf/click/``, parsed and checked first;
- the domains' vifs join a bridge in dom0's root namespace (``xen.bridge``), which a
  veth joins to the run's switch namespace (``backends.shared.switch``), whose prober and testbed
  hosts (A, B, B2 with their echo responders) are the same as the netns backend's.

Boot time is the same figure as for every backend: from the start request to the first ICMP
echo reply, which a ClickOS instance sends only once its configuration runs. Memory: the host
before/after, and per domain the hypervisor's own accounting (``engine_memory_mib``) in
place of a PSS (a PV MiniOS domain has no dom0 process to take one of).

On a host without Xen, ``open`` raises ``BackendUnavailable`` listing every probe; nothing is
created before the probes pass.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_nfv.backends.base import (
    BackendSettings,
    CleanupReport,
    EngineInfo,
    EngineTargets,
    StartCallback,
)
from pytest_nfv.backends.clickos.click.render import (
    PROXY_SWITCH,
    instance_config,
    proxy_config,
    rendered_and_checked,
)
from pytest_nfv.backends.clickos.standin.guest import manifest_beside
from pytest_nfv.backends.clickos.xen.bridge import create_bridge, reap_bridges, remove_bridge
from pytest_nfv.backends.clickos.xen.domains import (
    BACKEND,
    DomainSpec,
    read_template,
    render_domain,
)
from pytest_nfv.backends.clickos.xen.host import Probe, probe_dom0, unavailable_reason
from pytest_nfv.backends.clickos.xen.migration import (
    LIVE_METHOD,
    SAVE_METHOD,
    XlMove,
    live_block,
    reap_save_images,
    recover,
    save_image,
    save_restore,
)
from pytest_nfv.backends.clickos.xen.xenstore import (
    ClickosControl,
    CommandRunner,
    PathWatch,
    run_command,
    watch_paths,
)
from pytest_nfv.backends.clickos.xen.xl import Xl, reap_xl_domains
from pytest_nfv.backends.migration import ColdMigration, LiveMigration, ProgressCallback
from pytest_nfv.backends.shared.libvirt import LibvirtConnection, reap_domains
from pytest_nfv.backends.shared.switch import Switch
from pytest_nfv.backends.shared.teardown import Teardown
from pytest_nfv.errors import BackendError, BackendUnavailable
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.reap import ReapRule
from pytest_nfv.model import Instance, InstanceSpec, PathMode, Testbed
from pytest_nfv.resources import budgets_file, fixtures_dir

__all__ = ["DEFAULT_URI", "ClickosBackend", "make", "reap"]

DEFAULT_URI = "xen:///system"


@dataclass
class _Domain:
    """One domain of the run; ``xl_owned`` once a move brought it up (libvirt no longer
    knows it: ``xen.xl``)."""

    name: str
    domid: int
    router: int = -1
    xl_owned: bool = False


class ClickosBackend:
    """ClickOS domains on a Xen dom0; the testbed side is the run's switch.

    Args:
        identity: the run identity every domain, namespace and link is named after.
        image: the ClickOS kernel (``--nfv-image``).
        libvirt_uri: the libxl connection.
        template: the domain XML template.
        boot_timeout_s: how long a guest may take to announce itself in xenstore.
        runner: runs the xenstore argv lists (tests capture them).
        watch: opens a xenstore watch (tests script one).
        probe: the host probes (tests point them at fixtures).
    """

    name = BACKEND
    proxy_carries_icmp_echo = False
    """The Click proxy and its stand-in are verified with UDP only (``IcmpEchoProxy``)."""

    def __init__(
        self,
        identity: RunIdentity,
        image: str | None,
        libvirt_uri: str = DEFAULT_URI,
        template: Path | None = None,
        boot_timeout_s: float = 60.0,
        runner: CommandRunner = run_command,
        watch: PathWatch = watch_paths,
        probe: Callable[[str | None], list[Probe]] = probe_dom0,
    ) -> None:
        self.identity = identity
        self._switch = Switch(identity, self.name)
        self._libvirt = LibvirtConnection(libvirt_uri, self.name)
        self._image = image
        self._template_path = template or fixtures_dir() / "domains" / "clickos.xml"
        self._template = ""
        self._boot_timeout_s = boot_timeout_s
        self._control = ClickosControl(runner, watch)
        self._xl = Xl()
        self._probe = probe
        self._version = ""
        self._standin: dict[str, str] | None = None
        self._bridge: str | None = None
        self._instances: dict[str, _Domain] = {}
        self._proxy: _Domain | None = None
        self._moved = False
        self._hypervisor = ""

    # ---- lifecycle ----------------------------------------------------------------------

    def open(self) -> None:
        reason = unavailable_reason(self._probe(self._image))
        if reason is not None:
            raise BackendUnavailable(reason)
        self._template = read_template(self._template_path)
        self._libvirt.open()  # BackendUnavailable names the URI and the error
        try:
            hypervisor, library = self._libvirt.versions()
        except Exception:
            self._libvirt.close()
            raise
        self._version = f"{hypervisor}, libvirt {library}"
        self._hypervisor = ""
        if Xl.missing() is None:
            with contextlib.suppress(BackendError):  # the note is extra: libvirt answered
                self._hypervisor = self._xl.hypervisor()
        self._standin = manifest_beside(self._image)
        self.identity.register(self.name)
        try:
            self._switch.open()
            self._bridge = create_bridge(self.identity, self._switch.namespace)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Domains first (their vifs leave the bridge), then the bridge, then the namespaces."""
        teardown = Teardown(self.name)
        for domain in [*self._instances.values(), *([self._proxy] if self._proxy else [])]:
            teardown.step(functools.partial(self._destroy, domain))
        self._instances.clear()
        self._proxy = None
        if self._libvirt.opened:
            own = ReapRule.own_run(self.identity.run_id)  # on the connection still open
            teardown.note(self._libvirt.reap(own, dry_run=False).errors)
            self._libvirt.close()
            if self._moved:  # a move's leftovers are xl's, not libvirt's
                teardown.note(reap_xl_domains(own, dry_run=False, xl=self._xl).errors)
                teardown.note(reap_save_images(own, dry_run=False).errors)
        if self._bridge is not None:
            remove_bridge(self._bridge)
            self._bridge = None
        teardown.step(self._switch.close)
        self.identity.unregister()
        teardown.finish()

    def engine(self) -> EngineInfo:
        """Before ``open`` only the target; after it, what libvirt reports and, when the image
        is the ClickOS stand-in, that it is (read at ``open``)."""
        image = self._image or "not given"
        if not self._version:
            what = ", the ClickOS stand-in, not ClickOS" if manifest_beside(self._image) else ""
            return EngineInfo("xen", f"via {self._libvirt.uri}, image {image}{what}")
        notes = [f"libvirt {self._libvirt.uri}", f"image {image}"]
        if self._hypervisor:
            notes.append(self._hypervisor)
        if self._standin is not None:
            notes.append(
                f"the ClickOS stand-in (Linux {self._standin.get('kernel_release', '?')}), "
                f"not ClickOS: {self._standin['stands_in_for']} stood in"
            )
        return EngineInfo("xen", self._version, tuple(notes))

    def budget_choice(self) -> tuple[Path, str] | None:
        """The stand-in's own budgets when the image is the stand-in; else the default."""
        if manifest_beside(self._image) is None:
            return None
        path = budgets_file("clickos-standin")
        why = "the ClickOS stand-in runs, not ClickOS: its own figures"
        return None if path is None else (path, why)

    def __enter__(self) -> ClickosBackend:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def probe_netns(self) -> str | None:
        return self._switch.probe_netns

    # ---- domains ------------------------------------------------------------------------

    def _launch(self, spec: InstanceSpec, role: str) -> _Domain:
        """Create one domain (the start request proper); its configuration comes after."""
        assert self._image is not None
        assert self._bridge is not None
        xml = render_domain(
            self._template,
            DomainSpec(spec.name, role, self._image, self._bridge, spec.mac),
            self.identity,
            str(self._template_path),
        )
        return _Domain(spec.name, int(self._libvirt.create(xml, spec.name).ID()))

    def _configure(self, work: Sequence[tuple[_Domain, str, str]]) -> None:
        """Give each domain its configuration as soon as its guest has announced itself.

        ``work`` is ``(domain, label, configuration)``; all share one boot deadline, and the
        guests are watched together, so none waits behind another's boot.
        """
        by_domid = {domain.domid: (domain, label, config) for domain, label, config in work}
        for _domain, _label, config in work:
            rendered_and_checked(config)
        deadline = time.monotonic() + self._boot_timeout_s
        for domid in self._control.announced(list(by_domid), deadline):
            domain, label, config = by_domid[domid]
            domain.router = self._control.start(domid, label, config)

    def _destroy(self, domain: _Domain) -> None:
        if domain.xl_owned:
            self._xl.destroy(domain.domid)
        else:
            self._libvirt.destroy(domain.name)

    def plan(self, count: int) -> list[InstanceSpec]:
        return self._switch.plan(count)

    def release(self, specs: Sequence[InstanceSpec]) -> None:
        """Planned instances have no neighbour entry yet (``start`` adds it): only addresses."""
        self._switch.release_planned(specs, self._instances)

    def start(self, specs: Sequence[InstanceSpec], on_start: StartCallback) -> list[Instance]:
        """Create every domain, then give each its configuration as soon as it is up."""
        started: list[Instance] = []
        launched: list[tuple[InstanceSpec, _Domain]] = []
        try:
            for spec in specs:
                self._switch.add_neighbour(spec.address, spec.mac)  # its vif is behind the uplink
                on_start(spec)
                start_ns = time.time_ns()
                domain = self._launch(spec, "vnf")
                self._instances[spec.name] = domain
                launched.append((spec, domain))
                started.append(Instance(spec, start_ns, self._switch.probe_netns, ()))
            self._configure(
                [(domain, "instance", instance_config(s.address, s.mac)) for s, domain in launched]
            )
        except BaseException:
            try:  # all or nothing: what started goes, every address is free again
                self.stop(started)
            finally:
                running = {instance.name for instance in started}
                for spec in specs:
                    if spec.name not in running:
                        self._switch.remove_neighbour(spec.address, spec.mac)
                        self._switch.release(spec.address)
            raise
        return started

    def stop(self, instances: Sequence[Instance]) -> None:
        errors = []
        for instance in instances:
            domain = self._instances.pop(instance.name, None)
            if domain is None:
                continue
            try:
                self._destroy(domain)
            except BackendError as exc:
                errors.append(str(exc))
            self._switch.remove_neighbour(instance.address, instance.spec.mac)
            self._switch.release(instance.address)
        if errors:
            raise BackendError("; ".join(errors))

    def memory_pids(self, instance: Instance) -> Sequence[int]:
        return ()  # a PV MiniOS domain has no dom0 process: see engine_memory_mib

    def engine_memory_mib(self, instances: Sequence[Instance]) -> list[float]:
        """Memory the hypervisor has given each instance's domain."""
        return [self._memory_mib(i.name) for i in instances]

    def _memory_mib(self, name: str) -> float:
        domain = self._instances.get(name)
        if domain is None or not domain.xl_owned:
            return self._libvirt.memory_mib(name)
        listed = self._xl.named(name)
        if listed is None:
            raise BackendError(f"cannot read the memory of domain {name}: xl does not list it")
        return float(listed.memory_mib)

    kernel_memory_method: str | None = (
        "sum over the domains of the memory the hypervisor accounts to each (libvirt domain info)"
    )
    """A PV domain's memory is what Xen gave it, whatever dom0's kernel sees: the hypervisor's
    figure is the kernel-accounted one here."""

    def kernel_memory_mib(self, instances: Sequence[Instance]) -> float:
        """The hypervisor's count of the domains' memory, summed, in MiB.

        Raises:
            BackendError: a domain is gone, or libvirt refused.
        """
        return sum(self.engine_memory_mib(instances))

    # ---- testbed ------------------------------------------------------------------------

    def deploy_testbed(self) -> Testbed:
        """The switch's hosts, with the proxy's MAC known in advance on A, B and B2."""
        return self._switch.deploy_hosts(hosts_know_proxy=True)

    def start_proxy(self, testbed: Testbed, on_start: StartCallback) -> Instance:
        if self._proxy is not None:
            raise BackendError("the proxy VNF is already running")
        spec = InstanceSpec(testbed.proxy.name, testbed.proxy.address, testbed.proxy.mac, "proxy")
        config = proxy_config(testbed.proxy, testbed.host_a, testbed.host_b, testbed.host_b2)
        rendered_and_checked(config)  # refuse before the clock starts, not after
        on_start(spec)
        start_ns = time.time_ns()
        self._proxy = self._launch(spec, "proxy")
        self._configure([(self._proxy, "proxy", config)])
        return Instance(spec, start_ns, self._switch.probe_netns, ())

    def stop_proxy(self, proxy: Instance) -> None:
        domain, self._proxy = self._proxy, None
        if domain is not None:
            self._destroy(domain)

    def set_path(self, testbed: Testbed, mode: PathMode) -> None:
        """Nothing to switch: the plain path is resident in the proxy's configuration.

        ``proxy.click`` forwards A's packets addressed to the proxy through Algorithm 1 and
        A's packets addressed to B itself with only their Ethernet header readdressed, in the
        same domain. Reloading a configuration per mode would restart the router (and its
        netfront) between every pair of measurements.
        """
        if self._proxy is None:
            raise BackendError("the proxy VNF is not running")

    def reconfigure_proxy(self, testbed: Testbed, host_b_is_b2: bool) -> None:
        """Write the proxy's ``target`` Switch through xenstore: B (0) or B2 (1)."""
        proxy = self._proxy
        if proxy is None or proxy.router < 0:
            raise BackendError("the proxy VNF is not running")
        element, handler = PROXY_SWITCH
        self._control.write_handler(
            proxy.domid, proxy.router, element, handler, "1" if host_b_is_b2 else "0"
        )

    # ---- migration (``Migratable``; the engine's side is in ``xen.migration``) ---------

    def migration_block(self) -> str | None:
        if not self._libvirt.opened:
            return "the clickos backend is not open"
        return Xl.missing()

    def migrate_live(
        self, instance: Instance, on_progress: ProgressCallback | None = None
    ) -> LiveMigration:
        """``xl migrate`` to this dom0; the domain is xl's from then on (module ``xen.xl``).

        Raises:
            BackendUnavailable: the hypervisor cannot move a PV domain live (``live_block``).
            BackendError: the move failed (the message says what became of the source).
        """
        domain = self._running_domain(instance)
        reason = live_block(self._xl.virt_caps())
        if reason is not None:
            raise BackendUnavailable(reason)
        self._moved = True
        try:
            figures = XlMove(domain.name, domain.domid).run(on_progress)
            moved = self._xl.named(domain.name)
            if moved is None or not moved.running or moved.domid == domain.domid:
                raise BackendError(f"xl reported the move done, but lists {moved}")
        except BackendError as exc:
            what = f"live migration of {domain.name} failed: {exc}"
            try:
                resumed = recover(self._xl, domain.name, domain.domid)
            except BackendError as again:
                resumed = False
                what += f"; recovering failed too ({again})"
            if resumed:
                raise BackendError(f"{what}; no destination is left, the source runs on") from exc
            self._forget(instance, domain)
            raise BackendError(f"{what}; the source did not run again and was destroyed") from exc
        domain.domid, domain.xl_owned = moved.domid, True
        return LiveMigration(moved=instance, method=LIVE_METHOD, **figures)

    def save_restore(self, instance: Instance) -> ColdMigration:
        """``xl save`` to the run's own file, ``xl restore`` from it; the file goes after."""
        domain = self._running_domain(instance)
        self._moved = True
        try:
            image = save_image(domain.name)
            domid, save_s, restore_s, size = save_restore(
                self._xl, domain.name, domain.domid, image
            )
        except BackendError as exc:
            left = self._xl.named(domain.name)
            if left is not None and left.domid == domain.domid and left.running:
                raise BackendError(f"{exc}; {domain.name} runs on, not saved") from exc
            self._forget(instance, domain)
            raise
        domain.domid, domain.xl_owned = domid, True
        return ColdMigration(instance, save_s, restore_s, size, SAVE_METHOD)

    def _running_domain(self, instance: Instance) -> _Domain:
        proxy = self._proxy
        if proxy is not None and proxy.name == instance.name:
            return proxy
        domain = self._instances.get(instance.name)
        if domain is None:
            raise BackendError(f"{instance.name} is not an instance this backend runs")
        return domain

    def _forget(self, instance: Instance, domain: _Domain) -> None:
        """A domain that is gone: no longer the run's to stop, its address free again."""
        if self._proxy is domain:
            self._proxy = None
            return
        self._instances.pop(domain.name, None)
        self._switch.remove_neighbour(instance.address, instance.spec.mac)
        self._switch.release(instance.address)


def make(name: str, identity: RunIdentity, settings: BackendSettings) -> ClickosBackend:
    return ClickosBackend(
        identity,
        settings.image,
        settings.libvirt_uri or DEFAULT_URI,
        settings.domain_template,
        settings.boot_timeout_s,
    )


def reap(rule: ReapRule, *, dry_run: bool = False, targets: EngineTargets) -> CleanupReport:
    """Domains of the runs ``rule`` takes (tagged clickos, at the target URI; then those xl
    lists under their names, which a move made), saved images, then their dom0 bridges.
    The switch and host namespaces are the netns reap's to take.
    """
    uri = targets.libvirt_uri or DEFAULT_URI
    report = reap_domains(uri, rule, dry_run=dry_run, backend=BACKEND)
    report.merge(reap_xl_domains(rule, dry_run=dry_run))
    report.merge(reap_save_images(rule, dry_run=dry_run))
    report.merge(reap_bridges(rule, dry_run=dry_run))
    return report
