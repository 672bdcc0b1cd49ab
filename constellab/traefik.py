"""Traefik's static and dynamic configuration, rendered from the validated config.

The core routes live in the file provider: Docker labels cannot be changed without replacing a
container, and TLS options exist only in files. The Docker provider stays on, exposing nothing by
default, for the apps the lab manager starts later. Every file Traefik reads is described by
`proxy_files`, the single source for the container (`components.containers`) and for
`python -m ops render-proxy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import bcrypt

from constellab import yaml_io

STATIC_PATH = "/etc/traefik/traefik.yml"
DYNAMIC_DIR = "/etc/traefik/dynamic"
DYNAMIC_PATH = f"{DYNAMIC_DIR}/core.yml"
HTPASSWD_PATH = "/etc/traefik/secrets/codelab.htpasswd"
CERTIFICATE_PATH = "/etc/traefik/certs/server.crt"
PRIVATE_KEY_PATH = "/etc/traefik/certs/server.key"
ACME_DIR = "/letsencrypt"
ACME_STORE = f"{ACME_DIR}/acme.json"
CLOUDFLARE_TOKEN_FILE = "/run/secrets/cf_dns_api_token"
CERT_RESOLVER = "letsencrypt"
CODELAB_USER = "codelab"
"""User name of Codelab's basic authentication; the password is `constellab:codelabPassword`."""
BCRYPT_COST = 10

TlsMode = Literal["acme", "manual", "default"]
Role = Literal["lab", "hub", "space"]

SECURITY_HEADERS = "security-headers"
CODELAB_AUTH = "codelab-auth"

# TLS 1.2 suites with forward secrecy and AEAD only (TLS 1.3 suites are not configurable in Go).
MODERN_CIPHER_SUITES = [
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
]
HSTS_SECONDS = 31536000


@dataclass(frozen=True)
class Route:
    """One router: the hosts it matches and the backend it reaches."""

    name: str
    rule: str
    service_url: str
    basic_auth: bool = False


@dataclass(frozen=True)
class ProxyFile:
    """A file Traefik reads: rendered `content`, or the name of a value known at deployment (`value`)."""

    path: str
    content: str = ""
    value: str | None = None
    """Name of the deployment-time value (a `topology.Ref`) that fills the file."""
    secret: bool = False
    mode: int = 0o444


def static_config(host: str, tls: TlsMode, acme_email: str | None = None) -> dict[str, Any]:
    """Traefik's static configuration for a server whose virtual host is `host`."""
    websecure_tls: dict[str, Any] = {}
    config: dict[str, Any] = {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "log": {"level": "INFO", "format": "json"},
        "accessLog": {"format": "json"},
        "api": {"dashboard": False, "insecure": False},
        "ping": {"entryPoint": "traefik"},
        "entryPoints": {
            "web": {
                "address": ":80",
                "http": {
                    "redirections": {"entryPoint": {"to": "websecure", "scheme": "https", "permanent": True}},
                    "aliasHeadersStrategy": "delete",
                },
            },
            "websecure": {
                "address": ":443",
                # Security headers on the entry point reach every router, the lab manager's apps included.
                "http": {
                    "tls": websecure_tls,
                    "aliasHeadersStrategy": "delete",
                    "middlewares": [f"{SECURITY_HEADERS}@file"],
                },
            },
            # Health checks only, inside the container: never published.
            "traefik": {"address": "127.0.0.1:8082"},
        },
        "providers": {
            "file": {"directory": DYNAMIC_DIR, "watch": True},
            "docker": {"exposedByDefault": False, "network": "manager"},
        },
    }
    if tls == "acme":
        # Routers carry no TLS section of their own, so this wildcard request reaches every one of them.
        websecure_tls |= {"certResolver": CERT_RESOLVER, "domains": [{"main": host, "sans": [f"*.{host}"]}]}
        acme: dict[str, Any] = {
            "storage": ACME_STORE,
            "dnsChallenge": {"provider": "cloudflare", "resolvers": ["1.1.1.1:53", "1.0.0.1:53"]},
        }
        if acme_email:
            acme["email"] = acme_email
        config["certificatesResolvers"] = {CERT_RESOLVER: {"acme": acme}}
    return config


def routes(host: str, role: Role, dev_environment: bool) -> list[Route]:
    """The routes of a server, with parity to Constellab's lab host."""
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
            Route("codelab", f"Host(`codelab.{host}`)", "http://codelab:8080", basic_auth=True),
            Route("codelab-apps", f"HostRegexp(`^appdev-[a-z0-9-]+\\.{escaped}$`)", "http://codelab:8510"),
        ]
    return found


