"""`ops new-stack` (`ops/new_stack.py`): a new customer's stack file and its place in rollout.yaml, and bad
input refused in one clear line naming the field and the fix, with the right exit code and nothing written."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from constellab.settings import load_stack_file
from ops import cli, common, new_stack
from ops.rollout import load_plan
from tests.conftest import NEW_STACK_ANSWERS as ANSWERS
from tests.conftest import STACK_NAMES

ANSWER_ARGS = [argument for path, value in ANSWERS.items() for argument in ("--set", f"{path}={value}")]


def snapshot(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def never_asked(prompt: str) -> str:
    raise AssertionError(f"asked {prompt!r} although an argument was wrong")


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


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"- a\n", "a stack file is a YAML mapping with a 'config' key"),
        (b"config: [x]\n", "config: must be a mapping of keys to values"),
        (
            b"config:\n  constellab:platform: hello\n",
            "constellab:platform must be a mapping of the platform's settings",
        ),
        (b"config:\n  constellab:platform: {dns: cloudflare}\n", "constellab:platform.dns must be a mapping"),
        (b"config:\n  aws:region: eu-west-3\n", "constellab:platform has none"),
        (b"config: {a: [\n", "not valid YAML: line 2, column 1"),
        (b"config:\n  x: \xff\n", "not UTF-8 text"),
    ],
)
def test_new_stack_from_a_malformed_stack_is_one_clear_error(stacks_copy, content, expected):
    (stacks_copy / "Pulumi.broken.yaml").write_bytes(content)
    with pytest.raises(new_stack.NewStackError) as raised:
        new_stack.build(stacks_copy, "zeta", "prod", "broken", ANSWERS, never_asked, print)
    message = str(raised.value)
    assert message.startswith(f"--from broken: {stacks_copy / 'Pulumi.broken.yaml'}: ") and "\n" not in message
    assert expected in message


@pytest.mark.parametrize(
    ("customer", "source", "given", "wave", "expected"),
    [
        ("zeta", None, {}, "nope", r"^--wave nope: no such wave \(waves: canary, early, all\)$"),
        ("Zeta", None, {}, None, r"^customer 'Zeta': use lowercase letters, digits and inner hyphens"),
        ("zeta", None, {"nope": "1"}, None, r"^--set nope: not a question \(use baseDomain, "),
        ("zeta", "nope", {}, None, r"^--from nope: no such stack \(stacks: acme-cloud, biolab-hybrid, local, "),
    ],
)
def test_new_stack_checks_every_argument_before_the_first_question(
    stacks_copy, customer, source, given, wave, expected
):
    with pytest.raises(new_stack.NewStackUsageError, match=expected):
        new_stack.build(stacks_copy, customer, "prod", source, given, never_asked, print, wave=wave)


FLOW_AND_BLOCK_PLAN = """\
# Waves, in order. Keep this comment.
waves:
  - name: canary   # the first customers
    stacks: [pharma-onprem, biolab-hybrid]
  - name: all
    stacks:
      - acme-cloud  # a big one
    # nothing after acme-cloud yet
