"""Runs `hostfiles/docker_proxy.py` as a host runs it, and talks HTTP over unix sockets.

- `running_proxy` copies the module to a temporary file without its `.py` (as it is installed on a host,
  `/usr/local/sbin/constellab-docker-proxy`) and starts it with the system's `python3 -I`: isolated, so
  it proves the script needs nothing but the standard library; its standard error is kept for the test;
- `request` sends raw bytes and reads one answer (chunked or not), `open_stream` keeps an answer open to
  read the event stream line by line;
- `FakeDocker` is a stand-in for the engine's socket that records what reaches it: the fast tests check
  that nothing refused ever gets there, and what the proxy does with Docker's answers.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from hostfiles import docker_proxy

SOURCE = Path(docker_proxy.__file__)
SYSTEM_PYTHON = Path("/usr/bin/python3")
"""The interpreter a host runs the script with; this virtualenv's when the machine has none."""


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request_bytes(method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: docker", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _connect(path: str | Path, timeout: float) -> socket.socket:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.settimeout(timeout)
    connection.connect(str(path))
    return connection


def request(path: str | Path, data: bytes, *, timeout: float = 15, head: bool = False) -> Answer:
    """Sends `data` on the unix socket `path`, reads the whole answer."""
    with _connect(path, timeout) as connection:
        connection.sendall(data)
        response = http.client.HTTPResponse(connection, method="HEAD" if head else "GET")
        response.begin()
        body = response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, body)


def get(path: str | Path, target: str, method: str = "GET", headers: dict[str, str] | None = None) -> Answer:
    return request(path, request_bytes(method, target, headers), head=method == "HEAD")


@contextmanager
def open_stream(path: str | Path, target: str, timeout: float = 15) -> Iterator[http.client.HTTPResponse]:
    """A GET whose answer stays open (the event stream): read it with `readline`."""
    connection = _connect(path, timeout)
    response: http.client.HTTPResponse | None = None
    try:
        connection.sendall(request_bytes("GET", target))
        response = http.client.HTTPResponse(connection)
        response.begin()
        yield response
    finally:
        # The answer holds the socket open too: both go, and the other side sees the hang-up.
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)
        if response is not None:
            response.close()
        connection.close()


# ---------------------------------------------------------------------------------------------
# The proxy, as a host runs it
# ---------------------------------------------------------------------------------------------


@dataclass
class RunningProxy:
    process: subprocess.Popen[bytes]
    socket_path: Path
    log_path: Path

    def log(self) -> list[str]:
        prefix = f"{docker_proxy.PROGRAM}: "
        return [line.removeprefix(prefix) for line in self.log_path.read_text().splitlines()]

    def refused(self) -> list[str]:
        return [line for line in self.log() if line.startswith("refused ")]

    def allowed(self) -> list[str]:
        return [line for line in self.log() if line.startswith("allowed ")]


def python() -> str:
    return str(SYSTEM_PYTHON) if SYSTEM_PYTHON.exists() else sys.executable


