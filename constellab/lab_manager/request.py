"""The lab manager client's request document: its keys, their validation, and the secrets it holds.

The document is read on stdin (`parse_request` lists its keys); a malformed one raises
`InvalidRequestError`, a failure while applying it `LabManagerError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from constellab.lab_manager.wording import one_line

DEFAULT_HEALTH_TIMEOUT_SECONDS = 600.0
"""How long the lab manager may take to answer /health-check: the proxy or its certificate may still be starting."""
DEFAULT_UP_TIMEOUT_SECONDS = 1800.0
"""How long the lab may take to be up after init-all: pulling images takes a while."""
DEFAULT_POLL_SECONDS = 5.0
SETTLE_SECONDS = 30.0
"""A lab that stays UP this long after init-all, without showing the init's progress, counts as up."""

_SECRET_KEY = re.compile(r"pass|pwd|secret|token|key|credential|private", re.IGNORECASE)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")
_ONE_LINE = re.compile(r"[^\x00-\x1f\x7f]+")
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")


class LabManagerError(Exception):
    """Applying the request failed; the message is one line naming the lab, without any secret."""


class InvalidRequestError(ValueError):
    """The input document is malformed; the message names the key (e.g. `transport.kind must be ...`)."""


@dataclass(frozen=True)
class DirectTransport:
    """Connect straight to `address:port` (the lab manager's Traefik, e.g. loopback on the machine itself)."""

    address: str
    port: int = 443


@dataclass(frozen=True)
class SshTransport:
    """Reach the machine's `127.0.0.1:remote_port` through an `ssh -L` local port forward to `destination`."""

    destination: str
    port: int = 22
    options: tuple[str, ...] = ()
    remote_port: int = 443


Transport = DirectTransport | SshTransport
Verify = Literal["system", "pem", "none"]


