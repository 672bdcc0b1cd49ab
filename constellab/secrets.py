"""The secrets a stack may hold: each key, what it is for, what the program calls it, and which ones a
platform document needs (shared ones, and secret maps with one member per server)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from constellab.raw_document import raw_servers
from constellab.values import Configured

PLATFORM_KEY = "constellab:platform"


class SecretState(Enum):
    """How a secret key is present in a stack's configuration."""

    SECRET = "secret"
    PLAIN = "plain"
    MISSING = "missing"
    MALFORMED = "malformed"
    """`secure:` holds something Pulumi never writes (a list, a number, nothing)."""


@dataclass(frozen=True)
class SecretKey:
    """A config key that may only hold a Pulumi secret; a map holds one secret per server name."""

    key: str
    ref: Configured
    """What the program calls its value (`topology.Ref`): each secret names it once, here."""
    purpose: str
    is_map: bool = False
    pem_file: bool = False
    """Its value is a PEM file's text (a manual certificate's key): the command reads it from the file."""

    @property
    def name(self) -> str:
        return self.key.split(":", 1)[1]

    def set_command(self, member: str | None = None, value: str | None = None) -> str:
        """The command that stores it; for a map, the member of one server (`<server>` unless named) with
        `--path`: a map's key alone would store one value for every server, which the program cannot read.
        `value` defaults to `<value>`, or for a PEM file to its text read after `--` (`-----BEGIN` is no option)."""
        if value is None:
            value = _pem_file_value(member) if self.pem_file else "<value>"
        if self.is_map:
            return f"pulumi config set --secret --path '{self.name}.{member or '<server>'}' {value}"
        if member is not None:
            raise ValueError(f"{self.key} is one secret for the whole stack, not one per server ({member})")
        return f"pulumi config set --secret {self.name} {value}"


def _pem_file_value(server: str | None) -> str:
    key_file = f"{server}.key" if server and not server.startswith("<") else "key.pem"  # the README's key.pem
    return f'-- "$(cat {key_file})"'


CLOUDFLARE_TOKEN = SecretKey(
    "constellab:cloudflareApiToken",
    Configured.CLOUDFLARE_TOKEN,
    "Cloudflare API token Pulumi uses for the DNS records (Zone > DNS > Edit on the zone); never leaves Pulumi",
)
ACME_DNS_TOKEN = SecretKey(
    "constellab:acmeDnsApiToken",
    Configured.ACME_DNS_TOKEN,
    "Cloudflare API token the servers' Traefik uses for DNS-01 only (Zone > DNS > Edit on the zone, nothing else)",
)
SPACE_API_KEYS = SecretKey(
    "constellab:spaceApiKeys",
    Configured.SPACE_API_KEY,
    "the Space API key of each hub and lab the stack configures, as the Space shows it for that lab",
    is_map=True,
)
COMMUNITY_API_KEY = SecretKey(
    "constellab:communityApiKey",
    Configured.COMMUNITY_API_KEY,
    "API key for Constellab Community (the space, and labs configured by the stack)",
)
CODELAB_TOKENS = SecretKey(
    "constellab:codelabTokens",
    Configured.CODELAB_TOKEN,
    "the Codelab access token of each hub and lab the stack configures (its codelabToken)",
    is_map=True,
)
OPENAI_API_KEY = SecretKey(
    "constellab:openaiApiKey",
    Configured.OPENAI_API_KEY,
    "OpenAI API key for labs with configuration.openai: true",
)
LAB_MANAGER_API_KEYS = SecretKey(
    "constellab:labManagerApiKeys",
    Configured.LAB_MANAGER_API_KEY,
    "the lab manager API key the Space generated for each hub and lab (a secret map; local labs get one here)",
    is_map=True,
)
TLS_PRIVATE_KEYS = SecretKey(
    "constellab:tlsPrivateKeys",
    Configured.TLS_PRIVATE_KEY,
    "PEM private keys of manual certificates, one per server name (a secret map)",
    is_map=True,
    pem_file=True,
)


