"""The lab manager client against a local HTTPS lab manager that speaks its API's contract exactly.

The fake lab manager listens on loopback with a self-signed certificate for `<H>` and `*.<H>` (the
client verifies it, as it verifies a site's manual certificate), routes by Host header as Traefik does,
refuses a wrong `Authorization: api-key <KEY>` with the newest error body, checks the bodies as the lab
manager does (its `checkInitConfig`), records every request, and plays a script of /lab/status answers
after init-all, the old lab's status first when told to. The bodies are the toolkit's own
(`constellab.lab_config`) for a lab the stack configures. The SSH transport runs a fake `ssh` that
really forwards the `-L` port it is given.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from constellab import lab_config
from constellab import lab_manager_client as client
from tests.traefik_harness import free_port, self_signed

HOST = "lab1.acme.example.com"
MANAGER = f"lab-manager.{HOST}"
BASE = f"https://{MANAGER}"
API_KEY = "lmk-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
PASSWORD = "Tr0ub4dor-and-3-horses"
NEW_PASSWORD = "correct-horse-battery-staple-7"

CONFIGURATION = lab_config.StackConfiguration.model_validate(
    {
        "mode": "stack",
        "labId": "2b6f3a9c-1d4e-4f7a-9b8c-5e0d1a2c3f4b",
        "frontVersion": "2.5.3",
        "glabTag": "2.10.0",
        "bricks": [{"name": "gws_core", "version": "0.18.4"}, {"name": "gws_academy", "version": "0.5.1"}],
    }
)
CONFIG: dict[str, Any] = lab_config.config_body(CONFIGURATION, "lab1")


def init_body(prod_password: str = PASSWORD) -> dict[str, Any]:
    return lab_config.init_body(
        CONFIGURATION,
        "lab1",
        space_api_url="https://api.acme.constellab.space",
        space_front_url="https://acme.constellab.space",
        space_api_key="space-key-5c1d9e",
        community_api_url="https://api.constellab.community",
        community_front_url="https://constellab.community",
        community_api_key="community-key-8a2f7b",
        codelab_token="codelab-token-4e6d",
        prod_db_password=prod_password,
        dev_db_password="dev-db-password-0b9c",
        openai_api_key=None,
    )


INIT: dict[str, Any] = init_body()
MISSING_FIELDS = {
    "status": 400,
    "code": "BadRequestException",
    "detail": "The provided configuration is missing some required fields",
    "instanceId": "lab-manager-1a2b",
}

STOPPED = {"containersStatus": {"status": "STOP"}, "labStatus": "STOPPED"}
STARTING = {
    "containersStatus": {"status": "PARTIALLY_UP", "info": "Containers are partially up"},
    "labStatus": "STARTING",
    "currentTask": {"name": "Start lab", "status": "RUNNING"},
}
UP_STARTING = {"containersStatus": {"status": "UP"}, "labStatus": "STARTING"}
UP_RUNNING = {
    "containersStatus": {"status": "UP", "info": "All containers are up"},
    "labStatus": "RUNNING",
    "currentTask": {"name": "Start lab", "status": "SUCCESS"},
}
TASK_FAILED = {
    "containersStatus": {"status": "DOWN"},
    "labStatus": "ERROR",
    "currentTask": {"name": "Pull images", "status": "ERROR", "info": "manifest for gencovery/gws:9.9.9 not found"},
}


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeLabManager:
    """The lab manager's HTTP contract, with scriptable answers; `requests` records every request."""

    api_key: str = API_KEY
    requests: list[Recorded] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)
    health: list[tuple[int, str]] = field(default_factory=list)
    """Answers to the first /health-check requests (status, body) before the real `true`."""
    status_script: list[dict[str, Any]] = field(default_factory=lambda: [STARTING, UP_STARTING, UP_RUNNING])
    """/lab/status answers after each init-all; the last one repeats."""
    stale_polls: int = 0
    """How many /lab/status answers after init-all still show the lab as it was (the work runs in the background)."""
    before: dict[str, Any] = field(default_factory=lambda: STOPPED)
    """The lab's status before this init-all."""
    busy_before: int = 0
    """How many /lab/status answers before init-all show the lab starting by itself (a task RUNNING)."""
    busy_inits: int = 0
    """How many init-all calls are refused because a task runs (upstream's `initLab` check)."""
    forced: dict[str, tuple[int, Any]] = field(default_factory=dict)
    """`METHOD /path` -> (status, JSON body) answered instead of the normal behaviour (after the key check)."""
    dropped: set[str] = field(default_factory=set)
    """`METHOD /path` whose connection is closed without an answer."""
    port: int = 0
    initialised: bool = False
    _status_index: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def calls(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.requests]

    def of(self, call: str) -> list[Recorded]:
        return [r for r in self.requests if f"{r.method} {r.path}" == call]

    def answer(self, method: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any] | None:
        """(status, body: str for text, anything else as JSON), or None to drop the connection."""
        call = f"{method} {path}"
        with self.lock:
            self.requests.append(Recorded(method, path, headers, body))
            if headers.get("Host") != MANAGER:
                return 404, "404 page not found\n"  # Traefik: no router for this host
            if call in self.dropped:
                return None
            if call == "GET /health-check":
                return self.health.pop(0) if self.health else (200, "true")
            if headers.get("Authorization") != f"api-key {self.api_key}":
                return 403, {
                    "status": 403,
                    "code": "ForbiddenException",
                    "detail": "Forbidden resource",
                    "instanceId": "lab-manager-7f3c",
                }
            if call in self.forced:
                return self.forced[call]
            if call == "PUT /lab/config":
                # Stored as sent (config.json); what the lab manager then reads from it.
                environment = body.get("environment") if isinstance(body, dict) else None
                if (
                    headers.get("Content-Type") != "application/json"
                    or not isinstance(environment, dict)
                    or not isinstance(environment.get("bricks"), list)
                    or not all(isinstance(body.get(key), str) for key in ("front_version", "glab_tag"))
                ):
                    return 400, {**MISSING_FIELDS, "detail": "The config file is not valid"}
                return 200, ""
            if call == "POST /lab/init-all" and self.busy_inits > 0:
                self.busy_inits -= 1
                return 400, {**MISSING_FIELDS, "detail": "The task 'Start lab' is running, please wait"}
            if call == "POST /lab/init-all":
                # lab.service.ts checkInitConfig: the newest shape's required fields.
                db = body.get("db") if isinstance(body, dict) else None
                if (
                    headers.get("Content-Type") != "application/json"
                    or not isinstance(body, dict)
                    or not all(body.get(key) for key in ("space", "community", "lab", "backup"))
                    or not (isinstance(db, dict) and db.get("gwsCoreProdPassword") and db.get("gwsCoreDevPassword"))
                ):
                    return 400, MISSING_FIELDS
                self.initialised = True
                self._status_index = 0
                return 201, ""
            if call == "GET /lab/status":
                if not self.initialised and self.busy_before > 0:
                    self.busy_before -= 1
                    return 200, STARTING
                if not self.initialised:
                    return 200, self.before
                self._status_index += 1
                if self._status_index <= self.stale_polls:
                    return 200, self.before
                index = min(self._status_index - self.stale_polls - 1, len(self.status_script) - 1)
                return 200, self.status_script[index]
            return 404, {"statusCode": 404, "message": f"Cannot {method} {path}", "error": "Not Found"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        answer = self.server.manager.answer(self.command, self.path, dict(self.headers.items()), body)
        if answer is None:
            self.close_connection = True
            return
        status, content = answer
        data = content.encode() if isinstance(content, str) else json.dumps(content).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "text/plain" if isinstance(content, str) else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    manager: FakeLabManager

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # TLS handshakes cut short (probes, dropped connections): the client's side is what is tested


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("certificate")
    (folder / "cert.pem").write_text(CERTIFICATE)
    (folder / "key.pem").write_text(KEY)
    return folder / "cert.pem", folder / "key.pem"


@pytest.fixture
def manager(certificate: tuple[Path, Path]) -> Iterator[FakeLabManager]:
    fake = FakeLabManager()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    context.sni_callback = lambda _socket, name, _context: fake.server_names.append(name)
    server = _Server(("127.0.0.1", 0), _Handler)
    server.manager = fake
    # The handshake happens in the handler's thread, so a stalled connection never blocks the others.
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


CERTIFICATE, KEY = self_signed(HOST)  # HOST and *.HOST: covers lab-manager.HOST
"""The fake's certificate; the client gets it as a site's manual chain (`tls.verify: pem`)."""


def document(port: int, **changes: Any) -> dict[str, Any]:
    """A request for lab1 reaching the fake at 127.0.0.1:`port`, with short timeouts."""
    base: dict[str, Any] = {
        "lab": "lab1",
        "host": HOST,
        "transport": {"kind": "direct", "address": "127.0.0.1", "port": port},
        "apiKey": API_KEY,
        "config": copy.deepcopy(CONFIG),
        "init": copy.deepcopy(INIT),
        "tls": {"verify": "pem", "ca": CERTIFICATE},
        "healthTimeoutSeconds": 2,
        "upTimeoutSeconds": 2,
        "pollSeconds": 0.05,
        "settleSeconds": 0.5,
    }
    return base | changes


def run_main(doc: Any, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    text = doc if isinstance(doc, str) else json.dumps(doc)
    code = client.main([], stdin=io.StringIO(text))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_failure(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in (API_KEY, PASSWORD, NEW_PASSWORD, "space-key-5c1d9e", "codelab-token-4e6d"):
            assert secret not in text


def test_create_sends_config_then_init_and_waits_until_up(manager: FakeLabManager, capsys) -> None:
    code, out, err = run_main(document(manager.port), capsys)

    assert (code, err) == (0, "")
    calls = manager.calls()
    # The status first: a task running (the lab starting by itself) would make the lab manager refuse init-all.
    assert calls[:4] == ["GET /health-check", "GET /lab/status", "PUT /lab/config", "POST /lab/init-all"]
    assert set(calls[4:]) == {"GET /lab/status"}
    assert len(calls[4:]) == 3  # PARTIALLY_UP, then UP but lab STARTING, then UP and RUNNING
    health, _, put, post = manager.requests[:4]
    assert "Authorization" not in health.headers  # /health-check is public: the key is not sent
    for recorded in manager.requests[1:]:
        assert recorded.headers["Authorization"] == f"api-key {API_KEY}"
    assert all(r.headers["Host"] == MANAGER for r in manager.requests)
    assert set(manager.server_names) == {MANAGER}
    assert put.headers["Content-Type"] == post.headers["Content-Type"] == "application/json"
    assert put.body == CONFIG
    assert post.body == INIT
    assert out.splitlines()[-1] == "lab1: containers UP, lab RUNNING"
    for line in ("lab1: lab manager healthy", "lab1: configuration sent (PUT /lab/config)", "lab1: init-all accepted"):
        assert line in out.splitlines()
    assert_no_secret(out, err)


def test_the_module_runs_as_a_program_with_the_document_on_stdin(manager: FakeLabManager) -> None:
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-m", "constellab.lab_manager_client"],
        input=json.dumps(document(manager.port)),
        capture_output=True,
        text=True,
        cwd=root,
        timeout=30,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines()[-1] == "lab1: containers UP, lab RUNNING"
    assert_no_secret(result.stdout, result.stderr)


def test_the_client_imports_only_the_standard_library() -> None:
    root = Path(__file__).resolve().parent.parent
    probe = (
        "import sys; before = set(sys.modules); import constellab.lab_manager_client; "
        "print('\\n'.join(set(sys.modules) - before))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=root, check=True)
    imported = {name.split(".")[0] for name in result.stdout.split()}
    assert "constellab" in imported
    assert imported - set(sys.stdlib_module_names) - {"constellab"} == set()


def test_a_changed_brick_version_sends_the_new_config(manager: FakeLabManager, capsys) -> None:
    assert run_main(document(manager.port), capsys)[0] == 0
    bricks = [{"name": "gws_core", "version": "0.18.4"}, {"name": "gws_academy", "version": "0.6.0"}]
    changed = lab_config.config_body(CONFIGURATION.model_copy(update={"bricks": tuple(
        lab_config.Brick.model_validate(brick) for brick in bricks)}), "lab1")  # fmt: skip

    assert run_main(document(manager.port, config=changed), capsys)[0] == 0

    first, second = (r.body for r in manager.of("PUT /lab/config"))
    assert first == CONFIG
    assert second == changed
    new = [b for b in second["environment"]["bricks"] if b not in first["environment"]["bricks"]]
    assert new == [{"name": "gws_academy", "version": "0.6.0"}]
    assert manager.calls().count("POST /lab/init-all") == 2


def test_a_changed_password_is_sent_in_the_new_init_body(manager: FakeLabManager, capsys) -> None:
    assert run_main(document(manager.port), capsys)[0] == 0
    changed = init_body(prod_password=NEW_PASSWORD)

    code, out, err = run_main(document(manager.port, init=changed), capsys)

    assert code == 0
    first, second = (r.body for r in manager.of("POST /lab/init-all"))
    assert first["db"]["gwsCoreProdPassword"] == first["gwsCoreProdPassword"] == PASSWORD
    assert second["db"]["gwsCoreProdPassword"] == second["gwsCoreProdPassword"] == NEW_PASSWORD
    assert manager.of("PUT /lab/config")[1].body == CONFIG
    assert_no_secret(out, err)


def test_health_check_is_retried_until_it_answers_true(manager: FakeLabManager, capsys) -> None:
    manager.health = [(502, "Bad Gateway"), (404, "404 page not found\n"), (200, "false")]

    code, out, _ = run_main(document(manager.port), capsys)

    assert code == 0
    assert manager.calls()[:6] == ["GET /health-check"] * 4 + ["GET /lab/status", "PUT /lab/config"]
    assert "lab1: lab manager not ready yet: HTTP 502: Bad Gateway" in out.splitlines()
    assert "lab1: lab manager not ready yet: HTTP 200 with body 'false'" in out.splitlines()


def test_an_unreachable_lab_manager_fails_after_the_health_timeout(capsys) -> None:
    port = free_port()  # nothing listens there
    started = time.monotonic()

    code, _, err = run_main(document(port, healthTimeoutSeconds=1), capsys)

    elapsed = time.monotonic() - started
    assert code == 1
    assert 1 <= elapsed < 5
    assert assert_one_line_failure(err) == (
        f"lab lab1: the lab manager at {BASE} did not answer /health-check within 1 s (last: connection refused): "
        "is the server running (a stopped lab: `./run ops lab start`) and its proxy up?"
    )


class _Quiet(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_lab_manager_answering_plain_http_is_a_tls_error(capsys) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        code, _, err = run_main(document(server.server_address[1], healthTimeoutSeconds=0.5), capsys)
    finally:
        server.shutdown()
        server.server_close()
    assert code == 1
    assert "did not answer /health-check within 0.5 s (last: TLS error: " in assert_one_line_failure(err)


@pytest.mark.parametrize(
    ("setup", "refused", "expected"),
    [
        pytest.param(
            {"forced": {"PUT /lab/config": (401, {"statusCode": 401, "message": "Unauthorized"})}},
            "PUT /lab/config",
            "HTTP 401: Unauthorized",
            id="401",
        ),
        # A wrong key is refused at the first call that needs it: the status read before the configuration.
        pytest.param({"api_key": "another-key-entirely"}, "GET /lab/status", "HTTP 403: Forbidden resource", id="403"),
    ],
)
def test_a_refused_key_fails_at_once_and_sends_no_init(manager: FakeLabManager, capsys, setup, refused, expected):
    for name, value in setup.items():
        setattr(manager, name, value)

    code, out, err = run_main(document(manager.port), capsys)

    assert code == 1
    method, path = refused.split()
    assert assert_one_line_failure(err) == (
        f"lab lab1: {method} {BASE}{path} was refused: {expected} — check the lab manager API key of lab1"
    )
    assert manager.calls()[-1] == refused and "POST /lab/init-all" not in manager.calls()
    assert_no_secret(out, err)
    assert "another-key-entirely" not in out + err


def test_an_init_body_the_lab_manager_finds_incomplete_fails_with_its_message(manager: FakeLabManager, capsys):
    incomplete = copy.deepcopy(INIT)
    del incomplete["db"]  # the older flat fields alone: the newest lab manager refuses them

    code, out, err = run_main(document(manager.port, init=incomplete), capsys)

    assert code == 1
    assert assert_one_line_failure(err) == (
        f"lab lab1: POST {BASE}/lab/init-all failed: HTTP 400: "
        "The provided configuration is missing some required fields"
    )
    assert manager.calls().count("GET /lab/status") == 1, "only the status read before the configuration"
    assert_no_secret(out, err)


def test_a_server_message_that_echoes_a_secret_is_redacted(manager: FakeLabManager, capsys) -> None:
    messages = [f"db.gwsCoreProdPassword '{PASSWORD}' is too common"]
    manager.forced = {"POST /lab/init-all": (400, {"statusCode": 400, "message": messages, "error": "Bad Request"})}

    code, out, err = run_main(document(manager.port), capsys)

    assert code == 1
    assert assert_one_line_failure(err).endswith("HTTP 400: db.gwsCoreProdPassword '***' is too common")
    assert_no_secret(out, err)


def test_the_old_status_just_after_init_all_is_not_taken_for_the_new_lab(manager: FakeLabManager, capsys) -> None:
    # A brick changed on a running lab: init-all answers at once, and the status still shows the old lab.
    manager.before, manager.stale_polls = UP_RUNNING, 3
    manager.status_script = [STARTING, UP_RUNNING]

    code, _out, _ = run_main(document(manager.port), capsys)

    assert code == 0
    assert manager.calls().count("GET /lab/status") == 1 + 3 + 2, "waited for this init's progress, then UP"


def test_the_lab_is_not_up_while_this_inits_task_still_runs(manager: FakeLabManager, capsys) -> None:
    # The old containers stay up while the new images are pulled: UP, but the init's task RUNNING.
    up_but_busy = {**UP_RUNNING, "currentTask": {"name": "Init lab", "status": "RUNNING"}}
    manager.status_script = [up_but_busy, up_but_busy, up_but_busy, UP_RUNNING]

    code, _, _ = run_main(document(manager.port), capsys)

    assert code == 0
    assert manager.calls().count("GET /lab/status") == 1 + 4, "returned only once the task had finished"


def test_a_lab_starting_by_itself_is_let_finish_before_the_configuration(manager: FakeLabManager, capsys) -> None:
    # A new lab_manager container starts the lab on its own (AUTO_START_LAB); init-all is refused meanwhile.
    manager.busy_before, manager.busy_inits = 2, 1

    code, out, err = run_main(document(manager.port), capsys)

    assert (code, err) == (0, "")
    calls = manager.calls()
    assert calls[:5] == [
        "GET /health-check",
        "GET /lab/status",
        "GET /lab/status",
        "GET /lab/status",
        "PUT /lab/config",
    ]
    assert calls.count("POST /lab/init-all") == 2
    assert "waiting for the lab manager's task 'Start lab' to finish" in out
    assert "init-all refused while a task runs" in out


def test_a_configuration_the_lab_manager_has_not_applied_yet_is_waited_for(manager: FakeLabManager, capsys) -> None:
    pending = {**UP_RUNNING, "needsRestart": True}
    manager.status_script = [STARTING, pending, pending, {**UP_RUNNING, "needsRestart": False}]

    code, out, _ = run_main(document(manager.port), capsys)

    assert code == 0
    assert manager.calls().count("GET /lab/status") == 1 + 4
    assert "configuration not applied yet (needsRestart)" in out


def test_a_lab_manager_that_shows_no_progress_is_up_once_it_stays_up(manager: FakeLabManager, capsys) -> None:
    manager.before, manager.stale_polls, manager.status_script = UP_RUNNING, 1000, [UP_RUNNING]
    started = time.monotonic()

    code, _, _ = run_main(document(manager.port, settleSeconds=0.4), capsys)

    assert code == 0 and time.monotonic() - started >= 0.4


def test_a_certificate_that_is_not_the_sites_is_refused(manager: FakeLabManager, capsys) -> None:
    other, _ = self_signed(HOST)  # same names, another key: what a man in the middle would present

    code, _out, err = run_main(
        document(manager.port, healthTimeoutSeconds=0.5, tls={"verify": "pem", "ca": other}), capsys
    )

    assert code == 1
    assert "(last: TLS error: certificate verify failed)" in assert_one_line_failure(err)
    assert "PUT /lab/config" not in manager.calls()


def test_traefiks_own_certificate_is_accepted_only_when_verification_is_off(manager: FakeLabManager, capsys) -> None:
    assert run_main(document(manager.port, tls={"verify": "none"}), capsys)[0] == 0
    assert run_main(document(manager.port, healthTimeoutSeconds=0.3, tls={"verify": "system"}), capsys)[0] == 1


def test_a_dropped_connection_at_put_is_not_sent(manager: FakeLabManager, capsys) -> None:
    manager.dropped = {"PUT /lab/config"}

    code, _, err = run_main(document(manager.port), capsys)

    assert code == 1
    assert assert_one_line_failure(err) == (
        f"lab lab1: PUT {BASE}/lab/config could not be sent: the connection closed without an answer"
    )
    assert "POST /lab/init-all" not in manager.calls()


def test_a_lab_that_never_comes_up_fails_after_the_up_timeout(manager: FakeLabManager, capsys) -> None:
    manager.status_script = [STARTING]
    started = time.monotonic()

    code, out, err = run_main(document(manager.port, upTimeoutSeconds=1), capsys)

    assert code == 1
    assert 1 <= time.monotonic() - started < 5
    assert assert_one_line_failure(err) == (
        "lab lab1: not up after 1 s: containers PARTIALLY_UP (Containers are partially up), lab STARTING, "
        "task 'Start lab' RUNNING"
    )
    assert manager.calls().count("GET /lab/status") > 2
    # The status is printed when it changes, not at every poll.
    assert out.count("containers PARTIALLY_UP") == 1


def test_a_failed_task_stops_the_wait(manager: FakeLabManager, capsys) -> None:
    manager.status_script = [STARTING, TASK_FAILED, UP_RUNNING]

    code, _, err = run_main(document(manager.port, upTimeoutSeconds=30), capsys)

    assert code == 1
    assert assert_one_line_failure(err) == (
        "lab lab1: the lab manager's task 'Pull images' failed: manifest for gencovery/gws:9.9.9 not found"
    )
    assert manager.calls().count("GET /lab/status") == 1 + 2


def test_a_failed_task_of_an_earlier_run_does_not_end_the_wait(manager: FakeLabManager, capsys) -> None:
    # Just after init-all answers, the status may still show the previous run's failed task.
    manager.status_script = [TASK_FAILED, STARTING, UP_RUNNING]

    code, out, _ = run_main(document(manager.port, upTimeoutSeconds=30), capsys)

    assert code == 0
    assert out.splitlines()[-1] == "lab1: containers UP, lab RUNNING"


def test_an_older_lab_manager_without_lab_status_is_up_when_its_containers_are(manager: FakeLabManager, capsys):
    manager.status_script = [{"containersStatus": {"status": "PARTIALLY_UP"}}, {"containersStatus": {"status": "UP"}}]

    code, out, _ = run_main(document(manager.port), capsys)

    assert code == 0
    assert out.splitlines()[-1] == "lab1: containers UP"


def without(key: str) -> Any:
    def make(port: int) -> dict[str, Any]:
        doc = document(port)
        del doc[key]
        return doc

    return make


def changed(**changes: Any) -> Any:
    return lambda port: document(port, **changes)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        pytest.param(without("apiKey"), "apiKey is required", id="missing-apiKey"),
        pytest.param(
            lambda port: document(port, transport={"kind": "telnet", "address": "127.0.0.1", "port": port}),
            "transport.kind must be 'direct' or 'ssh'",
            id="bad-transport-kind",
        ),
        pytest.param(
            changed(apiKey=f"{API_KEY}\r\nX-Injected: 1"),
            "apiKey must be a non-empty string of visible ASCII characters",
            id="apiKey-with-newline",
        ),
        pytest.param(without("init"), "init is required", id="missing-init"),
        pytest.param(changed(config=[1]), "config must be a JSON object", id="config-not-object"),
        pytest.param(
            changed(transport={"kind": "direct", "address": "127.0.0.1", "port": 70000}),
            "transport.port must be an integer from 1 to 65535",
            id="port-out-of-range",
        ),
        pytest.param(
            changed(transport={"kind": "ssh", "destination": "-oProxyCommand=x"}),
            "transport.destination must be [user@]host, without spaces or a leading '-'",
            id="ssh-destination-as-option",
        ),
        pytest.param(changed(pollSeconds=0), "pollSeconds must be a positive number of seconds", id="poll-zero"),
        pytest.param(
            changed(upTimeoutSeconds=True), "upTimeoutSeconds must be a positive number of seconds", id="timeout-bool"
        ),
        pytest.param(
            changed(host="https://lab1"), "host must be a host name such as lab1.acme.example.com", id="host-as-url"
        ),
        pytest.param(changed(healthTimeout=5), "healthTimeout is not a known key", id="unknown-key"),
        pytest.param(lambda port: "[]", "the document must be a JSON object", id="not-an-object"),
        pytest.param(lambda port: '{"lab": ', "stdin is not JSON (line 1, column 9: Expecting value)", id="not-json"),
        pytest.param(lambda port: " \n", "stdin is empty; give the request document as JSON", id="empty"),
    ],
)
def test_a_bad_document_is_refused_before_any_request(manager: FakeLabManager, capsys, make, expected) -> None:
    code, out, err = run_main(make(manager.port), capsys)

    assert code == 2
    assert assert_one_line_failure(err) == f"lab manager client: {expected}"
    assert out == ""
    assert manager.requests == []
    assert_no_secret(out, err)


FAKE_SSH = """\
#!{python}
# A fake ssh: records its argv, then forwards -L 127.0.0.1:<lport>:127.0.0.1:<rport> on this machine.
import json, os, socket, sys, threading

log = os.environ["FAKE_SSH_LOG"]
with open(log, "a") as f:
    f.write(json.dumps({{"pid": os.getpid(), "argv": sys.argv[1:]}}) + "\\n")
if os.environ.get("FAKE_SSH_FAIL"):
    sys.stderr.write("Warning: Permanently added '203.0.113.7' (ED25519) to the list of known hosts.\\n")
    sys.stderr.write(os.environ["FAKE_SSH_FAIL"] + "\\n")
    sys.exit(255)
spec = sys.argv[sys.argv.index("-L") + 1]
bind, lport, target, rport = spec.split(":")
listener = socket.create_server((bind, int(lport)))

def pump(source, sink):
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

while True:
    conn, _ = listener.accept()
    try:
        upstream = socket.create_connection((target, int(rport)))
    except OSError:
        conn.close()
        continue
    with open(log, "a") as f:
        f.write(json.dumps({{"forwarded": True}}) + "\\n")
    threading.Thread(target=pump, args=(conn, upstream), daemon=True).start()
    threading.Thread(target=pump, args=(upstream, conn), daemon=True).start()
"""


@pytest.fixture
def fake_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Installs the fake ssh through CONSTELLAB_SSH; yields the file it records into."""
    script = tmp_path / "fake-ssh"
    script.write_text(FAKE_SSH.format(python=sys.executable))
    script.chmod(0o755)
    log = tmp_path / "fake-ssh.log"
    monkeypatch.setenv(client.SSH_ENV, str(script))
    monkeypatch.setenv("FAKE_SSH_LOG", str(log))
    yield log
    # Should the client have left one behind (the test then fails), it is not left running.
    for pid in [r["pid"] for r in records(log) if "pid" in r] if log.exists() else []:
        with contextlib.suppress(OSError):  # gone already (or the id now belongs to someone else: left alone)
            if str(script).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGKILL)


def ssh_document(remote_port: int, **changes: Any) -> dict[str, Any]:
    transport = {
        "kind": "ssh",
        "destination": "admin@203.0.113.7",
        "port": 22,
        "options": ["-o", "StrictHostKeyChecking=accept-new"],
        "remotePort": remote_port,
    }
    return document(0, transport=transport, **changes)


def records(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def assert_gone(pid: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_ssh_transport_reaches_the_lab_manager_through_the_tunnel_and_closes_it(
    manager: FakeLabManager, fake_ssh: Path, capsys
) -> None:
    code, out, err = run_main(ssh_document(manager.port), capsys)

    assert (code, err) == (0, "")
    started, *rest = records(fake_ssh)
    argv = started["argv"]
    lport = argv[argv.index("-L") + 1].split(":")[1]
    assert argv == [
        "-N",
        "-o",
        "ExitOnForwardFailure=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "ServerAliveInterval=30",
        "-p",
        "22",
        "-o",
        "StrictHostKeyChecking=accept-new",
        "-L",
        f"127.0.0.1:{lport}:127.0.0.1:{manager.port}",
        "admin@203.0.113.7",
    ]
    assert_no_secret(" ".join(argv), out, err)
    assert any(r.get("forwarded") for r in rest)
    assert manager.calls()[:4] == ["GET /health-check", "GET /lab/status", "PUT /lab/config", "POST /lab/init-all"]
    assert set(manager.server_names) == {MANAGER}
    assert_gone(started["pid"])


def test_the_tunnel_is_closed_when_applying_fails(manager: FakeLabManager, fake_ssh: Path, capsys) -> None:
    manager.api_key = "another-key-entirely"

    code, _, err = run_main(ssh_document(manager.port), capsys)

    assert code == 1
    assert "was refused: HTTP 403: Forbidden resource" in assert_one_line_failure(err)
    assert_gone(records(fake_ssh)[0]["pid"])


def test_ssh_exiting_at_once_fails_with_its_message(
    manager: FakeLabManager, fake_ssh: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("FAKE_SSH_FAIL", "ssh: connect to host 203.0.113.7 port 22: Connection refused")

    code, _, err = run_main(ssh_document(manager.port), capsys)

    assert code == 1
    assert assert_one_line_failure(err) == (
        "lab lab1: ssh admin@203.0.113.7 exited with code 255 before the tunnel was open: "
        "Warning: Permanently added '203.0.113.7' (ED25519) to the list of known hosts. | "
        "ssh: connect to host 203.0.113.7 port 22: Connection refused"
    )
    assert manager.requests == []


def test_a_missing_ssh_binary_fails_in_one_line(
    manager: FakeLabManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv(client.SSH_ENV, str(tmp_path / "no-such-ssh"))

    code, _, err = run_main(ssh_document(manager.port), capsys)

    assert code == 1
    assert assert_one_line_failure(err) == f"lab lab1: cannot start ssh ({tmp_path / 'no-such-ssh'}): no such program"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"status": 500, "code": "X", "detail": "Docker is not running", "instanceId": "i"}, "Docker is not running"),
        (
            {"statusCode": 500, "message": "Internal server error", "error": "Internal Server Error"},
            "Internal server error",
        ),
        (
            {"statusCode": 400, "message": ["a is wrong", "b is missing"], "error": "Bad Request"},
            "a is wrong; b is missing",
        ),
        ("<html>\n<b>502</b> Bad Gateway\n</html>", "<html> <b>502</b> Bad Gateway </html>"),
        ("x" * 300, "x" * 200),
    ],
)
def test_server_message_reads_each_error_body_format(body: Any, expected: str) -> None:
    raw = body if isinstance(body, str) else json.dumps(body)
    assert client.server_message(raw.encode()) == expected


def test_the_request_repr_shows_no_secret() -> None:
    request = client.parse_request(document(443))
    assert_no_secret(repr(request))
    assert API_KEY in request.secrets() and PASSWORD in request.secrets()


def test_a_fake_clock_bounds_the_health_wait_without_waiting() -> None:
    now = [0.0]
    request = client.parse_request(document(free_port(), healthTimeoutSeconds=600, pollSeconds=5))

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(
        client.LabManagerError, match=r"within 600 s \(last: connection refused\): is the server running"
    ):
        client.apply(request, out=io.StringIO(), clock=lambda: now[0], sleep=sleep)
    assert now[0] == 600


# ---------------------------------------------------------------------------------------------
# The document the program's LabConfiguration resource hands the client, against the same fake
# ---------------------------------------------------------------------------------------------


def program_document(tmp_path: Path, port: int) -> dict[str, Any]:
    """The client's standard input exactly as the local stack's LabConfiguration registers it (a lab named so
    that its lab manager is the fake's host), pointed at the fake's port, with short waits."""
    import yaml

    from offline.engine import reveal, run_program
    from tests.conftest import stack_file

    stack = yaml.safe_load(stack_file("local").read_text())
    platform = stack["config"]["constellab:platform"]
    platform["baseDomain"] = HOST.split(".", 1)[1]
    platform["labs"][0]["name"] = HOST.split(".", 1)[0]
    for key in ("constellab:spaceApiKeys", "constellab:codelabTokens"):
        stack["config"][key] = {"lab1": stack["config"][key]["lab"]}
    path = tmp_path / "Pulumi.local.yaml"
    path.write_text(yaml.safe_dump(stack, sort_keys=False))
    run = run_program(path)
    [command] = [r for r in run.registrations if r.type == "command:local:Command"]
    found: dict[str, Any] = json.loads(reveal(command.inputs["stdin"]))
    assert found["transport"] == {"kind": "direct", "address": "127.0.0.1", "port": 443}, "this machine's proxy"
    found["transport"]["port"] = port
    return found | {"tls": {"verify": "pem", "ca": CERTIFICATE}, "healthTimeoutSeconds": 2, "upTimeoutSeconds": 2,
                    "pollSeconds": 0.05, "settleSeconds": 0.5}  # fmt: skip


def test_what_the_program_registers_is_what_the_lab_manager_accepts(manager: FakeLabManager, tmp_path, capsys):
    sent = program_document(tmp_path, manager.port)
    manager.api_key = sent["apiKey"]

    code, _, err = run_main(sent, capsys)

    assert (code, err) == (0, "")
    [put], [init] = manager.of("PUT /lab/config"), manager.of("POST /lab/init-all")
    assert put.body == sent["config"] and init.body == sent["init"]
    assert put.headers["Authorization"] == f"api-key {sent['apiKey']}"


def test_a_changed_secret_changes_the_registered_call_and_what_the_lab_manager_receives(
    manager: FakeLabManager, tmp_path, capsys, monkeypatch
):
    from offline import engine as offline

    before = program_document(tmp_path, manager.port)
    original = offline.placeholder
    monkeypatch.setattr(
        offline,
        "placeholder",
        lambda secret, member=None: original(secret, member) + ("-rotated" if secret.name == "spaceApiKeys" else ""),
    )
    after = program_document(tmp_path, manager.port)
    manager.api_key = after["apiKey"]

    code, _, err = run_main(after, capsys)

    assert (code, err) == (0, "")
    assert {key for key in after if after[key] != before[key]} == {"init"}, "a new input: the call runs again"
    [init] = manager.of("POST /lab/init-all")
    assert init.body["space"]["apiKey"] == before["init"]["space"]["apiKey"] + "-rotated"
