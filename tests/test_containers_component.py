"""`ContainerSet` (`components/containers.py`) under the mock engine: every hub and lab host is one Constellab's
lab manager runs unmodified (its two system containers on its three networks), and the space keeps its own set."""

from __future__ import annotations

import json

import pulumi
import pytest

from constellab import lab_host
from offline.engine import is_secret, placeholder, reveal
from tests.conftest import STACK_NAMES, containers_of, declared, env_of, networks_of, of_type, program_secret

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
REMOTE_COMMAND = "command:remote:Command"


def server_of(registration) -> str:
    """The server a container set's resource belongs to (`<customer>-<server>-host-containers-...`)."""
    return registration.name.split("-host-containers-")[0].split("-", 1)[1]


@pytest.mark.parametrize("stack", STACK_NAMES)
@pulumi.runtime.test
def test_each_hub_and_lab_host_declares_the_two_system_containers_and_the_three_networks(engine_for, stack):
    engine = engine_for(stack)
    lab_hosts = {server.name for server in engine.settings.platform.lab_hosts()}

    def check(registrations):
        for server in lab_hosts:
            containers = containers_of(registrations, server)
            assert set(containers) == {"lab_manager", "reverse_proxy"}, server
            networks = {r.inputs["name"] for r in of_type(registrations, NETWORK) if server_of(r) == server}
            assert networks == {"gencovery-network-manager", "gencovery-network-dev", "gencovery-network-prod"}
            assert networks_of(containers["lab_manager"]) == {"gencovery-network-manager"}
            assert networks_of(containers["reverse_proxy"]) == networks
            assert {c.inputs["restart"] for c in containers.values()} == {"always"}
        declared_names = {r.inputs["name"] for r in of_type(registrations, CONTAINER)}
        assert not declared_names & lab_host.LAB_MANAGER_NAMES, "the lab manager's compose would collide"

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_the_collaborative_space_keeps_its_own_set_on_its_own_networks(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        space = containers_of(registrations, "space")
        assert set(space) == {"traefik", "space", "db-space"}
        assert networks_of(space["db-space"]) == {"space-data"}, "the proxy never reaches the database"
        assert networks_of(space["traefik"]) == {"space-edge"}
        mounts = {v["hostPath"] for v in space["traefik"].inputs["volumes"]}
        assert "/var/run/docker.sock" not in mounts, "nothing labels containers on the space's server"

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_the_lab_manager_gets_upstreams_environment_mounts_and_route(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        manager = containers_of(registrations, "lab1")["lab_manager"]
        env = env_of(manager)
        host = "lab1.acme.constellab.app"
        assert {key: env[key] for key in ("VOLUME_PATH", "LOG_PATH", "VIRTUAL_HOST", "ENVIRONMENT_PROFILE")} == {
            "VOLUME_PATH": "/app",
            "LOG_PATH": "/app/lab_manager/logs",
            "VIRTUAL_HOST": host,
            "ENVIRONMENT_PROFILE": "prod",
        }
        assert env["AUTO_START_LAB"] == "true"
        # The Space generated this lab's key: it is the configured secret, and it stays a secret.
        assert env["LAB_MANAGER_API_KEY"] == placeholder(program_secret("labManagerApiKeys"), "lab1")
        assert is_secret(manager.inputs["envs"])
        volumes = {(v["hostPath"], v["containerPath"]) for v in manager.inputs["volumes"]}
        assert volumes == {("/var/run/docker.sock", "/var/run/docker.sock"), ("/app", "/app")}
        labels = {label["label"]: label["value"] for label in manager.inputs["labels"]}
        assert labels["traefik.http.routers.lab-manager-router.rule"] == f"Host(`lab-manager.{host}`)"
        assert labels["traefik.http.routers.lab-manager-router.tls.domains[0].main"] == f"*.{host}"
        proxy = containers_of(registrations, "lab1")["reverse_proxy"]
        published = {(int(p["internal"]), int(p["external"])) for p in proxy.inputs["ports"]}
        assert published == {(80, 80), (443, 443)}
        assert ("/srv/letsencrypt", "/letsencrypt") in {
            (v["hostPath"], v["containerPath"]) for v in proxy.inputs["volumes"]
        }

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_only_the_proxies_publish_ports_and_only_the_lab_manager_mounts_the_docker_socket(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        published: dict[str, set[int]] = {}
        socket_users = set()
        for container in of_type(registrations, CONTAINER):
            name = container.inputs["name"]
            for port in container.inputs.get("ports", []):
                published.setdefault(name, set()).add(int(port["external"]))
            if any(v["hostPath"] == "/var/run/docker.sock" for v in container.inputs.get("volumes", [])):
                socket_users.add(name)
        assert published == {"reverse_proxy": {80, 443}, "traefik": {80, 443}}
        assert socket_users == {"lab_manager"}, "whoever takes Traefik must not get root"
        proxies = [c for c in of_type(registrations, CONTAINER) if c.inputs["name"] == "reverse_proxy"]
        assert proxies and all(
            {"hostPath": "/run/constellab", "containerPath": "/run/constellab", "readOnly": True}
            in [
                {k: v for k, v in m.items() if k in ("hostPath", "containerPath", "readOnly")}
                for m in c.inputs["volumes"]
            ]
            for c in proxies
        ), "the read-only API proxy's folder"
        preparations = [r for r in of_type(registrations, REMOTE_COMMAND) if "-preparation-" in r.name]
        lab_hosts = [r for r in preparations if "-space-" not in r.name]
        assert all("constellab-docker-proxy.service" in r.inputs["stdin"] for r in lab_hosts)
        assert not [r for r in preparations if "-space-" in r.name and "docker-proxy" in r.inputs["stdin"]]

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_acme_servers_get_the_dns_challenge_token_as_a_secret_file_never_pulumis_own(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        proxy = containers_of(registrations, "hub")["reverse_proxy"]
        token, secret, permissions = uploads_of(proxy)["/run/secrets/cf_dns_api_token"]
        assert secret and permissions == "0400" and token == placeholder(program_secret("acmeDnsApiToken"))
        pulumis = placeholder(program_secret("cloudflareApiToken"))
        (cloudflare,) = of_type(registrations, "pulumi:providers:cloudflare")
        assert reveal(cloudflare.inputs["apiToken"]) == pulumis
        carried = [
            c.inputs["name"] for c in of_type(registrations, CONTAINER) if pulumis in json.dumps(reveal(c.inputs))
        ]
        assert carried == [], "the token that edits every record stays with Pulumi"
        assert env_of(proxy)["CF_DNS_API_TOKEN_FILE"] == "/run/secrets/cf_dns_api_token"
        assert "CF_DNS_API_TOKEN" not in env_of(proxy)

    return declared(engine).apply(check)


def uploads_of(container) -> dict[str, tuple[str, bool, str]]:
    """A container's uploaded files: path -> (content, registered as a secret, permissions)."""
    raw = container.inputs.get("uploads", [])
    plain = reveal(raw)
    return {
        upload["file"]: (upload["content"], is_secret(raw) or is_secret(raw[index]["content"]), upload["permissions"])
        for index, upload in enumerate(plain)
    }


@pulumi.runtime.test
def test_a_manual_certificate_is_delivered_where_lab_configurer_reads_it(engine_for):
    engine = engine_for("pharma-onprem")

    def check(registrations):
        hub = uploads_of(containers_of(registrations, "hub")["reverse_proxy"])
        chain = engine.settings.platform.hubs[0].certificates.certificate_chain
        assert hub["/certs/fullchain.pem"][0] == chain
        key, secret, permissions = hub["/certs/privkey.pem"]
        assert secret and permissions == "0400" and key == placeholder(program_secret("tlsPrivateKeys"), "hub")
        qc = uploads_of(containers_of(registrations, "qc")["reverse_proxy"])
        assert "/certs/privkey.pem" not in qc, "qc uses Traefik's default certificate"

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_the_cloud_manager_network_has_the_fixed_subnet_the_metadata_firewall_trusts(engine_for):
    engine = engine_for("biolab-hybrid")

    def check(registrations):
        subnets = {
            server_of(r): [c.get("subnet") for c in r.inputs.get("ipamConfigs", [])]
            for r in of_type(registrations, NETWORK)
            if r.inputs["name"] == "gencovery-network-manager"
        }
        assert subnets == {"analysis": ["172.30.253.0/24"], "hub": []}

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_the_reverse_proxy_is_the_former_traefik_container_deleted_before_it_is_replaced(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        proxy = containers_of(registrations, "lab1")["reverse_proxy"]
        assert [a["spec"]["name"] for a in proxy.aliases] == ["acme-lab1-host-containers-traefik"]
        assert proxy.delete_before_replace, "a replacement cannot bind ports 80 and 443 the old one holds"
        assert not containers_of(registrations, "lab1")["lab_manager"].delete_before_replace

    return declared(engine).apply(check)
