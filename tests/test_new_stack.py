"""`ops new-stack` (`ops/new_stack.py`): a new customer's stack file and its place in rollout.yaml, and bad
input refused in one clear line naming the field and the fix, with the right exit code and nothing written."""

from __future__ import annotations

import argparse
import io
import shlex
import shutil
from pathlib import Path

import pytest
import yaml

from constellab.settings import load_stack_file
from ops import cli, common, new_stack, new_stack_answers
from ops.commands import new_stack as new_stack_command
from ops.rollout import load_plan
from tests.conftest import NEW_STACK_ANSWERS as ANSWERS
from tests.conftest import STACK_NAMES, STACKS

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


def test_new_stack_asks_for_what_has_no_default_and_re_asks_a_bad_answer_at_once(stacks_copy):
    answers = iter(["zeta.constellab.app", "", "", "0123456789abcdef0123456789abcdef", "0.0.0.0/0", "203.0.113.0/24",
                    ANSWERS["sshPublicKeys"], ANSWERS["endpoints.spaceApiUrl"],
                    ANSWERS["endpoints.spaceFrontUrl"]])  # fmt: skip
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
    assert asked[4] == asked[5] == "Administrator networks (comma-separated CIDRs): "
    assert asked[6].startswith("Administrator SSH public keys") and len(asked) == 9
    assert document["config"]["constellab:platform"]["adminCidrs"] == ["203.0.113.0/24"]
    assert document["config"]["aws:region"] == "eu-west-3"


# The answers to a new stack's questions in their order: "" takes the default (region, DNS provider).
GOOD_ANSWERS = [
    ("Base domain (each server is <name>.<domain>): ", ANSWERS["baseDomain"]),
    ("AWS region [eu-west-3]: ", ""),
    ("DNS provider (cloudflare or none) [cloudflare]: ", ""),
    ("Cloudflare zone id: ", ANSWERS["dns.zoneId"]),
    ("Administrator networks (comma-separated CIDRs): ", ANSWERS["adminCidrs"]),
    ("Administrator SSH public keys (comma-separated): ", ANSWERS["sshPublicKeys"]),
    ("Collaborative space API URL: ", ANSWERS["endpoints.spaceApiUrl"]),
    ("Collaborative space front URL: ", ANSWERS["endpoints.spaceFrontUrl"]),
]


@pytest.mark.parametrize(
    ("at", "bad", "refusal"),
    [
        (0, "zeta constellab app", "baseDomain: 'zeta constellab app' is not a domain name: use lowercase DNS labels"),
        (1, "paris", "aws:region: 'paris' is not an AWS region (e.g. eu-west-3)"),
        (2, "route53", "dns.provider: 'route53' is not one of 'cloudflare', 'none'"),
        (3, "bad", "dns.zoneId: 'bad' is not a Cloudflare zone id: 32 lowercase hex characters"),
        (5, "my key", "sshPublicKeys[0]: not an OpenSSH public key: paste one line"),
        (6, "http://x", "endpoints.spaceApiUrl: 'http://x' is not an https URL"),
    ],
)
def test_each_answer_is_checked_when_it_is_typed_and_the_same_question_is_asked_again(stacks_copy, at, bad, refusal):
    answers = [answer for _, answer in GOOD_ANSWERS]
    answers.insert(at, bad)
    typed = iter(answers)
    asked: list[str] = []
    refused: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return next(typed)

    _, document = new_stack.build(stacks_copy, "zeta", "prod", None, {}, ask, refused.append)
    prompts = [prompt for prompt, _ in GOOD_ANSWERS]
    assert asked == [*prompts[: at + 1], *prompts[at:]]
    assert len(refused) == 1 and refused[0].startswith(refusal) and "\n" not in refused[0]
    assert document["config"]["constellab:platform"]["baseDomain"] == ANSWERS["baseDomain"]


def test_a_bad_answer_at_the_prompt_is_refused_in_one_line_before_the_next_question(stacks_copy, monkeypatch, capsys):
    monkeypatch.setattr(common, "STACKS", stacks_copy)
    answers = ["zeta constellab app", *(answer for _, answer in GOOD_ANSWERS)]
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{answer}\n" for answer in answers)))
    assert cli.main(["new-stack", "zeta", "prod"]) == 0
    err = capsys.readouterr().err
    base_domain, region = GOOD_ANSWERS[0][0], GOOD_ANSWERS[1][0]
    refusal = (
        "  refused: baseDomain: 'zeta constellab app' is not a domain name: use lowercase DNS labels joined by dots"
    )
    assert err.startswith(f"{base_domain}\n{refusal}") and err.index(refusal) < err.index(region)
    assert err.count(base_domain) == 2 and err.count("refused") == 1
    assert (stacks_copy / "Pulumi.zeta-prod.yaml").is_file()


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