excluded: [local]
"""


@pytest.mark.parametrize(
    ("wave", "before", "after"),
    [
        ("canary", "[pharma-onprem, biolab-hybrid]", "[pharma-onprem, biolab-hybrid, zeta-prod]"),
        ("all", "      - acme-cloud  # a big one\n", "      - acme-cloud  # a big one\n      - zeta-prod\n"),
    ],
)
def test_new_stack_adds_to_rollout_yaml_keeping_every_other_byte(stacks_copy, wave, before, after):
    plan_path = stacks_copy / "rollout.yaml"
    plan_path.write_text(FLOW_AND_BLOCK_PLAN)
    plan_path.chmod(0o644)
    name, document = new_stack.build(stacks_copy, "zeta", "prod", None, ANSWERS, None, print, wave=wave)
    assert new_stack.write(stacks_copy, name, document, wave, [*STACK_NAMES]) == wave
    assert plan_path.read_text() == FLOW_AND_BLOCK_PLAN.replace(before, after)
    assert "zeta-prod" in {w.name: w for w in load_plan(stacks_copy, [*STACK_NAMES, name]).waves}[wave].stacks
    assert plan_path.stat().st_mode & 0o777 == (stacks_copy / "Pulumi.zeta-prod.yaml").stat().st_mode & 0o777 == 0o644


def test_a_stack_name_yaml_would_read_as_a_date_is_added_quoted():
    edited = new_stack.add_to_wave("waves:\n  - name: a\n    stacks: [x]\n", "a", "2024-01-02")
    assert edited == 'waves:\n  - name: a\n    stacks: [x, "2024-01-02"]\n'


def test_an_edit_of_rollout_yaml_that_does_not_load_as_intended_is_refused_and_nothing_is_written(
    stacks_copy, monkeypatch
):
    before = snapshot(stacks_copy)
    name, document = new_stack.build(stacks_copy, "zeta", "prod", None, ANSWERS, None, print)
    # An edit gone wrong (here: lost): the plan it gives is checked before anything is written.
    monkeypatch.setattr(new_stack, "add_to_wave", lambda text, wave, stack: text)
    with pytest.raises(new_stack.NewStackError, match="could not add zeta-prod to wave all by editing the file"):
        new_stack.write(stacks_copy, name, document, None, [*STACK_NAMES])
    assert snapshot(stacks_copy) == before


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["Foo", "dev", "--no-input"], "error: customer 'Foo': use lowercase letters"),
        (["foo", "dev", "--no-input", "--set", "nope=1"], "error: --set nope: not a question"),
        (["foo", "dev", "--no-input", "--wave", "nope", *ANSWER_ARGS], "error: --wave nope: no such wave"),
        (["foo", "dev", "--no-input", "--from", "nope"], "error: --from nope: no such stack"),
        (["foo", "dev", "--no-input"], "error: baseDomain: no value: give it with --set baseDomain=<value>"),
    ],
)
def test_new_stack_usage_errors_exit_2_in_one_line_and_write_nothing(
    stacks_copy, monkeypatch, capsys, arguments, expected
):
    monkeypatch.setattr(common, "STACKS", stacks_copy)
    before = snapshot(stacks_copy)
    assert cli.main(["new-stack", *arguments]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected)
    assert snapshot(stacks_copy) == before


def test_input_ending_at_a_prompt_ends_the_prompt_line_and_suggests_no_input_with_set(stacks_copy, monkeypatch, capsys):
    monkeypatch.setattr(common, "STACKS", stacks_copy)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli.main(["new-stack", "foo", "dev"]) == 2
    prompt, error = capsys.readouterr().err.splitlines()
    assert prompt.startswith("Base domain")
    assert error == (
        "error: baseDomain: no answer (input ended): without a terminal, run with --no-input and give the values "
        "with --set (e.g. --set baseDomain=<value>)"
    )


class InterruptedInput:
    """Standard input where the user presses Ctrl-C."""

    def readline(self) -> str:
        raise KeyboardInterrupt


def test_ctrl_c_at_a_prompt_says_interrupted_on_a_line_of_its_own(stacks_copy, monkeypatch, capsys):
    monkeypatch.setattr(common, "STACKS", stacks_copy)
    monkeypatch.setattr("sys.stdin", InterruptedInput())
    before = snapshot(stacks_copy)
    assert cli.main(["new-stack", "foo", "dev"]) == 130
    assert capsys.readouterr().err.splitlines()[1:] == ["interrupted"]
    assert snapshot(stacks_copy) == before


def test_a_refused_value_is_reported_once(stacks_copy):
    said: list[str] = []
    given = {**ANSWERS, "dns.zoneId": "bad", "sshPublicKeys": "x"}
    with pytest.raises(new_stack.NewStackError) as raised:
        new_stack.build(stacks_copy, "zeta", "prod", None, given, None, said.append)
    everything = [*said, str(raised.value)]
    zone_id = "dns.zoneId: 'bad' is not a Cloudflare zone id"
    ssh_key = "sshPublicKeys[0]: not an OpenSSH public key"
    assert sum(zone_id in line for line in everything) == 1 and sum(ssh_key in line for line in everything) == 1
    assert str(raised.value).endswith("(and the 1 other problem(s) above)")
