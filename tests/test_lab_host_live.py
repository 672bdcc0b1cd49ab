"""A hub's host on the real Docker engine, brought up exactly as the topology describes it.

The system set (`lab_manager`, `reverse_proxy` and the three networks) comes from
`topology.server_set`; stand-ins for the containers the lab manager runs carry its labels, in two
generations of its template. The checks go through the published ports 80 and 443 of this machine, as
a browser would: every host the lab manager labels is routed, with our hardening on routers we never
wrote. See `tests.docker_harness` for what is substituted (images, host folders) and why.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from constellab import lab_host, topology, traefik
from constellab.config import Hub, PlatformConfig
from constellab.settings import (
    LAB_MANAGER_API_KEYS,
    PLATFORM_KEY,
    TLS_PRIVATE_KEYS,
    RawStackConfig,
    SecretState,
    validate,
)
from constellab.topology import ContainerSpec, ServerSet
from tests import docker_harness as harness
from tests import docker_proxy_harness as proxy_harness
from tests.conftest import missing
from tests.traefik_harness import Response, http_get, https_get, self_signed

# One worker runs them all (./run test distributes by group): the engine holds one lab host at a time.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("docker-engine")]

SERVER = "hub1"
BASE_DOMAIN = "acme.example"
HOST = f"{SERVER}.{BASE_DOMAIN}"
CODELAB_USER = "codelab"
PASSWORD = "correct horse battery staple"
HTTPS, HTTP = 443, 80
ROUTED_WITHIN = 30.0
"""Seconds the proxy has to route the lab manager once the containers are started."""

# Every host the lab manager routes, and what answers it (`<container>:<port>` of the stand-ins).
UPSTREAMS = {
    "lab": "front:81",
    "front": "front:81",
    "dev-lab": "front:81",
    "glab": "glab:3000",
    "glab-dev": "codelab:3000",
    "app-notebook1": "glab:8510",
    "appdev-notebook1": "codelab:8510",
}
APP_NAME = "notebook1"
"""Stands for `<x>` in the lab manager's app hosts (`app-<x>`, `appdev-<x>`)."""


@dataclass(frozen=True)
class LiveHost:
    generation: str
    system: ServerSet
    """The system set, as the topology declares it."""
    values: dict[str, str]
    substitutions: harness.Substitutions
    standin_image: str

    def spec(self, name: str) -> ContainerSpec:
        return next(spec for spec in self.system.containers if spec.name == name)


def platform(certificate: str) -> tuple[PlatformConfig, Hub]:
    """A validated on-prem platform with one hub whose certificate is `manual` (an air-gapped site)."""
    document = {
        "customer": "acme",
        "baseDomain": BASE_DOMAIN,
        "dns": {"provider": "none"},
        "adminCidrs": ["10.20.0.0/24"],
        "images": {"labManager": "constellab/lab-manager:2.4.1"},
        "endpoints": {
            "spaceApiUrl": "https://api.acme.constellab.space",
            "spaceFrontUrl": "https://acme.constellab.space",
        },
        "hubs": [
            {
                "name": SERVER,
                "placement": {"kind": "onPrem", "sshHost": "10.20.0.10", "publicAddress": "192.0.2.10"},
                "certificates": {"mode": "manual", "certificateChain": certificate},
            }
        ],
    }
    secret_maps = (TLS_PRIVATE_KEYS.key, LAB_MANAGER_API_KEYS.key)
    raw = RawStackConfig(
        values={PLATFORM_KEY: document, "aws:region": "eu-west-1"},
        secrets={key: SecretState.SECRET for key in secret_maps},
        secret_members={key: frozenset({SERVER}) for key in secret_maps},
    )
    validated = validate(raw, "test_lab_host_live").platform
    return validated, validated.hubs[0]


def get(host: str, path: str = "/", **kwargs) -> Response:
    """GET https://<host>.<H><path> through this machine's port 443 (SNI and Host set)."""
    name = f"{host}.{HOST}"
    return https_get(HTTPS, name, name, path, **kwargs)


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _answers(host: str, path: str = "/") -> Response | None:
    try:
        return get(host, path)
    except (OSError, http.client.HTTPException):
        return None


