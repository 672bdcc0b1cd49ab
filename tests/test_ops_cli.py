"""The `python -m ops` command line, as a user runs it."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

import pytest

from offline import documents as preview
from ops.cli import main
from tests.conftest import ROOT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ops", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_validate_accepts_every_shipped_stack(capsys):
    assert main(["validate"]) == 0
    assert capsys.readouterr().out.count(": valid") >= 4


def test_validate_reports_every_problem_and_exits_non_zero(tmp_path, capsys):
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text(
        "config:\n  constellab:platform:\n    customer: Bad\n    baseDomain: x.example\n"
        "    dns: {provider: none}\n  constellab:communityApiKey: plain\n"
    )
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "customer: 'Bad' is not a DNS label" in err
    assert "images: required: add it" in err
    assert "constellab:communityApiKey: is stored in plain text" in err


def test_preview_of_an_unknown_stack_is_one_line_and_exit_2():
    result = run("preview", "--stack", "nobody")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: unknown stack 'nobody' (stacks: acme-cloud, biolab-hybrid, local, pharma-onprem)"
    ]


def test_preview_prints_the_tree_counts_and_masked_outputs():
    result = run("preview", "--stack", "biolab-hybrid")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Platform biolab" in out
    assert "├─ Network biolab-network" in out and "└─ DataLab biolab-analysis" in out
    assert "ContainerSet biolab-analysis-host-containers  [docker:Container ×2, docker:Network ×3" in out
    assert "LabConfiguration biolab-analysis-host-configuration  [command:Command" in out
    assert "Run by each lab manager (its own template; not declared by this program):" in out
    assert "    glab              prod environment [prod]: glab.analysis.biolab.constellab.app → :3000" in out
    assert "codelab.analysis.biolab.constellab.app → :8080 (basic auth)" in out and "publishes 2222" in out
    assert "docker:index/container:Container" in out
    assert "credentials: '[secret]'" in out
    assert "offline-placeholder" not in out and "mock-secret" not in out


def test_preview_json_lists_every_stack_with_masked_outputs():
    result = run("preview", "--all", "--format", "json")
    assert result.returncode == 0, result.stderr
    stacks = {s["stack"]: s for s in json.loads(result.stdout)["stacks"]}
    assert set(stacks) == {"acme-cloud", "biolab-hybrid", "local", "pharma-onprem"}
    assert stacks["local"]["outputs"]["credentials"] == "[secret]"
    assert stacks["acme-cloud"]["summary"]["byType"]["aws:ec2/instance:Instance"] == 4
    gates = [r for r in stacks["acme-cloud"]["resources"] if r["type"] == "pulumi-python:dynamic/power:Gate"]
    assert len(gates) == 8 and all("__provider" not in r["inputs"] for r in gates), "code, not configuration"


def test_help_lists_the_commands():
    result = run("--help")
    assert result.returncode == 0
    assert all(command in result.stdout for command in ("validate", "preview", "schema"))


def test_render_proxy_writes_the_files_with_secret_placeholders(tmp_path, capsys):
    assert main(["render-proxy", "--stack", "pharma-onprem", "--server", "hub", "--out", str(tmp_path)]) == 0
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["certs/fullchain.pem", "certs/privkey.pem", "dynamic/core.yml", "traefik.yml"]
    assert (tmp_path / "certs/privkey.pem").read_text().startswith("<secret tls-private-key")
    assert (tmp_path / "certs/fullchain.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert "certFile: /certs/fullchain.pem" in (tmp_path / "dynamic/core.yml").read_text()
    assert "defaultRuleSyntax: v2" in (tmp_path / "traefik.yml").read_text()


def test_render_proxy_show_secrets_reads_them_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CONSTELLAB_TLS_PRIVATE_KEY", "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n")
    args = ["render-proxy", "--stack", "pharma-onprem", "--server", "hub", "--out", str(tmp_path), "--show-secrets"]
    assert main(args) == 0
    key = tmp_path / "certs/privkey.pem"
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert oct(key.stat().st_mode & 0o777) == "0o600"


def test_render_proxy_refuses_an_unknown_server_in_one_line():
    result = run("render-proxy", "--stack", "local", "--server", "lab9", "--out", "/tmp/never-written")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: stack 'local' has no server 'lab9' (servers: lab)"]


def test_parallel_previews_match_previews_one_at_a_time():
    parallel = run("preview", "--all", "--jobs", "2", "--format", "json")
    one_at_a_time = run("preview", "--all", "--jobs", "1", "--format", "json")
    assert parallel.returncode == 0, parallel.stderr
    assert one_at_a_time.returncode == 0, one_at_a_time.stderr
    assert json.loads(parallel.stdout) == json.loads(one_at_a_time.stdout)


def test_a_preview_worker_frees_its_garbage_only_past_its_limit(monkeypatch):
    def run_leaving_cycles(path: str) -> dict[str, str]:
        for _ in range(2_000):
            cycle: list[object] = []
            cycle.append(cycle)
        return {"stack": path}

    monkeypatch.setattr(preview, "_document_for", run_leaving_cycles)
    gc.collect()
    gc.disable()  # as in a worker
    try:
        monkeypatch.setattr(preview, "WORKER_GARBAGE_LIMIT", 100_000)
        assert preview._document_in_worker("under") == {"stack": "under"}
        assert gc.get_count()[0] >= 2_000
        monkeypatch.setattr(preview, "WORKER_GARBAGE_LIMIT", 1_000)
        assert preview._document_in_worker("past") == {"stack": "past"}
        assert gc.get_count()[0] < 1_000
    finally:
        gc.enable()


def test_a_reader_that_stops_early_gets_no_traceback():
    # More output than a pipe holds, so the preview is still writing when the reader leaves.
    process = subprocess.Popen(
        [sys.executable, "-m", "ops", "preview", "--stack", "pharma-onprem", "--format", "json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline()
    process.stdout.close()
    _, err = process.communicate(timeout=300)
    assert "Traceback" not in err
    assert process.returncode == 141


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["preview", "--stack", "local", "--jobs", "0"], "argument --jobs: 0 is too small: give 1 or more"),
        (["preview", "--stack", "local", "--jobs", "two"], "argument --jobs: 'two' is not a whole number"),
        (["rollout", "--max-failures", "0"], "argument --max-failures: 0 is too small: give 1 or more"),
        (["rollout", "--concurrency", "-1"], "argument --concurrency: -1 is too small: give 1 or more"),
        (["lab", "status", "lab1", "--stack", "acme-cloud", "--timeout", "nan"], "nan is not a duration"),
    ],
)
def test_counts_and_durations_out_of_range_are_usage_errors(args, expected, capsys):
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    assert expected in capsys.readouterr().err


def test_a_bad_health_url_is_refused_before_any_aws_call(capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing must be asked
    assert main(["lab", "start", "lab1", "--stack", "acme-cloud", "--wait", "--health-url", "notaurl"]) == 2
    assert "--health-url 'notaurl': give an http(s) URL" in capsys.readouterr().err


def test_a_stack_path_that_is_a_directory_is_named_as_such(tmp_path, capsys):
    folder = tmp_path / "Pulumi.folder.yaml"
    folder.mkdir()
    assert main(["preview", "--stack", str(folder)]) == 2
    assert (
        capsys.readouterr().err.strip() == f"error: {folder}: not a regular file (a stack file is Pulumi.<stack>.yaml)"
    )


def test_a_run_dir_under_a_file_is_refused_before_the_rollout_starts(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("ops.rollout.pulumi_cli_missing", lambda: None)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["rollout", "--wave", "canary", "--run-dir", str(blocker / "runs")]) == 2
    err = capsys.readouterr().err
    assert f"--run-dir {blocker / 'runs'}: {blocker} is a file" in err and "checking" not in err


def test_output_that_cannot_be_written_is_one_line_not_a_traceback():
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "ops", "stacks"], cwd=ROOT, stdout=full, stderr=subprocess.PIPE, text=True
        )
    assert result.returncode == 1
    assert result.stderr.strip() == "error: No space left on device"


def test_a_stack_named_twice_is_previewed_once():
    result = run("preview", "--stack", "local", "--stack", "local", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert [s["stack"] for s in json.loads(result.stdout)["stacks"]] == ["local"]


def test_options_of_another_format_are_refused_before_any_work(capsys):
    assert main(["preview", "--stack", "local", "--format", "json", "--out", "diagrams"]) == 2
    assert "--out writes one diagram file per stack: use it with --format mermaid" in capsys.readouterr().err
    assert main(["preview", "--stack", "local", "--full-report", "full.md"]) == 2
    assert "--full-report and --report-url belong to the pull-request comment" in capsys.readouterr().err
