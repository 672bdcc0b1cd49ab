"""A Docker host's kernel, made of containers, for the rules `host_firewall.DockerFirewall` loads into it.

Real: the Linux kernel's netfilter and routing (the test machine's kernel, in the network namespaces of
containers), Debian 13's `iptables`/`iptables-restore` (nf_tables backend, as on a Debian 13 server) and
`iproute2`, the product's script run by `sh` exactly as rendered, the Docker engine's IPAM (the networks
are created with the topology's `subnet` and `ip_range`; addresses are pinned or assigned by the engine).

The host's kernel is the `router` container: it is connected to every network, forwards between them
(`net.ipv4.ip_forward=1`), and the containers' routes go through it, as they go through the Docker host.
What stands in for Docker's own rules, which the engine writes into the real host's namespace and not
into a container's, is `docker_rules`: the filter and nat rules Docker 20.10 to 26 writes for bridge
networks and a published port (FORWARD policy DROP, `FORWARD -j DOCKER-USER` first, `DOCKER-USER -j
RETURN`, the per-bridge ACCEPTs, the published port's DNAT from `PREROUTING -m addrtype --dst-type LOCAL`
and its ACCEPT in the `DOCKER` chain, the per-network MASQUERADE), with one omission: Docker's
inter-network isolation, so that a container on another network stands for one Docker lets reach
Codelab directly (on a real host: the proxy on Codelab's own network, whose bridged traffic br_netfilter
sends through the same FORWARD chain).

Two more stand-ins:
- the instance metadata service is a busybox httpd holding 169.254.169.254/32 in its own container on a
  test network, the router routing that address to it ("outside" the host, masqueraded as Docker
  masquerades containers' egress). No Docker network on 169.254.169.0/24 is created: the engine would
  route that subnet to a bridge in the test machine's own namespace, taking the machine's own metadata
  service away while the test runs (a cloud CI runner's credentials come from it);
- the internet's clients are containers on a test "wan" network, where the router has the host's public
  address; an administrator's address (in `adminCidrs`) is added inside its client (`ip addr add`) and
  routed on-link by the router, so that no route to the site's private networks is added to the test
  machine.
Codelab's SSH is a busybox httpd on 2222 (a TCP server that names itself is all the rules look at).
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from constellab import lab_host
from constellab.topology import NetworkSpec, ServerSet
from tests import cloud_init_harness
from tests import docker_harness as harness
from tests.conftest import missing

IMAGE = "constellab-test/debian-trixie:netfilter"
BASE_IMAGE = "constellab-test/debian-trixie:cloud-init-base"
"""Debian 13 minbase from debootstrap, without any stand-in (built by `cloud_init_harness` when missing)."""
PACKAGES = ("iptables", "iproute2", "busybox")
PREFIX = "constellab-test-fw-"
LABEL = f"{harness.TEST_LABEL}=docker-firewall-live"
LOCK = Path(tempfile.gettempdir()) / "constellab-docker-firewall-live.lock"
"""Held while the module's host is up: its names and the product's subnets are this engine's, once."""

IMDS = "169.254.169.254"
IMDS_BODY = "constellab-test-fake-imds"
CODELAB_BODY = "codelab"
META_SUBNET = "198.18.10.0/24"
"""Where the fake metadata service lives (RFC 2544 benchmarking range: on no one's LAN)."""
WAN_SUBNET = "198.18.11.0/24"
"""The internet's side of the host (the router holds the host's public address there)."""
SPARE_SUBNET = "198.18.12.0/24"
"""For the network created without an ip_range (what the ip_range prevents)."""
ROUTER_HOST_NUMBER = 3
"""The router's address on the product's networks (`.3`: pinned, in the half Docker never assigns)."""
ROUTER_WAN = "198.18.11.2"
IMDS_META = "198.18.10.10"
PROBE_SECONDS = 2
"""How long a refused connection is waited for (a dropped SYN is a timeout)."""


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return harness.docker(*args, check=check, timeout=timeout)


