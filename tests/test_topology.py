"""`constellab/topology.py`: each server's networks and containers, without Pulumi."""

from __future__ import annotations

import pytest

from constellab import lab_host, topology
from constellab.settings import load_stack_file
from constellab.values import Configured
from tests.conftest import STACK_NAMES, acme, stack_file


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_every_lab_host_declares_the_two_system_containers_and_the_three_networks(stack):
    platform = load_stack_file(stack_file(stack)).platform
    for server in platform.lab_hosts():
        server_set = topology.server_set(platform, server)
        assert [network.name for network in server_set.networks] == [
            "gencovery-network-manager",
            "gencovery-network-dev",
            "gencovery-network-prod",
        ]
        assert [spec.name for spec in server_set.containers] == ["lab_manager", "reverse_proxy"]
        assert not {spec.name for spec in server_set.containers} & lab_host.LAB_MANAGER_NAMES


def test_the_lab_manager_gets_upstreams_mounts_environment_and_route():
    platform = acme()
    lab1 = platform.labs[0]
    manager, proxy = topology.server_set(platform, lab1).containers
    host = "lab1.acme.constellab.app"
    assert manager.env == {
        "VOLUME_PATH": "/app",
        "LOG_PATH": "/app/lab_manager/logs",
        "VIRTUAL_HOST": host,
        "LAB_MANAGER_API_KEY": topology.Ref(Configured.LAB_MANAGER_API_KEY),
        "ENVIRONMENT_PROFILE": "prod",
        "AUTO_START_LAB": "true",
    }
    assert {(m.host_path, m.container_path, m.read_only) for m in manager.mounts} == {
        ("/var/run/docker.sock", "/var/run/docker.sock", False),
        ("/app", "/app", False),
    }
    assert manager.networks == ("gencovery-network-manager",) and manager.restart == "always"
    router = "traefik.http.routers.lab-manager-router"
    assert manager.labels[f"{router}.rule"] == f"Host(`lab-manager.{host}`)"
    assert manager.labels["traefik.http.services.lab-manager-service.loadbalancer.server.port"] == "3080"
    assert manager.labels[f"{router}.tls.certresolver"] == "myresolver"
    assert manager.labels[f"{router}.tls.domains[0].main"] == f"*.{host}"
    assert proxy.networks == lab_host.NETWORKS and proxy.restart == "always"
    assert {(p.internal, p.external) for p in proxy.ports} == {(80, 80), (443, 443)}
    assert ("/srv/letsencrypt", "/letsencrypt", False) in {
        (m.host_path, m.container_path, m.read_only) for m in proxy.mounts
    }


def test_a_lab_without_a_certificate_resolver_asks_for_no_wildcard():
    platform = load_stack_file(stack_file("pharma-onprem")).platform
    manager = topology.server_set(platform, platform.hubs[0]).containers[0]
    assert not [label for label in manager.labels if ".tls.certresolver" in label or ".tls.domains" in label]
    assert manager.labels["traefik.http.routers.lab-manager-router.tls"] == "true"


def test_the_lab_managers_key_is_the_spaces_in_both_modes_and_generated_only_on_this_machine():
    biolab = load_stack_file(stack_file("biolab-hybrid")).platform
    by_space, by_stack = biolab.hubs[0], biolab.labs[0]
    assert by_stack.configured_by_stack and not by_space.configured_by_stack
    for server in (by_space, by_stack):
        assert topology.generated_secret_names(topology.server_set(biolab, server).containers) == []
    local = load_stack_file(stack_file("local")).platform
    assert topology.generated_secret_names(topology.server_set(local, local.labs[0]).containers) == [
        "lab-manager-api-key"
    ]


SENSITIVE_SUFFIXES = ("PASSWORD", "API_KEY", "SECRET_ACCESS_KEY", "TOKEN")


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_every_password_key_and_token_a_container_gets_is_a_secret_reference(stack):
    platform = load_stack_file(stack_file(stack)).platform
    sensitive = 0
    for _, server in platform.servers():
        for spec in topology.server_set(platform, server).containers:
            for key, value in spec.env.items():
                if key.endswith(SENSITIVE_SUFFIXES):
                    assert isinstance(value, topology.Ref) and value.secret, f"{server.name}/{spec.role}: {key}"
                    sensitive += 1
            for file in spec.files:
                if file.path.startswith(("/run/secrets/", "/certs/privkey")):
                    assert isinstance(file.content, topology.Ref) and file.content.secret, file.path
                    assert file.mode == 0o400, file.path
                    sensitive += 1
    assert sensitive >= len(platform.lab_hosts())  # every lab manager's key at least
