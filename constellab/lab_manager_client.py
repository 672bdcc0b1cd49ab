"""Hands a lab's configuration to Constellab's lab manager over its HTTP API and waits until the lab is up.

Run by the Pulumi program during `pulumi up` as `python -m constellab.lab_manager_client`: it reads one
JSON document on stdin (see `parse_request` for its keys) and applies it:

1. waits until `GET /health-check` answers 200 `true` (the proxy or its certificate may still be starting);
2. sends the configuration (`PUT /lab/config`), then starts the lab (`POST /lab/init-all`);
3. polls `GET /lab/status` until the containers are UP and the lab is RUNNING.

Progress goes to stdout; a failure is one line on stderr with exit code 1, a bad document exit code 2.
Secrets (the API key, passwords in the init body) arrive only on stdin: they are never printed, never put on
a command line and never part of an error message (any server text that echoes one is redacted).

The lab manager is reached at `https://lab-manager.<host>` (Traefik routes it by SNI and Host header), either
directly at an address (the machine itself), or through an SSH local port forward started with the system
`ssh` (`CONSTELLAB_SSH` names another binary; the tests use a fake).

The lab manager's certificate is verified, with its name (`tls`): against the system's trust store
(Let's Encrypt's wildcard, `system`), or against the site's own chain (`pem`, manual certificates), so
the secrets are safe even where the tunnel cannot authenticate the host (a replaced cloud instance has
new host keys). Only Traefik's own self-signed certificate (`none`) goes unverified: the `local` lab on
this machine's loopback. On a first deployment the wildcard certificate takes a minute or two to be
issued, and Traefik refuses the handshake meanwhile (strict SNI): the health wait keeps trying.

Only the standard library is imported: this module runs in whatever Python runs the Pulumi program.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, Literal, TextIO

DEFAULT_HEALTH_TIMEOUT_SECONDS = 600.0
"""How long the lab manager may take to answer /health-check: the proxy or its certificate may still be starting."""
DEFAULT_UP_TIMEOUT_SECONDS = 1800.0
"""How long the lab may take to be up after init-all: pulling images takes a while."""
DEFAULT_POLL_SECONDS = 5.0
REQUEST_TIMEOUT_SECONDS = 30.0
"""Timeout of one HTTP request (connect, send, answer)."""
TUNNEL_TIMEOUT_SECONDS = 60.0
"""How long `ssh` may take to open its local port."""
SETTLE_SECONDS = 30.0
"""A lab that stays UP this long after init-all, without showing the init's progress, counts as up."""
SSH_ENV = "CONSTELLAB_SSH"
"""Environment variable naming the ssh binary (default `ssh`)."""

_PREFIX = "lab manager client"
_MAX_ANSWER_BYTES = 1_000_000
_REDACTED = "***"
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


@dataclass(frozen=True)
class LabStatus:
    """The relevant part of a `GET /lab/status` answer."""

    containers: str
    """`containersStatus.status`: STOP, DOWN, UP, PARTIALLY_UP or ERROR (`?` when absent)."""
    containers_info: str | None = None
    lab: str | None = None
    """`labStatus` (STOPPED, RUNNING, STARTING, ERROR); absent in older lab managers."""
    task_name: str | None = None
    task_status: str | None = None
    task_info: str | None = None
    needs_restart: bool | None = None
    """`needsRestart`: set by `PUT /lab/config`, cleared when init-all has applied it (newer lab managers)."""

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> LabStatus:
        containers = value.get("containersStatus")
        if isinstance(containers, Mapping):
            status, info = _text(containers.get("status")), _text(containers.get("info"))
        else:
            status, info = _text(containers), None
        task = value.get("currentTask")
        task_fields = (
            (_text(task.get("name")), _text(task.get("status")), _text(task.get("info")))
            if isinstance(task, Mapping)
            else (None, None, None)
        )
        needs_restart = value.get("needsRestart")
        return cls(
            status or "?",
            info,
            _text(value.get("labStatus")),
            *task_fields,
            needs_restart=needs_restart if isinstance(needs_restart, bool) else None,
        )

    @property
    def is_up(self) -> bool:
        """Containers UP and the lab RUNNING (older lab managers report no lab status: containers UP is enough)."""
        return self.containers == "UP" and self.lab in (None, "RUNNING")

    @property
    def task_failed(self) -> bool:
        return self.task_status == "ERROR"

    def describe(self, details: bool = True) -> str:
        """E.g. `containers PARTIALLY_UP (Containers are partially up), lab STARTING, task 'start' RUNNING`."""
        words = f"containers {self.containers}"
        if details and self.containers_info:
            words += f" ({self.containers_info})"
        if self.lab is not None:
            words += f", lab {self.lab}"
        if details and (self.task_name is not None or self.task_status is not None):
            words += f", task '{self.task_name or '?'}' {self.task_status or '?'}"
        return words


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, reason phrase and body."""

    status: int
    reason: str
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def describe(self) -> str:
        """`HTTP 403: Forbidden resource`: the status and the server's message."""
        return f"HTTP {self.status}: {server_message(self.body) or self.reason or 'no message'}"


