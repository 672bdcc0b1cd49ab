#!/usr/bin/env python3
"""A read-only proxy of the Docker API for Traefik's Docker provider, over unix sockets.

Whoever takes the reverse proxy (Traefik) must not get the Docker socket: with it comes root on the
host and every secret the lab's containers hold. Traefik's Docker provider (standalone, not Swarm)
only reads; this proxy lets exactly those reads through, and nothing else:

- `HEAD`/`GET /_ping` (the Go client's API version negotiation), `GET /version`,
  `GET /containers/json`, `GET /containers/<id or name>/json`, `GET /events`, each with or without the
  `/vN.NN` version prefix, and only with the query parameters Docker defines for them;
- anything else is refused with Docker's error shape, `{"message": "..."}`: another path 403, another
  method 405; so are a request with a body, an upgrade (`docker exec`/`attach` hijack the connection),
  an oversized or malformed request;
- what it relays is rewritten so no secret goes through: a container's inspect loses its environment,
  command line, health-check command and health-check output (`Config.Env`, `Config.Cmd`,
  `Config.Entrypoint`, `Config.Healthcheck`, `Args`, `State.Health.Log`), the container list its
  `Command`, and the event stream keeps only container life-cycle events (an `exec_create: <command>`
  event would show the command a backup runs, with its password). Traefik reads none of these;
- one request per connection (`Connection: close`); the event stream is relayed as it comes, event by
  event, and ends when either side closes.

Self-contained (standard library only, Python 3.9+): this file is shipped to the host as a script and
run by systemd:

    python3 /usr/local/sbin/constellab-docker-proxy --listen /run/constellab/docker-ro.sock \
        --docker /var/run/docker.sock

Every refused request is logged on standard error, one line each (`--verbose`: every request).
"""

from __future__ import annotations

import argparse
import contextlib
import grp
import http.client
import json
import os
import re
import select
import signal
import socket
import socketserver
import stat
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

PROGRAM = "constellab-docker-proxy"
DEFAULT_LISTEN = "/run/constellab/docker-ro.sock"
DEFAULT_DOCKER = "/var/run/docker.sock"
SOCKET_MODE = 0o660

MAX_REQUEST_LINE = 8192
MAX_HEADER_LINE = 8192
MAX_HEADERS = 64
MAX_REQUEST_HEAD = 32768
"""Bytes of request line and headers together."""
REQUEST_TIMEOUT = 10.0
"""Seconds a client has to send its whole request (line and headers)."""
WRITE_TIMEOUT = 60.0
"""Seconds a write to the client may block (a client that stops reading is dropped)."""
UPSTREAM_TIMEOUT = 60.0
"""Seconds Docker has to answer (but the event stream, which stays open)."""
MAX_BODY = 64 * 1024 * 1024
"""An answer larger than this is not relayed (the event stream is not bounded)."""
MAX_EVENT = 1024 * 1024
MAX_CONNECTIONS = 64

_VERSION = r"(?:/v[0-9]{1,2}\.[0-9]{1,3})?"
_CONTAINER = r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}"
"""A container id (or prefix) or name, as Docker allows them: never `.`, `..` or a `/`."""
_QUERY = re.compile(r"[A-Za-z0-9._~%!$'()*+,;=:@/?&-]*")


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: re.Pattern[str]
    methods: frozenset[str]
    parameters: frozenset[str]


ENDPOINTS = (
    Endpoint("ping", re.compile(_VERSION + r"/_ping"), frozenset({"GET", "HEAD"}), frozenset()),
    Endpoint("version", re.compile(_VERSION + r"/version"), frozenset({"GET"}), frozenset()),
    Endpoint(
        "list",
        re.compile(_VERSION + r"/containers/json"),
        frozenset({"GET"}),
        frozenset({"all", "limit", "size", "filters", "since", "before"}),
    ),
    Endpoint(
        "inspect",
        re.compile(_VERSION + r"/containers/" + _CONTAINER + r"/json"),
        frozenset({"GET"}),
        frozenset({"size"}),
    ),
    Endpoint("events", re.compile(_VERSION + r"/events"), frozenset({"GET"}), frozenset({"since", "until", "filters"})),
)
"""Everything Traefik's Docker provider calls (standalone mode: no Swarm services, tasks or networks)."""

