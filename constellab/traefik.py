"""Traefik's static and dynamic configuration, rendered from the validated config.

Two proxies share this module:
- a lab host's `reverse_proxy` routes what the lab manager labels (Docker provider, nothing exposed by
  default). Its hardening therefore lives where it reaches routers we never write: the security headers
  on the `websecure` entry point, and TLS 1.2+ with strict SNI as the `default` TLS options of the file
  provider (TLS options exist only there). The wildcard certificate is requested by the `lab_manager`
  container's own labels, as in lab-configurer's `docker-compose.yml`.
- the collaborative space's proxy routes its application from the file provider (no Docker socket).

Every file Traefik reads is described by `proxy_files`, the single source for the container
(`components.containers`) and for `python -m ops render-proxy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from constellab import yaml_io
from constellab.values import Configured

STATIC_PATH = "/etc/traefik/traefik.yml"
DYNAMIC_DIR = "/etc/traefik/dynamic"
DYNAMIC_PATH = f"{DYNAMIC_DIR}/core.yml"
MANUAL_CERTIFICATE_PATH = "/certs/fullchain.pem"
MANUAL_KEY_PATH = "/certs/privkey.pem"
"""Where lab-configurer's air-gapped set-up (`on-premise/traefik.yml`) reads a site's own certificate."""
ACME_DIR = "/letsencrypt"
ACME_STORE = f"{ACME_DIR}/acme.json"
CLOUDFLARE_TOKEN_FILE = "/run/secrets/cf_dns_api_token"
CERT_RESOLVER = "myresolver"
"""The resolver name the lab manager's labels use (`tls.certresolver=myresolver`); it must exist."""

TlsMode = Literal["acme", "httpreq", "manual", "default"]
ProxyKind = Literal["lab-host", "space"]

SECURITY_HEADERS = "security-headers"
WEBSECURE = "websecure"

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

# Hours-long uploads and downloads go through the proxy (lab-configurer sets these timeouts to 0). Reading
# and writing a request are never cut; only connections idle between requests are closed, so an
# abandoned keep-alive connection does not stay open for ever (Traefik's default, 180 s), and idle pooled
# connections to a backend after 90 s (Go's default). A request in progress is never idle.
RESPONDING_TIMEOUTS = {"readTimeout": "0s", "writeTimeout": "0s", "idleTimeout": "180s"}
FORWARDING_TIMEOUTS = {"responseHeaderTimeout": "0s", "idleConnTimeout": "90s"}


@dataclass(frozen=True)
class Route:
    """One router of our own: the hosts it matches and the backend it reaches."""

    name: str
    rule: str
    service_url: str


@dataclass(frozen=True)
class ProxyFile:
    """A file Traefik reads: rendered `content`, or the name of a value known at deployment (`value`)."""

    path: str
    content: str = ""
    value: Configured | None = None
    """The deployment-time value (a `topology.Ref`) that fills the file."""
    secret: bool = False
    mode: int = 0o444


DOCKER_PROXY_SOCKET = "/run/constellab/docker-ro.sock"
"""Where the host's read-only Docker API proxy listens (`DEFAULT_LISTEN` of `hostfiles/docker_proxy.py`), the same
path in the proxy's container (its folder is mounted read-only)."""


@dataclass(frozen=True)
class ProxySettings:
    """What a server's proxy configuration depends on."""

    kind: ProxyKind
    host: str
    """The server's virtual host `<H>`."""
    tls: TlsMode
    acme_email: str | None = None
    httpreq_endpoint: str | None = None
    """The Space's DNS-challenge route, for `tls: httpreq`."""


def _resolver(settings: ProxySettings) -> dict[str, Any]:
    acme: dict[str, Any] = {"storage": ACME_STORE}
    if settings.acme_email:
        acme["email"] = settings.acme_email
    if settings.tls == "acme":
        acme["dnsChallenge"] = {"provider": "cloudflare", "resolvers": ["1.1.1.1:53", "1.0.0.1:53"]}
    elif settings.tls == "httpreq":
        acme["dnsChallenge"] = {"provider": "httpreq"}
    # manual and default keep the resolver without a challenge, as lab-configurer's on-premise set-up
    # does: labels naming `myresolver` stay valid, and certificates come from the file provider.
    return {CERT_RESOLVER: {"acme": acme}}


def static_config(settings: ProxySettings) -> dict[str, Any]:
    """Traefik's static configuration."""
    websecure: dict[str, Any] = {
        "address": ":443",
        "http": {
            "tls": {},
            "aliasHeadersStrategy": "delete",
            # On the entry point, the headers reach every router: the lab manager's, its bricks' too.
            "middlewares": [f"{SECURITY_HEADERS}@file"],
        },
    }
    providers: dict[str, Any] = {"file": {"directory": DYNAMIC_DIR, "watch": True}}
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
                    "redirections": {"entryPoint": {"to": WEBSECURE, "scheme": "https", "permanent": True}},
                    "aliasHeadersStrategy": "delete",
                },
            },
            WEBSECURE: websecure,
            # Health checks only, inside the container: never published.
            "traefik": {"address": "127.0.0.1:8082", "http": {"aliasHeadersStrategy": "delete"}},
        },
        "providers": providers,
        "certificatesResolvers": _resolver(settings),
    }
    if settings.kind == "lab-host":
        # The lab manager's labels are written in both of Traefik's rule syntaxes over its versions: v2
        # (`HostRegexp(`app-{subdomain:[a-zA-Z0-9-]+}.<H>`)`) in older templates, v3 (`^app-.+\.<H>$`)
        # in newer ones. v2 is the default here so the older labels work as written; the app hosts of
        # the newer ones are caught by our own v3 routers (`lab_host_routes`).
        config["core"] = {"defaultRuleSyntax": "v2"}
        # Through the host's read-only proxy of the Docker API (`hostfiles/docker_proxy.py`), never the socket.
        providers["docker"] = {"exposedByDefault": False, "endpoint": f"unix://{DOCKER_PROXY_SOCKET}"}
        websecure["transport"] = {"respondingTimeouts": dict(RESPONDING_TIMEOUTS)}
        config["serversTransport"] = {"forwardingTimeouts": dict(FORWARDING_TIMEOUTS)}
    elif settings.tls in ("acme", "httpreq"):
        # The space's own router carries no TLS section, so this request reaches it.
        websecure["http"]["tls"] = {"certResolver": CERT_RESOLVER, "domains": [{"main": settings.host}]}
    return config


