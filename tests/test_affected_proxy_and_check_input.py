"""Bad input to `ops affected`, `ops render-proxy --out` and `ops check --policy-config`: refused in one line.

Nothing is created or changed on a refusal, and no output is ever left half written.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from offline import guardrails
from offline.engine import Registration
from offline.guardrails import PolicyConfigError, evaluate, load_config
from ops import render_proxy
from ops.affected import AffectedError, affected_stacks, changed_files
from ops.cli import main
from ops.render_proxy import OutputError, RenderedFile, output_directory
from policies.rules import ALL_RULES
from tests.conftest import ROOT

RULES = {rule.name: rule for rule in ALL_RULES}

# --- ops affected ---------------------------------------------------------------------------------


@pytest.fixture
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """git that reads no configuration of this machine and never looks above tmp_path for a repository."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for variable in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{variable}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{variable}_EMAIL", "test@example.com")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(isolated_git: None, tmp_path: Path) -> Path:
    """A repository with one commit: a stack file, some code and a .gitignore."""
    root = tmp_path / "repo"
    (root / "stacks").mkdir(parents=True)
    (root / "stacks" / "Pulumi.old.yaml").write_text("config: {}\n")
    (root / "program.py").write_text("print('hello')\n")
    (root / ".gitignore").write_text("*.log\n")
    git(root, "init", "--quiet", "--initial-branch=main")
    git(root, "add", ".")
    git(root, "commit", "--quiet", "-m", "first")
    return root


def test_affected_refuses_a_ref_git_would_take_for_an_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    injected = tmp_path / "injected"
    assert main(["affected", f"--against=--output={injected}"]) == 2
    assert not injected.exists()
    assert "error: --against '--output=" in capsys.readouterr().err


def test_affected_refuses_an_empty_ref(capsys: pytest.CaptureFixture[str]):
    assert main(["affected", "--against", ""]) == 2
    assert capsys.readouterr().err.startswith("error: --against needs a git ref")


def test_an_option_like_ref_never_reaches_git(repo: Path):
    with pytest.raises(AffectedError, match="cannot start with '-'"):
        changed_files(repo, f"--output={repo / 'injected'}")
    assert not (repo / "injected").exists()


def test_an_unknown_ref_is_named_as_such(repo: Path):
    with pytest.raises(AffectedError, match=r"^unknown git ref 'nosuch': --against takes a branch"):
        changed_files(repo, "nosuch")