@dataclass(frozen=True)
class LabManagerRequest:
    """One lab's configuration and init body, where to send them, and how long to wait."""

    lab: str
    """The server's name, for messages."""
    host: str
    """The lab's host name H: the lab manager is `lab-manager.H`."""
    transport: Transport
    api_key: str = field(repr=False)
    config: Mapping[str, Any] = field(repr=False)
    """Body of `PUT /lab/config`, sent as-is."""
    init: Mapping[str, Any] = field(repr=False)
    """Body of `POST /lab/init-all`, sent as-is (holds passwords)."""
    health_timeout_seconds: float = DEFAULT_HEALTH_TIMEOUT_SECONDS
    up_timeout_seconds: float = DEFAULT_UP_TIMEOUT_SECONDS
    poll_seconds: float = DEFAULT_POLL_SECONDS
    settle_seconds: float = SETTLE_SECONDS
    verify: Verify = "system"
    """How the lab manager's certificate is checked: `system` trust store, `pem` (`ca`), or `none`."""
    ca: str | None = field(default=None, repr=False)
    """PEM certificates trusted for `verify: pem` (the site's chain)."""

    @property
    def manager_host(self) -> str:
        """The name the lab manager is served under (SNI and Host header)."""
        return f"lab-manager.{self.host}"

    @property
    def base_url(self) -> str:
        return f"https://{self.manager_host}"

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in output: the API key and every string under a secret-looking key."""
        found = {self.api_key, *_secret_values(self.config), *_secret_values(self.init)}
        return tuple(sorted((value for value in found if value), key=len, reverse=True))


def parse_request(document: Any) -> LabManagerRequest:
    """Validates the stdin document (keys in camelCase); `InvalidRequestError` names the first bad key.

    Keys: `lab`, `host`, `transport` (`{kind: direct, address, port=443}` or
    `{kind: ssh, destination, port=22, options=[], remotePort=443}`), `apiKey`, `config`, `init`,
    `tls` (`{verify: system}`, `{verify: pem, ca: "<PEM>"}` or `{verify: none}`; default `system`),
    `healthTimeoutSeconds=600`, `upTimeoutSeconds=1800`, `pollSeconds=5`, `settleSeconds=30`. Unknown keys
    are refused.
    """
    if not isinstance(document, Mapping):
        raise InvalidRequestError("the document must be a JSON object")
    _known(document, "", {"lab", "host", "transport", "apiKey", "config", "init", "tls", *_DURATIONS})
    lab = _required(document, "lab")
    if not isinstance(lab, str) or not _ONE_LINE.fullmatch(lab):
        raise InvalidRequestError("lab must be a non-empty one-line string")
    host = _required(document, "host")
    if not isinstance(host, str) or not _HOST_NAME.fullmatch(host):
        raise InvalidRequestError("host must be a host name such as lab1.acme.example.com")
    transport = _transport(_required(document, "transport"))
    api_key = _required(document, "apiKey")
    if not isinstance(api_key, str) or not _VISIBLE_ASCII.fullmatch(api_key):
        raise InvalidRequestError("apiKey must be a non-empty string of visible ASCII characters")
    bodies = {}
    for key in ("config", "init"):
        value = _required(document, key)
        if not isinstance(value, Mapping):
            raise InvalidRequestError(f"{key} must be a JSON object")
        bodies[key] = value
    durations = {key: _duration(document, key, default) for key, default in _DURATIONS.items()}
    verify, ca = _tls(document.get("tls", {"verify": "system"}))
    return LabManagerRequest(
        lab=lab,
        host=host,
        transport=transport,
        api_key=api_key,
        config=bodies["config"],
        init=bodies["init"],
        health_timeout_seconds=durations["healthTimeoutSeconds"],
        up_timeout_seconds=durations["upTimeoutSeconds"],
        poll_seconds=durations["pollSeconds"],
        settle_seconds=durations["settleSeconds"],
        verify=verify,
        ca=ca,
    )


def _tls(value: Any) -> tuple[Verify, str | None]:
    if not isinstance(value, Mapping):
        raise InvalidRequestError('tls must be an object such as {"verify": "system"}')
    _known(value, "tls.", {"verify", "ca"})
    verify = value.get("verify")
    if verify in ("system", "none"):
        if "ca" in value:
            raise InvalidRequestError(f"tls.ca is only used with tls.verify 'pem', not {verify!r}")
        return verify, None
    if verify == "pem":
        ca = value.get("ca")
        if not isinstance(ca, str) or "-----BEGIN CERTIFICATE-----" not in ca:
            raise InvalidRequestError("tls.ca must be PEM certificates when tls.verify is 'pem'")
        return "pem", ca
    raise InvalidRequestError("tls.verify must be 'system', 'pem' or 'none'")


_DURATIONS = {
    "healthTimeoutSeconds": DEFAULT_HEALTH_TIMEOUT_SECONDS,
    "upTimeoutSeconds": DEFAULT_UP_TIMEOUT_SECONDS,
    "pollSeconds": DEFAULT_POLL_SECONDS,
    "settleSeconds": SETTLE_SECONDS,
}


def _known(document: Mapping[str, Any], prefix: str, keys: set[str]) -> None:
    for key in document:
        if key not in keys:
            raise InvalidRequestError(f"{prefix}{one_line(str(key))[:60]} is not a known key")


def _required(document: Mapping[str, Any], key: str, prefix: str = "") -> Any:
    if key not in document or document[key] is None:
        raise InvalidRequestError(f"{prefix}{key} is required")
    return document[key]


def _port(document: Mapping[str, Any], key: str, default: int) -> int:
    value = document.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise InvalidRequestError(f"transport.{key} must be an integer from 1 to 65535")
    return value


def _transport(value: Any) -> Transport:
    if not isinstance(value, Mapping):
        raise InvalidRequestError("transport must be an object")
    kind = value.get("kind")
    if kind == "direct":
        _known(value, "transport.", {"kind", "address", "port"})
        address = _required(value, "address", "transport.")
        if not isinstance(address, str) or not _VISIBLE_ASCII.fullmatch(address):
            raise InvalidRequestError("transport.address must be a non-empty address without spaces")
        return DirectTransport(address, _port(value, "port", 443))
    if kind == "ssh":
        _known(value, "transport.", {"kind", "destination", "port", "options", "remotePort"})
        destination = _required(value, "destination", "transport.")
        if not isinstance(destination, str) or not _VISIBLE_ASCII.fullmatch(destination) or destination[0] == "-":
            raise InvalidRequestError("transport.destination must be [user@]host, without spaces or a leading '-'")
        options = value.get("options", [])
        if not isinstance(options, list) or not all(isinstance(o, str) and _ONE_LINE.fullmatch(o) for o in options):
            raise InvalidRequestError("transport.options must be a list of non-empty one-line strings")
        return SshTransport(destination, _port(value, "port", 22), tuple(options), _port(value, "remotePort", 443))
    raise InvalidRequestError("transport.kind must be 'direct' or 'ssh'")


def _duration(document: Mapping[str, Any], key: str, default: float) -> float:
    value = document.get(key, default)
    # Only the settle period may be zero (a lab manager known to report progress).
    least_ok = 0 if key == "settleSeconds" else math.ulp(0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < least_ok:
        raise InvalidRequestError(f"{key} must be a positive number of seconds")
    return float(value)


def _secret_values(value: Any, secret: bool = False) -> Iterator[str]:
    if isinstance(value, str):
        if secret and len(value) >= 4:
            yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _secret_values(item, secret or bool(_SECRET_KEY.search(str(key))))
    elif isinstance(value, list):
        for item in value:
            yield from _secret_values(item, secret)
