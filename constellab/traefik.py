"""Traefik's static and dynamic configuration, rendered from the validated config.

The core routes live in the file provider: Docker labels cannot be changed without replacing a
container, and TLS options exist only in files. The Docker provider stays on, exposing nothing by
default, for the apps the lab manager starts later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import yaml

STATIC_PATH = "/etc/traefik/traefik.yml"
DYNAMIC_DIR = "/etc/traefik/dynamic"
ACME_DIR = "/letsencrypt"
ACME_STORE = f"{ACME_DIR}/acme.json"
CLOUDFLARE_TOKEN_FILE = "/run/secrets/cf_dns_api_token"
CERT_RESOLVER = "letsencrypt"

TlsMode = Literal["acme", "default"]


@dataclass(frozen=True)
class Route:
    """One router: hosts matched, the backend it reaches."""

    name: str
    rule: str
    service_url: str


def static_config(host: str, tls: TlsMode, acme_email: str | None = None) -> dict[str, Any]:
    """Traefik's static configuration for a server whose virtual host is `host`."""
    websecure: dict[str, Any] = {"address": ":443", "http": {"tls": {}}}
    config: dict[str, Any] = {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "log": {"level": "INFO", "format": "json"},
        "accessLog": {"format": "json"},
        "api": {"dashboard": False, "insecure": False},
        "ping": {"entryPoint": "traefik"},
        "entryPoints": {
            "web": {
                "address": ":80",
                "http": {"redirections": {"entryPoint": {"to": "websecure", "scheme": "https", "permanent": True}}},
            },
            "websecure": websecure,
            "traefik": {"address": "127.0.0.1:8082"},
        },
        "providers": {
            "file": {"directory": DYNAMIC_DIR, "watch": True},
            "docker": {"exposedByDefault": False, "network": "manager"},
        },
    }
    if tls == "acme":
        websecure["http"]["tls"] = {
            "certResolver": CERT_RESOLVER,
            "domains": [{"main": host, "sans": [f"*.{host}"]}],
        }
        acme: dict[str, Any] = {
            "storage": ACME_STORE,
            "dnsChallenge": {"provider": "cloudflare", "resolvers": ["1.1.1.1:53", "1.0.0.1:53"]},
        }
        if acme_email:
            acme["email"] = acme_email
        config["certificatesResolvers"] = {CERT_RESOLVER: {"acme": acme}}
    return config


def routes(host: str, role: Literal["lab", "hub", "space"], dev_environment: bool) -> list[Route]:
    """The routes of a server; Codelab's route arrives with its basic authentication (HTTPS edge)."""
    escaped = host.replace(".", r"\.")
    if role == "space":
        return [Route("space", f"Host(`{host}`)", "http://space:3000")]
    found = [
        Route("front", f"Host(`lab.{host}`)", "http://front:81"),
        Route("glab", f"Host(`glab.{host}`)", "http://glab:3000"),
        Route("glab-apps", f"HostRegexp(`^app-[a-z0-9-]+\\.{escaped}$`)", "http://glab:8510"),
        Route("lab-manager", f"Host(`lab-manager.{host}`)", "http://lab-manager:3080"),
    ]
    if dev_environment:
        found += [
            Route("dev-front", f"Host(`dev-lab.{host}`)", "http://front:81"),
            Route("glab-dev", f"Host(`glab-dev.{host}`)", "http://codelab:3000"),
            Route("codelab-apps", f"HostRegexp(`^appdev-[a-z0-9-]+\\.{escaped}$`)", "http://codelab:8510"),
        ]
    return found


def dynamic_config(route_list: list[Route]) -> dict[str, Any]:
    """File-provider configuration with one router and one service per route."""
    return {
        "http": {
            "routers": {
                route.name: {"rule": route.rule, "entryPoints": ["websecure"], "service": route.name, "tls": {}}
                for route in route_list
            },
            "services": {
                route.name: {"loadBalancer": {"servers": [{"url": route.service_url}]}} for route in route_list
            },
        }
    }


def to_yaml(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