@pytest.mark.parametrize(
    ("typed", "question"),
    [("", "baseDomain"), (f"{ANSWERS['baseDomain']}\n\n", "dns.provider")],
    ids=["at-the-first-question", "after-two-answers"],
)
def test_input_ending_at_a_prompt_says_aborted_nothing_written(stacks_copy, monkeypatch, capsys, typed, question):
    monkeypatch.setattr(common, "STACKS", stacks_copy)
    monkeypatch.setattr("sys.stdin", io.StringIO(typed))  # the end of a pipe, or Ctrl-D at a terminal
    before = snapshot(stacks_copy)
    assert cli.main(["new-stack", "foo", "dev"]) == 1
    *prompts, error = capsys.readouterr().err.splitlines()
    assert prompts[0].startswith("Base domain")
    assert error == (
        f"aborted, nothing written: input ended at {question}; without a terminal, add --no-input and give the "
        f"values with --set (e.g. --set {question}=<value>)"
    )
    assert snapshot(stacks_copy) == before


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


def test_a_path_given_twice_with_set_is_a_usage_error_before_any_question(stacks_copy, monkeypatch, capsys):
    monkeypatch.setattr(common, "STACKS", stacks_copy)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    before = snapshot(stacks_copy)
    twice = ["--set", "baseDomain=zeta.constellab.app", "--set", "baseDomain=zeta.example.com"]
    assert cli.main(["new-stack", "zeta", "prod", *twice]) == 2
    assert capsys.readouterr().err.splitlines() == ["error: --set baseDomain: given twice: give each path once"]
    assert snapshot(stacks_copy) == before


ZONE_UNUSED = (
    "error: --set dns.zoneId: unused: with dns.provider none the customer creates the records, no zone is used: "
    "remove it"
)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--set", "dns.provider=none", "--set", f"dns.zoneId={ANSWERS['dns.zoneId']}"], ZONE_UNUSED),
        (["--from", "pharma-onprem", "--set", f"dns.zoneId={ANSWERS['dns.zoneId']}"], ZONE_UNUSED),
        (
            ["--from", "local", "--set", "aws:region=eu-west-3"],
            "error: --set aws:region: unused: every server runs on this machine (placement kind local), nothing is "
            "made in AWS: remove it",
        ),
        (
            ["--from", "pharma-onprem", "--set", f"sshPublicKeys={ANSWERS['sshPublicKeys']}"],
            "error: --set sshPublicKeys: unused: no server is placed in the cloud, and only cloud servers get these "
            "keys (you run your own hosts): remove it",
        ),
    ],
    ids=["zone-id-provider-none-given", "zone-id-provider-none-inherited", "region-all-local", "ssh-keys-no-cloud"],
)
def test_a_set_value_the_stack_would_not_use_is_refused_before_any_question(
    stacks_copy, monkeypatch, capsys, arguments, expected
):
    monkeypatch.setattr(common, "STACKS", stacks_copy)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    before = snapshot(stacks_copy)
    assert cli.main(["new-stack", "zeta", "prod", "--set", "baseDomain=zeta.constellab.app", *arguments]) == 2
    assert capsys.readouterr().err.splitlines() == [expected]
    assert snapshot(stacks_copy) == before


def test_a_zone_id_given_with_set_is_refused_once_the_provider_is_answered_none(stacks_copy):
    answers = iter([ANSWERS["baseDomain"], "", "none"])
    given = {"dns.zoneId": ANSWERS["dns.zoneId"]}
    with pytest.raises(new_stack.NewStackUsageError, match=r"^--set dns\.zoneId: unused: with dns\.provider none"):
        new_stack.build(stacks_copy, "zeta", "prod", None, given, lambda prompt: next(answers), print)


def test_choosing_no_dns_provider_drops_the_zone_id_of_the_stack_started_from(stacks_copy):
    given = {"baseDomain": "zeta.example.com", "dns.provider": "none"}
    _, document = new_stack.build(stacks_copy, "zeta", "prod", "acme-cloud", given, None, print)
    assert document["config"]["constellab:platform"]["dns"] == {"provider": "none"}


def test_what_a_stack_does_not_use_is_not_asked_for(stacks_copy):
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return ""

    _, document = new_stack.build(stacks_copy, "zeta", "dev", "local", {"baseDomain": "localhost"}, ask, print)
    assert asked == ["Administrator networks (comma-separated CIDRs): "]  # the lab's Codelab SSH: optional here
    assert "aws:region" not in document["config"]
    assert not {"sshPublicKeys", "adminCidrs"} & set(document["config"]["constellab:platform"])
    _, document = new_stack.build(stacks_copy, "zeta", "dev", "local", {"baseDomain": "localhost"}, None, print)
    assert "aws:region" not in document["config"] and "adminCidrs" not in document["config"]["constellab:platform"]


