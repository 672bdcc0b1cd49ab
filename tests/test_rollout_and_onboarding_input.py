"""Bad input to `ops rollout` and `ops new-stack`: one clear line naming the field and the fix, the right
exit code, and nothing created or changed."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ops import cli, common, new_stack
from ops.rollout import RolloutError, done_in, load_plan, prepare_policy_pack, select
from tests.conftest import NEW_STACK_ANSWERS as ANSWERS
from tests.conftest import STACK_NAMES, STACKS

ANSWER_ARGS = [argument for path, value in ANSWERS.items() for argument in ("--set", f"{path}={value}")]


def snapshot(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def never_asked(prompt: str) -> str:
    raise AssertionError(f"asked {prompt!r} although an argument was wrong")


# ---------------------------------------------------------------------------------------------
# rollout
# ---------------------------------------------------------------------------------------------


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
    with pytest.raises(
        RolloutError, match=r"^--stacks 'zzz\*' matches no stack of rollout.yaml \(stacks: .*acme-cloud"
    ):
        select(plan, None, "zzz*")
    with pytest.raises(
        RolloutError, match=r"^--stacks 'zzz\*' matches no stack of wave early \(stacks: biolab-hybrid\)$"
    ):
        select(plan, "early", "zzz*")


# ---------------------------------------------------------------------------------------------
# new-stack
# ---------------------------------------------------------------------------------------------


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