def dynamic_config(route_list: list[Route], tls: TlsMode) -> dict[str, Any]:
    """File-provider configuration: routers, services, security middlewares and TLS options."""
    middlewares: dict[str, Any] = {
        SECURITY_HEADERS: {
            "headers": {
                "stsSeconds": HSTS_SECONDS,
                "stsIncludeSubdomains": True,
                "forceSTSHeader": True,
                "contentTypeNosniff": True,
                "frameDeny": True,
                "referrerPolicy": "strict-origin-when-cross-origin",
            }
        }
    }
    if any(route.basic_auth for route in route_list):
        middlewares[CODELAB_AUTH] = {
            "basicAuth": {"usersFile": HTPASSWD_PATH, "realm": "Codelab", "removeHeader": True}
        }
    routers = {}
    for route in route_list:
        # No `tls` key: the websecure entry point's TLS settings (and its certificate request) apply,
        # and so do its security headers.
        router: dict[str, Any] = {"rule": route.rule, "entryPoints": ["websecure"], "service": route.name}
        if route.basic_auth:
            router["middlewares"] = [CODELAB_AUTH]
        routers[route.name] = router
    tls_options: dict[str, Any] = {
        "minVersion": "VersionTLS12",
        "cipherSuites": MODERN_CIPHER_SUITES,
        "curvePreferences": ["X25519", "CurveP256", "CurveP384"],
        # Traefik's own certificate matches no name: strict SNI would refuse every client.
        "sniStrict": tls != "default",
    }
    config: dict[str, Any] = {
        "http": {
            "routers": routers,
            "middlewares": middlewares,
            "services": {
                route.name: {"loadBalancer": {"servers": [{"url": route.service_url}]}} for route in route_list
            },
        },
        "tls": {"options": {"default": tls_options}},
    }
    if tls == "manual":
        certificate = {"certFile": CERTIFICATE_PATH, "keyFile": PRIVATE_KEY_PATH}
        config["tls"]["certificates"] = [certificate]
        config["tls"]["stores"] = {"default": {"defaultCertificate": certificate}}
    return config


def bcrypt_salt(random_chars: str) -> bytes:
    """A bcrypt salt from 22 characters of the bcrypt alphabet (`./A-Za-z0-9`).

    The 22nd character only carries 2 bits: it is mapped onto the four characters bcrypt accepts
    there, so any random string of that alphabet (a `RandomPassword`, stable in state) works.
    """
    if len(random_chars) != 22:
        raise ValueError("a bcrypt salt takes 22 characters")
    last = ".Oeu"["./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".index(random_chars[21]) % 4]
    return f"$2b${BCRYPT_COST:02d}${random_chars[:21]}{last}".encode()


def htpasswd(user: str, password: str, salt: bytes) -> str:
    """One htpasswd line with a bcrypt hash; the same password and salt always give the same line."""
    if ":" in user:
        raise ValueError("an htpasswd user name cannot contain ':'")
    return f"{user}:{bcrypt.hashpw(password.encode(), salt).decode()}\n"


def proxy_files(
    host: str, role: Role, dev_environment: bool, tls: TlsMode, acme_email: str | None = None
) -> list[ProxyFile]:
    """Every file of a server's Traefik; secret files hold the name of their value instead."""
    route_list = routes(host, role, dev_environment)
    files = [
        ProxyFile(STATIC_PATH, to_yaml(static_config(host, tls, acme_email))),
        ProxyFile(DYNAMIC_PATH, to_yaml(dynamic_config(route_list, tls))),
    ]
    if any(route.basic_auth for route in route_list):
        files.append(ProxyFile(HTPASSWD_PATH, value="codelab-htpasswd", secret=True, mode=0o400))
    if tls == "manual":
        files.append(ProxyFile(CERTIFICATE_PATH, value="tls-certificate"))
        files.append(ProxyFile(PRIVATE_KEY_PATH, value="tls-private-key", secret=True, mode=0o400))
    if tls == "acme":
        files.append(ProxyFile(CLOUDFLARE_TOKEN_FILE, value="cloudflare-token", secret=True, mode=0o400))
    return files


def to_yaml(document: dict[str, Any]) -> str:
    return yaml_io.dump(document, sort_keys=False, default_flow_style=False, width=200)