def test_the_written_file_quotes_times_keeps_an_ssh_key_on_one_line_and_starts_with_customer_and_domain(stacks_copy):
    name, document = new_stack.build(stacks_copy, "zeta", "prod", None, ANSWERS, None, print)
    new_stack.write(stacks_copy, name, document, None, [*STACK_NAMES])
    text = (stacks_copy / "Pulumi.zeta-prod.yaml").read_text()
    assert '          start: "08:00"\n' in text and '          stop: "19:00"\n' in text  # unquoted, 19:00 is 1140
    assert f"    - {ANSWERS['sshPublicKeys']}\n" in text
    platform = text.split("  constellab:platform:\n", 1)[1].splitlines()
    assert platform[:2] == ["    customer: zeta", "    baseDomain: zeta.constellab.app"]


def test_every_new_stack_argument_has_a_help_line():
    parser = argparse.ArgumentParser()
    new_stack_command.arguments(parser)
    assert [action.dest for action in parser._actions if not action.help] == []


def test_new_stack_examples_are_written_as_users_type_them_and_run_as_written(tmp_path, monkeypatch, capsys):
    examples = new_stack_command.EXAMPLES
    assert isinstance(examples, tuple) and any("--from" in example for example in examples)
    for number, example in enumerate(examples):
        words = shlex.split(example)
        assert words[:3] == ["./run", "ops", "new-stack"], example
        stacks = tmp_path / str(number)
        shutil.copytree(STACKS, stacks)
        monkeypatch.setattr(common, "STACKS", stacks)
        monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{answer}\n" for _, answer in GOOD_ANSWERS)))
        assert cli.main(words[2:]) == 0, (example, capsys.readouterr().err)
        customer, env = words[3:5]
        assert load_stack_file(stacks / f"Pulumi.{customer}-{env}.yaml", require_secrets=False)


def test_a_bad_set_value_is_refused_before_the_first_question_and_asked_for_in_its_turn(stacks_copy):
    events: list[str] = []
    typed = iter(answer for _, answer in GOOD_ANSWERS)

    def ask(prompt: str) -> str:
        events.append(prompt)
        return next(typed)

    new_stack.build(stacks_copy, "zeta", "prod", None, {"baseDomain": "zeta constellab app"}, ask, events.append)
    assert events[0].startswith("--set baseDomain: 'zeta constellab app' is not a domain name")
    assert events[1:] == [prompt for prompt, _ in GOOD_ANSWERS]


def test_an_answer_refused_again_and_again_ends_in_one_error_naming_the_field(stacks_copy):
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return "zeta constellab app"

    with pytest.raises(new_stack.NewStackError, match=r"^baseDomain: 'zeta constellab app' is not a domain name"):
        new_stack.build(stacks_copy, "zeta", "prod", None, {}, ask, print)
    assert len(asked) == new_stack_answers.MAX_ASKS + 1


def test_a_stack_with_manual_certificates_is_told_to_set_each_servers_key_from_its_file(stacks_copy):
    given = {"baseDomain": "zeta.example.com"}
    name, document = new_stack.build(stacks_copy, "zeta", "prod", "pharma-onprem", given, None, print)
    commands = new_stack.secret_commands(name, document["config"]["constellab:platform"])
    assert "pulumi config set --secret --path 'tlsPrivateKeys.hub' -- \"$(cat hub.key)\" -s zeta-prod" in commands
    assert not any(command.startswith("pulumi config set --secret tlsPrivateKeys") for command in commands)


class TerminalInput(io.StringIO):
    """A terminal's input: Ctrl-D at a prompt ends it."""

    def isatty(self) -> bool:
        return True


def test_ctrl_d_at_a_terminal_says_aborted_without_advice_for_pipes(stacks_copy, monkeypatch, capsys):
    monkeypatch.setattr(common, "STACKS", stacks_copy)
    monkeypatch.setattr("sys.stdin", TerminalInput(""))
    before = snapshot(stacks_copy)
    assert cli.main(["new-stack", "foo", "dev"]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == "aborted, nothing written: input ended at baseDomain"
    assert snapshot(stacks_copy) == before


def test_from_takes_a_stack_file_too_and_names_a_directory_as_one(stacks_copy, tmp_path):
    given = {"baseDomain": "zeta.example.com"}
    source = tmp_path / "elsewhere" / "Pulumi.pharma-onprem.yaml"
    source.parent.mkdir()
    shutil.copy(stacks_copy / "Pulumi.pharma-onprem.yaml", source)
    _, from_file = new_stack.build(stacks_copy, "zeta", "prod", str(source), given, None, print)
    _, from_name = new_stack.build(stacks_copy, "zeta", "prod", "pharma-onprem", given, None, print)
    assert from_file == from_name
    with pytest.raises(new_stack.NewStackUsageError, match=r"^--from .*: a directory, not a stack"):
        new_stack.build(stacks_copy, "zeta", "prod", str(source.parent), given, None, print)
    with pytest.raises(new_stack.NewStackUsageError, match=r"^--from .*Pulumi\.nobody\.yaml: no such stack file$"):
        new_stack.build(stacks_copy, "zeta", "prod", str(source.parent / "Pulumi.nobody.yaml"), given, None, print)