def test_a_directory_outside_any_repository_is_named(isolated_git: None, tmp_path: Path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(AffectedError, match=f"^{re.escape(f'not a git repository: {plain}')}"):
        changed_files(plain, "HEAD")


def test_an_untracked_stack_file_counts_as_changed_but_an_ignored_file_does_not(repo: Path):
    (repo / "stacks" / "Pulumi.new.yaml").write_text("config: {}\n")
    (repo / "debug.log").write_text("ignored\n")
    files = changed_files(repo, "HEAD")
    assert files == ["stacks/Pulumi.new.yaml"]
    assert affected_stacks(files, ["new", "old"]) == ["new"]


def test_committed_uncommitted_and_untracked_changes_all_count(repo: Path):
    git(repo, "switch", "--quiet", "-c", "feature")
    (repo / "stacks" / "Pulumi.old.yaml").write_text("config: {changed: true}\n")
    git(repo, "commit", "--quiet", "-am", "change a stack")
    (repo / "program.py").write_text("print('changed')\n")
    (repo / "stacks" / "Pulumi.my stack.yaml").write_text("config: {}\n")  # a space: read through -z
    assert changed_files(repo, "main") == ["program.py", "stacks/Pulumi.my stack.yaml", "stacks/Pulumi.old.yaml"]


# --- ops render-proxy --out -----------------------------------------------------------------------

FILES = [
    RenderedFile("traefik.yml", "static\n", secret=False),
    RenderedFile("dynamic/core.yml", "dynamic\n", secret=False),
    RenderedFile("certs/privkey.pem", "-----BEGIN PRIVATE KEY-----\n", secret=True),
]


def everything_under(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def test_out_under_a_regular_file_is_refused_before_anything_is_written(tmp_path: Path):
    (tmp_path / "afile").write_text("keep\n")
    with pytest.raises(OutputError, match=re.escape(f"{tmp_path / 'afile'} is a file")):
        render_proxy.write(FILES, tmp_path / "afile" / "sub")
    assert everything_under(tmp_path) == ["afile"]
    with pytest.raises(OutputError, match="is a file"):
        output_directory(str(tmp_path / "afile" / "sub"))


def test_a_file_where_a_directory_goes_stops_the_write_before_any_file_is_written(tmp_path: Path):
    (tmp_path / "dynamic").write_text("in the way\n")
    expected = f"{tmp_path / 'dynamic'} is a file: remove it or choose another --out"
    with pytest.raises(OutputError, match=re.escape(expected)):
        render_proxy.write(FILES, tmp_path)
    assert everything_under(tmp_path) == ["dynamic"]  # traefik.yml, first in the list, was not written


def test_a_directory_where_a_file_goes_is_refused(tmp_path: Path):
    (tmp_path / "traefik.yml").mkdir()
    with pytest.raises(OutputError, match=r"traefik\.yml is a directory"):
        render_proxy.write(FILES, tmp_path)
    assert everything_under(tmp_path) == ["traefik.yml"]


def test_an_empty_out_is_refused_rather_than_read_as_the_current_directory():
    for empty in ("", "  "):
        with pytest.raises(OutputError, match="--out needs a directory"):
            output_directory(empty)


def test_files_are_written_with_their_final_modes_and_replace_earlier_ones(tmp_path: Path):
    (tmp_path / "traefik.yml").write_text("old\n")
    written = render_proxy.write(FILES, tmp_path)
    assert written == [tmp_path / file.relative_path for file in FILES]
    assert everything_under(tmp_path) == [
        "certs", "certs/privkey.pem", "dynamic", "dynamic/core.yml", "traefik.yml"
    ]  # fmt: skip
    assert (tmp_path / "traefik.yml").read_text() == "static\n"
    assert stat.S_IMODE((tmp_path / "traefik.yml").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "certs/privkey.pem").stat().st_mode) == 0o600


def test_a_secret_is_never_on_disk_readable_by_others_even_before_its_mode_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The secret's bytes reach the disk (fsync) while its mode is still the one it was created with: that
    mode, not the final chmod, is what keeps it from others until then."""
    seen: list[int] = []
    real_fsync = os.fsync

    def fsync_noting_the_mode(descriptor: int) -> None:
        seen.append(stat.S_IMODE(os.fstat(descriptor).st_mode))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync_noting_the_mode)
    render_proxy.write([FILES[2]], tmp_path)

    assert seen and all(mode & 0o077 == 0 for mode in seen), [oct(mode) for mode in seen]
    assert stat.S_IMODE((tmp_path / FILES[2].relative_path).stat().st_mode) == 0o600


def test_a_failure_while_writing_leaves_no_partial_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    out = tmp_path / "out"
    real_fsync = os.fsync
    calls = []

    def disk_full_on_the_second_file(descriptor: int) -> None:
        calls.append(descriptor)
        if len(calls) == 2:  # a full disk often shows only when the data is flushed
            raise OSError(28, "No space left on device")
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", disk_full_on_the_second_file)
    with pytest.raises(OutputError, match="No space left on device"):
        render_proxy.write(FILES, out)
    assert not out.exists()  # the directories it made are gone too


# --- ops check --policy-config --------------------------------------------------------------------

INSTANCE = "aws:ec2/instance:Instance"


def instance(instance_type: str) -> Registration:
    return Registration(
        urn=f"urn:pulumi:s::constellab::{INSTANCE}::vm",
        type=INSTANCE,
        name="vm",
        parent="",
        custom=True,
        id="vm-id",
        provider="",
        protect=False,
        retain_on_delete=False,
        delete_before_replace=False,
        ignore_changes=[],
        dependencies=[],
        inputs={"instanceType": instance_type},
        outputs={},
    )


def config_file(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "pack.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ([1], 'a JSON object of rule names, e.g. {"all": "advisory"}, not an array'),
        (
            {"ec2-allowed-instance-type": {"allowedInstanceTypes": ["t3.*"]}},
            "unknown rule 'ec2-allowed-instance-type': did you mean 'ec2-allowed-instance-types'?",
        ),
        (
            {"docker-restart-policy": {"enforcementLevel": "warn"}},
            "docker-restart-policy: enforcementLevel: 'warn' is not an enforcement level: "
            "use one of advisory, mandatory, remediate, disabled",
        ),
        ({"docker-restart-policy": "warn"}, "docker-restart-policy: 'warn' is not an enforcement level"),
        ({"all": "strict"}, "all: 'strict' is not an enforcement level"),
        (
            {"ec2-allowed-instance-types": {"allowedInstanceTypes": "c5.*"}},
            "ec2-allowed-instance-types: allowedInstanceTypes must be an array, not the string 'c5.*' "
            '(e.g. ["t3.*", "t3a.*"])',
        ),
        (
            {"ec2-allowed-instance-types": {"allowedInstanceTypes": ["t3.*", 5]}},
            "ec2-allowed-instance-types: allowedInstanceTypes[1] must be a string, not the number 5",
        ),
        (
            {"ec2-admin-cidrs-narrow": {"minimumAdminPrefixLength": 0}},
            "ec2-admin-cidrs-narrow: minimumAdminPrefixLength must be at least 1, not 0 (e.g. 16)",
        ),
        (
            {"ec2-allowed-instance-types": {"allowedTypes": ["t3.*"]}},
            "ec2-allowed-instance-types: unknown key 'allowedTypes' (keys: enforcementLevel, allowedInstanceTypes)",
        ),
        ({"ec2-allowed-instance-types": 5}, "ec2-allowed-instance-types: give an enforcement level"),
        ({"all": {"allowedInstanceTypes": []}}, "all: only enforcementLevel applies to every rule"),
        ('{"all": "advisory", "all": "disabled"}', "'all' is given twice: keep one"),
        ("{bad", "not JSON: Expecting property name enclosed in double quotes (line 1, column 2)"),
    ],
    ids=[
        "list", "misspelled-rule", "warn-level", "warn-shorthand", "bad-all", "string-for-array",
        "number-in-array", "below-minimum", "unknown-key", "number-for-rule", "all-with-parameter",
        "duplicate-key", "bad-json",
    ],
)  # fmt: skip
def test_check_refuses_a_bad_policy_config_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: object, message: str
):
    assert main(["check", "--stack", "local", "--policy-config", str(config_file(tmp_path, content))]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --policy-config: ") and message in lines[0], lines


def test_check_refuses_a_missing_policy_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["check", "--stack", "local", "--policy-config", str(tmp_path / "nope.json")]) == 2
    assert capsys.readouterr().err == f"error: --policy-config: {tmp_path / 'nope.json'}: no such file\n"


def test_an_enforcement_level_alone_disables_or_changes_a_rule(tmp_path: Path):
    vm = [instance("p5.48xlarge")]
    rule = [RULES["ec2-allowed-instance-types"]]
    assert [v.level for v in evaluate(vm, rule)] == ["mandatory"]
    disabled = load_config(config_file(tmp_path, {"ec2-allowed-instance-types": "disabled"}))
    assert evaluate(vm, rule, disabled) == []
    advisory = load_config(config_file(tmp_path, {"ec2-allowed-instance-types": "advisory"}))
    assert [v.level for v in evaluate(vm, rule, advisory)] == ["advisory"]


def test_all_sets_every_rules_level_unless_the_rule_has_its_own(tmp_path: Path):
    config = load_config(
        config_file(tmp_path, {"all": "disabled", "aws-required-tags": {"enforcementLevel": "advisory"}})
    )
    assert config["ec2-allowed-instance-types"] == {"enforcementLevel": "disabled"}
    assert config["aws-required-tags"] == {"enforcementLevel": "advisory"}
    assert [v.rule for v in evaluate([instance("p5.48xlarge")], pack_config=config)] == ["aws-required-tags"]


def test_remediate_reports_as_mandatory_since_no_rule_remediates(tmp_path: Path):
    advisory = RULES["ec2-monitored-and-ebs-optimized"]
    assert {v.level for v in evaluate([instance("t3.large")], [advisory])} == {"advisory"}
    for given in ("remediate", {"enforcementLevel": "remediate"}):
        config = load_config(config_file(tmp_path, {advisory.name: given}))
        assert {v.level for v in evaluate([instance("t3.large")], [advisory], config)} == {"mandatory"}


def test_a_valid_parameter_is_passed_to_the_rule(tmp_path: Path):
    config = load_config(config_file(tmp_path, {"ec2-allowed-instance-types": {"allowedInstanceTypes": ["p5.*"]}}))
    assert evaluate([instance("p5.48xlarge")], [RULES["ec2-allowed-instance-types"]], config) == []


def test_an_empty_policy_config_file_configures_nothing(tmp_path: Path):
    assert load_config(config_file(tmp_path, "  \n")) == {}


def test_every_rule_schema_uses_only_keywords_the_config_check_understands():
    for rule in ALL_RULES:
        for key, schema in rule.config.items():
            unchecked = set(schema) - guardrails.SCHEMA_KEYWORDS
            assert not unchecked, f"{rule.name}.{key}: {unchecked} would not be checked in --policy-config"


def test_policy_config_errors_are_value_errors_so_the_cli_reports_them_as_usage_errors():
    assert issubclass(PolicyConfigError, ValueError)


def test_disabled_guardrails_are_never_counted_as_passing(tmp_path):
    def check_local(config: str) -> str:
        path = tmp_path / "pack.json"
        path.write_text(config)
        result = subprocess.run(
            [sys.executable, "-m", "ops", "check", "--stack", "local", "--policy-config", str(path)],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    expected = f"local: all {len(ALL_RULES) - 1} enabled guardrails pass (1 disabled)"
    assert check_local('{"s3-versioning-enabled": "disabled"}') == expected
    nothing = "local: nothing checked: the pack configuration disables every guardrail"
    assert check_local('{"all": "disabled"}') == nothing
