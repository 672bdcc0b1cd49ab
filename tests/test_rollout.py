"""Rollouts over many stacks and new-customer onboarding."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

import pytest
import yaml

from constellab.settings import load_stack_file
from ops import new_stack
from ops.rollout import (
    AutomationRunner,
    Rollout,
    RolloutError,
    RolloutPlan,
    StackOutcome,
    Wave,
    done_in,
    load_plan,
    render_table,
    select,
    workspace_files,
)
from tests.conftest import NEW_STACK_ANSWERS as ANSWERS
from tests.conftest import ROOT, STACK_NAMES, STACKS


class RecordingRunner:
    """A runner whose outcomes the test scripts: failures, slow stacks; it records the order and overlap."""

    def __init__(self, fail: frozenset[str] | set[str] = frozenset(), slow: dict[str, float] | None = None) -> None:
        self.fail, self.slow = fail, slow or {}
        self.started: list[str] = []
        self.running = 0
        self.most_at_once = 0
        self.lock = threading.Lock()

    def run(self, stack: str, action: str, log: TextIO) -> StackOutcome:
        with self.lock:
            self.started.append(stack)
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        log.write(f"{action} {stack}\n")
        time.sleep(self.slow.get(stack, 0.01))
        with self.lock:
            self.running -= 1
        if stack in self.fail:
            return StackOutcome(error=f"{stack} exploded")
        return StackOutcome(created=1, updated=2, deleted=0)


PLAN = RolloutPlan(
    waves=(
        Wave(name="canary", stacks=("c1",)),
        Wave(name="early", stacks=("e1", "e2", "e3")),
        Wave(name="all", stacks=("a1", "a2", "a3", "a4")),
    )
)


def rollout(tmp_path: Path, runner: RecordingRunner, **kwargs) -> Rollout:
    return Rollout(runner, tmp_path / "run", "up", progress=lambda message: None, **kwargs)


def test_waves_run_in_order_and_every_stack_once(tmp_path):
    runner = RecordingRunner(slow={"c1": 0.05})
    report = rollout(tmp_path, runner, concurrency=3).run(select(PLAN, None, None))
    assert runner.started[0] == "c1"
    assert set(runner.started[1:4]) == {"e1", "e2", "e3"} and set(runner.started[4:]) == {"a1", "a2", "a3", "a4"}
    assert [s.result for s in report.stacks] == ["succeeded"] * 8
    assert (tmp_path / "run" / "logs" / "a4.log").read_text() == "up a4\n"


def test_never_more_than_the_concurrency_run_at_once(tmp_path):
    runner = RecordingRunner(slow={stack: 0.05 for wave in PLAN.waves for stack in wave.stacks})
    rollout(tmp_path, runner, concurrency=2).run(select(PLAN, None, None))
    assert runner.most_at_once == 2
    serial = RecordingRunner()
    rollout(tmp_path, serial).run(select(PLAN, None, None))
    assert serial.most_at_once == 1


def test_max_failures_halts_lets_running_stacks_finish_and_starts_no_more(tmp_path):
    runner = RecordingRunner(fail={"e1"}, slow={"e1": 0.01, "e2": 0.2, "e3": 0.2})
    report = rollout(tmp_path, runner, concurrency=2, max_failures=1).run(select(PLAN, None, None))
    results = {s.stack: s.result for s in report.stacks}
    assert report.halted
    assert results["e1"] == "failed" and results["e2"] == "succeeded", "the running stack finished"
    assert results["e3"] == "not-started" and results["a1"] == "not-started"
    assert "a1" not in runner.started


def test_resume_skips_the_stacks_a_report_says_are_done(tmp_path):
    first = rollout(tmp_path, RecordingRunner(fail={"a2"})).run(select(PLAN, None, None))
    assert {s.stack for s in first.stacks if s.result == "failed"} == {"a2"}
    runner = RecordingRunner()
    second = rollout(tmp_path, runner).run(select(PLAN, None, None), done_in(tmp_path / "run" / "report.json", "up"))
    assert runner.started == ["a2"]
    assert {s.stack: s.result for s in second.stacks}["c1"] == "skipped"
    with pytest.raises(RolloutError, match="that report is of a 'up' rollout, this one is 'preview'"):
        done_in(tmp_path / "run" / "report.json", "preview")


def test_the_report_has_a_row_and_a_json_entry_per_stack(tmp_path):
    report = rollout(tmp_path, RecordingRunner(fail={"e2"})).run(select(PLAN, "early", None))
    saved = json.loads((tmp_path / "run" / "report.json").read_text())
    assert [(s["stack"], s["wave"], s["result"]) for s in saved["stacks"]] == [
        ("e1", "early", "succeeded"),
        ("e2", "early", "failed"),
        ("e3", "early", "succeeded"),
    ]
    assert saved["stacks"][0]["created"] == 1 and saved["stacks"][1]["error"] == "e2 exploded"
    table = render_table(report).splitlines()
    assert table[0].split() == ["stack", "wave", "result", "duration", "created", "updated", "deleted", "error"]
    assert table[3].split()[:3] == ["e2", "early", "failed"]


def test_selection_by_wave_and_glob():
    assert select(PLAN, "all", "a[12]") == [("all", "a1"), ("all", "a2")]
    with pytest.raises(RolloutError, match="no wave 'late'"):
        select(PLAN, "late", None)
    with pytest.raises(RolloutError, match="matches no stack"):
        select(PLAN, None, "zzz*")


def test_the_shipped_plan_puts_every_stack_in_exactly_one_wave():
    plan = load_plan(STACKS, STACK_NAMES)
    placed = [stack for wave in plan.waves for stack in wave.stacks] + list(plan.excluded)
    assert sorted(placed) == sorted(STACK_NAMES)


def test_a_stack_in_two_waves_or_in_none_is_refused(tmp_path):
    (tmp_path / "rollout.yaml").write_text("waves:\n  - {name: a, stacks: [x, y]}\n  - {name: b, stacks: [x]}\n")
    with pytest.raises(RolloutError, match="x is in waves a and b: one wave per stack; not in any wave: z"):
        load_plan(tmp_path, ["x", "y", "z"])


def test_the_automation_workspace_points_at_the_project_and_carries_the_stack_settings(tmp_path):
    workspace = ROOT / "runs" / "test-workspace" / "acme-cloud"
    files = workspace_files(STACKS / "Pulumi.acme-cloud.yaml", workspace, ROOT)
    project = yaml.safe_load(files["Pulumi.yaml"])
    assert project["name"] == "constellab" and project["runtime"]["name"] == "python"
    assert (workspace / project["main"]).resolve() == ROOT.resolve()
    assert Path(project["runtime"]["options"]["virtualenv"]) == (ROOT / ".venv").resolve()
    assert "stackConfigDir" not in project, "the stack's settings sit in the workspace itself"
    assert files["Pulumi.acme-cloud.yaml"] == (STACKS / "Pulumi.acme-cloud.yaml").read_text()
    runner = AutomationRunner(ROOT, tmp_path / "workspaces", ROOT / "policies")
    prepared = runner.prepare("local")
    assert (prepared / "Pulumi.local.yaml").read_text() == (STACKS / "Pulumi.local.yaml").read_text()
    assert prepared != runner.prepare("acme-cloud"), "one workspace per stack"


def test_without_the_pulumi_cli_the_rollout_says_how_to_install_it():
    result = subprocess.run(
        [sys.executable, "-m", "ops", "rollout", "--up"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the Pulumi CLI is not installed: install it")


def test_a_stack_failing_its_guardrails_stops_the_rollout_before_it_starts(tmp_path, monkeypatch):
    from ops import common
    from ops.commands import rollout as rollout_command

    copy = tmp_path / "stacks"
    shutil.copytree(STACKS, copy)
    document = yaml.safe_load((copy / "Pulumi.acme-cloud.yaml").read_text())
    document["config"]["constellab:platform"]["labs"][0]["placement"]["instanceType"] = "x9.large"
    (copy / "Pulumi.acme-cloud.yaml").write_text(yaml.safe_dump(document))
    monkeypatch.setattr(common, "STACKS", copy)
    problems = rollout_command.preflight(["pharma-onprem", "acme-cloud"])
    assert problems == [
        "acme-cloud: [ec2-allowed-instance-types] acme-lab1-host-server-instance (aws:Instance): instance type "
        "x9.large is not allowed. Fix: pick one of t3.*, t3a.*, m6i.*, m7i.*, m6a.*, m7a.*, m7g.*, c6i.*, c7i.*, "
        "c7g.*, r6i.*, r7i.*, r7g.* (policy config allowedInstanceTypes)"
    ]


# ---------------------------------------------------------------------------------------------
# new-stack
# ---------------------------------------------------------------------------------------------


def test_new_stack_writes_a_valid_file_without_secrets_and_adds_it_to_a_wave(stacks_copy):
    name, document = new_stack.build(stacks_copy, "zeta", "prod", None, ANSWERS, None, print)
    wave = new_stack.write(stacks_copy, name, document, "early", [*STACK_NAMES])
    path = stacks_copy / "Pulumi.zeta-prod.yaml"
    text = path.read_text()
    assert "secure" not in text and "constellab:codelabPassword" not in text
    with pytest.raises(Exception, match=r"constellab:labManagerApiKeys\.hub: missing"):
        load_stack_file(path)  # the file itself is valid once its secrets are set:
    secrets: dict[str, object] = {
        "constellab:cloudflareApiToken": {"secure": "v1:x"},
        "constellab:acmeDnsApiToken": {"secure": "v1:x"},
    }
    secrets["constellab:labManagerApiKeys"] = {server: {"secure": "v1:x"} for server in ("hub", "lab1")}
    finished = yaml.safe_load(text)
    finished["config"].update(secrets)
    path.write_text(yaml.safe_dump(finished))
    assert load_stack_file(path).platform.customer == "zeta"
    assert wave == "early"
    assert "zeta-prod" in load_plan(stacks_copy, [*STACK_NAMES, "zeta-prod"]).waves[1].stacks
    commands = new_stack.secret_commands(name, document["config"]["constellab:platform"])
    assert commands[0] == "pulumi stack init zeta-prod"
    assert "pulumi config set --secret cloudflareApiToken <value> -s zeta-prod" in commands
    assert "pulumi config set --secret acmeDnsApiToken <value> -s zeta-prod" in commands
    assert "pulumi config set --secret --path 'labManagerApiKeys.lab1' <value> -s zeta-prod" in commands


def test_new_stack_asks_for_what_has_no_default_and_re_asks_a_bad_answer(stacks_copy):
    answers = iter(["zeta.constellab.app", "", "", "0123456789abcdef0123456789abcdef", "0.0.0.0/0",
                    ANSWERS["sshPublicKeys"], ANSWERS["endpoints.spaceApiUrl"], ANSWERS["endpoints.spaceFrontUrl"],
                    "203.0.113.0/24"])  # fmt: skip
    asked: list[str] = []
    refused: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return next(answers)

    _, document = new_stack.build(stacks_copy, "zeta", "dev", None, {}, ask, refused.append)
    assert asked[1] == "AWS region [eu-west-3]: " and asked[2] == "DNS provider (cloudflare or none) [cloudflare]: "
    assert refused == [
        "adminCidrs[0]: '0.0.0.0/0' opens SSH to the whole internet: list your administrators' networks instead"
    ]
    assert asked[-1].startswith("Administrator networks")
    assert document["config"]["constellab:platform"]["adminCidrs"] == ["203.0.113.0/24"]
    assert document["config"]["aws:region"] == "eu-west-3"


def test_a_bad_answer_without_a_prompt_is_refused_with_the_field_and_nothing_is_written(stacks_copy):
    before = sorted(p.name for p in stacks_copy.iterdir())
    plan = (stacks_copy / "rollout.yaml").read_text()
    with pytest.raises(new_stack.NewStackError, match=r"^endpoints.spaceApiUrl: 'http://x' is not an https URL"):
        new_stack.build(
            stacks_copy, "zeta", "prod", None, {**ANSWERS, "endpoints.spaceApiUrl": "http://x"}, None, print
        )
    assert sorted(p.name for p in stacks_copy.iterdir()) == before
    assert (stacks_copy / "rollout.yaml").read_text() == plan


def test_new_stack_from_an_existing_stack_keeps_its_shape_but_not_its_secrets(stacks_copy):
    _, document = new_stack.build(stacks_copy, "biolab", "staging", "biolab-hybrid",
                                     {"baseDomain": "staging.biolab.constellab.app"}, None, print)  # fmt: skip
    config = document["config"]
    assert config["aws:region"] == "eu-central-1"
    assert [h["placement"]["kind"] for h in config["constellab:platform"]["hubs"]] == ["onPrem"]
    assert not [k for k in config if k.startswith("constellab:") and k != "constellab:platform"]


def test_new_stack_refuses_to_overwrite_a_stack(stacks_copy):
    with pytest.raises(new_stack.NewStackError, match="stack acme-cloud exists already"):
        new_stack.build(stacks_copy, "acme", "cloud", None, ANSWERS, None, print)
