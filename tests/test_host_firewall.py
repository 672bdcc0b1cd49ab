"""`constellab/host_firewall.py`: who reaches the metadata service and Codelab's SSH, as rules (a real kernel
loads them in test_docker_firewall_live.py)."""

from __future__ import annotations

import pytest

from constellab import host_firewall, lab_host, topology
from tests.conftest import acme


def test_only_the_containers_using_the_role_reach_the_metadata_service_and_never_the_proxy():
    platform = acme()
    lab = host_firewall.imds_access(topology.server_set(platform, platform.labs[0]))
    proxy = next(s for s in topology.server_set(platform, platform.labs[0]).containers if s.name == "reverse_proxy")
    assert set(lab.denied) == {proxy.addresses[lab_host.NETWORK_PROD], proxy.addresses[lab_host.NETWORK_DEV]}
    assert set(lab.allowed) == {
        lab_host.CLOUD_SUBNETS[lab_host.NETWORK_PROD],
        lab_host.CLOUD_SUBNETS[lab_host.NETWORK_DEV],
    }
    assert platform.space is not None
    space_set = topology.server_set(platform, platform.space)
    space = host_firewall.imds_access(space_set)
    application = next(s for s in space_set.containers if s.name == "space")
    assert space.allowed == tuple(sorted(application.addresses.values())) and space.denied == ()
    rules = host_firewall.DockerFirewall(("203.0.113.0/24",), (), space).rules()
    assert rules.endswith("-A CONSTELLAB-IMDS -j DROP\nCOMMIT\n"), "everyone else, the space's Traefik included"


def test_a_container_on_a_network_that_reaches_the_role_must_be_pinned_to_be_kept_away():
    import dataclasses

    platform = acme()
    server_set = topology.server_set(platform, platform.labs[0])
    unpinned = tuple(dataclasses.replace(spec, addresses={}) for spec in server_set.containers)
    with pytest.raises(ValueError, match="reverse_proxy is on gencovery-network-dev, which reaches the instance role"):
        host_firewall.imds_access(dataclasses.replace(server_set, containers=unpinned))


def test_codelabs_published_ssh_answers_only_the_administrators_ipv4_networks():
    firewall = host_firewall.DockerFirewall(("198.51.100.0/26", "2001:db8::/32"), (lab_host.CODELAB_SSH_PORT,))
    assert firewall.rules() == (
        "*filter\n:CONSTELLAB-ADMIN - [0:0]\n-A CONSTELLAB-ADMIN -s 198.51.100.0/26 -j RETURN\n"
        "-A CONSTELLAB-ADMIN -j DROP\nCOMMIT\n"
    )
    assert firewall.jumps() == [
        "-p tcp -m conntrack --ctstate DNAT --ctorigdstport 2222 --ctdir ORIGINAL -j CONSTELLAB-ADMIN"
    ]