def wait_for_socket(path: Path, process: subprocess.Popen[bytes] | None, log_path: Path, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the proxy exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            _connect(path, 1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the proxy did not listen on {path} within {timeout} s:\n{log_path.read_text()}")


@contextmanager
def running_proxy(
    folder: Path, docker: str | Path, *arguments: str, name: str = "docker-ro.sock"
) -> Iterator[RunningProxy]:
    """The proxy, started from a copy of its source as the host installs it, on `folder/name`."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / docker_proxy.PROGRAM
    if not script.exists():
        shutil.copyfile(SOURCE, script)
        script.chmod(0o755)
    socket_path = folder / name
    log_path = folder / f"{name}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [python(), "-I", str(script), "--listen", str(socket_path), "--docker", str(docker), *arguments],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={"PATH": "/usr/bin:/bin"},
        )
    running = RunningProxy(process, socket_path, log_path)
    try:
        wait_for_socket(socket_path, process, log_path)
        yield running
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# ---------------------------------------------------------------------------------------------
# A fake engine socket
# ---------------------------------------------------------------------------------------------

FAKE_INSPECT = {
    "Id": "f" * 64,
    "Name": "/glab",
    "Args": ["--token", "secret-arg"],
    "State": {"Status": "running", "Running": True, "Health": {"Status": "healthy", "Log": [{"Output": "pw"}]}},
    "HostConfig": {"NetworkMode": "bridge"},
    "Config": {
        "Env": ["DB_PASSWORD=secret-env"],
        "Cmd": ["serve", "--password=secret-cmd"],
        "Entrypoint": ["/entry", "secret-entry"],
        "Healthcheck": {"Test": ["CMD", "check", "secret-health"]},
        "Labels": {"traefik.enable": "true"},
        "Image": "glab:1",
    },
    "NetworkSettings": {"Networks": {"prod": {"IPAddress": "172.30.0.2", "NetworkID": "n1"}}, "Ports": {}},
}
FAKE_LIST = [{"Id": "f" * 64, "Names": ["/glab"], "Command": "serve --password=secret-cmd", "Labels": {}}]
FAKE_EVENTS = [
    {"Type": "container", "Action": "exec_create: mysqldump -psecret-exec", "Actor": {"ID": "a"}},
    {"Type": "container", "Action": "start", "Actor": {"ID": "a", "Attributes": {"name": "glab"}}},
    {"Type": "network", "Action": "connect", "Actor": {"ID": "n"}},
    {"Type": "container", "Action": "health_status: healthy", "Actor": {"ID": "a"}},
    {"Type": "container", "Action": "exec_start: mysqldump -psecret-exec", "Actor": {"ID": "a"}},
    {"Type": "container", "Action": "die", "Actor": {"ID": "a"}},
]


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _FakeServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def address_string(self) -> str:
        return "unix"

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.received.append(Received(self.command, self.path, dict(self.headers.items()), body))

    def _json(self, status: int, document: Any) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Api-Version", "1.41")
        self.send_header("X-Secret-Header", "not-relayed")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self) -> None:
        self._record()
        self.send_response(200)
        self.send_header("Api-Version", "1.41")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self._record()
        path = self.path.split("?")[0]
        if path.endswith("/_ping"):
            body = b"OK"
            self.send_response(200)
            self.send_header("Api-Version", "1.41")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(body)
        elif path.endswith("/containers/json"):
            self._json(200, FAKE_LIST)
        elif path.endswith("/containers/missing/json"):
            self._json(404, {"message": "No such container: missing"})
        elif path.endswith("/json") and "/containers/" in path:
            self._json(200, self.server.inspect)
        elif path.endswith("/events"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for event in FAKE_EVENTS:
                line = json.dumps(event).encode() + b"\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                self.wfile.flush()
            self.server.events_sent.set()
            # Open until the test lets it end, or the proxy hangs up.
            while not self.server.end_events.wait(0.05):
                if self._peer_closed():
                    self.server.events_closed.set()
                    return
            self.wfile.write(b"0\r\n\r\n")
        else:
            self._json(200, {"path": self.path})

    def _peer_closed(self) -> bool:
        try:
            return self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    do_POST = do_PUT = do_DELETE = _record  # noqa: N815 - recorded, then the connection closes unanswered


class _FakeServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, path: str) -> None:
        self.received: list[Received] = []
        self.inspect: Any = FAKE_INSPECT
        self.events_sent = threading.Event()
        self.end_events = threading.Event()
        self.events_closed = threading.Event()
        super().__init__(path, _FakeHandler)


@dataclass
class FakeDocker:
    path: Path
    server: _FakeServer

    @property
    def received(self) -> list[Received]:
        return self.server.received


@contextmanager
def fake_docker(folder: Path) -> Iterator[FakeDocker]:
    path = folder / "fake-docker.sock"
    server = _FakeServer(str(path))
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield FakeDocker(path, server)
    finally:
        server.end_events.set()
        server.shutdown()
        server.server_close()
        if path.exists():
            os.unlink(path)


@dataclass
class ThreadedProxy:
    socket_path: Path
    lines: list[str]
    server: docker_proxy.ProxyServer

    def refused(self) -> list[str]:
        return [line for line in self.lines if line.startswith("refused ")]


@contextmanager
def threaded_proxy(folder: Path, docker: str | Path, **options: Any) -> Iterator[ThreadedProxy]:
    """The proxy's server in a thread of this process, its log lines kept in a list."""
    lines: list[str] = []
    path = folder / "docker-ro.sock"
    server = docker_proxy.ProxyServer(str(path), str(docker), log=lines.append, **options)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield ThreadedProxy(path, lines, server)
    finally:
        server.shutdown()
        server.server_close()