def image() -> str:
    """`PACKAGES` from Debian 13 over the minbase image; built once, then cached by its tag."""
    if not harness.docker_ready():
        missing("no Docker engine answers `docker version` (CI's .ci/run starts one)")
    if docker("image", "inspect", IMAGE, check=False).returncode == 0:
        return IMAGE
    if docker("image", "inspect", BASE_IMAGE, check=False).returncode != 0:
        cloud_init_harness._import_rootfs(BASE_IMAGE)
    builder = f"{PREFIX}build"
    docker("rm", "--force", builder, check=False)
    install = (
        "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "
        + " ".join(PACKAGES)
        + " && apt-get clean"
    )
    try:
        built = docker("run", "--name", builder, "--label", LABEL, BASE_IMAGE, "sh", "-c", install,
                       check=False, timeout=900)  # fmt: skip
        if built.returncode != 0:
            pytest.fail(f"installing Debian's {' '.join(PACKAGES)} failed:\n{built.stdout[-3000:]}\n{built.stderr}")
        docker("commit", "--change", 'CMD ["sleep", "infinity"]', builder, IMAGE, timeout=600)
    finally:
        docker("rm", "--force", builder, check=False)
    return IMAGE


@contextmanager
def exclusive() -> Iterator[None]:
    """One such host on this engine at a time (another run of this module waits)."""
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def remove_leftovers() -> None:
    """What an interrupted run of this module left (its label; only under `exclusive`)."""
    containers = docker("ps", "-aq", "--filter", f"label={LABEL}").stdout.split()
    if containers:
        docker("rm", "--force", *containers, check=False)
    for network in docker("network", "ls", "-q", "--filter", f"label={LABEL}").stdout.split():
        docker("network", "rm", network, check=False)


def host_routes() -> list[tuple[str, ipaddress.IPv4Network]]:
    """This machine's IPv4 routes but the default one, from /proc/net/route (interface, destination)."""
    found = []
    for line in Path("/proc/net/route").read_text().splitlines()[1:]:
        fields = line.split()
        destination, mask = (ipaddress.IPv4Address(bytes.fromhex(value)[::-1]) for value in (fields[1], fields[7]))
        network = ipaddress.IPv4Network(f"{destination}/{mask}", strict=False)
        if network.prefixlen:
            found.append((fields[0], network))
    return found


def require_free(subnets: Sequence[str]) -> None:
    """A Docker network on a subnet this machine already routes would take that traffic over: never."""
    for subnet in subnets:
        for interface, route in host_routes():
            if route.overlaps(ipaddress.IPv4Network(subnet)):
                missing(f"this machine routes {route} ({interface}), which overlaps {subnet} the test needs")


def host_address(subnet: str, number: int) -> str:
    return str(ipaddress.IPv4Network(subnet)[number])


@dataclass(frozen=True)
class StandIn:
    """A container of the server, by its product name, on the product's networks."""

    name: str
    networks: tuple[str, ...]
    addresses: Mapping[str, str] = field(default_factory=dict)
    """Pinned addresses by product network name (unpinned: the engine assigns one)."""
    command: str = "exec sleep infinity"


@dataclass(frozen=True)
class Probe:
    """A TCP connection (an HTTP GET) from a container, through the router, and whether it is answered."""

    container: str
    """Product name of the stand-in (or `outsider`, `admin` on the wan side)."""
    network: str | None
    """Product network whose router address the connection is routed through (None: on-link)."""
    address: str
    port: int
    body: str


def docker_rules(bridges: Mapping[str, str], codelab: tuple[str, str] | None, docker_user: bool = True) -> str:
    """Docker's own filter rules (20.10's layout) for `bridges` (interface → subnet) and Codelab's published
    port (its interface and address): the `iptables-restore` input that resets the router's filter table."""
    if not docker_user:
        return "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
    lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]"]
    lines += [":DOCKER - [0:0]", ":DOCKER-USER - [0:0]", "-A FORWARD -j DOCKER-USER"]
    for interface in bridges:
        lines += [
            f"-A FORWARD -o {interface} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            f"-A FORWARD -o {interface} -j DOCKER",
            f"-A FORWARD -i {interface} ! -o {interface} -j ACCEPT",
            f"-A FORWARD -i {interface} -o {interface} -j ACCEPT",
        ]
    if codelab is not None:
        interface, address = codelab
        port = lab_host.CODELAB_SSH_PORT
        lines.append(
            f"-A DOCKER -d {address}/32 ! -i {interface} -o {interface} -p tcp -m tcp --dport {port} -j ACCEPT"
        )
    lines += ["-A DOCKER-USER -j RETURN", "COMMIT"]
    return "\n".join(lines) + "\n"


