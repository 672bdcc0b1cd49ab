"""The rules `host_firewall.DockerFirewall` renders, loaded by its script into a real kernel and checked
with real packets (issue 12, items 2 and 8): only the containers that use the instance role reach the
metadata service (a cloud lab host's glab and Codelab, the space's application; the proxy and Traefik
never); Codelab's published SSH answers only the administrator networks; the script is idempotent,
replaces its chains' content, and leaves a host without Docker's iptables alone; the engine itself keeps
the proxy's pinned addresses free (`ip_range`).

The host's kernel is a container (`docker_firewall_harness`: what is real there, what stands in for
Docker's own rules and why). The rules are those of the shipped stacks: acme-cloud's lab1 and space
(cloud), pharma-onprem's hub (on-prem, adminCidrs 10.20.0.0/24). The hub's rules are loaded on the same
host (its networks have no fixed subnet and its rules name none: only Codelab's address matters, and
Codelab is on the same network there). Each check is also run against the script with the rule it guards
broken, and must see the difference (`MUTANTS`, `test_the_..._check_sees_...`).
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from components.placement import docker_firewall
from constellab import host_firewall, lab_host, settings, topology
from constellab.config import Hub, Lab, PlatformConfig, Space
from constellab.topology import ServerSet
from tests import docker_firewall_harness as fw
from tests import docker_harness
from tests.conftest import stack_file

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("docker-engine")]

PROXY = lab_host.REVERSE_PROXY
MANAGER, DEV, PROD = lab_host.NETWORK_MANAGER, lab_host.NETWORK_DEV, lab_host.NETWORK_PROD
EDGE, DATA = (network.name for network in topology.SPACE_NETWORKS)


@functools.cache
def platform(stack: str) -> PlatformConfig:
    return settings.load_stack_file(stack_file(stack)).platform


def lab1() -> Lab:
    return next(lab for lab in platform("acme-cloud").labs if lab.name == "lab1")


def space() -> Space:
    found = platform("acme-cloud").space
    assert found is not None
    return found


def hub() -> Hub:
    return platform("pharma-onprem").hubs[0]


def server_set(stack: str, server: Space | Hub | Lab) -> ServerSet:
    return topology.server_set(platform(stack), server)


def firewall(scenario: str) -> host_firewall.DockerFirewall:
    """The limits `components.placement` gives each server (its preparation writes them)."""
    if scenario == "lab1":
        return docker_firewall(platform("acme-cloud"), lab1(), server_set("acme-cloud", lab1()), cloud=True)
    if scenario == "space":
        return docker_firewall(platform("acme-cloud"), space(), server_set("acme-cloud", space()), cloud=True)
    return docker_firewall(platform("pharma-onprem"), hub(), server_set("pharma-onprem", hub()), cloud=False)


def standins() -> list[fw.StandIn]:
    """The declared containers of lab1 and the space (their networks and pinned addresses), and glab and
    Codelab on the networks the lab manager gives them (addresses the engine assigns)."""
    declared = [*server_set("acme-cloud", lab1()).containers, *server_set("acme-cloud", space()).containers]
    found = [fw.StandIn(spec.name, spec.networks, dict(spec.addresses)) for spec in declared]
    upstream = {container.name: container for container in lab_host.LAB_MANAGER_SET}
    serve = (
        f"mkdir -p /www && echo {fw.CODELAB_BODY} > /www/index.html && "
        f"exec busybox httpd -f -p {lab_host.CODELAB_SSH_PORT} -h /www"
    )
    found.append(fw.StandIn("glab", upstream["glab"].networks))
    found.append(fw.StandIn("codelab", upstream["codelab"].networks, command=serve))
    return found


@pytest.fixture(scope="module")
def host() -> Iterator[fw.Host]:
    """One host for the module: built once, removed after its tests (also when they fail)."""
    with fw.exclusive():
        router_image, standin_image = fw.image(), docker_harness.standin_image()
        fw.remove_leftovers()
        machine = fw.Host(router_image, standin_image)
        try:
            sets = [server_set("acme-cloud", lab1()), server_set("acme-cloud", space())]
            machine.up(sets, standins(), platform("pharma-onprem").admin_cidrs)
            yield machine
        finally:
            machine.down()


@pytest.fixture
def docker_only(host: fw.Host) -> fw.Host:
    """The host with Docker's rules only (as after a Docker start, before the product's unit runs)."""
    host.reset()
    return host


def load(host: fw.Host, script: str) -> str:
    done = host.load(script)
    assert done.returncode == 0, f"the script failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


# ---------------------------------------------------------------------------------------------
# What each server's rules must let through, and what not
# ---------------------------------------------------------------------------------------------


def lab1_probes(host: fw.Host) -> dict[str, fw.Probe]:
    probes = {f"{PROXY}@{network}": host.imds_probe(PROXY, network) for network in lab_host.NETWORKS}
    probes |= {
        "lab_manager": host.imds_probe(lab_host.LAB_MANAGER, MANAGER),
        "glab": host.imds_probe("glab", PROD),
        "codelab": host.imds_probe("codelab", DEV),
    }
    return probes


LAB1_EXPECTED = {
    # Traefik (internet-facing) never, through any of its networks: refused first on prod and dev.
    f"{PROXY}@{MANAGER}": False,
    f"{PROXY}@{DEV}": False,
    f"{PROXY}@{PROD}": False,
    # The lab manager backs up with its own key.
    "lab_manager": False,
    # glab and Codelab read the hub's data lake with the instance role.
    "glab": True,
    "codelab": True,
}


def space_probes(host: fw.Host) -> dict[str, fw.Probe]:
    return {
        f"space@{EDGE}": host.imds_probe("space", EDGE),
        f"space@{DATA}": host.imds_probe("space", DATA),
        "traefik": host.imds_probe("traefik", EDGE),
        "db-space": host.imds_probe("db-space", DATA),
    }


SPACE_EXPECTED = {f"space@{EDGE}": True, f"space@{DATA}": True, "traefik": False, "db-space": False}


def hub_probes(host: fw.Host) -> dict[str, fw.Probe]:
    return {
        "admin": host.published_probe("admin"),
        "outsider": host.published_probe("outsider"),
        # Not DNAT'ed: another container reaching Codelab's own address on 2222.
        "direct": host.direct_probe(lab_host.LAB_MANAGER, MANAGER),
    }


HUB_EXPECTED = {"admin": True, "outsider": False, "direct": True}

SCENARIOS: dict[str, tuple[Callable[[fw.Host], dict[str, fw.Probe]], dict[str, bool]]] = {
    "lab1": (lab1_probes, LAB1_EXPECTED),
    "space": (space_probes, SPACE_EXPECTED),
    "hub": (hub_probes, HUB_EXPECTED),
}


def observe(host: fw.Host, scenario: str, script: str) -> dict[str, bool]:
    probes, _ = SCENARIOS[scenario]
    host.reset()
    load(host, script)
    return host.observe(probes(host))


# ---------------------------------------------------------------------------------------------
# The engine keeps the proxy's addresses free (item 2's precondition)
# ---------------------------------------------------------------------------------------------


def test_the_engine_creates_the_cloud_networks_exactly_as_the_topology_declares_them(host: fw.Host):
    assert [host.specs[name] for name in lab_host.NETWORKS] == [lab_host.cloud_network(n) for n in lab_host.NETWORKS]
    for name, spec in host.specs.items():
        configs = docker_harness.inspect("network", host.networks[name])["IPAM"]["Config"]
        assert [(config["Subnet"], config.get("IPRange")) for config in configs] == [(spec.subnet, spec.ip_range)]


def test_containers_started_before_the_pinned_ones_get_addresses_in_the_upper_half_only(host: fw.Host):
    unpinned = [standin for standin in standins() if not standin.addresses]
    assert {standin.name for standin in unpinned} >= {lab_host.LAB_MANAGER, "glab", "codelab", "traefik"}
    for standin in unpinned:
        for network in standin.networks:
            ip_range = host.specs[network].ip_range
            assert ip_range is not None
            address = host.address(standin.name, network)
            assert ipaddress.ip_address(address) in ipaddress.ip_network(ip_range), (standin.name, network, address)


def test_the_proxy_and_the_space_application_then_get_their_pinned_addresses(host: fw.Host):
    for stack, server in (("acme-cloud", lab1()), ("acme-cloud", space())):
        for spec in server_set(stack, server).containers:
            for network, pinned in spec.addresses.items():
                assert host.address(spec.name, network) == pinned
    assert {host.address(PROXY, network) for network in lab_host.NETWORKS} == {
        f"{lab_host.CLOUD_SUBNETS[network].rsplit('.', 1)[0]}.{lab_host.PROXY_HOST_NUMBER}"
        for network in lab_host.NETWORKS
    }


def test_without_the_ip_range_an_earlier_container_would_take_the_proxys_address(host: fw.Host):
    # What the ip_range guards against, on the same engine: the check above would see it.
    early, connected = fw.without_ip_range(host.image)
    assert early == fw.host_address(fw.SPARE_SUBNET, lab_host.PROXY_HOST_NUMBER)
    assert connected.returncode != 0 and "already in use" in connected.stderr, connected.stderr


# ---------------------------------------------------------------------------------------------
# Docker alone: everyone reaches both (the premise of items 2 and 8)
# ---------------------------------------------------------------------------------------------


def test_with_dockers_rules_only_the_proxy_reaches_the_metadata_service_and_anyone_codelabs_ssh(
    docker_only: fw.Host,
):
    probes = {"proxy": docker_only.imds_probe(PROXY, PROD), "outsider": docker_only.published_probe("outsider")}
    assert docker_only.observe(probes) == {"proxy": True, "outsider": True}


# ---------------------------------------------------------------------------------------------
# Item 2: the instance metadata service
# ---------------------------------------------------------------------------------------------


def test_on_a_cloud_lab_host_only_glab_and_codelab_reach_the_metadata_service_and_the_proxy_never(host: fw.Host):
    script = firewall("lab1").script()
    assert observe(host, "lab1", script) == LAB1_EXPECTED


def test_on_the_space_only_the_application_at_its_pinned_addresses_reaches_it_and_traefik_never(host: fw.Host):
    script = firewall("space").script()
    assert observe(host, "space", script) == SPACE_EXPECTED


# ---------------------------------------------------------------------------------------------
# Item 8: Codelab's SSH, published by the lab manager
# ---------------------------------------------------------------------------------------------


def test_on_prem_codelabs_published_ssh_answers_only_the_administrator_networks(host: fw.Host):
    admins = [ipaddress.ip_network(cidr) for cidr in platform("pharma-onprem").admin_cidrs]
    assert host.admin_source is not None and any(ipaddress.ip_address(host.admin_source) in n for n in admins)
    assert not any(ipaddress.ip_address(host.outsider) in network for network in admins)

    observed = observe(host, "hub", firewall("hub").script())

    assert observed == HUB_EXPECTED, (
        "an administrator must reach Codelab's published SSH, no one else, and a connection to Codelab's own "
        "address (not DNAT'ed) is not limited"
    )


# ---------------------------------------------------------------------------------------------
# Item 8: idempotence, replaced content, a host without Docker's iptables
# ---------------------------------------------------------------------------------------------


def check_idempotent(host: fw.Host, script: str, jumps: list[str]) -> None:
    host.reset()
    load(host, script)
    before = host.filter_rules()
    load(host, script)
    assert host.filter_rules() == before
    docker_user = host.filter_rules("DOCKER-USER")
    # Each jump once, by its target (iptables -S prints a rule's matches in its own order).
    ours = [rule for rule in docker_user if rule not in ("-N DOCKER-USER", "-A DOCKER-USER -j RETURN")]
    assert sorted(rule.rsplit(" -j ", 1)[1] for rule in ours) == sorted(jump.rsplit(" -j ", 1)[1] for jump in jumps)
    assert docker_user[-1] == "-A DOCKER-USER -j RETURN", "the jumps come before Docker's RETURN"


def check_replaced(host: fw.Host, first: str, second: str, cidrs: tuple[str, ...]) -> None:
    host.reset()
    load(host, first)
    before = [rule for rule in host.filter_rules() if host_firewall.ADMIN_CHAIN not in rule]
    load(host, second)
    assert host.filter_rules(host_firewall.ADMIN_CHAIN) == [
        f"-N {host_firewall.ADMIN_CHAIN}",
        *(f"-A {host_firewall.ADMIN_CHAIN} -s {cidr} -j RETURN" for cidr in cidrs),
        f"-A {host_firewall.ADMIN_CHAIN} -j DROP",
    ]
    assert [rule for rule in host.filter_rules() if host_firewall.ADMIN_CHAIN not in rule] == before
    docker_user = host.filter_rules("DOCKER-USER")
    assert len([rule for rule in docker_user if rule.endswith(f"-j {host_firewall.ADMIN_CHAIN}")]) == 1


def check_without_docker_user(host: fw.Host, script: str, *, refused: bool = False) -> None:
    host.reset(docker_user=False)
    done = host.load(script)
    assert done.returncode == (1 if refused else 0), done.stderr
    assert "constellab-docker-firewall: no DOCKER-USER chain" in done.stderr
    assert not [rule for rule in host.filter_rules() if "CONSTELLAB" in rule], "nothing loaded"


NEW_CIDRS = ("198.51.100.0/24", "192.0.2.128/25")


def test_running_the_script_again_changes_nothing_and_inserts_each_jump_once(host: fw.Host):
    lab = firewall("lab1")
    assert len(lab.jumps()) == 2
    check_idempotent(host, lab.script(), lab.jumps())


def test_new_administrator_networks_replace_the_chains_content(host: fw.Host):
    old = firewall("hub")
    assert set(old.admin_cidrs).isdisjoint(NEW_CIDRS)
    check_replaced(host, old.script(), dataclasses.replace(old, admin_cidrs=NEW_CIDRS).script(), NEW_CIDRS)


def test_on_a_host_where_docker_does_not_manage_iptables_the_script_says_so_and_succeeds(host: fw.Host):
    check_without_docker_user(host, firewall("hub").script())


def test_on_a_cloud_server_without_docker_user_the_script_fails_rather_than_leave_the_role_open(host: fw.Host):
    check_without_docker_user(host, firewall("lab1").script(), refused=True)


# ---------------------------------------------------------------------------------------------
# Each check sees the rule it guards broken
# ---------------------------------------------------------------------------------------------


def drop_line(script: str, text: str) -> str:
    """The script without the lines that are `text` or contain it (one at least)."""
    lines = script.split("\n")
    kept = [line for line in lines if line != text and text not in line]
    assert len(kept) < len(lines), f"{text!r} is not in the rendered script: the mutant no longer applies"
    return "\n".join(kept)


@dataclass(frozen=True)
class Mutant:
    """The script of `scenario` with one rule broken: the line `drop` removed, or `replace` done."""

    id: str
    scenario: str
    probe: str
    """The connection whose outcome it flips."""
    drop: str = ""
    replace: tuple[str, str] = ("", "")

    def mutate(self, script: str) -> str:
        return drop_line(script, self.drop) if self.drop else fw.replace_once(script, *self.replace)


MUTANTS = (
    Mutant("proxy-prod-not-refused", "lab1", f"{PROXY}@{PROD}", drop="-A CONSTELLAB-IMDS -s 172.30.252.2 -j DROP"),
    Mutant("proxy-dev-not-refused", "lab1", f"{PROXY}@{DEV}", drop="-A CONSTELLAB-IMDS -s 172.30.254.2 -j DROP"),
    Mutant("no-default-refusal", "lab1", "lab_manager", drop="-A CONSTELLAB-IMDS -j DROP"),
    Mutant(
        "no-metadata-jump",
        "lab1",
        f"{PROXY}@{MANAGER}",
        drop="iptables -w -C DOCKER-USER -d 169.254.169.254/32 -j CONSTELLAB-IMDS",
    ),
    Mutant("prod-not-allowed", "lab1", "glab", drop="-A CONSTELLAB-IMDS -s 172.30.252.0/24 -j RETURN"),
    Mutant("dev-not-allowed", "lab1", "codelab", drop="-A CONSTELLAB-IMDS -s 172.30.254.0/24 -j RETURN"),
    Mutant("space-no-default-refusal", "space", "traefik", drop="-A CONSTELLAB-IMDS -j DROP"),
    Mutant("space-edge-not-allowed", "space", f"space@{EDGE}", drop="-A CONSTELLAB-IMDS -s 172.30.240.10 -j RETURN"),
    Mutant("space-data-not-allowed", "space", f"space@{DATA}", drop="-A CONSTELLAB-IMDS -s 172.30.241.10 -j RETURN"),
    Mutant("no-admin-jump", "hub", "outsider", drop="iptables -w -C DOCKER-USER -p tcp"),
    Mutant("admins-not-allowed", "hub", "admin", drop="-A CONSTELLAB-ADMIN -s 10.20.0.0/24 -j RETURN"),
    Mutant("not-only-dnat", "hub", "direct", replace=("--ctstate DNAT ", "")),
)


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda mutant: mutant.id)
def test_each_connection_check_sees_the_rule_it_guards_broken(host: fw.Host, mutant: Mutant):
    probes, expected = SCENARIOS[mutant.scenario]
    script = mutant.mutate(firewall(mutant.scenario).script())
    host.reset()
    load(host, script)
    assert host.reaches(probes(host)[mutant.probe]) is not expected[mutant.probe]


def test_the_idempotence_check_sees_a_jump_inserted_again(host: fw.Host):
    lab = firewall("lab1")
    script = fw.replace_once(lab.script(), "iptables -w -C DOCKER-USER", "false")
    with pytest.raises(AssertionError):
        check_idempotent(host, script, lab.jumps())


def test_the_replacement_check_sees_a_stale_rule(host: fw.Host):
    old = firewall("hub")
    new = fw.replace_once(
        dataclasses.replace(old, admin_cidrs=NEW_CIDRS).script(), f":{host_firewall.ADMIN_CHAIN} - [0:0]\n", ""
    )
    with pytest.raises(AssertionError):
        check_replaced(host, old.script(), new, NEW_CIDRS)


def test_the_docker_user_check_sees_a_script_without_its_guard(host: fw.Host):
    script = fw.replace_once(firewall("hub").script(), "if ! iptables -w -n -L DOCKER-USER", "if false")
    with pytest.raises(AssertionError):
        check_without_docker_user(host, script)


def test_a_jump_an_earlier_version_inserted_goes_and_administrators_get_through_again(host: fw.Host):
    """The first version of these rules sent Codelab's replies to the administrators' chain too."""
    hub = firewall("hub")
    host.reset()
    load(host, hub.script())
    earlier = "-p tcp -m conntrack --ctstate DNAT --ctorigdstport 2222 -j CONSTELLAB-ADMIN"
    host.out("router", f"iptables -w -I DOCKER-USER {earlier}")

    load(host, hub.script())

    docker_user = host.filter_rules("DOCKER-USER")
    assert [rule for rule in docker_user if rule.endswith("-j CONSTELLAB-ADMIN")] == [
        f"-A DOCKER-USER {jump}" for jump in hub.jumps()
    ], "exactly this version's jump, as iptables prints it"
    assert host.reaches(hub_probes(host)["admin"]), "an administrator reaches Codelab's SSH"


def test_the_first_versions_guard_goes_and_glab_reaches_the_role_again(host: fw.Host):
    """Earlier user data inserted its own rule, which let only the manager network through."""
    lab = firewall("lab1")
    host.reset()
    former = "-d 169.254.169.254/32 ! -s 172.30.253.0/24 -j DROP"
    host.out("router", f"iptables -w -I DOCKER-USER {former}")

    load(host, lab.script())

    assert not [rule for rule in host.filter_rules("DOCKER-USER") if "172.30.253.0/24" in rule]
    assert host.reaches(lab1_probes(host)["glab"]), "glab reads the hub's data lake with the role"
