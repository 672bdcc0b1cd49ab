"""`python -m ops lab`: its arguments checked before any AWS call, and each action against a real AWS API emulator
(moto's server on 127.0.0.1; those tests are slow)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ops.cli import main
from tests.aws_emulator import STACK, aws, launch, moto_endpoint
from tests.conftest import ROOT

__all__ = ["aws", "moto_endpoint"]  # fixtures used by name


def state_of(ec2: Any, instance: str) -> str:
    return str(ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]["State"]["Name"])


def lab(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["lab", *args, "--stack", STACK])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.slow
def test_start_starts_a_stopped_lab_and_waits_until_it_runs(aws, capsys):
    instance = launch(aws, "lab1", state="stopped")
    code, out, _ = lab(capsys, "start", "lab1", "--wait", "--no-health")
    assert code == 0
    assert out.strip() == f"lab1 is running ({instance})"
    assert state_of(aws, instance) == "running"


@pytest.mark.slow
def test_starting_a_running_lab_says_so_and_succeeds(aws, capsys):
    instance = launch(aws, "lab1")
    code, out, _ = lab(capsys, "start", "lab1")
    assert (code, out.strip()) == (0, f"lab1 is already running ({instance})")


@pytest.mark.slow
def test_stop_stops_a_running_lab_and_is_idempotent(aws, capsys):
    instance = launch(aws, "lab1")
    code, out, _ = lab(capsys, "stop", "lab1", "--wait")
    assert (code, out.strip()) == (0, f"lab1 is stopped ({instance})")
    assert state_of(aws, instance) == "stopped"
    code, out, _ = lab(capsys, "stop", "lab1")
    assert (code, out.strip()) == (0, f"lab1 is already stopped ({instance})")


@pytest.mark.slow
def test_stopping_a_hub_or_the_space_is_refused(aws, capsys):
    hub = launch(aws, "hub")
    for server in ("hub", "space"):
        code, _, err = lab(capsys, "stop", server)
        assert code == 1
        assert "always on, stopping is refused" in err
    assert state_of(aws, hub) == "running"


class _Health(BaseHTTPRequestHandler):
    calls = 0

    def do_GET(self) -> None:
        type(self).calls += 1
        self.send_response(200 if type(self).calls >= 3 else 503)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.slow
def test_start_wait_also_waits_for_the_lab_manager_health_check(aws, capsys):
    launch(aws, "lab1", state="stopped")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/health-check"
        code, out, err = lab(capsys, "start", "lab1", "--wait", "--health-url", url, "--json")
    finally:
        server.shutdown()
    assert code == 0
    assert json.loads(out)["message"].endswith("lab manager healthy")
    assert "waiting for the lab manager" in err, "progress is shown while waiting"
    assert _Health.calls >= 3


@pytest.mark.slow
def test_status_shows_state_next_start_and_stop_and_weekly_hours(aws, capsys):
    instance = launch(aws, "lab1", state="stopped")
    code, out, _ = lab(capsys, "status", "lab1", "--json")
    report = json.loads(out)
    assert code == 0
    assert (report["instanceId"], report["state"], report["timezone"]) == (instance, "stopped", "Europe/Paris")
    assert report["nextStart"].endswith(("+01:00", "+02:00")) and "T08:00:00" in report["nextStart"]
    assert "T19:00:00" in report["nextStop"]
    assert 52.0 <= report["weeklyRunningHours"] <= 56.0
    code, text, _ = lab(capsys, "status", "lab1")
    assert text.startswith(f"lab1 (lab): stopped  [{instance}]") and "this week:" in text


@pytest.mark.slow
def test_status_of_a_parked_lab_has_no_next_start(aws, capsys):
    launch(aws, "lab2", state="stopped")
    report = json.loads(lab(capsys, "status", "lab2", "--json")[1])
    assert (report["declaredState"], report["nextStart"], report["nextStop"]) == ("stopped", None, None)


@pytest.mark.slow
def test_a_lab_without_an_instance_is_one_line_and_non_zero(aws, capsys):
    launch(aws, "lab1", stack="another-stack")
    code, _, err = lab(capsys, "status", "lab1")
    assert code == 1
    assert err.strip() == (
        "error: no instance tagged constellab:stack=acme-cloud, constellab:server=lab1 in eu-west-3: "
        "is the stack deployed?"
    )


@pytest.mark.slow
def test_two_instances_with_the_same_tags_are_refused(aws, capsys):
    first, second = launch(aws, "lab1"), launch(aws, "lab1")
    code, _, err = lab(capsys, "start", "lab1")
    assert code == 1
    assert "2 instances tagged" in err and first in err and second in err and "expected exactly one" in err


@pytest.mark.slow
def test_missing_credentials_are_named(aws, capsys, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    code, _, err = lab(capsys, "status", "lab1")
    assert code == 1
    assert err.strip() == "error: no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"


class _Refusing(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = (
            b"<Response><Errors><Error><Code>UnauthorizedOperation</Code>"
            b"<Message>You are not authorized to perform this operation.</Message></Error></Errors>"
            b"<RequestID>x</RequestID></Response>"
        )
        self.send_response(403)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.slow
def test_an_aws_error_is_reported_with_its_code_and_message(aws, capsys, monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        code, _, err = lab(capsys, "start", "lab1")
    finally:
        server.shutdown()
    assert code == 1
    assert err.strip() == (
        "error: AWS refused describe_instances: UnauthorizedOperation: "
        "You are not authorized to perform this operation."
    )


@pytest.mark.slow
def test_unknown_stack_and_server_are_usage_errors():
    for args, message in (
        (["status", "lab1", "--stack", "nobody"], "error: unknown stack 'nobody'"),
        (["status", "lab9", "--stack", STACK], "error: stack 'acme-cloud' has no server 'lab9'"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "ops", "lab", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2
        assert result.stderr.startswith(message) and len(result.stderr.strip().splitlines()) == 1


def test_a_bad_health_url_is_refused_before_any_aws_call(capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing must be asked
    assert main(["lab", "start", "lab1", "--stack", "acme-cloud", "--wait", "--health-url", "notaurl"]) == 2
    assert "--health-url 'notaurl': give an http(s) URL" in capsys.readouterr().err
