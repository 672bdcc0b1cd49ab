"""`ops preview`, as a user runs it: the resource tree, counts and masked outputs, JSON, parallel workers
(`offline/documents.py`), and options refused before any work."""

from __future__ import annotations

import gc
import json

import pytest

from offline import documents as preview
from ops import common
from ops.cli import main
from tests.conftest import BROKEN_PLATFORM, STACK_NAMES, run_ops, without_secrets


def test_preview_prints_the_tree_counts_and_masked_outputs():
    result = run_ops("preview", "--stack", "biolab-hybrid")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Platform biolab" in out
    assert "├─ Network biolab-network" in out and "├─ DataLab biolab-analysis" in out
    assert "└─ AccessLogs biolab-access-logs" in out
    assert "ContainerSet biolab-analysis-host-containers  [docker:Container ×2, docker:Network ×3" in out
    assert "LabConfiguration biolab-analysis-host-configuration  [command:Command" in out
    assert "Run by each lab manager (its own template; not declared by this program):" in out
    assert "    glab              prod environment [prod]: glab.analysis.biolab.constellab.app → :3000" in out
    assert "codelab.analysis.biolab.constellab.app → :8080 (basic auth)" in out and "publishes 2222" in out
    assert "docker:index/container:Container" in out
    assert "credentials: '[secret]'" in out
    assert "offline-placeholder" not in out and "mock-secret" not in out
    # the on-prem hub is in the cost too, saying why it costs nothing here
    assert "  hub          $0.00/month  (on-prem: the host is not in AWS, nothing to price)" in out


def test_preview_json_lists_every_stack_with_masked_outputs():
    result = run_ops("preview", "--all", "--format", "json")
    assert result.returncode == 0, result.stderr
    stacks = {s["stack"]: s for s in json.loads(result.stdout)["stacks"]}
    assert set(stacks) == {"acme-cloud", "biolab-hybrid", "local", "pharma-onprem"}
    assert stacks["local"]["outputs"]["credentials"] == "[secret]"
    assert stacks["acme-cloud"]["summary"]["byType"]["aws:ec2/instance:Instance"] == 4
    gates = [r for r in stacks["acme-cloud"]["resources"] if r["type"] == "pulumi-python:dynamic/power:Gate"]
    assert len(gates) == 8 and all("__provider" not in r["inputs"] for r in gates), "code, not configuration"


def test_parallel_previews_match_previews_one_at_a_time():
    parallel = run_ops("preview", "--all", "--jobs", "2", "--format", "json")
    one_at_a_time = run_ops("preview", "--all", "--jobs", "1", "--format", "json")
    assert parallel.returncode == 0, parallel.stderr
    assert one_at_a_time.returncode == 0, one_at_a_time.stderr
    assert json.loads(parallel.stdout) == json.loads(one_at_a_time.stdout)


def test_a_preview_worker_frees_its_garbage_only_past_its_limit(monkeypatch):
    def run_leaving_cycles(path: str, pack_config: object = None) -> dict[str, str]:
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


def test_options_of_another_format_are_refused_before_any_work(capsys):
    assert main(["preview", "--stack", "local", "--format", "json", "--out", "diagrams"]) == 2
    assert "--out writes one diagram file per stack: use it with --format mermaid" in capsys.readouterr().err
    assert main(["preview", "--stack", "local", "--full-report", "full.md"]) == 2
    assert "--full-report and --report-url belong to the pull-request comment" in capsys.readouterr().err


