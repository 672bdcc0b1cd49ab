"""`ops rollout` (`ops/rollout.py`, `ops/rollout_plan.py`): waves over many stacks, their report and resumption,
and bad input (a broken rollout.yaml, an unknown pattern, a missing report) refused in one line naming the field
and the fix, with nothing started."""

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

from ops.cli import main
from ops.rollout import (
    AutomationRunner,
    Rollout,
    RolloutError,
    RolloutPlan,
    StackOutcome,
    Wave,
    done_in,
    load_plan,
    prepare_policy_pack,
    render_table,
    select,
    workspace_files,
)
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
    report = rollout(tmp_path, runner, concurrency=3).run(select(PLAN, None))
    assert runner.started[0] == "c1"
    assert set(runner.started[1:4]) == {"e1", "e2", "e3"} and set(runner.started[4:]) == {"a1", "a2", "a3", "a4"}
    assert [s.result for s in report.stacks] == ["succeeded"] * 8
    assert (tmp_path / "run" / "logs" / "a4.log").read_text() == "up a4\n"


def test_never_more_than_the_concurrency_run_at_once(tmp_path):
    runner = RecordingRunner(slow={stack: 0.05 for wave in PLAN.waves for stack in wave.stacks})
    rollout(tmp_path, runner, concurrency=2).run(select(PLAN, None))
    assert runner.most_at_once == 2
    serial = RecordingRunner()
    rollout(tmp_path, serial).run(select(PLAN, None))
    assert serial.most_at_once == 1


def test_max_failures_halts_lets_running_stacks_finish_and_starts_no_more(tmp_path):
    runner = RecordingRunner(fail={"e1"}, slow={"e1": 0.01, "e2": 0.2, "e3": 0.2})
    report = rollout(tmp_path, runner, concurrency=2, max_failures=1).run(select(PLAN, None))
    results = {s.stack: s.result for s in report.stacks}
    assert report.halted
    assert results["e1"] == "failed" and results["e2"] == "succeeded", "the running stack finished"
    assert results["e3"] == "not-started" and results["a1"] == "not-started"
    assert "a1" not in runner.started


def test_resume_skips_the_stacks_a_report_says_are_done(tmp_path):
    first = rollout(tmp_path, RecordingRunner(fail={"a2"})).run(select(PLAN, None))
    assert {s.stack for s in first.stacks if s.result == "failed"} == {"a2"}
    runner = RecordingRunner()
    second = rollout(tmp_path, runner).run(select(PLAN, None), done_in(tmp_path / "run" / "report.json", "up"))
    assert runner.started == ["a2"]
    assert {s.stack: s.result for s in second.stacks}["c1"] == "skipped"
    with pytest.raises(RolloutError, match="that report is of a 'up' rollout, this one is 'preview'"):
        done_in(tmp_path / "run" / "report.json", "preview")


def test_the_report_has_a_row_and_a_json_entry_per_stack(tmp_path):
    report = rollout(tmp_path, RecordingRunner(fail={"e2"})).run(select(PLAN, "early"))
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


def test_stacks_are_selected_by_wave_and_glob():
    assert select(PLAN, "all", ["a[12]"]) == [("all", "a1"), ("all", "a2")]
    with pytest.raises(RolloutError, match="no wave 'late'"):
        select(PLAN, "late")
    with pytest.raises(RolloutError, match="matches no stack"):
        select(PLAN, None, ["zzz*"])


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


def test_a_stack_failing_its_guardrails_stops_the_rollout_before_it_starts(monkeypatch):
    from ops.commands import rollout as rollout_command
    from policies.rules import compute

    # A team may narrow a guardrail past what the stack file's validation knows (its pack's own defaults):
    # Graviton (m7g) servers are not allowed here, and acme-cloud's lab2 is one.
    narrowed = [family for family in compute.ALLOWED_TYPES_DEFAULT if family != "m7g.*"]
    rule = next(rule for rule in compute.RULES if rule.name == "ec2-allowed-instance-types")
    monkeypatch.setitem(rule.config["allowedInstanceTypes"], "default", narrowed)
    problems = rollout_command.preflight(["pharma-onprem", "acme-cloud"])
    assert problems == [
        "acme-cloud: [ec2-allowed-instance-types] acme-lab2-host-server-instance (aws:Instance): instance type "
        "m7g.large is not allowed. Fix: pick one of t3.*, t3a.*, m6i.*, m7i.*, m6a.*, m7a.*, c6i.*, c7i.*, "
        "c7g.*, r6i.*, r7i.*, r7g.* (policy config allowedInstanceTypes)"
    ]


