"""`ops affected` (`ops/affected.py`): the stacks a change touches, and a bad --against refused in one line.

Nothing is created or changed on a refusal.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from ops.affected import AffectedError, affected_stacks, changed_files
from ops.cli import main
from tests.conftest import STACK_NAMES


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


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (["stacks/Pulumi.local.yaml"], ["local"]),
        (["README.md", "docs/preview-json.md", "tests/test_x.py"], []),
        (["stacks/Pulumi.local.yaml", "components/host.py"], STACK_NAMES),
        (["stacks/Pulumi.gone.yaml"], []),
        (["constellab/config.py"], STACK_NAMES),
    ],
)
def test_affected_stacks_are_the_changed_stack_files_or_all_when_code_changes(files, expected):
    assert affected_stacks(files, STACK_NAMES) == expected


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