def test_a_stack_whose_secrets_are_not_set_yet_is_previewed_and_says_so_once(tmp_path, capsys):
    path = without_secrets("acme-cloud", tmp_path)

    assert main(["preview", "--stack", str(path), "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["stacks"][0]["stack"] == "acme-cloud"
    notes = [line for line in captured.err.splitlines() if "not set yet" in line]
    assert len(notes) == 1, captured.err
    assert "constellab:cloudflareApiToken" in notes[0] and "labManagerApiKeys.hub" in notes[0]


def test_one_broken_stack_is_reported_and_the_others_are_previewed(stacks_copy, monkeypatch, capsys):
    monkeypatch.setattr(common, "STACKS", stacks_copy)
    (stacks_copy / "Pulumi.broken.yaml").write_text(BROKEN_PLATFORM)

    assert main(["preview", "--all", "--format", "json"]) == 1
    captured = capsys.readouterr()
    assert [s["stack"] for s in json.loads(captured.out)["stacks"]] == list(STACK_NAMES)
    assert "customer: 'Bad' is not a DNS label" in captured.err
    assert captured.err.strip().splitlines()[-1] == "error: 1 stack(s) not previewed, their problems are above: broken"


def test_the_preview_shows_each_stack_s_monthly_estimate_and_each_schedule_s_saving_in_dollars():
    result = run_ops("preview", "--stack", "acme-cloud")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # space 82.19 + hub 136.79 + lab1 70.78 + lab2 15.71 = 305.46 (tests/test_cost.py::test_acme_cloud_by_hand)
    assert "; usage-based S3, data transfer and scheduler costs not included): $305.46/month\n" in out
    assert "  lab1         $70.78/month  (scheduled: 55 h/week × 52/12 = 238.33 h/month" in out
    # lab1 saves its instance and metrics for (730 − 55 × 52/12) h: 491.667 × ($0.1888 + 7 × $0.30 / 730) = $94.24;
    # parked lab2 the whole 730 h × ($0.0952 + 7 × $0.30 / 730) = $71.60
    assert "  lab1: 55.0 h, 67.3% ($94.24/month) saved" in out
    assert "  lab2: 0.0 h, 100.0% ($71.60/month) saved" in out


def test_the_json_preview_carries_the_region_and_the_estimate_whose_saving_agrees_with_the_schedule():
    result = run_ops("preview", "--stack", "acme-cloud", "--format", "json")
    assert result.returncode == 0, result.stderr
    stack = json.loads(result.stdout)["stacks"][0]
    assert stack["region"] == "eu-west-3"
    cost = stack["cost"]
    assert (cost["monthlyUsd"], cost["complete"], cost["priceUnknown"]) == (305.46, True, 0)
    # 730 h × $0.112 + (30 + 500) GB × $0.0928 + 730 h × $0.005 + 1 alarm × $0.10 + 7 metrics × $0.30
    # = 81.76 + 49.184 + 3.65 + 0.10 + 2.10 = 136.794
    assert cost["servers"]["hub"]["monthlyUsd"] == 136.79
    # the cost's savingPercent is the share of the always-on cost saved: (730 − 55 × 52/12) / 730 = 67.4%, a little
    # above the schedule's share of the week stopped (1 − 55/168 = 67.3%): a full week × 52/12 is 728 h, not 730
    assert cost["servers"]["lab1"]["saving"]["savingPercent"] == 67.4
    assert stack["schedules"]["lab1"]["savingPercent"] == 67.3
    # parked: all of it either way
    assert cost["servers"]["lab2"]["saving"]["savingPercent"] == stack["schedules"]["lab2"]["savingPercent"] == 100


def test_an_instance_type_without_a_price_is_price_unknown_in_the_preview_never_zero():
    from offline.text import cost_lines

    instance = {
        "urn": "urn:pulumi:s::constellab::aws:ec2/instance:Instance::hub-instance",
        "type": "aws:ec2/instance:Instance",
        "name": "hub-instance",
        "custom": True,
        "inputs": {
            "instanceType": "u7in-32tb.224xlarge",
            "rootBlockDevice": {"volumeSize": 8, "volumeType": "gp3"},
            "tags": {"constellab:server": "hub"},
        },
    }
    document = {
        "stack": "s",
        "region": "us-east-1",
        "resources": [instance],
        "servers": {"hub": {"role": "hub", "placement": "cloud", "power": "always on"}},
        "schedules": {},
        "outputs": {},
    }
    cost = preview.cost_of(document)
    # the root volume alone is priced, 8 GB × $0.08 (us-east-1 gp3): the total is a lower bound
    assert (cost["monthlyUsd"], cost["priceUnknown"], cost["complete"]) == (0.64, 1, False)
    assert cost_lines(cost)[0].endswith(": at least $0.64/month, 1 price unknown")
    assert cost_lines(cost)[1] == "  hub          at least $0.64/month, 1 price unknown  (always on: 730 h/month)"


@pytest.mark.slow
def test_against_a_git_ref_a_new_lab_shows_its_monthly_delta_in_every_format(tmp_path):
    import subprocess

    import jsonschema
    import yaml

    from tests.test_pull_requests import SCHEMA, _repository_copy, ops

    _repository_copy(tmp_path)
    path = tmp_path / "stacks" / "Pulumi.acme-cloud.yaml"
    stack = yaml.safe_load(path.read_text())
    lab3 = {"name": "lab3", "hub": "hub", "placement": {"kind": "cloud", "instanceType": "t3.large", "dataDiskGb": 50}}
    stack["config"]["constellab:platform"]["labs"].append(lab3)
    path.write_text(yaml.safe_dump(stack, sort_keys=False))
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "lab3"],
                   cwd=tmp_path, check=True)  # fmt: skip

    def preview_against(format_: str) -> str:
        result = ops("preview", "--stack", "acme-cloud", "--against", "HEAD~1", "--format", format_, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return result.stdout

    # lab3 always on: 730 h × $0.0944 (t3.large, eu-west-3) + (30 GB root + 50 GB data) × $0.0928 (gp3) + 730 h ×
    # $0.005 (its address) + 7 metrics × $0.30 = 68.91 + 2.78 + 4.64 + 3.65 + 2.10 = $82.08 a month, each line
    # in cents (an always-on lab has no idle alarm)
    report = json.loads(preview_against("json"))
    jsonschema.validate(report, SCHEMA)
    cost = report["diff"]["stacks"][0]["cost"]
    # the stack's month is the sum of its servers' (in cents): 305.46 before, 305.46 + 82.08 = 387.54 after
    assert (cost["deltaMonthlyUsd"], cost["servers"][0]["name"], cost["servers"][0]["deltaMonthlyUsd"]) == (
        82.08,
        "lab3",
        82.08,
    )
    assert "      lab3: – → $82.08 (+$82.08)" in preview_against("text")
    assert " | $387.54 | +$82.08 |" in preview_against("markdown")


def test_the_preview_reports_a_stack_over_its_budget_among_its_guardrails(tmp_path):
    import yaml

    from offline.engine import run_program
    from offline.guardrails import BUDGET_RULE

    stack = yaml.safe_load((common.STACKS / "Pulumi.acme-cloud.yaml").read_text())
    stack["config"]["constellab:platform"]["budget"] = {"monthlyUsd": 200}
    path = tmp_path / "Pulumi.acme-cloud.yaml"
    path.write_text(yaml.safe_dump(stack, sort_keys=False))

    document = preview.stack_document(run_program(path))

    [violation] = [v for v in document["policies"] if v["rule"] == BUDGET_RULE]
    # $305.46 a month against $200: $105.46 over
    assert violation["level"] == "advisory" and "is over the budget of $200.00/month" in violation["message"]
    assert "by $105.46" in violation["message"]
    assert document["cost"]["budgetMonthlyUsd"] == 200
    from offline.text import render_text

    text = render_text(document)
    assert "  budget: $200.00/month (budget.monthlyUsd; see the guardrails)" in text

    # the pack configuration makes it mandatory in the preview too, as in `ops check`
    config = tmp_path / "pack.json"
    config.write_text('{"stack-within-budget": "mandatory"}')
    result = run_ops("preview", "--stack", str(path), "--policy-config", str(config), "--format", "json")
    assert result.returncode == 0, result.stderr
    [mandatory] = [v for v in json.loads(result.stdout)["stacks"][0]["policies"] if v["rule"] == BUDGET_RULE]
    assert mandatory["level"] == "mandatory"
    comment = run_ops("preview", "--stack", str(path), "--format", "markdown")
    assert "**Monthly cost (estimate, USD):** $305.46/month; budget $200.00/month" in comment.stdout
    bad = run_ops("preview", "--stack", "local", "--policy-config", str(tmp_path / "missing.json"))
    assert bad.returncode == 2 and bad.stderr.startswith("error: --policy-config: ")