def test_an_invalid_stack_stops_the_rollout_before_its_guardrails_run(tmp_path, monkeypatch):
    from ops import common
    from ops.commands import rollout as rollout_command

    copy = tmp_path / "stacks"
    shutil.copytree(STACKS, copy)
    document = yaml.safe_load((copy / "Pulumi.acme-cloud.yaml").read_text())
    document["config"]["constellab:platform"]["labs"][0]["placement"]["instanceType"] = "x9.large"
    (copy / "Pulumi.acme-cloud.yaml").write_text(yaml.safe_dump(document))
    monkeypatch.setattr(common, "STACKS", copy)
    problems = rollout_command.preflight(["pharma-onprem", "acme-cloud"])
    assert len(problems) == 1 and problems[0].endswith(
        "Pulumi.acme-cloud.yaml: 1 problem(s) in the stack configuration\n"
        "  - labs[0].placement.instanceType: 'x9.large' is not an instance type the guardrails allow: pick one of the "
        "families t3, t3a, m6i, m7i, m6a, m7a, m7g, c6i, c7i, c7g, r6i, r7i, r7g (e.g. 't3.large', 'm7i.xlarge')"
    )


def test_a_run_dir_under_a_file_is_refused_before_the_rollout_starts(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("ops.rollout.pulumi_cli_missing", lambda: None)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["rollout", "--wave", "canary", "--run-dir", str(blocker / "runs")]) == 2
    err = capsys.readouterr().err
    assert f"--run-dir {blocker / 'runs'}: {blocker} is a file" in err and "checking" not in err


def test_a_failed_policy_pack_install_is_one_error_and_leaves_no_half_built_virtualenv(tmp_path, monkeypatch):
    pack = tmp_path / "policies"
    pack.mkdir()
    (pack / "requirements.txt").write_text("no-such-package-for-constellab-tests==1.0\n")
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # offline, and pip fails at once
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    for _run in range(2):  # the second run installs again: nothing half-built is taken as ready
        with pytest.raises(RolloutError, match=r"policy pack: could not install .*no-such-package") as raised:
            prepare_policy_pack(pack, lambda message: None)
        assert "\n" not in str(raised.value)
        assert not (pack / "venv").exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"waves:\n  - name: a\n    stacks: [\xff]\n", r": not UTF-8 text \(byte 32\): save the file as UTF-8$"),
        (b"- a\n- b\n", r": must be a mapping with a 'waves' list$"),
        (b"", r": must be a mapping with a 'waves' list$"),
        (b"waves: [\n  - x: 1\n", r": not valid YAML: line 2, column 3: expected the node content, but found '-'$"),
    ],
)
def test_a_rollout_plan_that_is_not_utf8_yaml_or_a_mapping_is_one_line_naming_the_file(tmp_path, content, expected):
    (tmp_path / "rollout.yaml").write_bytes(content)
    with pytest.raises(RolloutError, match=expected) as raised:
        load_plan(tmp_path, ["x"])
    message = str(raised.value)
    assert message.startswith(f"{tmp_path / 'rollout.yaml'}: ")
    assert "\n" not in message and "<unicode string>" not in message


def test_a_stack_both_in_a_wave_and_excluded_is_refused(tmp_path):
    (tmp_path / "rollout.yaml").write_text("waves:\n  - name: all\n    stacks: [x, y]\nexcluded: [y]\n")
    with pytest.raises(RolloutError, match=r": y is in wave all and in excluded: keep one$"):
        load_plan(tmp_path, ["x", "y"])


