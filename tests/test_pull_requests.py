"""Pull-request previews: JSON schema, Markdown and Mermaid, --against a git ref, workflows, CI matrices."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from offline.diff import diff_stack
from offline.report import MARKER
from tests.conftest import ROOT, tool
from tests.preview_documents import document, resource

SCHEMA = json.loads((ROOT / "docs" / "preview.schema.json").read_text())
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def ops(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(cwd), "HOME": str(cwd)},
    )


@pytest.fixture(scope="module")
def preview_json() -> dict[str, Any]:
    result = ops("preview", "--stack", "acme-cloud", "--stack", "pharma-onprem", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_json_preview_follows_its_documented_schema(preview_json):
    jsonschema.validate(preview_json, SCHEMA)
    acme = next(s for s in preview_json["stacks"] if s["stack"] == "acme-cloud")
    volume = next(r for r in acme["resources"] if r["name"] == "acme-lab1-host-server-data")
    assert volume["options"]["protect"] and volume["options"]["retainOnDelete"]
    assert volume["id"].startswith("vol-") and volume["inputs"]["encrypted"] is True
    instance = next(r for r in acme["resources"] if r["name"] == "acme-lab1-host-server-instance")
    assert instance["options"]["ignoreChanges"] == ["ami", "userData"]
    assert any(urn.endswith("acme-lab1-host-server-sg") for urn in instance["options"]["dependsOn"])
    container = next(r for r in acme["resources"] if r["name"] == "acme-lab1-host-containers-lab-manager")
    assert container["options"]["provider"].endswith("::acme-lab1-host-docker")
    assert container["inputs"]["envs"] == "[secret]", "secret inputs are masked"
    managed = acme["labManager"]["lab1"]
    assert managed["configuredBy"] == "space" and managed["host"] == "lab1.acme.constellab.app"
    assert {c["name"] for c in managed["containers"]} >= {"front", "glab", "codelab", "gws_biota_db"}
    assert acme["schedules"] == {
        "lab1": {"weeklyRunningHours": 55.0, "savingPercent": 67.3},
        "lab2": {"weeklyRunningHours": 0.0, "savingPercent": 100.0},
    }


def test_the_markdown_comment_has_a_summary_diagram_and_details(preview_json):
    result = ops("preview", "--stack", "acme-cloud", "--format", "markdown")
    assert result.returncode == 0, result.stderr
    comment = result.stdout
    assert comment.startswith(MARKER)
    acme = next(s for s in preview_json["stacks"] if s["stack"] == "acme-cloud")
    assert f"| acme-cloud | {acme['summary']['resources']} | – | – | – | – | 0 | no comparison |" in comment
    assert "```mermaid\nflowchart LR" in comment
    assert "<details><summary>Guardrails (0 violation(s))</summary>" in comment
    assert "| lab1 | 55.0 | 67.3% |" in comment
    assert "offline-placeholder" not in comment


def test_the_mermaid_diagram_shows_servers_containers_dns_and_buckets():
    result = ops("preview", "--stack", "biolab-hybrid", "--format", "mermaid")
    assert result.returncode == 0, result.stderr
    diagram = result.stdout
    assert diagram.startswith("flowchart LR")
    assert 'subgraph srv__biolab_hybrid__analysis["analysis · lab · cloud · ⏱ scheduled + idle stop"]' in diagram
    assert 'ctr__biolab_hybrid__hub__reverse_proxy["reverse_proxy"]' in diagram
    # What the lab manager runs is drawn from the one description of its set, marked as its own.
    assert 'subgraph mgd__biolab_hybrid__hub["run by the lab manager"]' in diagram
    assert 'mgc__biolab_hybrid__hub__gws_biota_db["gws_biota_db<br/>prod, dev"]' in diagram, "the hub has Biota"
    assert "mgc__biolab_hybrid__analysis__gws_biota_db" not in diagram
    assert "class " in diagram and "mgc__biolab_hybrid__hub__glab" in diagram.split("class ", 1)[1]
    assert '(["hub.biolab.constellab.app<br/>*.hub.biolab.constellab.app"])' in diagram
    manager = "ctr__biolab_hybrid__analysis__lab_manager"
    assert f"{manager} --> bkt__biolab_hybrid__biolab_analysis_backup_daily_" in diagram
    assert f"{manager} --> bkt__biolab_hybrid__biolab_analysis_backup_weekly_" in diagram


def test_a_changed_availability_zone_replaces_the_data_volume_and_is_dangerous():
    before = resource("aws:ebs/volume:Volume", "data", {"availabilityZone": "eu-west-3a", "size": 100}, protect=True)
    after = copy.deepcopy(before)
    after["inputs"] = {"availabilityZone": "eu-west-3b", "size": 200}
    result = diff_stack(document(before), document(after))
    assert result["changed"][0]["replace"] and result["changed"][0]["replaceBecause"] == ["availabilityZone"]
    assert [d["action"] for d in result["dangerous"]] == ["replace"]
    assert "replaced by an empty data volume" in result["dangerous"][0]["reason"]


def test_a_new_image_is_ignored_and_a_new_type_updates_in_place():
    before = resource(
        "aws:ec2/instance:Instance", "vm", {"ami": "ami-1", "instanceType": "t3.large"}, ignoreChanges=["ami"]
    )
    after = copy.deepcopy(before)
    after["inputs"] = {"ami": "ami-2", "instanceType": "t3.xlarge"}
    changed = diff_stack(document(before), document(after))["changed"][0]
    assert not changed["replace"] and [c["input"] for c in changed["changes"]] == ["instanceType"]
    assert changed["ignored"] == ["ami"] and changed["stopStart"] == ["instanceType"]


def test_a_moved_or_removed_database_is_dangerous_and_a_subnet_change_replaces():
    db = resource(
        "docker:index/container:Container",
        "db",
        {"volumes": [{"hostPath": "/app/a", "containerPath": "/var/lib/mysql"}]},
    )
    moved = copy.deepcopy(db)
    moved["inputs"]["volumes"][0]["hostPath"] = "/app/b"
    vm = resource("aws:ec2/instance:Instance", "vm", {"subnetId": "subnet-1"})
    vm2 = copy.deepcopy(vm)
    vm2["inputs"]["subnetId"] = "subnet-2"
    result = diff_stack(document(db, vm), document(moved, vm2))
    assert [(d["name"], d["action"]) for d in result["dangerous"]] == [("db", "move")]
    assert next(c for c in result["changed"] if c["name"] == "vm")["replaceBecause"] == ["subnetId"]
    removed = diff_stack(document(db), document())
    assert [(d["name"], d["action"]) for d in removed["dangerous"]] == [("db", "remove")]


def test_a_new_stack_adds_everything_and_dropping_protection_is_dangerous():
    bucket = resource("aws:s3/bucket:Bucket", "b", {"bucketPrefix": "x-"}, protect=True)
    assert diff_stack(None, document(bucket))["new"] is True
    unprotected = copy.deepcopy(bucket)
    unprotected["options"]["protect"] = False
    result = diff_stack(document(bucket), document(unprotected))
    assert [d["action"] for d in result["dangerous"]] == ["unprotect"]


def test_an_unknown_git_ref_is_one_line_and_exit_2():
    result = ops("preview", "--stack", "local", "--against", "no-such-ref")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: unknown git ref 'no-such-ref'"]


def test_a_yaml_error_is_one_line_and_exit_2(tmp_path: Path):
    broken = tmp_path / "Pulumi.broken.yaml"
    broken.write_text("config: [\n")
    result = ops("preview", "--stack", str(broken))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "not valid YAML: line" in result.stderr


def _repository_copy(target: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True
    ).stdout.splitlines()
    for name in listed:
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git[:1], "init", "-q", "-b", "main"], cwd=target, check=True)
    subprocess.run([*git, "add", "-A"], cwd=target, check=True)
    subprocess.run([*git, "commit", "-qm", "before"], cwd=target, check=True)


@pytest.mark.slow
def test_against_a_git_ref_reports_added_changed_replaced_and_dangerous(tmp_path: Path):
    _repository_copy(tmp_path)
    path = tmp_path / "stacks" / "Pulumi.acme-cloud.yaml"
    document_ = yaml.safe_load(path.read_text())
    platform = document_["config"]["constellab:platform"]
    platform["labs"] = [lab for lab in platform["labs"] if lab["name"] != "lab2"]  # removes its bucket and volume
    platform["labs"][0]["placement"]["instanceType"] = "t3.2xlarge"  # updated in place
    platform["network"]["availabilityZone"] = "eu-west-3b"  # subnet and data volumes replaced
    platform["hubs"][0]["backup"]["dailyDays"] = 10
    path.write_text(yaml.safe_dump(document_, sort_keys=False))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "commit", "-qam", "after"], cwd=tmp_path, check=True)

    result = ops("preview", "--stack", "acme-cloud", "--against", "HEAD~1", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    jsonschema.validate(report, SCHEMA)
    changes = report["diff"]["stacks"][0]
    dangerous = {(d["name"], d["action"]) for d in changes["dangerous"]}
    assert ("acme-lab2-backups-daily-bucket", "remove") in dangerous
    assert ("acme-lab2-backups-weekly-bucket", "remove") in dangerous
    assert ("acme-lab2-host-server-data", "remove") in dangerous
    assert ("acme-lab1-host-server-data", "replace") in dangerous
    changed = {c["name"]: c for c in changes["changed"]}
    assert changed["acme-network-public"]["replaceBecause"] == ["availabilityZone"]
    # The new zone's subnet is a new one, so is every instance in it: in place is not an option.
    assert changed["acme-lab1-host-server-instance"]["replace"] is True
    lifecycle = changed["acme-hub-backups-daily-lifecycle"]
    assert [c["input"] for c in lifecycle["changes"]] == ["rules"] and not lifecycle["replace"]

    comment = ops(
        "preview", "--stack", "acme-cloud", "--against", "HEAD~1", "--format", "markdown", cwd=tmp_path
    ).stdout
    assert comment.index("### ⚠️ Dangerous") < comment.index("### 🔌 Disruptive") < comment.index("### acme-cloud")
    assert (
        "**acme-cloud** `acme-lab2-backups-daily-bucket` (aws:Bucket) on lab2 — remove: this bucket and its data"
        " leave the stack (AWS keeps it: retain on delete)"
    ) in comment


@pytest.mark.slow
@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[w.name for w in WORKFLOWS])
def test_every_workflow_is_valid_for_github(workflow):
    checker = tool("check-jsonschema")
    result = subprocess.run(
        [checker, "--builtin-schema", "vendor.github-workflows", str(workflow)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_pull_request_preview_needs_no_secret_and_the_comment_runs_no_pr_code():
    preview = yaml.safe_load((ROOT / ".github/workflows/preview.yml").read_text())
    assert "secrets." not in (ROOT / ".github/workflows/preview.yml").read_text()
    assert preview[True]["pull_request"]["branches"] == ["main"]  # YAML reads `on` as True
    comment = yaml.safe_load((ROOT / ".github/workflows/preview-comment.yml").read_text())
    assert comment[True]["workflow_run"]["workflows"] == ["preview"]
    steps = comment["jobs"]["comment"]["steps"]
    assert not any("checkout" in str(step.get("uses", "")) for step in steps), "it must not check out the PR"
    script = steps[-1]["with"]["script"]
    assert "p.head.sha === run.head_sha" in script, "the PR number is not taken from the artifact on trust"


def test_deploys_run_one_at_a_time_per_customer_behind_environments():
    deploy = yaml.safe_load((ROOT / ".github/workflows/deploy.yml").read_text())
    up = deploy["jobs"]["up"]
    assert up["environment"] == "${{ matrix.stack }}"
    assert up["concurrency"] == {"group": "pulumi-up-${{ matrix.customer }}", "cancel-in-progress": False}
    assert up["strategy"]["matrix"]["include"] == "${{ fromJSON(needs.guardrails.outputs.matrix) }}"
    assert any("ssh-add" in str(step.get("run", "")) for step in up["steps"]), "Docker is reached over SSH"
    assert any(step.get("with", {}).get("policyPacks") == "policies" for step in up["steps"])


def test_stacks_for_ci_matrices_carry_their_customer_and_leave_out_excluded_ones():
    result = ops("stacks", "--deployable", "--format", "json")
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)
    assert {"stack": "acme-cloud", "customer": "acme"} in entries
    assert "local" not in {entry["stack"] for entry in entries}
