"""The read-only Docker API proxy Traefik reads the engine through (`hostfiles/docker_proxy.py`).

Fast tests run the proxy in front of a fake engine socket that records what reaches it: nothing refused
ever does, and what Docker answers loses its secrets. Slow ones run it as a host does (a copy of the
script, the system's `python3 -I`) in front of the real engine: Traefik's reads work, everything else,
and every trick to reach it, is refused, and the engine shows it.
"""

from __future__ import annotations

import ast
import http.client
import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hostfiles import docker_proxy
from tests import docker_harness as harness
from tests import docker_proxy_harness as proxy_harness
from tests.conftest import missing
from tests.docker_proxy_harness import Answer, get, request, request_bytes

DOCKER_SOCKET = "/var/run/docker.sock"
NAME_PREFIX = "constellab-dproxy-unit"
SECRET = f"s3cret-{uuid.uuid4().hex[:12]}"
"""In the test container's environment: it must never come out of the proxy."""
ID = "0123456789abcdef" * 4


# ---------------------------------------------------------------------------------------------
# The script as shipped: standard library only, a command line with clear errors
# ---------------------------------------------------------------------------------------------


def test_the_script_imports_only_the_standard_library():
    tree = ast.parse(proxy_harness.SOURCE.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative import: the file runs alone"
            imported.add((node.module or "").split(".")[0])
    assert imported - {"__future__"} <= sys.stdlib_module_names, imported - sys.stdlib_module_names


def test_the_script_runs_alone_and_explains_itself(tmp_path: Path):
    script = tmp_path / docker_proxy.PROGRAM
    script.write_bytes(proxy_harness.SOURCE.read_bytes())
    done = subprocess.run([proxy_harness.python(), "-I", str(script), "--help"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for option in ("--listen", "--docker", "--group", "--verbose"):
        assert option in done.stdout


def test_a_missing_docker_socket_is_a_clear_error(tmp_path: Path):
    done = subprocess.run(
        [proxy_harness.python(), "-I", str(proxy_harness.SOURCE), "--listen", str(tmp_path / "ro.sock"),
         "--docker", str(tmp_path / "nothing.sock")],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 1
    assert f"the Docker socket {tmp_path / 'nothing.sock'} does not exist (is Docker running?)" in done.stderr
    assert not (tmp_path / "ro.sock").exists()


def test_an_unknown_group_is_a_clear_error(tmp_path: Path):
    with proxy_harness.fake_docker(tmp_path) as docker:
        done = subprocess.run(
            [proxy_harness.python(), "-I", str(proxy_harness.SOURCE), "--listen", str(tmp_path / "ro.sock"),
             "--docker", str(docker.path), "--group", "no-such-group-here"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    assert done.returncode == 1
    assert "no group 'no-such-group-here'" in done.stderr


def test_a_file_in_the_way_of_the_socket_is_never_removed(tmp_path: Path):
    precious = tmp_path / "ro.sock"
    precious.write_text("not a socket")
    with proxy_harness.fake_docker(tmp_path) as docker:
        done = subprocess.run(
            [proxy_harness.python(), "-I", str(proxy_harness.SOURCE), "--listen", str(precious),
             "--docker", str(docker.path)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    assert done.returncode == 1
    assert "exists and is not a socket" in done.stderr
    assert precious.read_text() == "not a socket"


def test_the_socket_is_recreated_with_mode_0660_and_its_group(tmp_path: Path):
    stale = tmp_path / "run" / "docker-ro.sock"
    stale.parent.mkdir()
    with socket.socket(socket.AF_UNIX) as left_over:
        left_over.bind(str(stale))  # a previous run's socket, nobody listening
    # A group other than our own (root may give any; anyone else, one of theirs).
    candidates = (1, 2, 4) if os.geteuid() == 0 else os.getgroups()
    group = next((gid for gid in candidates if gid != os.getegid()), None)
    if group is None:
        missing("no second group to give the socket to (run as root, or as a member of two groups)")
    with (
        proxy_harness.fake_docker(tmp_path) as docker,
        proxy_harness.running_proxy(stale.parent, docker.path, "--group", str(group)) as proxy,
    ):
        found = os.stat(proxy.socket_path)
        assert stat.S_ISSOCK(found.st_mode)
        assert stat.S_IMODE(found.st_mode) == 0o660
        assert found.st_gid == group
        assert get(proxy.socket_path, "/_ping").body == b"OK"
        proxy.process.terminate()
        assert proxy.process.wait(timeout=10) == 0
        assert not proxy.socket_path.exists(), "removed when the proxy stops"


# ---------------------------------------------------------------------------------------------
# The policy
# ---------------------------------------------------------------------------------------------

ALLOWED = [
    ("HEAD", "/_ping"),
    ("GET", "/_ping"),
    ("GET", "/v1.24/_ping"),
    ("GET", "/version"),
    ("GET", "/v1.41/version"),
    ("GET", "/containers/json"),
    ("GET", "/v1.43/containers/json?all=1"),
    ("GET", "/v1.24/containers/json?all=1&filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D"),
    ("GET", f"/containers/{ID}/json"),
    ("GET", f"/v1.51/containers/{ID[:12]}/json"),
    ("GET", "/containers/glab/json"),
    ("GET", "/containers/gws_core_prod_db/json?size=1"),
    ("GET", "/events"),
    ("GET", "/v1.24/events?filters=%7B%22type%22%3A%7B%22container%22%3Atrue%7D%7D"),
    ("GET", "/events?since=1700000000&until=1800000000"),
]


@pytest.mark.parametrize(("method", "target"), ALLOWED)
def test_traefiks_reads_are_allowed(method: str, target: str):
    assert docker_proxy.check(docker_proxy.Request(method, target, "HTTP/1.1", [])) is not None


# (method, target, headers, status): what Traefik never needs, and ways to dress it up as what it does.
REFUSED: list[tuple[str, str, dict[str, str], int]] = [
    ("POST", "/containers/create", {}, 405),
    ("POST", f"/containers/{ID}/stop", {}, 405),
    ("POST", f"/containers/{ID}/start", {}, 405),
    ("DELETE", f"/containers/{ID}", {}, 405),
    ("PUT", f"/containers/{ID}/archive", {}, 405),
    ("POST", f"/containers/{ID}/exec", {}, 405),
    ("POST", "/exec/abc/start", {}, 405),
    ("HEAD", "/containers/json", {}, 405),
    ("OPTIONS", "/_ping", {}, 405),
    ("GET", f"/containers/{ID}/logs?stdout=1", {}, 403),
    ("GET", f"/containers/{ID}/archive?path=/etc/shadow", {}, 403),
    ("GET", f"/containers/{ID}/export", {}, 403),
    ("GET", f"/containers/{ID}/top", {}, 403),
    ("GET", f"/containers/{ID}/attach/ws", {}, 403),
    ("GET", "/images/json", {}, 403),
    ("GET", "/info", {}, 403),
    ("GET", "/secrets", {}, 403),
    ("GET", "/configs", {}, 403),
    ("GET", "/networks", {}, 403),
    ("GET", "/volumes", {}, 403),
    ("GET", "/services", {}, 403),
    ("GET", "/tasks", {}, 403),
    ("GET", "/system/df", {}, 403),
    ("GET", "/exec/abc/json", {}, 403),
    ("GET", "/session", {}, 403),
    ("GET", "/containers/json/../create", {}, 403),
    ("GET", "/containers/../images/json", {}, 403),
    ("GET", "//containers/json", {}, 403),
    ("GET", "/containers//json", {}, 403),
    ("GET", "/containers/json/", {}, 403),
    ("GET", "/containers/%2e%2e/json", {}, 403),
    ("GET", "/containers/json%2f..%2fcreate", {}, 403),
    ("GET", "/%63ontainers/json", {}, 403),
    ("GET", "/v1.43/../containers/create", {}, 403),
    ("GET", "/v1.43//containers/json", {}, 403),
    ("GET", "/vx/containers/json", {}, 403),
    ("GET", "/v1.43/v1.43/containers/json", {}, 403),
    ("GET", f"/containers/{ID}/json/../logs", {}, 403),
    ("GET", "/containers/.hidden/json", {}, 403),
    ("GET", "/containers/json?x=/../", {}, 403),
    ("GET", "/containers/json?all=1&x=/../create", {}, 403),
    ("GET", "/_ping?x=1", {}, 403),
    ("GET", f"/containers/{ID}/json?stream=1", {}, 403),
    ("GET", "/containers/json#fragment", {}, 403),
    ("GET", "/containers/json?all=1#x", {}, 400),
    ("GET", "/containers/json", {"Content-Length": "2"}, 403),
    ("GET", "/containers/json", {"Transfer-Encoding": "chunked"}, 403),
    ("GET", "/containers/json", {"Content-Length": "0", "content-length": "5"}, 400),
    ("GET", "/containers/json", {"Content-Length": "-1"}, 400),
    ("GET", "/containers/json", {"Upgrade": "tcp", "Connection": "Upgrade"}, 403),
    ("GET", "/events", {"Upgrade": "websocket"}, 403),
    ("GET", "/events", {"Connection": "keep-alive, Upgrade"}, 403),
    ("GET", "http://docker/containers/json", {}, 400),
    ("get", "/containers/json", {}, 400),
]


def _ids(case: tuple[str, str, dict[str, str], int]) -> str:
    method, target, headers, _ = case
    return f"{method} {target}" + (f" {sorted(headers)}" if headers else "")


@pytest.mark.parametrize(("method", "target", "headers", "status"), REFUSED, ids=list(map(_ids, REFUSED)))
def test_everything_else_is_refused_by_the_policy(method: str, target: str, headers: dict[str, str], status: int):
    with pytest.raises(docker_proxy.RefusedError) as refused:
        request = docker_proxy.parse_request(request_bytes(method, target, headers)[:-4])
        docker_proxy.check(request)
    assert refused.value.status == status, refused.value.reason


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GET /_ping", 400),
        (b"GET  /_ping HTTP/1.1", 400),
        (b"GET /_ping HTTP/2.0", 400),
        (b"GET /_ping HTTP/1.1\r\nHost docker", 400),
        (b"GET /_ping HTTP/1.1\r\nHost: docker\r\n folded", 400),
        (b"GET /_ping HTTP/1.1\r\nX: a\rb", 400),
        (b"GET /_ping HTTP/1.1\r\nBad Name: x", 400),
        (b"GET /\x00ping HTTP/1.1", 400),
        (b"GET /_ping HTTP/1.1" + b"\r\nX: y" * (docker_proxy.MAX_HEADERS + 1), 431),
        (b"GET /_ping HTTP/1.1\r\nX: " + b"y" * docker_proxy.MAX_HEADER_LINE, 431),
        (b"GET /" + b"a" * docker_proxy.MAX_REQUEST_LINE + b" HTTP/1.1", 414),
    ],
)
def test_malformed_requests_are_refused(head: bytes, status: int):
    with pytest.raises(docker_proxy.RefusedError) as refused:
        docker_proxy.check(docker_proxy.parse_request(head))
    assert refused.value.status == status, refused.value.reason


# ---------------------------------------------------------------------------------------------
# In front of a fake engine: what reaches Docker, what comes back
# ---------------------------------------------------------------------------------------------


@dataclass
class Front:
    docker: proxy_harness.FakeDocker
    proxy: proxy_harness.ThreadedProxy

    @property
    def socket(self) -> Path:
        return self.proxy.socket_path


@pytest.fixture
def front(tmp_path: Path) -> Iterator[Front]:
    with proxy_harness.fake_docker(tmp_path) as docker, proxy_harness.threaded_proxy(tmp_path, docker.path) as proxy:
        yield Front(docker, proxy)


@pytest.mark.parametrize(("method", "target", "headers", "status"), REFUSED, ids=list(map(_ids, REFUSED)))
def test_a_refused_request_never_reaches_docker_and_is_logged(
    front: Front, method: str, target: str, headers: dict[str, str], status: int
):
    answer = request(front.socket, request_bytes(method, target, headers), head=method == "HEAD")
    assert answer.status == status
    assert answer.headers["connection"] == "close"
    if method != "HEAD":
        assert answer.headers["content-type"] == "application/json"
        assert set(answer.json()) == {"message"}
    assert front.docker.received == []
    [line] = front.proxy.lines
    if not method.isupper() or not target.startswith("/"):  # malformed: the request line as it came
        assert line.startswith(f"refused {json.dumps(f'{method} {target} HTTP/1.1')}: ")
    else:
        assert line.startswith(f"refused {method} {json.dumps(target)}: ")
    assert line.endswith(f"({status})")


def test_a_body_sent_with_the_request_is_refused_and_never_forwarded(front: Front):
    answer = request(front.socket, request_bytes("GET", "/containers/json", {"Content-Length": "4"}, b"ABCD"))
    assert answer.status == 403
    data = request_bytes("GET", "/containers/json") + b"POST /containers/create HTTP/1.1\r\n\r\n"
    assert request(front.socket, data).status == 403, "a pipelined second request is a body too"
    assert front.docker.received == []


def test_only_safe_headers_are_forwarded_and_relayed(front: Front):
    answer = get(
        front.socket,
        "/v1.41/version",
        headers={"User-Agent": "Traefik 3.7", "Authorization": "Basic eDp5", "Cookie": "a=b", "X-Registry-Auth": "e"},
    )
    assert answer.status == 200
    [received] = front.docker.received
    assert (received.method, received.path) == ("GET", "/v1.41/version")
    assert {key.lower() for key in received.headers} == {"host", "user-agent", "connection"}
    assert received.headers["User-Agent"] == "Traefik 3.7"
    assert answer.headers["api-version"] == "1.41", "the client's version negotiation reads it"
    assert "x-secret-header" not in answer.headers


def test_ping_answers_get_and_head_with_the_api_version(front: Front):
    assert get(front.socket, "/_ping").body == b"OK"
    head = get(front.socket, "/_ping", method="HEAD")
    assert (head.status, head.headers["api-version"], head.body) == (200, "1.41", b"")
    assert [r.method for r in front.docker.received] == ["GET", "HEAD"]


def test_an_inspect_loses_the_environment_and_command_lines(front: Front):
    answer = get(front.socket, f"/v1.41/containers/{ID}/json")
    assert answer.status == 200
    assert b"secret" not in answer.body
    document = answer.json()
    assert set(document["Config"]) == {"Labels", "Image"}
    assert "Args" not in document
    assert document["State"]["Health"] == {"Status": "healthy"}
    # What Traefik reads is all there.
    assert document["Config"]["Labels"] == {"traefik.enable": "true"}
    assert document["NetworkSettings"] == proxy_harness.FAKE_INSPECT["NetworkSettings"]
    assert (document["Id"], document["Name"], document["HostConfig"]) == ("f" * 64, "/glab", {"NetworkMode": "bridge"})


def test_the_container_list_loses_the_command_lines(front: Front):
    answer = get(front.socket, "/containers/json?all=1")
    assert answer.status == 200
    assert answer.json() == [{"Id": "f" * 64, "Names": ["/glab"], "Labels": {}}]


def test_dockers_errors_are_relayed_as_they_are(front: Front):
    answer = get(front.socket, "/containers/missing/json")
    assert (answer.status, answer.json()) == (404, {"message": "No such container: missing"})


def test_an_answer_not_shaped_as_expected_is_not_relayed(front: Front):
    front.docker.server.inspect = [{"Config": {"Env": ["A=secret"]}}]
    answer = get(front.socket, f"/containers/{ID}/json")
    assert answer.status == 502
    assert b"secret" not in answer.body
    assert any("not as expected" in line for line in front.proxy.lines)


def test_the_event_stream_keeps_only_container_life_cycle_events(front: Front):
    with proxy_harness.open_stream(front.socket, "/events?filters=%7B%7D") as stream:
        assert stream.status == 200
        assert stream.getheader("Transfer-Encoding") == "chunked"
        assert front.docker.server.events_sent.wait(10)
        front.docker.server.end_events.set()
        lines = stream.read().splitlines()
    assert [json.loads(line)["Action"] for line in lines] == ["start", "health_status: healthy", "die"]


def test_the_event_stream_is_relayed_as_it_comes_and_closed_with_its_client(front: Front):
    with proxy_harness.open_stream(front.socket, "/v1.41/events") as stream:
        first = json.loads(stream.readline())
        assert first["Action"] == "start", "relayed before Docker ends the stream"
    assert front.docker.server.events_closed.wait(10), "the proxy hangs up on Docker when its client does"


def test_docker_down_is_a_502_and_a_log_line(tmp_path: Path):
    with proxy_harness.threaded_proxy(tmp_path, tmp_path / "gone.sock") as proxy:
        answer = get(proxy.socket_path, "/_ping")
    assert (answer.status, answer.json()) == (502, {"message": "the Docker engine did not answer"})
    assert any(line.startswith('Docker did not answer GET "/_ping"') for line in proxy.lines)


def test_a_client_too_slow_to_send_its_request_is_dropped(front: Front, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(docker_proxy, "REQUEST_TIMEOUT", 0.5)
    with socket.socket(socket.AF_UNIX) as slow:
        slow.settimeout(10)
        slow.connect(str(front.socket))
        started = time.monotonic()
        slow.sendall(b"GET /_ping HTTP/1.1\r\n")
        answer = slow.recv(65536)
        assert time.monotonic() - started < 5
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert front.docker.received == []


def test_a_client_dripping_its_request_is_dropped_at_the_deadline(front: Front, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(docker_proxy, "REQUEST_TIMEOUT", 1.0)
    with socket.socket(socket.AF_UNIX) as slow:
        slow.settimeout(10)
        slow.connect(str(front.socket))
        started = time.monotonic()
        try:
            for byte in b"GET /_ping HTTP/1.1\r\nX-Slow: " + b"y" * 100:
                slow.sendall(bytes([byte]))
                time.sleep(0.1)  # each byte well within a read's timeout, the whole far beyond the deadline
        except OSError:
            pass  # closed by the proxy
        answer = slow.recv(65536)
        assert time.monotonic() - started < 5
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert front.docker.received == []


def test_bad_clients_never_bring_the_proxy_down(front: Front):
    garbage = [b"", b"\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00", b"\xff" * 70000, b"GET / HTTP/1.1\r\n" * 5000]
    for data in garbage:
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(10)
            client.connect(str(front.socket))
            try:
                client.sendall(data)
                client.shutdown(socket.SHUT_WR)
                client.recv(65536)
            except OSError:
                pass  # the proxy may close while a huge request is still being sent
    # Many at once, some abandoned halfway.
    threads = [threading.Thread(target=get, args=(front.socket, "/_ping")) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert get(front.socket, "/_ping").body == b"OK"
    assert all(not line.startswith("error while serving") for line in front.proxy.lines), front.proxy.lines


# ---------------------------------------------------------------------------------------------
# In front of the real engine, run as a host runs it
# ---------------------------------------------------------------------------------------------


@dataclass
class Engine:
    proxy: proxy_harness.RunningProxy
    container: str
    """Id of a running container created for the test, with `SECRET` in its environment."""
    api: str
    image: str

    @property
    def socket(self) -> Path:
        return self.proxy.socket_path


def _docker_direct(target: str) -> Answer:
    return get(DOCKER_SOCKET, target)


def _remove_leftovers() -> None:
    found = harness.docker("ps", "-aq", "--filter", f"label={harness.TEST_LABEL}=docker-proxy", check=False)
    ids = found.stdout.split()
    if ids:
        harness.docker("rm", "--force", *ids, check=False)


def _run_container(name: str, image: str) -> str:
    done = harness.docker(
        "run", "--detach", "--name", name, "--label", f"{harness.TEST_LABEL}=docker-proxy",
        "--env", f"LAB_SECRET={SECRET}", image, "/serve.sh", name, "8080",
    )  # fmt: skip
    return done.stdout.strip()


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if not harness.docker_ready():
        missing("no Docker engine answers `docker version` (CI's .ci/run starts one)")
    image = harness.standin_image()
    folder = tmp_path_factory.mktemp("docker-proxy")
    # Held throughout: the events the tests read and the containers they count are this module's alone
    # (xdist may set this fixture up in more than one worker).
    with harness.exclusive_engine():
        _remove_leftovers()
        try:
            container = _run_container(f"{NAME_PREFIX}-{uuid.uuid4().hex[:8]}", image)
            api = _docker_direct("/version").json()["ApiVersion"]
            with proxy_harness.running_proxy(folder, DOCKER_SOCKET, "--verbose") as proxy:
                yield Engine(proxy, container, api, image)
        finally:
            _remove_leftovers()


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.slow
@pytest.mark.xdist_group("docker-engine")
def test_the_real_engine_answers_ping(engine: Engine, method: str):
    answer = get(engine.socket, "/_ping", method=method)
    assert answer.status == 200
    assert answer.headers["api-version"] == engine.api
    assert answer.body == (b"" if method == "HEAD" else b"OK")


@pytest.mark.slow
@pytest.mark.xdist_group("docker-engine")
def test_the_real_engine_answers_version_as_docker_does(engine: Engine):
    for target in ("/version", f"/v{engine.api}/version"):
        answer = get(engine.socket, target)
        assert answer.status == 200
        assert answer.json()["ApiVersion"] == engine.api


@pytest.mark.slow
@pytest.mark.xdist_group("docker-engine")
def test_the_container_list_comes_through_without_command_lines(engine: Engine):
    direct = _docker_direct("/containers/json?all=1")
    assert SECRET.encode() not in direct.body, "Docker's list carries no environment"
    assert all("Command" in container for container in direct.json())
    for target in ("/containers/json?all=1", f"/v{engine.api}/containers/json?all=1"):
        answer = get(engine.socket, target)
        assert answer.status == 200
        listed = {container["Id"]: container for container in answer.json()}
        assert engine.container in listed
        assert all("Command" not in container for container in listed.values())
        assert listed[engine.container]["Labels"][harness.TEST_LABEL] == "docker-proxy"


@pytest.mark.slow
@pytest.mark.xdist_group("docker-engine")
def test_a_newer_api_version_than_the_engines_is_docker_s_own_answer(engine: Engine):
    direct, proxied = _docker_direct("/v1.99/containers/json"), get(engine.socket, "/v1.99/containers/json")
    assert (proxied.status, proxied.json()) == (direct.status, direct.json())


@pytest.mark.slow
@pytest.mark.xdist_group("docker-engine")
def test_an_inspect_comes_through_without_the_environment(engine: Engine):
    direct = _docker_direct(f"/containers/{engine.container}/json")
    assert f"LAB_SECRET={SECRET}" in direct.json()["Config"]["Env"], "the test container holds the secret"
    name = direct.json()["Name"].lstrip("/")
    for target in (
        f"/containers/{engine.container}/json",
        f"/v{engine.api}/containers/{engine.container[:12]}/json",
        f"/containers/{name}/json",
    ):
        answer = get(engine.socket, target)
        assert answer.status == 200
        assert SECRET.encode() not in answer.body
        document = answer.json()
        assert "Env" not in document["Config"] and "Cmd" not in document["Config"] and "Args" not in document
        # What Traefik's Docker provider reads is as Docker says.
        for key in ("Id", "Name", "NetworkSettings"):
            assert document[key] == direct.json()[key], key
        assert document["State"]["Running"] is True
        assert document["Config"]["Labels"] == direct.json()["Config"]["Labels"]
        assert document["HostConfig"]["NetworkMode"] == direct.json()["HostConfig"]["NetworkMode"]
    assert get(engine.socket, "/containers/no-such-container-here/json").status == 404


def _read_until(stream: http.client.HTTPResponse, wanted: str, action: str, timeout: float = 30) -> list[dict]:
    """Events from `stream` up to the one for container `wanted` with `action`."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        event = json.loads(line)
        seen.append(event)
        if event.get("Action") == action and event.get("Actor", {}).get("ID") == wanted:
            return seen
    pytest.fail(f"no {action} event for {wanted[:12]} within {timeout} s; saw {seen}")


@pytest.mark.slow
@pytest.mark.xdist_group("docker-engine")
def test_events_stream_through_without_exec_commands(engine: Engine):
    filters = urllib.parse.quote(json.dumps({"type": {"container": True}}))
    target = f"/v{engine.api}/events?filters={filters}"
    exec_marker = f"exec-{uuid.uuid4().hex[:8]}"
    with (
        proxy_harness.open_stream(engine.socket, target, timeout=60) as proxied,
        proxy_harness.open_stream(DOCKER_SOCKET, target, timeout=60) as direct,
    ):
        assert proxied.status == 200
        harness.docker("exec", engine.container, "echo", exec_marker)
        started = _run_container(f"{NAME_PREFIX}-{uuid.uuid4().hex[:8]}", engine.image)
        relayed = _read_until(proxied, started, "start")
        unfiltered = _read_until(direct, started, "start")
    assert any(exec_marker in event.get("Action", "") for event in unfiltered), "Docker names the exec's command"
    assert all(exec_marker not in json.dumps(event) for event in relayed)
    assert all(not event["Action"].startswith("exec_") for event in relayed)
    assert relayed[-1]["Actor"]["Attributes"]["name"].startswith(NAME_PREFIX)


EVIL_NAME = f"{NAME_PREFIX}-evil"
ENGINE_REFUSED = [
    ("POST", "/containers/create", {"Content-Type": "application/json"}, b'{"Image": "{image}", "Cmd": ["id"]}'),
    ("POST", f"/containers/create?name={EVIL_NAME}", {"Content-Type": "application/json"}, b'{"Image": "{image}"}'),
    ("POST", "/v{api}/containers/create", {}, b""),
    ("POST", "/containers/{id}/stop", {}, b""),
    ("POST", "/containers/{id}/kill", {}, b""),
    ("DELETE", "/containers/{id}?force=1", {}, b""),
    ("POST", "/containers/{id}/exec", {"Content-Type": "application/json"}, b'{"Cmd": ["id"]}'),
    ("POST", "/exec/{id}/start", {}, b""),
    ("GET", "/containers/{id}/logs?stdout=1&stderr=1", {}, b""),
    ("GET", "/containers/{id}/archive?path=/serve.sh", {}, b""),
    ("GET", "/containers/{id}/export", {}, b""),
    ("GET", "/images/json", {}, b""),
    ("GET", "/info", {}, b""),
    ("GET", "/secrets", {}, b""),
    ("GET", "/networks", {}, b""),
    ("GET", "/containers/json", {"Content-Type": "application/json"}, b'{"all": true}'),
    ("GET", "/containers/{id}/attach/ws?stream=1", {"Upgrade": "websocket", "Connection": "Upgrade"}, b""),
    ("POST", "/containers/{id}/attach?stream=1", {"Upgrade": "tcp", "Connection": "Upgrade"}, b""),
    ("GET", "/containers/json/../create", {}, b""),
    ("GET", "//containers/json", {}, b""),
    ("GET", "/containers/%2e%2e/images/json", {}, b""),
    ("GET", "/v{api}/../containers/create", {}, b""),
    ("GET", "/v{api}/../info", {}, b""),
    ("GET", "/containers/json?x=/../", {}, b""),
    ("GET", "/containers/{id}/json/../logs", {}, b""),
]


@pytest.mark.slow
@pytest.mark.xdist_group("docker-engine")
def test_the_real_engine_is_never_changed_or_read_beyond_traefiks_needs(engine: Engine):
    logged_before = len(engine.proxy.refused())
    answers = []
    filters = urllib.parse.quote(json.dumps({"type": ["container"]}))
    with proxy_harness.open_stream(DOCKER_SOCKET, f"/events?filters={filters}", timeout=60) as direct:
        for method, target, headers, body in ENGINE_REFUSED:
            target = target.format(id=engine.container, api=engine.api)
            body = body.replace(b"{image}", engine.image.encode())
            if body:
                headers = {**headers, "Content-Length": str(len(body))}
            answer = request(engine.socket, request_bytes(method, target, headers, body), head=method == "HEAD")
            answers.append((method, target, answer.status, answer.body))
        # Docker's own events up to a container of ours started after the batch: all the engine did meanwhile.
        sentinel = _run_container(f"{NAME_PREFIX}-{uuid.uuid4().hex[:8]}", engine.image)
        seen = _read_until(direct, sentinel, "start")
    # What the engine did (checked first: it is the point), then what the proxy answered.
    created = [e for e in seen if e["Action"] == "create" and e["Actor"]["ID"] != sentinel]
    assert [e for e in created if e["Actor"]["Attributes"].get("image") == engine.image] == []
    assert [e for e in seen if e["Actor"]["ID"] == engine.container] == [], "not stopped, killed, exec'd, read"
    assert harness.docker("ps", "-aq", "--filter", f"name={EVIL_NAME}").stdout.strip() == ""
    state = _docker_direct(f"/containers/{engine.container}/json").json()["State"]
    assert state["Running"] is True and state["Restarting"] is False
    assert [(m, t, s) for m, t, s, _ in answers if s not in (400, 403, 405)] == []
    assert all(set(json.loads(body)) == {"message"} for *_, body in answers)
    # The engine itself answers what the proxy refused: the proxy, not Docker, said no.
    assert _docker_direct("/info").status == 200
    assert len(engine.proxy.refused()) - logged_before == len(ENGINE_REFUSED)
    for (method, target, status, _), line in zip(answers, engine.proxy.refused()[logged_before:], strict=True):
        assert line.startswith(f"refused {method} {json.dumps(target)}: ") and line.endswith(f"({status})")