def test_every_problem_of_a_rollout_plan_is_reported_with_its_field_path_in_plain_words(tmp_path):
    (tmp_path / "rollout.yaml").write_text(
        "waves:\n"
        "  - name: Canary\n    stacks: []\n"
        "  - name: b\n    stacks: [x, 1]\n    when: now\n"
        "  - 3\n"
        "excluded: nope\n"
    )
    with pytest.raises(RolloutError) as raised:
        load_plan(tmp_path, ["x"])
    assert str(raised.value).split(": ", 1)[1].split("; ") == [
        "waves[0].name: 'Canary' is not a wave name: use lowercase letters, digits and hyphens",
        "waves[0].stacks: needs at least one stack",
        "waves[1].stacks[1]: 1 is not text: quote it if it is a name",
        "waves[1].when: unknown field: remove it or use one of name, stacks",
        "waves[2]: a wave is a mapping with a name and a stacks list",
        "excluded: must be a list of stacks",
    ]


def test_resuming_from_a_report_that_does_not_exist_says_no_such_file(tmp_path):
    missing = tmp_path / "runs" / "report.json"
    with pytest.raises(RolloutError, match=rf"^--resume {missing}: no such file \(give the report.json"):
        done_in(missing, "up")


def test_a_stack_pattern_matching_nothing_names_the_pattern_and_the_stacks():
    plan = load_plan(STACKS, STACK_NAMES)
    with pytest.raises(RolloutError, match=r"^--stack 'zzz\*' matches no stack of rollout.yaml \(stacks: .*acme-cloud"):
        select(plan, None, ["zzz*"])
    with pytest.raises(
        RolloutError, match=r"^--stack 'zzz\*' matches no stack of wave early \(stacks: biolab-hybrid\)$"
    ):
        select(plan, "early", ["zzz*"])


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--wave", "late"], "error: no wave 'late' (waves: "),
        (["--stack", "zzz*"], "error: --stack 'zzz*' matches no stack of rollout.yaml"),
        (["--resume", "/nonexistent/report.json"], "error: --resume /nonexistent/report.json: no such file"),
        (["--run-dir", "/dev/null/runs"], "error: --run-dir /dev/null/runs: /dev/null is"),
    ],
)
def test_rollout_checks_its_arguments_before_it_looks_for_the_pulumi_cli(argv, expected, capsys, monkeypatch):
    monkeypatch.setattr("ops.rollout.pulumi_cli_missing", lambda: "the Pulumi CLI is not installed")
    assert main(["rollout", *argv]) == 2
    assert capsys.readouterr().err.startswith(expected)


def test_rollout_takes_stack_repeated_with_names_and_globs_in_rollout_order(capsys, monkeypatch):
    from ops.commands import rollout as rollout_command

    checked: list[list[str]] = []
    monkeypatch.setattr("ops.rollout.pulumi_cli_missing", lambda: None)

    def preflight(stacks: list[str]) -> list[str]:
        checked.append(stacks)
        return ["stop here"]

    monkeypatch.setattr(rollout_command, "preflight", preflight)
    assert main(["rollout", "--stack", "acme-cloud", "--stack", "pharma-*"]) == 1
    plan = load_plan(STACKS, STACK_NAMES)
    in_order = [stack for wave in plan.waves for stack in wave.stacks if stack in ("acme-cloud", "pharma-onprem")]
    assert checked == [in_order] and in_order == ["pharma-onprem", "acme-cloud"]
    assert main(["rollout", "--stack", "local"]) == 2
    assert capsys.readouterr().err.strip().endswith("error: --stack 'local': local is excluded in rollout.yaml")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{not json", "not JSON: "),
        ('{"action": "up", "stacks": "acme-cloud"}', 'it needs "action" and "stacks"'),
        ('{"action": "up", "stacks": [["acme-cloud", "succeeded"]]}', 'it needs "action" and "stacks"'),
        ('["up"]', 'it needs "action" and "stacks"'),
        ('{"stacks": []}', 'it needs "action" and "stacks"'),
    ],
)
def test_resuming_from_a_file_that_is_no_rollout_report_says_what_a_report_holds(tmp_path, text, why):
    report = tmp_path / "report.json"
    report.write_text(text)
    with pytest.raises(RolloutError) as raised:
        done_in(report, "up")
    message = str(raised.value)
    assert message.startswith(f"--resume {report}: not a rollout report ({why}")
    assert message.endswith("give the report.json of an earlier run")
    assert "list indices" not in message and "'stacks'" not in message
