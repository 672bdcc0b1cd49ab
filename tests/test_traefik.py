"""`constellab/traefik.py`: the reverse proxy's static and dynamic configuration, without Traefik (the real
binary runs it in test_traefik_live.py)."""

from __future__ import annotations

import pytest

from constellab import traefik


def lab_proxy(tls: traefik.TlsMode, **extra) -> traefik.ProxySettings:
    return traefik.ProxySettings(kind="lab-host", host="lab1.acme.example", tls=tls, **extra)


@pytest.mark.parametrize("tls", ["acme", "httpreq", "manual", "default"])
def test_every_lab_proxy_has_the_resolver_the_lab_managers_labels_name(tls):
    settings = lab_proxy(tls, httpreq_endpoint="https://api.example/dns-challenge")
    config = traefik.static_config(settings)
    acme_resolver = config["certificatesResolvers"]["myresolver"]["acme"]
    assert acme_resolver["storage"] == "/letsencrypt/acme.json"
    challenge = {"acme": "cloudflare", "httpreq": "httpreq"}.get(tls)
    assert acme_resolver.get("dnsChallenge", {}).get("provider") == challenge
    assert config["core"] == {"defaultRuleSyntax": "v2"}
    # The labels are read through the host's read-only API proxy, never the socket.
    assert config["providers"]["docker"] == {
        "exposedByDefault": False,
        "endpoint": "unix:///run/constellab/docker-ro.sock",
    }
    assert config["api"] == {"dashboard": False, "insecure": False}
    redirect = config["entryPoints"]["web"]["http"]["redirections"]["entryPoint"]
    assert redirect == {"to": "websecure", "scheme": "https", "permanent": True}
    assert config["entryPoints"]["websecure"]["http"]["middlewares"] == ["security-headers@file"]


def test_the_dns_challenge_settings_reach_the_proxy_environment():
    assert traefik.environment(lab_proxy("acme")) == {"CF_DNS_API_TOKEN_FILE": "/run/secrets/cf_dns_api_token"}
    endpoint = "https://api.example/dns-challenge"
    assert traefik.environment(lab_proxy("httpreq", httpreq_endpoint=endpoint)) == {"HTTPREQ_ENDPOINT": endpoint}
    assert traefik.environment(lab_proxy("manual")) == {}


def test_uploads_are_never_cut_by_a_timeout():
    config = traefik.static_config(lab_proxy("acme"))
    responding = config["entryPoints"]["websecure"]["transport"]["respondingTimeouts"]
    assert (responding["readTimeout"], responding["writeTimeout"]) == ("0s", "0s")
    assert config["serversTransport"]["forwardingTimeouts"]["responseHeaderTimeout"] == "0s"


def test_the_app_hosts_of_newer_lab_managers_are_routed_in_v3_syntax():
    routers = traefik.dynamic_config(lab_proxy("manual"))["http"]["routers"]
    assert routers["glab-apps"]["rule"] == r"HostRegexp(`^app-[a-zA-Z0-9-]+\.lab1\.acme\.example$`)"
    assert routers["codelab-apps"]["rule"] == r"HostRegexp(`^appdev-[a-zA-Z0-9-]+\.lab1\.acme\.example$`)"
    assert {router["ruleSyntax"] for router in routers.values()} == {"v3"}


def test_the_space_proxy_requests_its_own_certificate_and_has_no_docker_provider():
    config = traefik.static_config(traefik.ProxySettings(kind="space", host="space.acme.example", tls="acme"))
    assert config["entryPoints"]["websecure"]["http"]["tls"] == {
        "certResolver": "myresolver",
        "domains": [{"main": "space.acme.example"}],
    }
    assert "docker" not in config["providers"] and "core" not in config