REDACTED_CONFIG = ("Env", "Cmd", "Entrypoint", "Healthcheck")
"""Removed from an inspect's `Config`: the environment holds the lab's secrets, a command line may too."""
REDACTED_INSPECT = ("Args",)
REDACTED_LIST = ("Command",)
EVENT_ACTIONS = frozenset(
    {"create", "start", "restart", "stop", "kill", "die", "destroy", "pause", "unpause", "rename", "update", "oom"}
)
"""Container events relayed (with `health_status*`); `exec_*` events name the command run, and are dropped."""

RELAYED_HEADERS = frozenset(
    {"api-version", "content-type", "docker-experimental", "ostype", "server", "date", "cache-control", "pragma"}
)
"""Answer headers relayed from Docker (`Api-Version` is what the client's version negotiation reads)."""
FORWARDED_HEADERS = frozenset({"user-agent", "accept"})
"""Request headers forwarded to Docker; never hop-by-hop ones, credentials or anything about a body."""

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


class RefusedError(Exception):
    """A request the proxy does not relay: its status, and the reason (the answer's `message`)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    """Lower-cased names, values as sent."""
    endpoint: Endpoint | None = None

    def header(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


# ---------------------------------------------------------------------------------------------
# The policy: what a request may be
# ---------------------------------------------------------------------------------------------


def parse_request(head: bytes) -> Request:
    """The request line and headers (the bytes before the blank line), or `RefusedError` if malformed."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError as error:  # pragma: no cover - latin-1 decodes any byte
        raise RefusedError(400, "the request is not text") from error
    lines = re.split(r"\r?\n", text)
    request_line = lines[0]
    if len(request_line) > MAX_REQUEST_LINE:
        raise RefusedError(414, "the request line is too long")
    parts = request_line.split(" ")
    if len(parts) != 3:
        raise RefusedError(400, "malformed request line")
    method, target, version = parts
    if not re.fullmatch(r"[A-Z]{1,16}", method):
        raise RefusedError(400, "malformed method")
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        raise RefusedError(400, "unsupported HTTP version")
    if not target.startswith("/") or not re.fullmatch(r"[\x21-\x7e]+", target):
        raise RefusedError(400, "malformed request target")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line == "":
            continue
        if len(line) > MAX_HEADER_LINE:
            raise RefusedError(431, "a header is too long")
        if line[0] in " \t":
            raise RefusedError(400, "folded header lines are not accepted")
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            raise RefusedError(400, "malformed header")
        value = value.strip(" \t")
        if not _FIELD_VALUE.fullmatch(value):
            raise RefusedError(400, "control characters in a header")
        headers.append((name.lower(), value))
        if len(headers) > MAX_HEADERS:
            raise RefusedError(431, "too many headers")
    return Request(method, target, version, headers)


def check(request: Request) -> Endpoint:
    """The endpoint a well-formed request reaches, or `RefusedError` with why it may not."""
    if request.method not in ("GET", "HEAD"):
        raise RefusedError(405, f"method {request.method} is not allowed: this Docker API is read-only")
    lengths = request.header("content-length")
    if request.header("transfer-encoding"):
        raise RefusedError(403, "request bodies are not accepted (Transfer-Encoding)")
    if len(lengths) > 1:
        raise RefusedError(400, "more than one Content-Length")
    if lengths:
        if not re.fullmatch(r"[0-9]{1,18}", lengths[0]):
            raise RefusedError(400, "malformed Content-Length")
        if int(lengths[0]) > 0:
            raise RefusedError(403, "request bodies are not accepted")
    connection = {token.strip().lower() for value in request.header("connection") for token in value.split(",")}
    if request.header("upgrade") or "upgrade" in connection:
        raise RefusedError(403, "connection upgrades are not accepted")
    path, _, query = request.target.partition("?")
    endpoint = next((candidate for candidate in ENDPOINTS if candidate.path.fullmatch(path)), None)
    if endpoint is None:
        raise RefusedError(403, "this path is not allowed: this Docker API only lets Traefik read containers")
    if request.method not in endpoint.methods:
        raise RefusedError(405, f"method {request.method} is not allowed on this path")
    if not _QUERY.fullmatch(query):
        raise RefusedError(400, "malformed query string")
    for pair in query.split("&") if query else ():
        name = pair.partition("=")[0]
        if name not in endpoint.parameters:
            raise RefusedError(403, f"query parameter {name[:40]!r} is not allowed on this path")
    return endpoint


