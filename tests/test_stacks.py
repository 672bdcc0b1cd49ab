"""`ops stacks`: the stacks of stacks/ with their customer, for CI matrices; a stack that does not validate is
reported and the others are listed all the same."""

from __future__ import annotations

import json

from ops import common
from ops.cli import main
from tests.conftest import BROKEN_PLATFORM, STACK_NAMES, without_secrets


def test_stacks_lists_every_stack_with_its_customer(capsys):
    assert main(["stacks", "--format", "json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [entry["stack"] for entry in entries] == list(STACK_NAMES)
    assert {entry["stack"]: entry["customer"] for entry in entries}["biolab-hybrid"] == "biolab"


def test_a_new_stack_whose_secrets_are_not_set_yet_is_listed(stacks_copy, monkeypatch, capsys):
    monkeypatch.setattr(common, "STACKS", stacks_copy)
    without_secrets("acme-cloud", stacks_copy)

    assert main(["stacks"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == list(STACK_NAMES)
    assert captured.err.count("not set yet") == 1


def test_a_broken_stack_is_reported_and_the_others_are_listed(stacks_copy, monkeypatch, capsys):
    monkeypatch.setattr(common, "STACKS", stacks_copy)
    (stacks_copy / "Pulumi.broken.yaml").write_text(BROKEN_PLATFORM)

    assert main(["stacks"]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == list(STACK_NAMES)
    assert "customer: 'Bad' is not a DNS label" in captured.err
    assert captured.err.strip().splitlines()[-1] == "error: 1 stack(s) failed validation: broken"