def server_message(body: bytes) -> str:
    """The human message of an error body: `detail` (newest), else `message` (NestJS), else the raw body."""
    text = body.decode("utf-8", errors="replace")
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    message: str | None = None
    if isinstance(value, Mapping):
        detail, nest = value.get("detail"), value.get("message")
        if isinstance(detail, str) and detail.strip():
            message = detail
        elif isinstance(nest, str) and nest.strip():
            message = nest
        elif isinstance(nest, list) and nest:
            message = "; ".join(str(item) for item in nest)
    if message is None:
        message = text.strip()[:200]
    return _one_line(message)


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
            raise InvalidRequestError(f"{prefix}{_one_line(str(key))[:60]} is not a known key")


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


def apply(
    request: LabManagerRequest,
    *,
    out: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    ssh: str | None = None,
) -> None:
    """Waits for the lab manager, sends the configuration and init body, and waits until the lab is up.

    Progress lines go to `out` (stdout by default). `ssh` is the ssh binary (default: `$CONSTELLAB_SSH`, else
    `ssh`). Raises `LabManagerError`, whose message is one line naming the lab and carries no secret.
    """
    session = _Session(request, out if out is not None else sys.stdout, clock, sleep)
    try:
        with _endpoint(request, ssh or os.environ.get(SSH_ENV) or "ssh", clock, sleep) as endpoint:
            session.run(endpoint)
    except LabManagerError as error:
        raise LabManagerError(_redact(str(error), request.secrets())) from None


@dataclass(frozen=True)
class _Endpoint:
    """Where TLS connections go, and a check that the way there (the tunnel) is still open."""

    address: str
    port: int
    check: Callable[[], None] = field(default=lambda: None)


class _NotSentError(Exception):
    """The request got no HTTP answer; the message says why, in words."""