def wait_until_routed() -> None:
    """Until the lab manager's `/health-check` answers through 443, then (briefly) the stand-ins' hosts."""
    deadline = time.monotonic() + ROUTED_WITHIN
    while True:
        response = _answers("lab-manager", "/health-check")
        if response is not None and response.status == 200 and response.body.strip() == b"true":
            break
        if time.monotonic() > deadline:
            pytest.fail(
                f"the proxy did not route lab-manager.{HOST} within {ROUTED_WITHIN} s "
                f"(last answer: {response}):\n{harness.logs(lab_host.REVERSE_PROXY)}"
            )
        time.sleep(0.5)
    # The stand-ins start after the proxy: give its Docker provider the time to see them.
    pending = set(UPSTREAMS) | {"codelab"}
    while pending and time.monotonic() < deadline:
        pending = {host for host in pending if (answer := _answers(host)) is None or answer.status == 404}
        time.sleep(0.3)


@pytest.fixture(scope="module", params=sorted(harness.STANDIN_LABELS))
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHost]:
    """The hub's host with one generation of the lab manager's labels; removed after the module's tests."""
    if not harness.docker_ready():
        missing("no Docker engine answers `docker version` (CI's .ci/run starts one)")
    generation = request.param
    certificate, key = self_signed(HOST)
    config, hub = platform(certificate)
    assert topology.proxy_settings(config, hub).host == HOST
    system = topology.server_set(config, hub)
    assert hub.certificates is not None and hub.certificates.mode == "manual"
    values = {
        # As `components.host` hands them in: the configured chain, the secret key, the Space's API key.
        "tls-certificate": hub.certificates.certificate_chain,
        "tls-private-key": key,
        "lab-manager-api-key": "test-lab-manager-api-key",
    }
    substitutions = harness.lab_host_substitutions(tmp_path_factory.mktemp(f"host-{generation}"))
    standin_image = harness.standin_image()
    standins = harness.standins(generation, HOST, harness.htpasswd(CODELAB_USER, PASSWORD), standin_image)
    proxy_folder = Path(substitutions.host_path(lab_host.DOCKER_PROXY_DIR))
    # The host's read-only Docker API proxy, as its systemd unit runs it: Traefik reads the labels through it.
    with harness.exclusive_engine(), proxy_harness.running_proxy(proxy_folder, topology.DOCKER_SOCKET):
        deployment = harness.up(ServerSet(system.networks, system.containers + standins), values, substitutions)
        try:
            wait_until_routed()
            yield LiveHost(generation, system, values, substitutions, standin_image)
        finally:
            harness.down(deployment)


# ---------------------------------------------------------------------------------------------
# What runs is what the topology says
# ---------------------------------------------------------------------------------------------


def test_the_routes_checked_here_are_those_the_contract_describes():
    described = {
        (route.host.replace("<x>", APP_NAME), f"{container.name}:{route.port}")
        for container in lab_host.LAB_MANAGER_SET
        for route in container.routes
    }
    assert described == set(UPSTREAMS.items()) | {("codelab", "codelab:8080")}


def test_the_networks_exist_with_exactly_the_contract_names(live: LiveHost):
    assert tuple(network.name for network in live.system.networks) == lab_host.NETWORKS
    for network in live.system.networks:
        found = harness.inspect("network", network.name)
        assert found["Name"] == network.name
        assert found["Driver"] == "bridge"
        subnets = [config["Subnet"] for config in found["IPAM"]["Config"] or []]
        if network.subnet is not None:
            assert subnets == [network.subnet]