# ---------------------------------------------------------------------------------------------
# What goes back: answers without secrets
# ---------------------------------------------------------------------------------------------


def redact_inspect(document: Any) -> Any:
    """A container's inspect without its environment, command lines and health-check commands and output."""
    if not isinstance(document, dict):
        raise ValueError("a container inspect is a JSON object")
    config = document.get("Config")
    if isinstance(config, dict):
        for key in REDACTED_CONFIG:
            config.pop(key, None)
    for key in REDACTED_INSPECT:
        document.pop(key, None)
    state = document.get("State")
    if isinstance(state, dict) and isinstance(state.get("Health"), dict):
        state["Health"].pop("Log", None)
    return document


def redact_list(document: Any) -> Any:
    """The container list without each container's command line."""
    if not isinstance(document, list):
        raise ValueError("a container list is a JSON array")
    for container in document:
        if not isinstance(container, dict):
            raise ValueError("a container list holds JSON objects")
        for key in REDACTED_LIST:
            container.pop(key, None)
    return document


def relayed_event(line: bytes) -> bool:
    """Whether one line of the event stream (one JSON event) goes to the client."""
    try:
        event = json.loads(line)
    except ValueError:
        return False
    if not isinstance(event, dict) or event.get("Type", "container") != "container":
        return False
    action = event.get("Action", event.get("status"))
    if not isinstance(action, str):
        return False
    return action in EVENT_ACTIONS or action.startswith("health_status")


REWRITES: dict[str, Callable[[Any], Any]] = {"inspect": redact_inspect, "list": redact_list}


# ---------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path
        self.unix_socket: socket.socket | None = None

    def connect(self) -> None:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.settimeout(self.timeout)
            connection.connect(self.unix_path)
        except OSError:
            connection.close()
            raise
        self.sock = self.unix_socket = connection


def _quoted(text: str, limit: int = 300) -> str:
    """A client's text, safe for one log line."""
    return json.dumps(text if len(text) <= limit else text[:limit] + "...")


class ProxyServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """Listens on `listen` (mode 0660, group `gid`), relays allowed reads to the Docker socket `docker`."""

    daemon_threads = True
    block_on_close = False
    """Stopping never waits for the event streams in progress."""
    request_queue_size = 64

    def __init__(
        self,
        listen: str,
        docker: str,
        *,
        gid: int | None = None,
        verbose: bool = False,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.docker = docker
        self.gid = gid
        self.verbose = verbose
        self.log = log or _log_to_stderr
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        _remove_stale_socket(listen)
        parent = os.path.dirname(listen)
        if parent:
            os.makedirs(parent, mode=0o755, exist_ok=True)
        super().__init__(listen, _Handler)

    def server_bind(self) -> None:
        previous = os.umask(0o777 & ~SOCKET_MODE)
        try:
            super().server_bind()
        finally:
            os.umask(previous)
        path = str(self.server_address)
        os.chmod(path, SOCKET_MODE)
        if self.gid is not None:
            os.chown(path, -1, self.gid)

    def server_close(self) -> None:
        super().server_close()
        path = str(self.server_address)
        try:
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                os.unlink(path)
        except OSError:
            pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        self.log(f"error while serving a connection: {type(error).__name__}: {error}")


def _log_to_stderr(message: str) -> None:
    sys.stderr.write(f"{PROGRAM}: {message}\n")
    sys.stderr.flush()


def _remove_stale_socket(path: str) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise FileExistsError(f"{path} exists and is not a socket: not removed")
    os.unlink(path)


class _Handler(socketserver.BaseRequestHandler):
    server: ProxyServer
    request: socket.socket

    def handle(self) -> None:
        if not self.server.slots.acquire(blocking=False):
            self._answer_error(503, "too many connections", None)
            self.server.log("refused a connection: too many connections")
            return
        try:
            self._serve()
        finally:
            self.server.slots.release()

    # -- reading ------------------------------------------------------------------------------

    def _read_head(self) -> tuple[bytes, bytes] | None:
        """The bytes up to the blank line ending the headers, and any after; None if the client sent nothing."""
        deadline = time.monotonic() + REQUEST_TIMEOUT
        data = b""
        while True:
            end = re.search(rb"\r?\n\r?\n", data)
            if end is not None:
                return data[: end.start()], data[end.end() :]
            if len(data) > MAX_REQUEST_HEAD:
                raise RefusedError(431, "the request head is too large")
            if len(data.split(b"\n", 1)[0]) > MAX_REQUEST_LINE:
                raise RefusedError(414, "the request line is too long")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RefusedError(408, "the request was not sent in time")
            self.request.settimeout(remaining)
            try:
                chunk = self.request.recv(65536)
            except TimeoutError as error:
                raise RefusedError(408, "the request was not sent in time") from error
            if not chunk:
                if data:
                    raise RefusedError(400, "the request ended before its headers did")
                return None
            data += chunk

    def _serve(self) -> None:
        request: Request | None = None
        head: bytes | None = None
        try:
            received = self._read_head()
            if received is None:
                return
            head, rest = received
            request = parse_request(head)
            request.endpoint = check(request)
            if rest:
                raise RefusedError(403, "request bodies are not accepted")
        except RefusedError as refused:
            self._refuse(refused, request, head)
            return
        except OSError as error:
            self.server.log(f"connection lost while reading a request: {error}")
            return
        self._relay(request)

    # -- answering ----------------------------------------------------------------------------

    def _refuse(self, refused: RefusedError, request: Request | None, head: bytes | None) -> None:
        if request is not None:
            what = f"{request.method} {_quoted(request.target)}"
        else:
            what = _quoted(head.split(b"\n", 1)[0].rstrip(b"\r").decode("latin-1"), 100) if head else "a request"
        self.server.log(f"refused {what}: {refused.reason} ({refused.status})")
        self._answer_error(refused.status, refused.reason, request)

    def _answer_error(self, status: int, message: str, request: Request | None) -> None:
        body = json.dumps({"message": message}).encode() + b"\n"
        head_only = request is not None and request.method == "HEAD"
        self._send_head(status, [("Content-Type", "application/json")], len(body))
        if not head_only:
            self._send(body)

    def _send(self, data: bytes) -> None:
        self.request.settimeout(WRITE_TIMEOUT)
        with contextlib.suppress(OSError):
            self.request.sendall(data)

    def _send_head(self, status: int, headers: list[tuple[str, str]], length: int | None) -> None:
        reason = http.client.responses.get(status, "Unknown")
        lines = [f"HTTP/1.1 {status} {reason}"]
        lines += [f"{name}: {value}" for name, value in headers]
        if length is not None:
            lines.append(f"Content-Length: {length}")
        else:
            lines.append("Transfer-Encoding: chunked")
        lines.append("Connection: close")
        self._send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def _relay(self, request: Request) -> None:
        endpoint = request.endpoint
        assert endpoint is not None
        upstream = _UnixConnection(self.server.docker, UPSTREAM_TIMEOUT)
        try:
            try:
                upstream.putrequest(request.method, request.target, skip_host=True, skip_accept_encoding=True)
                upstream.putheader("Host", "docker")
                for name, value in request.headers:
                    if name in FORWARDED_HEADERS:
                        upstream.putheader(name.title(), value)
                upstream.putheader("Connection", "close")
                upstream.endheaders()
                response = upstream.getresponse()
            except (OSError, http.client.HTTPException) as error:
                self.server.log(f"Docker did not answer {request.method} {_quoted(request.target)}: {error}")
                self._answer_error(502, "the Docker engine did not answer", request)
                return
            headers = [(name, value) for name, value in response.getheaders() if name.lower() in RELAYED_HEADERS]
            if self.server.verbose:
                self.server.log(f"allowed {request.method} {_quoted(request.target)} -> {response.status}")
            if endpoint.name == "events" and response.status == 200:
                self._stream_events(request, response, upstream)
                return
            try:
                body = response.read(MAX_BODY + 1)
            except (OSError, http.client.HTTPException) as error:
                self.server.log(f"Docker's answer to {_quoted(request.target)} was cut: {error}")
                self._answer_error(502, "the Docker engine's answer was cut", request)
                return
            if len(body) > MAX_BODY:
                self.server.log(f"Docker's answer to {_quoted(request.target)} is too large")
                self._answer_error(502, "the Docker engine's answer is too large", request)
                return
            rewrite = REWRITES.get(endpoint.name)
            if rewrite is not None and response.status == 200:
                try:
                    body = json.dumps(rewrite(json.loads(body)), separators=(",", ":")).encode() + b"\n"
                except ValueError as error:
                    self.server.log(f"Docker's answer to {_quoted(request.target)} is not as expected: {error}")
                    self._answer_error(502, "the Docker engine's answer is not as expected", request)
                    return
            if request.method == "HEAD":
                self._send_head(response.status, headers, int(response.getheader("Content-Length") or 0))
            else:
                self._send_head(response.status, headers, len(body))
                self._send(body)
        finally:
            upstream.close()

    def _stream_events(self, request: Request, response: http.client.HTTPResponse, upstream: _UnixConnection) -> None:
        """Relays the event stream line by line until Docker or the client closes it."""
        upstream_socket = upstream.unix_socket
        assert upstream_socket is not None
        upstream_socket.settimeout(None)
        chunked = request.version == "HTTP/1.1"
        headers = [(name, value) for name, value in response.getheaders() if name.lower() in RELAYED_HEADERS]
        if chunked:
            self._send_head(200, headers, None)
        else:
            lines = ["HTTP/1.0 200 OK", *(f"{name}: {value}" for name, value in headers), "Connection: close"]
            self._send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        done = threading.Event()
        watcher = threading.Thread(target=self._watch_client, args=(done, upstream_socket), daemon=True)
        watcher.start()
        try:
            while True:
                try:
                    line = response.readline(MAX_EVENT + 1)
                except (OSError, http.client.HTTPException, ValueError):
                    break
                if not line:
                    break
                if len(line) > MAX_EVENT:
                    self.server.log("an event larger than the limit: the event stream is closed")
                    break
                if not relayed_event(line):
                    continue
                payload = line if line.endswith(b"\n") else line + b"\n"
                self.request.settimeout(WRITE_TIMEOUT)
                try:
                    self.request.sendall(b"%x\r\n%s\r\n" % (len(payload), payload) if chunked else payload)
                except OSError:
                    break
            if chunked:
                self._send(b"0\r\n\r\n")
        finally:
            done.set()

    def _watch_client(self, done: threading.Event, upstream_socket: socket.socket) -> None:
        """Closes the event stream from Docker as soon as the client hangs up."""
        while not done.is_set():
            try:
                readable, _, _ = select.select([self.request], [], [], 1.0)
                if not readable:
                    continue
                if not self.request.recv(4096, socket.MSG_DONTWAIT):
                    break
            except BlockingIOError:
                continue
            except (OSError, ValueError):
                break
        if not done.is_set():
            with contextlib.suppress(OSError):
                upstream_socket.shutdown(socket.SHUT_RDWR)


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------


def _group_id(name: str) -> int:
    if name.isdigit():
        return int(name)
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise ValueError(f"no group {name!r} on this host") from None


def _stop(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description=(
            "Read-only proxy of the Docker API for Traefik's Docker provider: lets through only "
            "GET /_ping, /version, /containers/json, /containers/<id>/json and /events (with or without "
            "/vN.NN), without the containers' environment, and refuses everything else."
        ),
    )
    parser.add_argument("--listen", default=DEFAULT_LISTEN, help=f"the proxy's socket (default {DEFAULT_LISTEN})")
    parser.add_argument("--docker", default=DEFAULT_DOCKER, help=f"Docker's socket (default {DEFAULT_DOCKER})")
    parser.add_argument("--group", help="group (name or id) of the proxy's socket, mode 0660 (default: unchanged)")
    parser.add_argument("--verbose", action="store_true", help="log every request, not only the refused ones")
    arguments = parser.parse_args(argv)

    def fail(message: str) -> int:
        _log_to_stderr(f"error: {message}")
        return 1

    try:
        if not stat.S_ISSOCK(os.stat(arguments.docker).st_mode):
            return fail(f"{arguments.docker} is not a socket (is it Docker's?)")
    except FileNotFoundError:
        return fail(f"the Docker socket {arguments.docker} does not exist (is Docker running?)")
    except OSError as error:
        return fail(f"cannot read the Docker socket {arguments.docker}: {error}")
    try:
        gid = _group_id(arguments.group) if arguments.group else None
        server = ProxyServer(arguments.listen, arguments.docker, gid=gid, verbose=arguments.verbose)
    except (OSError, ValueError) as error:
        return fail(f"cannot listen on {arguments.listen}: {error}")
    signal.signal(signal.SIGTERM, _stop)
    _log_to_stderr(f"listening on {arguments.listen}, relaying Traefik's reads to {arguments.docker}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