SECRET_KEYS = (
    CLOUDFLARE_TOKEN,
    ACME_DNS_TOKEN,
    SPACE_API_KEYS,
    COMMUNITY_API_KEY,
    CODELAB_TOKENS,
    OPENAI_API_KEY,
    LAB_MANAGER_API_KEYS,
    TLS_PRIVATE_KEYS,
)
SECRET_MAPS = tuple(secret for secret in SECRET_KEYS if secret.is_map)
REPLACED_KEYS = {
    "constellab:spaceApiKey": SPACE_API_KEYS,
    "constellab:codelabPassword": CODELAB_TOKENS,
}
"""Keys of earlier versions, one value for every lab of a stack, now one per lab: each lab has its own in the Space."""


def _raw_servers(document: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(kind, name, fields) of the servers that run (retired ones need no secrets), by name.

    A name that is no server name (missing, a list, `Hub 1`) is refused on its own field; no secret can be set for
    it, so none is asked for.
    """
    from constellab.config_types import DNS_LABEL_PATTERN  # here: config_types takes its secrets from this module

    return [
        (server.kind, server.name, server.fields)
        for server in raw_servers(document)
        if not server.retired and isinstance(server.name, str) and DNS_LABEL_PATTERN.fullmatch(server.name)
    ]


def _mode(server: Mapping[str, Any]) -> object:
    configuration = server.get("configuration")
    return configuration.get("mode", "space") if isinstance(configuration, Mapping) else "space"


def manual_certificate_servers(document: Mapping[str, Any]) -> list[str]:
    """Names of the servers whose certificates are `manual` (their keys are secret config)."""
    return [
        name
        for _, name, server in _raw_servers(document)
        if isinstance(server.get("certificates"), Mapping) and server["certificates"].get("mode") == "manual"
    ]


def acme_servers(document: Mapping[str, Any]) -> list[str]:
    """Names of the servers whose certificates come from DNS-01 through Cloudflare (`acme`, the default with
    `dns.provider: cloudflare`): their Traefik holds the DNS-challenge token."""
    dns = document.get("dns")
    default = "acme" if isinstance(dns, Mapping) and dns.get("provider") == "cloudflare" else "default"
    return [
        name
        for _, name, server in _raw_servers(document)
        if (server["certificates"].get("mode") if isinstance(server.get("certificates"), Mapping) else default)
        == "acme"
    ]


def space_keyed_servers(document: Mapping[str, Any]) -> list[str]:
    """Names of the hubs and labs whose lab manager key is the one the Space generated for them: all but local
    ones. A lab the stack configures still calls the Space with that key (its backup targets and history)."""
    return [
        name
        for kind, name, server in _raw_servers(document)
        if kind != "space"
        and not (isinstance(server.get("placement"), Mapping) and server["placement"].get("kind") == "local")
    ]


def stack_configured_servers(document: Mapping[str, Any]) -> list[str]:
    """Names of the hubs and labs the stack configures (their Space key and Codelab token are secret config)."""
    return [name for kind, name, server in _raw_servers(document) if kind != "space" and _mode(server) == "stack"]


def _stack_configured(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [server for kind, _, server in _raw_servers(document) if kind != "space" and _mode(server) == "stack"]


def required_members(document: Mapping[str, Any]) -> dict[SecretKey, list[str]]:
    """For each secret map, the server names it needs an entry for."""
    return {
        TLS_PRIVATE_KEYS: manual_certificate_servers(document),
        LAB_MANAGER_API_KEYS: space_keyed_servers(document),
        SPACE_API_KEYS: stack_configured_servers(document),
        CODELAB_TOKENS: stack_configured_servers(document),
    }


def required_secrets(document: Mapping[str, Any]) -> list[SecretKey]:
    """The secret keys a platform document needs (read from the raw document, valid or not)."""
    needed: list[SecretKey] = []
    dns = document.get("dns")
    if isinstance(dns, Mapping) and dns.get("provider") == "cloudflare":
        needed.append(CLOUDFLARE_TOKEN)
    if acme_servers(document):
        needed.append(ACME_DNS_TOKEN)
    by_stack = _stack_configured(document)
    if by_stack or isinstance(document.get("space"), Mapping):
        needed.append(COMMUNITY_API_KEY)
    if any(isinstance(s.get("configuration"), Mapping) and s["configuration"].get("openai") is True for s in by_stack):
        needed.append(OPENAI_API_KEY)
    needed += [secret for secret, members in required_members(document).items() if members]
    return needed