@pytest.mark.parametrize("name", lab_host.SYSTEM_CONTAINERS)
def test_the_system_containers_run_as_their_specs_say(live: LiveHost, name: str):
    assert tuple(spec.name for spec in live.system.containers) == lab_host.SYSTEM_CONTAINERS
    spec = live.spec(name)
    found = harness.inspect("container", name)
    assert found["Name"] == f"/{spec.name}"
    assert found["State"]["Running"] is True, harness.logs(name)
    assert found["HostConfig"]["RestartPolicy"]["Name"] == spec.restart == "always"
    assert set(found["NetworkSettings"]["Networks"]) == set(spec.networks)
    mounts = {(mount["Source"], mount["Destination"], mount["RW"]) for mount in found["Mounts"]}
    assert mounts == {
        (live.substitutions.host_path(mount.host_path), mount.container_path, not mount.read_only)
        for mount in spec.mounts
    }
    # The lab manager drives the engine's own socket; Traefik reads the real labels through the read-only proxy.
    sockets = {(source, target) for source, target, _ in mounts if target == topology.DOCKER_SOCKET}
    if name == lab_host.LAB_MANAGER:
        assert sockets == {(topology.DOCKER_SOCKET, topology.DOCKER_SOCKET)}
    else:
        assert sockets == set(), "whoever takes Traefik must not get root"
        proxy = live.substitutions.host_path(lab_host.DOCKER_PROXY_DIR)
        assert (proxy, lab_host.DOCKER_PROXY_DIR, False) in mounts, "the proxy's folder, read-only"
    env = dict(entry.split("=", 1) for entry in found["Config"]["Env"] or [])
    assert {key: env.get(key) for key in spec.env} == {
        key: harness.resolve(value, live.values) for key, value in spec.env.items()
    }
    bindings = {
        port: [binding["HostPort"] for binding in bound]
        for port, bound in (found["HostConfig"]["PortBindings"] or {}).items()
    }
    assert bindings == {f"{port.internal}/tcp": [str(port.external)] for port in spec.ports}
    assert {key: (found["Config"]["Labels"] or {}).get(key) for key in spec.labels} == spec.labels


def test_the_proxy_reads_exactly_the_files_of_its_spec(live: LiveHost):
    spec = live.spec(lab_host.REVERSE_PROXY)
    assert spec.files
    for file in spec.files:
        content, mode = harness.read_file(spec.name, file.path)
        assert content.decode() == harness.resolve(file.content, live.values), file.path
        assert mode == file.mode, file.path


# ---------------------------------------------------------------------------------------------
# Routing
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("host", "answer"), sorted(UPSTREAMS.items()))
def test_every_upstream_host_reaches_its_container_and_port(live: LiveHost, host: str, answer: str):
    response = get(host, "/")
    assert (response.status, response.body.decode().strip()) == (200, answer)


def test_the_lab_manager_health_check_answers_true(live: LiveHost):
    response = get("lab-manager", "/health-check")
    assert (response.status, response.body.strip()) == (200, b"true")


def test_codelab_asks_for_its_password(live: LiveHost):
    refused = get("codelab")
    assert refused.status == 401
    assert "basic" in refused.headers["www-authenticate"].lower()
    assert get("codelab", headers=basic(CODELAB_USER, "wrong password")).status == 401
    allowed = get("codelab", headers=basic(CODELAB_USER, PASSWORD))
    assert (allowed.status, allowed.body.decode().strip()) == (200, "codelab:8080")


HEADER_CHECKS = [*sorted(UPSTREAMS), "lab-manager", "codelab"]


@pytest.mark.parametrize("host", HEADER_CHECKS)
def test_routers_we_did_not_write_carry_our_security_headers(live: LiveHost, host: str):
    headers = basic(CODELAB_USER, PASSWORD) if host == "codelab" else None
    response = get(host, headers=headers)
    assert response.status == 200
    assert response.headers.get("strict-transport-security") == f"max-age={traefik.HSTS_SECONDS}; includeSubDomains"
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert "x-frame-options" not in response.headers, "the lab's pages embed each other (apps in the front)"
    assert response.headers.get("referrer-policy") == "strict-origin-when-cross-origin"


# ---------------------------------------------------------------------------------------------
# TLS and foreign hosts
# ---------------------------------------------------------------------------------------------