class _Connection(http.client.HTTPSConnection):
    """HTTPS to an address, with another name as SNI (http.client would use the address)."""

    def __init__(self, address: str, port: int, server_name: str, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(address, port, timeout=timeout, context=context)
        self._server_name = server_name
        self._tls = context

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._tls.wrap_socket(self.sock, server_hostname=self._server_name)


def _tls_context(verify: Verify, ca: str | None) -> ssl.SSLContext:
    """TLS 1.2+; the certificate checked with the lab manager's name, but for `none` (see the module doc)."""
    if verify == "none":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif verify == "pem":
        context = ssl.create_default_context(cadata=ca)
        # The site's own chain is the trust anchor, its server certificate included.
        context.verify_flags |= getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0x80000)
        # The anchor is pinned: Python 3.13's strict checks (an Authority Key Identifier...) add nothing,
        # and would refuse many sites' own certificates.
        context.verify_flags &= ~getattr(ssl, "VERIFY_X509_STRICT", 0)
    else:
        context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class _Session:
    """One run of the flow against one endpoint."""

    def __init__(
        self, request: LabManagerRequest, out: TextIO, clock: Callable[[], float], sleep: Callable[[float], None]
    ) -> None:
        self.request = request
        self.out = out
        self.clock = clock
        self.sleep = sleep
        self.secrets = request.secrets()
        self.context = _tls_context(request.verify, request.ca)
        self.endpoint = _Endpoint("127.0.0.1", 0)
        self.task_running_seen = False
        """A task was seen running since init-all: only its failure, not an earlier run's, ends the wait."""

    def say(self, message: str) -> None:
        print(f"{self.request.lab}: {_redact(message, self.secrets)}", file=self.out, flush=True)

    def fail(self, message: str) -> LabManagerError:
        return LabManagerError(f"lab {self.request.lab}: {message}")

    def run(self, endpoint: _Endpoint) -> None:
        self.endpoint = endpoint
        self.wait_healthy()
        # A new lab_manager container starts the lab by itself (AUTO_START_LAB), and the lab manager
        # refuses an init while a task runs: let it finish first.
        deadline = self.clock() + self.request.up_timeout_seconds
        self.wait_no_task(deadline)
        self.call("PUT", "/lab/config", self.request.config)
        self.say("configuration sent (PUT /lab/config)")
        while True:
            answer = self.call("POST", "/lab/init-all", self.request.init, busy_ok=True)
            if answer is None:
                break
            self.say(f"init-all refused while a task runs ({answer.describe()}): trying again")
            if not self.pause(deadline):
                raise self.refused("POST", f"{self.request.base_url}/lab/init-all", answer)
        self.say("init-all accepted")
        self.wait_up()

    def wait_no_task(self, deadline: float) -> None:
        """Until the lab manager runs no task (or the status cannot tell); bounded by `deadline`."""
        while True:
            seen = self.poll_status(deadline, since_init=False)
            if not isinstance(seen, LabStatus) or seen.task_status != "RUNNING":
                return
            self.say(f"waiting for the lab manager's task '{seen.task_name or '?'}' to finish")
            if not self.pause(deadline):
                raise self.fail(f"the lab manager's task '{seen.task_name or '?'}' did not finish: {seen.describe()}")

    def send(self, method: str, path: str, body: Mapping[str, Any] | None, authorized: bool, timeout: float) -> Answer:
        """One request; `_NotSentError` when no answer came (connection, TLS or protocol error)."""
        self.endpoint.check()
        headers = {"Host": self.request.manager_host, "Accept": "application/json", "Connection": "close"}
        if authorized:
            headers["Authorization"] = f"api-key {self.request.api_key}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        connection = _Connection(
            self.endpoint.address, self.endpoint.port, self.request.manager_host, self.context, timeout
        )
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            return Answer(response.status, response.reason, response.read(_MAX_ANSWER_BYTES))
        except (OSError, http.client.HTTPException) as error:
            self.endpoint.check()
            raise _NotSentError(_in_words(error)) from None
        finally:
            connection.close()

    def remaining(self, deadline: float) -> float:
        return min(REQUEST_TIMEOUT_SECONDS, max(1.0, deadline - self.clock()))

    def pause(self, deadline: float) -> bool:
        """Sleeps one poll interval, or returns False when the deadline has passed."""
        left = deadline - self.clock()
        if left <= 0:
            return False
        self.sleep(min(self.request.poll_seconds, left))
        return True

    def wait_healthy(self) -> None:
        timeout = self.request.health_timeout_seconds
        deadline = self.clock() + timeout
        self.say(f"waiting for the lab manager at {self.request.base_url}")
        last = "no answer yet"
        while True:
            try:
                answer = self.send("GET", "/health-check", None, False, self.remaining(deadline))
            except _NotSentError as error:
                seen = str(error)
            else:
                if answer.status == 200 and answer.body.strip() == b"true":
                    self.say("lab manager healthy")
                    return
                seen = answer.describe() if answer.status != 200 else f"HTTP 200 with body {_excerpt(answer.body)}"
            if seen != last:
                self.say(f"lab manager not ready yet: {seen}")
                last = seen
            if not self.pause(deadline):
                raise self.fail(
                    f"the lab manager at {self.request.base_url} did not answer /health-check "
                    f"within {_seconds(timeout)} s (last: {last}){_hint(last)}"
                )

    def call(self, method: str, path: str, body: Mapping[str, Any], busy_ok: bool = False) -> Answer | None:
        """Sends one call; fails on any refusal, but returns a 400 that says a task is running (`busy_ok`)."""
        url = f"{self.request.base_url}{path}"
        try:
            answer = self.send(method, path, body, True, REQUEST_TIMEOUT_SECONDS)
        except _NotSentError as error:
            raise self.fail(f"{method} {url} could not be sent: {error}") from None
        if answer.ok:
            return None
        if busy_ok and answer.status == 400 and "running" in server_message(answer.body).lower():
            return answer
        raise self.refused(method, url, answer)

    def refused(self, method: str, url: str, answer: Answer) -> LabManagerError:
        if answer.status in (401, 403):
            return self.fail(
                f"{method} {url} was refused: {answer.describe()} — check the lab manager API key of {self.request.lab}"
            )
        return self.fail(f"{method} {url} failed: {answer.describe()}")

    def wait_up(self) -> None:
        """Until the lab is up with *this* configuration.

        init-all answers at once and works in the background, so a lab that was already running still
        reports UP at first. Up counts only once this init shows: its task running, or the lab not up
        for a while, or else once the lab has stayed up for `SETTLE_SECONDS` (the init's own start
        alone takes 10 s); and never while the lab manager says the configuration awaits a restart.
        """
        timeout = self.request.up_timeout_seconds
        started = self.clock()
        deadline = started + timeout
        last = "no status yet"
        progressed = False
        while True:
            seen = self.poll_status(deadline)
            if isinstance(seen, LabStatus):
                progressed |= not seen.is_up or seen.task_status == "RUNNING"
                settled = self.clock() - started >= self.request.settle_seconds
                finished = seen.task_status != "RUNNING"
                if seen.is_up and finished and seen.needs_restart is not True and (progressed or settled):
                    self.say(seen.describe(details=False))
                    return
                seen = seen.describe() + (
                    ", configuration not applied yet (needsRestart)" if seen.needs_restart else ""
                )
            if seen != last:
                self.say(seen)
                last = seen
            if not self.pause(deadline):
                raise self.fail(f"not up after {_seconds(timeout)} s: {last}")

    def poll_status(self, deadline: float, since_init: bool = True) -> LabStatus | str:
        """The lab's status, or in words why there is none this time; fails on a refused key or a failed task."""
        try:
            answer = self.send("GET", "/lab/status", None, True, self.remaining(deadline))
        except _NotSentError as error:
            return f"no answer from /lab/status ({error})"
        if answer.status in (401, 403):
            raise self.refused("GET", f"{self.request.base_url}/lab/status", answer)
        if not answer.ok:
            return f"/lab/status answered {answer.describe()}"
        try:
            value = json.loads(answer.body)
        except ValueError:
            value = None
        if not isinstance(value, Mapping):
            return f"/lab/status answered {_excerpt(answer.body)}, not a JSON object"
        status = LabStatus.from_json(value)
        if not since_init:
            return status
        self.task_running_seen |= status.task_status == "RUNNING"
        if status.task_failed and self.task_running_seen:
            raise self.fail(
                f"the lab manager's task '{status.task_name or '?'}' failed: {status.task_info or 'no details given'}"
            )
        return status