class Host:
    """The router (the host's kernel), the server's stand-ins on the product's networks, the fake metadata
    service and the internet's clients. Built by `up`, removed by `down`."""

    def __init__(self, router_image: str, standin_image: str) -> None:
        self.router_image = router_image
        self.image = standin_image
        """Every container but the router: Debian's static busybox (its `ip`, `httpd`, `nc`), small, so
        that the engine creates and removes them fast (CI's engine copies each image with vfs)."""
        self.containers: list[str] = []
        self.networks: dict[str, str] = {}
        """Product network name (or `meta`, `wan`) → Docker network name."""
        self.specs: dict[str, NetworkSpec] = {}
        self.router_addresses: dict[str, str] = {}
        self.interfaces: dict[str, str] = {}
        """Router interface by product network name (and `meta`, `wan`)."""
        self.admin_source: str | None = None
        self.outsider: str = host_address(WAN_SUBNET, 50)
        self._locks: dict[str, threading.Lock] = {}

    @staticmethod
    def container(name: str) -> str:
        return f"{PREFIX}{name.replace('_', '-')}"

    # -- building ------------------------------------------------------------------------------

    def create_network(self, key: str, subnet: str, ip_range: str | None = None, *, masquerade: bool = True) -> str:
        """`masquerade=False` for the test's own outside networks: the test machine's Docker would otherwise
        masquerade, in its own namespace, their sources the router sends over another bridge (br_netfilter
        passes bridged packets through its nat table), and replies would bypass the router."""
        name = f"{PREFIX}{key.removeprefix('gencovery-network-')}"
        options = ["--subnet", subnet] + (["--ip-range", ip_range] if ip_range else [])
        if not masquerade:
            options += ["--opt", "com.docker.network.bridge.enable_ip_masquerade=false"]
        created = docker("network", "create", "--driver", "bridge", "--label", LABEL, *options, name, check=False)
        if created.returncode != 0:
            if "overlap" in created.stderr:
                missing(f"a network of this engine overlaps {subnet}, which the test needs: {created.stderr.strip()}")
            raise RuntimeError(f"docker network create {name} failed: {created.stderr.strip()}")
        self.networks[key] = name
        return name

    def run(self, name: str, networks: Sequence[str], addresses: Mapping[str, str], command: str,
            *extra: str, image: str | None = None) -> None:  # fmt: skip
        """Starts a container on its first network, then connects the others (pinned with `--ip`)."""
        first, *others = networks
        pinned = ["--ip", addresses[first]] if first in addresses else []
        self.containers.append(self.container(name))
        docker("run", "-d", "--name", self.container(name), "--label", LABEL, "--hostname", name.replace("_", "-"),
               "--cap-add", "NET_ADMIN", *extra, "--network", self.networks[first], *pinned, image or self.image,
               "sh", "-c", command)  # fmt: skip
        for network in others:
            pinned = ["--ip", addresses[network]] if network in addresses else []
            docker("network", "connect", *pinned, self.networks[network], self.container(name))

    def up(self, server_sets: Sequence[ServerSet], standins: Sequence[StandIn], admin_cidrs: Sequence[str]) -> None:
        """The networks of `server_sets` (exactly their subnet and ip_range), the stand-ins without a pinned
        address first (so that they are started before the pinned ones), then the pinned ones, the
        router, the metadata service and the wan clients."""
        specs = {network.name: network for server_set in server_sets for network in server_set.networks}
        subnets = [spec.subnet for spec in specs.values() if spec.subnet]
        if len(subnets) != len(specs):
            raise ValueError("every network of the host needs a fixed subnet here")
        require_free([*subnets, META_SUBNET, WAN_SUBNET, SPARE_SUBNET])
        self.specs = specs
        for spec in specs.values():
            assert spec.subnet is not None
            self.create_network(spec.name, spec.subnet, spec.ip_range)
            self.router_addresses[spec.name] = host_address(spec.subnet, ROUTER_HOST_NUMBER)
        self.create_network("meta", META_SUBNET, masquerade=False)
        self.create_network("wan", WAN_SUBNET, masquerade=False)
        self.router_addresses |= {"meta": host_address(META_SUBNET, 2), "wan": ROUTER_WAN}

        for standin in sorted(standins, key=lambda standin: bool(standin.addresses)):
            self.run(standin.name, standin.networks, standin.addresses, standin.command)
        self.run("router", ["meta", *specs, "wan"], self.router_addresses, "exec sleep infinity",
                 "--sysctl", "net.ipv4.ip_forward=1", image=self.router_image)  # fmt: skip
        serve = f"mkdir -p /www && echo {IMDS_BODY} > /www/index.html && exec busybox httpd -f -p 80 -h /www"
        self.run("imds", ["meta"], {"meta": IMDS_META}, f"ip addr add {IMDS}/32 dev eth0 && {serve}")
        self.run("outsider", ["wan"], {"wan": self.outsider}, "exec sleep infinity")
        # An administrator: a host of the first administrator network, as the source of its connections.
        self.admin_source = str(ipaddress.IPv4Network(admin_cidrs[0])[50])
        self.run("admin", ["wan"], {"wan": host_address(WAN_SUBNET, 51)},
                 f"ip addr add {self.admin_source}/32 dev eth0 && ip route replace {ROUTER_WAN}/32 dev eth0 "
                 f"src {self.admin_source} && exec sleep infinity")  # fmt: skip

        self.interfaces = self._router_interfaces()
        kernel = self.sh("router", "iptables -w -S >/dev/null && iptables -w -t nat -S >/dev/null")
        if kernel.returncode != 0:
            missing(f"this kernel gives a container no netfilter tables: {kernel.stderr.strip()}")
        # Routes: every stand-in's default route is the host; the router reaches the fake metadata service
        # and the administrator's address.
        for standin in standins:
            self.out(standin.name, f"ip route replace default via {self.router_addresses[standin.networks[0]]}")
        self.out("router", f"ip route replace {IMDS}/32 via {IMDS_META} && "
                           f"ip route replace {self.admin_source}/32 dev {self.interfaces['wan']}")  # fmt: skip
        self._docker_nat()
        self.reset()

    def _router_interfaces(self) -> dict[str, str]:
        shown = json.loads(self.out("router", "ip -j -4 addr show"))
        by_address = {info["local"]: link["ifname"] for link in shown for info in link.get("addr_info", [])}
        return {key: by_address[address] for key, address in self.router_addresses.items()}

    @property
    def bridges(self) -> dict[str, str]:
        """The router's interfaces that stand for Docker's bridges (product networks) → their subnet."""
        return {self.interfaces[name]: spec.subnet or "" for name, spec in self.specs.items()}

    def address(self, container: str, network: str) -> str:
        found = harness.inspect("container", self.container(container))["NetworkSettings"]["Networks"]
        address: str = found[self.networks[network]]["IPAddress"]
        return address

    def codelab(self) -> tuple[str, str]:
        """Codelab's network interface on the router and its address."""
        network = next(c.networks[0] for c in lab_host.LAB_MANAGER_SET if c.name == "codelab")
        return self.interfaces[network], self.address("codelab", network)

    def _docker_nat(self) -> None:
        """Docker's nat rules: Codelab's published port and each network's masquerade (added to the nat table,
        where Docker's embedded DNS has its own rules in the container)."""
        interface, address = self.codelab()
        port = lab_host.CODELAB_SSH_PORT
        commands = [
            "iptables -w -t nat -N DOCKER",
            "iptables -w -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
            *(
                f"iptables -w -t nat -A POSTROUTING -s {subnet} ! -o {bridge} -j MASQUERADE"
                for bridge, subnet in self.bridges.items()
            ),
            f"iptables -w -t nat -A DOCKER ! -i {interface} -p tcp -m tcp --dport {port} "
            f"-j DNAT --to-destination {address}:{port}",
        ]
        self.out("router", " && ".join(commands))

    def down(self) -> None:
        if self.containers:
            docker("rm", "--force", *reversed(self.containers), check=False)
        for network in reversed(self.networks.values()):
            docker("network", "rm", network, check=False)
        self.containers.clear()
        self.networks.clear()

    # -- the router -----------------------------------------------------------------------------

    def sh(self, container: str, command: str, stdin: str | None = None,
           timeout: float = 60) -> subprocess.CompletedProcess[str]:  # fmt: skip
        return subprocess.run(["docker", "exec", "-i", self.container(container), "sh", "-c", command],
                              input=stdin, capture_output=True, text=True, timeout=timeout)  # fmt: skip

    def out(self, container: str, command: str) -> str:
        done = self.sh(container, command)
        if done.returncode != 0:
            raise RuntimeError(f"{container}: {command} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def reset(self, docker_user: bool = True) -> None:
        """The filter table as Docker leaves it (nothing of the product's): `docker_user=False` is a host
        where Docker does not manage iptables (no DOCKER-USER chain)."""
        rules = docker_rules(self.bridges, self.codelab(), docker_user=docker_user)
        done = self.sh("router", "iptables-restore -w", stdin=rules)
        if done.returncode != 0:
            raise RuntimeError(f"loading Docker's rules failed: {done.stderr.strip()}\n{rules}")

    def load(self, script: str) -> subprocess.CompletedProcess[str]:
        """The product's script, exactly its bytes, run by `sh` in the router (as root, as the unit runs it)."""
        return self.sh("router", "sh -s", stdin=script)

    def filter_rules(self, chain: str = "") -> list[str]:
        return self.out("router", f"iptables -w -S {chain}").splitlines()

    # -- connections ----------------------------------------------------------------------------

    def reaches(self, probe: Probe) -> bool:
        """Whether `probe.container` gets `probe.body` from `address:port` (refused: within PROBE_SECONDS)."""
        route = (
            f"ip route replace {probe.address}/32 via {self.router_addresses[probe.network]} && "
            if probe.network is not None
            else ""
        )
        # busybox nc, not wget: the static busybox's wget crashes looking the service "http" up.
        fetch = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w {PROBE_SECONDS} {probe.address} {probe.port}"
        with self._locks.setdefault(probe.container, threading.Lock()):
            done = self.sh(probe.container, route + fetch, timeout=PROBE_SECONDS + 30)
        answer = done.stdout.strip().splitlines()
        return done.returncode == 0 and bool(answer) and answer[0].startswith("HTTP/1.") and answer[-1] == probe.body

    def observe(self, probes: Mapping[str, Probe]) -> dict[str, bool]:
        """`reaches` for each probe, concurrently (one connection at a time per container: its routes)."""
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = dict(zip(probes, pool.map(self.reaches, probes.values()), strict=True))
        return answers

    # -- probes ---------------------------------------------------------------------------------

    def imds_probe(self, container: str, network: str) -> Probe:
        """From `container` through the router's address on `network` (the source: its address there)."""
        return Probe(container, network, IMDS, 80, IMDS_BODY)

    def published_probe(self, container: str) -> Probe:
        """Codelab's SSH, published on the host's public address (the wan side)."""
        return Probe(container, None, ROUTER_WAN, lab_host.CODELAB_SSH_PORT, CODELAB_BODY)

    def direct_probe(self, container: str, network: str) -> Probe:
        """Codelab's port 2222 at its own address (not DNAT'ed), through the router's address on `network`."""
        _, address = self.codelab()
        return Probe(container, network, address, lab_host.CODELAB_SSH_PORT, CODELAB_BODY)


def without_ip_range(host_image: str) -> tuple[str, subprocess.CompletedProcess[str]]:
    """A network with a subnet but no ip_range: the address of a container started first, then the start of
    one pinned at the proxy's `.2` (the engine allocates a pinned address when the container starts).
    Everything it creates is removed before it returns."""
    name = f"{PREFIX}no-ip-range"
    early, late = f"{PREFIX}early", f"{PREFIX}late"
    docker("network", "create", "--driver", "bridge", "--label", LABEL, "--subnet", SPARE_SUBNET, name)
    try:
        docker("run", "-d", "--name", early, "--label", LABEL, "--network", name, host_image, "sleep", "infinity")
        address = harness.inspect("container", early)["NetworkSettings"]["Networks"][name]["IPAddress"]
        pinned = host_address(SPARE_SUBNET, lab_host.PROXY_HOST_NUMBER)
        started = docker("run", "-d", "--name", late, "--label", LABEL, "--network", name, "--ip", pinned,
                         host_image, "sleep", "infinity", check=False)  # fmt: skip
        return address, started
    finally:
        docker("rm", "--force", early, late, check=False)
        docker("network", "rm", name, check=False)


def replace_once(text: str, old: str, new: str) -> str:
    """`text` with `old` replaced, which must occur (a mutant that changes nothing proves nothing)."""
    if old not in text:
        raise AssertionError(f"{old!r} is not in the rendered script: the mutant no longer applies")
    return text.replace(old, new)