def test_tls_1_1_is_refused_by_the_server(live: LiveHost):
    with pytest.raises(ssl.SSLError) as refused:
        get("lab", version=ssl.TLSVersion.TLSv1_1)
    # The server's alert, not a client that could not even offer the version.
    message = str(refused.value).lower()
    assert "alert" in message or "protocol version" in message
    assert "no protocols available" not in message


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls_1_2_and_later_are_accepted_with_the_manual_certificate(live: LiveHost, version: ssl.TLSVersion):
    response = get("lab", version=version)
    assert response.status == 200
    assert set(response.peer_names) == {HOST, f"*.{HOST}"}


def test_a_foreign_sni_fails_the_handshake(live: LiveHost):
    with pytest.raises(ssl.SSLError):
        https_get(HTTPS, "evil.example", "evil.example")


def test_a_foreign_host_behind_a_known_sni_answers_404(live: LiveHost):
    assert https_get(HTTPS, f"lab.{HOST}", "evil.example").status == 404


@pytest.mark.parametrize("path", ["/api/rawdata", "/api/http/routers", "/dashboard/"])
@pytest.mark.parametrize("host", [HOST, f"lab-manager.{HOST}"])
def test_no_api_or_dashboard_answers_on_443(live: LiveHost, host: str, path: str):
    response = https_get(HTTPS, host, host, path)
    assert response.status == 404
    assert not response.body.lstrip().startswith((b"{", b"["))


def test_no_api_or_health_port_answers_even_from_the_proxys_own_networks(live: LiveHost):
    # Not published, and not listening on the networks either: Traefik's API port (8080, with api.insecure)
    # and its ping entry point (kept on the container's loopback).
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", 8080), timeout=3):
        pass
    for port in (8080, 8082):
        status, body, messages = fetch_from(live, lab_host.NETWORK_MANAGER, f"http://reverse_proxy:{port}/api/rawdata")
        assert status != 0 and body == "", messages


def test_http_is_redirected_permanently_to_https(live: LiveHost):
    response = http_get(HTTP, f"lab.{HOST}", "/projects?x=1")
    assert response.status in (301, 308)
    assert response.headers["location"] == f"https://lab.{HOST}/projects?x=1"


def test_the_proxy_never_asks_an_acme_ca_with_manual_certificates(live: LiveHost):
    entries = [json.loads(line) for line in harness.logs(lab_host.REVERSE_PROXY).splitlines() if line.startswith("{")]
    failures = [e for e in entries if str(e.get("providerName", "")).endswith(".acme") and e.get("level") == "error"]
    assert failures == []


# ---------------------------------------------------------------------------------------------
# Networks: dev cannot reach prod
# ---------------------------------------------------------------------------------------------


def fetch_from(live: LiveHost, network: str, url: str) -> tuple[int, str, str]:
    """`wget URL` from a throw-away container on `network`: exit status, body, messages.

    `timeout` bounds it instead of `wget -T 3`, which crashes (SIGSEGV) with Debian's busybox 1.35 on
    this machine; `sh` stays the container's first process, as the kernel does not deliver `timeout`'s
    SIGTERM to a process 1 that has no handler for it.
    """
    done = harness.probe(
        network, live.standin_image, "sh", "-c", 'timeout 4 wget -q -O- "$1"; status=$?; exit $status', "probe", url
    )
    return done.returncode, done.stdout, done.stderr


def test_the_dev_network_cannot_reach_prod_by_name_or_address(live: LiveHost):
    address = harness.ip_address("glab", lab_host.NETWORK_PROD)
    status, body, messages = fetch_from(live, lab_host.NETWORK_DEV, "http://glab:3000/")
    assert status != 0 and body == "" and "bad address" in messages
    status, body, messages = fetch_from(live, lab_host.NETWORK_DEV, f"http://{address}:3000/")
    assert status != 0 and body == "", messages


def test_the_prod_network_reaches_glab_by_name_and_address(live: LiveHost):
    """The positive control of the test above: the same probe, from glab's own network."""
    address = harness.ip_address("glab", lab_host.NETWORK_PROD)
    for url in ("http://glab:3000/", f"http://{address}:3000/"):
        status, body, messages = fetch_from(live, lab_host.NETWORK_PROD, url)
        assert (status, body.strip()) == (0, "glab:3000"), messages