def lab_host_routes(host: str) -> list[Route]:
    """Our own routers on a lab host: the lab manager's app hosts in v3 syntax (see `static_config`).

    They reach the containers by name on the networks the proxy shares with them; the lab manager's
    own routers (labels) handle every other host.
    """
    escaped = host.replace(".", r"\.")
    return [
        Route("glab-apps", f"HostRegexp(`^app-[a-zA-Z0-9-]+\\.{escaped}$`)", "http://glab:8510"),
        Route("codelab-apps", f"HostRegexp(`^appdev-[a-zA-Z0-9-]+\\.{escaped}$`)", "http://codelab:8510"),
    ]


def space_routes(host: str) -> list[Route]:
    """The collaborative space's application behind its proxy."""
    return [Route("space", f"Host(`{host}`)", "http://space:3000")]


def dynamic_config(settings: ProxySettings) -> dict[str, Any]:
    """File-provider configuration: our routers, the security headers and the default TLS options."""
    route_list = lab_host_routes(settings.host) if settings.kind == "lab-host" else space_routes(settings.host)
    routers: dict[str, Any] = {}
    for route in route_list:
        router: dict[str, Any] = {"rule": route.rule, "entryPoints": [WEBSECURE], "service": route.name}
        if settings.kind == "lab-host":
            router |= {"ruleSyntax": "v3", "tls": {}}
        routers[route.name] = router
    tls_options: dict[str, Any] = {
        "minVersion": "VersionTLS12",
        "cipherSuites": MODERN_CIPHER_SUITES,
        "curvePreferences": ["X25519", "CurveP256", "CurveP384"],
        # Traefik's own certificate matches no name: strict SNI would refuse every client.
        "sniStrict": settings.tls != "default",
    }
    config: dict[str, Any] = {
        "http": {
            "routers": routers,
            "middlewares": {
                SECURITY_HEADERS: {
                    "headers": {
                        "stsSeconds": HSTS_SECONDS,
                        "stsIncludeSubdomains": True,
                        "forceSTSHeader": True,
                        "contentTypeNosniff": True,
                        # No frame-deny: the front embeds its apps (app-<x>.<H>), Codelab its own views, and
                        # the Space the lab's pages; a header on every router would break them.
                        "referrerPolicy": "strict-origin-when-cross-origin",
                    }
                }
            },
            "services": {
                route.name: {"loadBalancer": {"servers": [{"url": route.service_url}]}} for route in route_list
            },
        },
        "tls": {"options": {"default": tls_options}},
    }
    if settings.tls == "manual":
        certificate = {"certFile": MANUAL_CERTIFICATE_PATH, "keyFile": MANUAL_KEY_PATH}
        config["tls"]["certificates"] = [certificate]
        config["tls"]["stores"] = {"default": {"defaultCertificate": certificate}}
    return config


def environment(settings: ProxySettings) -> dict[str, str]:
    """The proxy's environment: lego's settings of the DNS challenge (never a secret: the token is a file)."""
    if settings.tls == "acme":
        return {"CF_DNS_API_TOKEN_FILE": CLOUDFLARE_TOKEN_FILE}
    if settings.tls == "httpreq":
        assert settings.httpreq_endpoint is not None, "validated: httpreq has its endpoint"
        return {"HTTPREQ_ENDPOINT": settings.httpreq_endpoint}
    return {}


def proxy_files(settings: ProxySettings) -> list[ProxyFile]:
    """Every file of a server's Traefik; secret files hold the name of their value instead."""
    files = [
        ProxyFile(STATIC_PATH, to_yaml(static_config(settings))),
        ProxyFile(DYNAMIC_PATH, to_yaml(dynamic_config(settings))),
    ]
    if settings.tls == "manual":
        files.append(ProxyFile(MANUAL_CERTIFICATE_PATH, value=Configured.TLS_CERTIFICATE))
        files.append(ProxyFile(MANUAL_KEY_PATH, value=Configured.TLS_PRIVATE_KEY, secret=True, mode=0o400))
    if settings.tls == "acme":
        files.append(ProxyFile(CLOUDFLARE_TOKEN_FILE, value=Configured.ACME_DNS_TOKEN, secret=True, mode=0o400))
    return files


def to_yaml(document: dict[str, Any]) -> str:
    return yaml_io.dump(document, sort_keys=False, default_flow_style=False, width=200)