@contextmanager
def _endpoint(
    request: LabManagerRequest, ssh: str, clock: Callable[[], float], sleep: Callable[[float], None]
) -> Iterator[_Endpoint]:
    transport = request.transport
    if isinstance(transport, DirectTransport):
        yield _Endpoint(transport.address, transport.port)
        return
    # stderr goes to a file, not a pipe: a chatty ssh can never block on it.
    with tempfile.TemporaryFile() as errors:
        tunnel = _Tunnel(request.lab, transport, ssh, errors)
        tunnel.start()
        try:
            tunnel.wait_open(clock, sleep)
            yield _Endpoint("127.0.0.1", tunnel.local_port, tunnel.check)
        finally:
            tunnel.stop()


class _Tunnel:
    """`ssh -N -L 127.0.0.1:<local>:127.0.0.1:<remote> <destination>`; its stderr goes to `errors`."""

    def __init__(self, lab: str, transport: SshTransport, binary: str, errors: IO[bytes]) -> None:
        self.lab = lab
        self.transport = transport
        self.local_port = _free_port()
        self.argv = [
            binary,
            "-N",
            "-o",
            "ExitOnForwardFailure=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "ServerAliveInterval=30",
            "-p",
            str(transport.port),
            *transport.options,
            "-L",
            f"127.0.0.1:{self.local_port}:127.0.0.1:{transport.remote_port}",
            transport.destination,
        ]
        self.errors = errors
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        try:
            self.process = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.errors
            )
        except OSError as error:
            reason = "no such program" if isinstance(error, FileNotFoundError) else _in_words(error)
            raise LabManagerError(f"lab {self.lab}: cannot start ssh ({self.argv[0]}): {reason}") from None

    def stop(self) -> None:
        """Terminates ssh (killed if it lingers) and reaps it."""
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stderr(self) -> str:
        self.errors.seek(0)
        lines = [line.strip() for line in self.errors.read().decode("utf-8", errors="replace").splitlines()]
        return _one_line(" | ".join(line for line in lines if line))[:500] or "no message"

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def check(self) -> None:
        code = self.exited()
        if code is not None:
            raise LabManagerError(
                f"lab {self.lab}: the SSH tunnel to {self.transport.destination} closed "
                f"(ssh exited with code {code}): {self.stderr()}"
            )

    def wait_open(self, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        deadline = clock() + TUNNEL_TIMEOUT_SECONDS
        while True:
            code = self.exited()
            if code is not None:
                raise LabManagerError(
                    f"lab {self.lab}: ssh {self.transport.destination} exited with code {code} "
                    f"before the tunnel was open: {self.stderr()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.local_port), timeout=1):
                    return
            except OSError:
                pass
            if clock() >= deadline:
                raise LabManagerError(
                    f"lab {self.lab}: the SSH tunnel to {self.transport.destination} did not open "
                    f"127.0.0.1:{self.local_port} within {_seconds(TUNNEL_TIMEOUT_SECONDS)} s"
                )
            sleep(0.05)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _hint(last: str) -> str:
    """What to look at, for the failures a first deployment meets."""
    if last.startswith("TLS error"):
        return (
            ": no valid certificate for the lab manager yet, check the reverse_proxy's logs "
            "(the DNS-01 challenge: its token or endpoint) and that the DNS records point at the server"
        )
    if "did not open" in last or "connection refused" in last:
        return ": is the server running (a stopped lab: `./run ops lab start`) and its proxy up?"
    return ""


def _in_words(error: BaseException) -> str:
    """A connection error as a reader would say it: `connection refused`, `TLS error: wrong version number`."""
    if isinstance(error, ssl.SSLError):
        reason = error.reason or error.strerror or type(error).__name__
        return f"TLS error: {str(reason).lower().replace('_', ' ')}"
    if isinstance(error, http.client.RemoteDisconnected):
        return "the connection closed without an answer"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ConnectionResetError):
        return "connection reset"
    if isinstance(error, ConnectionAbortedError):
        return "connection aborted"
    if isinstance(error, BrokenPipeError):
        return "connection closed while sending"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, socket.gaierror):
        return f"cannot resolve the address ({error.strerror})"
    if isinstance(error, http.client.HTTPException):
        return f"malformed answer ({type(error).__name__})"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return _one_line(str(error)) or type(error).__name__


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


