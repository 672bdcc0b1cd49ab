"""`ops validate`: every shipped stack is valid, and every problem of a stack file is reported at once."""

from __future__ import annotations

from ops.cli import main
from tests.conftest import STACK_NAMES


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


def test_validate_takes_stack_names_and_all_like_every_other_command(capsys):
    assert main(["validate", "local", "acme-cloud"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["stacks/Pulumi.local.yaml", "stacks/Pulumi.acme-cloud.yaml"]
    assert main(["validate", "--all"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(STACK_NAMES)


def test_validate_refuses_an_unknown_stack_with_the_list_of_stacks(capsys):
    assert main(["validate", "nobody"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: unknown stack 'nobody' (stacks: acme-cloud, biolab-hybrid, local, pharma-onprem)"
    )


def test_a_stack_and_all_together_are_refused(capsys):
    for command in (["validate", "local", "--all"], ["preview", "--stack", "local", "--all"],
                    ["check", "--all", "--stack", "local"]):  # fmt: skip
        assert main(command) == 2, command
        assert capsys.readouterr().err.strip() == "error: --all and a stack (local) conflict: give one or the other"


def test_validate_takes_stack_like_every_other_command(capsys):
    assert main(["validate", "--stack", "local", "--stack", "acme-cloud"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["stacks/Pulumi.local.yaml", "stacks/Pulumi.acme-cloud.yaml"]
