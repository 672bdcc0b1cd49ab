"""Diagrams Mermaid itself accepts, and a pull-request comment that fits GitHub's limit with 100 stacks.

Mermaid's own parser (`mermaid.parse` from the npm package, under Node with jsdom) reads every diagram the
shipped stacks produce; `./run test` installs it in tests/mermaid (npm ci).
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from offline import diagram
from offline.report import COMMENT_LIMIT, MARGIN, MARKER, markdown, size
from tests.conftest import ROOT, STACK_NAMES, missing

MERMAID = ROOT / "tests" / "mermaid"
BLOCK = re.compile(r"```mermaid\n(.*?)\n```", re.DOTALL)


def parse(diagrams: list[str]) -> list[dict[str, Any]]:
    """Mermaid's verdict on each diagram: {ok, type} or {ok: false, error}."""
    node = shutil.which("node")
    if node is None or not (MERMAID / "node_modules" / "mermaid").is_dir():
        missing("Mermaid's parser is not installed (./run test runs npm ci in tests/mermaid)")
    done = subprocess.run(
        [str(node), str(MERMAID / "parse.mjs")], input=json.dumps(diagrams), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def ops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ops", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    result = ops("preview", "--all", "--format", "json")
    assert result.returncode == 0, result.stderr
    return {document["stack"]: document for document in json.loads(result.stdout)["stacks"]}


@pytest.mark.slow
def test_mermaid_accepts_every_diagram_of_the_shipped_stacks_written_together(tmp_path: Path):
    together = ops("preview", "--all", "--format", "mermaid")
    assert together.returncode == 0, together.stderr
    blocks = BLOCK.findall(together.stdout)
    assert len(blocks) == len(STACK_NAMES), "one block per stack"
    written = ops("preview", "--all", "--format", "mermaid", "--out", str(tmp_path / "diagrams"))
    assert written.returncode == 0, written.stderr
    files = sorted((tmp_path / "diagrams").glob("*.mmd"))
    assert [f.stem for f in files] == sorted(STACK_NAMES)

    verdicts = parse(blocks + [f.read_text() for f in files])

    assert [v for v in verdicts if not v["ok"]] == []
    assert {v["type"] for v in verdicts} == {"flowchart-v2"}


@pytest.mark.slow
def test_a_broken_diagram_is_refused_by_the_same_parser(documents):
    good = diagram.mermaid(documents["local"])
    two_in_one = good + "\n\n" + diagram.mermaid(documents["pharma-onprem"])  # what --format mermaid wrote before

    verdicts = parse([good, two_in_one, good.replace("-. runs .->", "-. runs .")])

    assert [v["ok"] for v in verdicts] == [True, False, False]


def test_each_bucket_is_drawn_once_with_the_labs_writing_to_the_hubs_lake(documents):
    acme = documents["acme-cloud"]
    lake = acme["outputs"]["servers"]["hub"]["dataLakeBucket"]

    text = diagram.mermaid(acme)

    definitions = [line for line in text.splitlines() if f"<br/>{lake}" in line]
    assert len(definitions) == 1, definitions
    lake_node = diagram.node_id("bkt", "acme-cloud", lake)
    assert f'srv__acme_cloud__lab1 -. "results: /labs/lab1/" .-> {lake_node}' in text
    assert f'srv__acme_cloud__lab2 -. "results: /labs/lab2/" .-> {lake_node}' in text
    for server in ("hub", "lab1", "lab2"):
        for bucket in acme["outputs"]["servers"][server]["backupBuckets"].values():
            assert sum(f"<br/>{bucket}" in line for line in text.splitlines()) == 1


def test_parked_and_sleeping_labs_are_marked_and_owners_of_containers_shown(documents):
    text = diagram.mermaid(documents["acme-cloud"])

    assert 'subgraph srv__acme_cloud__lab2["lab2 · lab · cloud · ⏸ parked (stopped)"]' in text
    assert 'subgraph srv__acme_cloud__lab1["lab1 · lab · cloud · ⏱ scheduled + idle stop"]' in text
    assert "class srv__acme_cloud__lab2 parked" in text and "class srv__acme_cloud__lab1 sleeps" in text
    assert 'subgraph dcl__acme_cloud__hub["declared by Pulumi"]' in text
    assert 'subgraph mgd__acme_cloud__hub["run by the lab manager"]' in text
    declared = text.split('dcl__acme_cloud__hub["declared by Pulumi"]')[1].split("end")[0]
    assert "lab_manager" in declared and "reverse_proxy" in declared and "glab" not in declared


def test_ids_of_different_kinds_never_collide_whatever_the_names():
    assert diagram.node_id("srv", "s", "hub_dns") != diagram.node_id("dns", "s", "hub")
    assert diagram.node_id("ctr", "s", "hub", "lab_manager") != diagram.node_id("ctr", "s", "hub-lab", "manager")


def test_against_a_ref_the_diagram_marks_servers_added_removed_and_replaced(documents):
    acme = documents["acme-cloud"]
    changes = {"servers": {"added": ["lab1"], "removed": ["old"], "replaced": ["hub"]}}
    before = copy.deepcopy(acme)
    before["outputs"]["servers"]["old"] = {"role": "lab", "host": "old.acme.constellab.app"}

    text = diagram.mermaid(acme, changes, before)

    assert "class srv__acme_cloud__lab1 added" in text and "class srv__acme_cloud__hub replaced" in text
    assert 'srv__acme_cloud__old["old · lab · removed"]' in text and "class srv__acme_cloud__old removed" in text


@pytest.mark.slow
def test_highlighted_diagrams_parse_too(documents):
    acme = documents["acme-cloud"]
    changes = {"servers": {"added": ["lab1"], "removed": ["old"], "replaced": ["hub", "space"]}}

    assert parse([diagram.mermaid(acme, changes, acme)]) == [{"ok": True, "type": "flowchart-v2"}]


def stack_diff(stack: str, changed: int) -> dict[str, Any]:
    return {
        "stack": stack, "new": False, "deleted": False, "added": [], "removed": [], "ignored": [],
        "changed": [
            {"urn": f"urn:{i}", "type": "aws:ec2/instance:Instance", "name": f"{stack}-server-{i}",
             "changes": [{"input": "instanceType", "before": "t3.large", "after": "t3.xlarge"}], "options": {},
             "ignored": [], "replace": False, "replaceBecause": [], "stopStart": ["instanceType"]}
            for i in range(changed)
        ],
        "dangerous": [],
        "disruptive": [{"urn": f"urn:{i}", "type": "aws:ec2/instance:Instance", "name": f"{stack}-server-{i}",
                        "action": "restart", "server": f"lab{i}", "role": "lab",
                        "reason": "the server is stopped and started (instanceType)"} for i in range(changed)],
        "servers": {"added": [], "removed": [], "replaced": []},
    }  # fmt: skip


def hundred_stacks(documents: dict[str, Any], changing: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    stacks, diffs = [], []
    for index in range(100):
        document = copy.deepcopy(documents["acme-cloud"]) | {"stack": f"customer-{index:03d}"}
        stacks.append(document)
        diffs.append(stack_diff(document["stack"], 3 if index < changing else 0))
    return stacks, {"against": "origin/main", "stacks": diffs}


def fences_balanced(text: str) -> bool:
    return sum(1 for line in text.splitlines() if line.startswith("```")) % 2 == 0


@pytest.mark.parametrize("changing", [0, 5, 100])
def test_the_comment_fits_githubs_limit_with_100_stacks_and_never_cuts_a_code_block(documents, changing):
    stacks, changes = hundred_stacks(documents, changing)

    comment = markdown(stacks, changes, full_report="https://github.com/o/r/actions/runs/1")

    assert comment.startswith(MARKER) and size(comment) <= COMMENT_LIMIT - MARGIN, "the workflow never cuts it"
    assert fences_balanced(comment)
    for index in range(100):
        assert f"| customer-{index:03d} | " in comment, "every stack has its line"
    sections = comment.count("\n### customer-")
    assert sections == min(changing, sections) and (changing == 0) == (sections == 0), "only changed stacks"
    if changing < 100:
        assert "| customer-099 | 211 | 0 | 0 | 0 | 0 | 0 | no change |" in comment
    if changing == 100:
        assert "did not fit in this comment: see the [full report](https://github.com/o/r/actions/runs/1)" in comment
        full = markdown(stacks, changes, limit=None)
        assert full.count("\n### customer-") == 100 and fences_balanced(full)


def test_unchanged_stacks_take_one_line_and_changed_ones_say_what_disrupts_whom(documents):
    stacks, changes = hundred_stacks(documents, 1)

    comment = markdown(stacks, changes)

    assert "| customer-000 | 211 | 0 | 3 | 0 | 0 | 0 | 🔌 3 disruptive: lab0, lab1, lab2 |" in comment
    assert "**0 dangerous and 3 disruptive change(s); 1 stack(s) change.**" in comment
    assert comment.index("### 🔌 Disruptive") < comment.index("| stack |") < comment.index("### customer-000")


def test_the_comment_workflows_last_resort_cut_never_lands_inside_a_code_block(tmp_path: Path):
    """preview-comment.yml cuts a body over the limit (never expected) at a line outside any ``` block."""
    import yaml

    node = shutil.which("node") or ""
    if not node:
        missing("Node.js is not installed")
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "preview-comment.yml").read_text())
    script = workflow["jobs"]["comment"]["steps"][-1]["with"]["script"]
    cut = script[script.index("const limit") : script.index("const comments")]
    body = MARKER + "\n<details>\n" + "x" * 65_000 + "\n```mermaid\n" + "flowchart LR\n" * 200 + "```\n</details>\n"
    program = tmp_path / "cut.js"
    program.write_text(f"let body = {json.dumps(body)};\n{cut}\nprocess.stdout.write(body);\n")

    done = subprocess.run([node, str(program)], capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert len(done.stdout) <= COMMENT_LIMIT and fences_balanced(done.stdout)
    assert "```mermaid" not in done.stdout and done.stdout.endswith("workflow artifact._\n")
    assert done.stdout.count("<details>") == done.stdout.count("</details>"), "nothing left open to hide the note"
