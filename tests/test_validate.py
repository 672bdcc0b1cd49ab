"""`ops validate`: every shipped stack is valid, and every problem of a stack file is reported at once."""

from __future__ import annotations

from ops.cli import main


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