def _redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, _REDACTED)
    return text


def _text(value: Any) -> str | None:
    return None if value is None else _one_line(str(value))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _excerpt(body: bytes) -> str:
    return repr(_one_line(body.decode("utf-8", errors="replace"))[:60])


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def main(
    argv: Sequence[str] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Reads the request document on stdin and applies it: 0 when the lab is up, 1 on failure, 2 on bad input."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments:
        print(f"{_PREFIX}: takes no arguments; give the request document as JSON on stdin", file=err)
        return 2
    text = (stdin if stdin is not None else sys.stdin).read()
    if not text.strip():
        print(f"{_PREFIX}: stdin is empty; give the request document as JSON", file=err)
        return 2
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        print(f"{_PREFIX}: stdin is not JSON (line {error.lineno}, column {error.colno}: {error.msg})", file=err)
        return 2
    try:
        request = parse_request(document)
    except InvalidRequestError as error:
        print(f"{_PREFIX}: {error}", file=err)
        return 2
    try:
        apply(request, out=out)
    except LabManagerError as error:
        print(error, file=err)
        return 1
    except KeyboardInterrupt:
        print(f"lab {request.lab}: interrupted", file=err)
        return 130
    except Exception as error:  # one line and no traceback, as for every other failure
        message = _redact(_one_line(f"{type(error).__name__}: {error}"), request.secrets())
        print(f"lab {request.lab}: unexpected error: {message}", file=err)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
