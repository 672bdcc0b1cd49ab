"""Which stacks a change affects: a stack file's own stacks, or all of them when shared code changes."""

from __future__ import annotations

import shutil
from pathlib import Path

from ops.git import GitRefError, resolve_commit, run_git

# Changes to these never change what any stack declares.
NEUTRAL = ("README.md", "docs/", ".github/", "bench/", "tests/", "policies/README.md")


class AffectedError(Exception):
    """The change cannot be worked out (bad ref, no git, not a repository): one line, exit 2."""


def _last_line(stderr: str) -> str:
    return (stderr.strip().splitlines() or ["git gave no message"])[-1]


def _paths(output: str) -> set[str]:
    """Paths of a `-z` listing (NUL-separated, so names with spaces or quotes come through as they are)."""
    return {path for path in output.split("\0") if path}


def changed_files(root: Path, ref: str) -> list[str]:
    """Files changed since `ref` forked from HEAD, plus uncommitted and untracked (not ignored) files.

    Paths are relative to the top of the repository. Bad refs, a missing git and a directory outside
    any repository are refused with an AffectedError before git is asked anything else.
    """
    if shutil.which("git") is None:
        raise AffectedError("--against needs git: install it, or list the stacks with --stack")
    top = run_git(root, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise AffectedError(f"not a git repository: {root} (run `ops affected` in a clone)")
    top_level = Path(top.stdout.strip())
    try:
        commit = resolve_commit(top_level, ref)
    except GitRefError as error:
        hint = ": --against takes a branch, tag or commit of this repository (in a shallow CI clone, fetch it first)"
        raise AffectedError(f"{error}{hint if str(error).startswith('unknown') else ''}") from None
    head = run_git(top_level, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if head.returncode != 0:
        raise AffectedError(f"{top_level}: HEAD has no commit yet: commit once, then compare")
    base = run_git(top_level, "merge-base", commit, head.stdout.strip())
    if base.returncode != 0:
        raise AffectedError(f"{ref!r} shares no history with HEAD: --against takes an ancestor branch of this one")
    listings = (
        ("diff", "--name-only", "-z", base.stdout.strip(), head.stdout.strip(), "--"),  # committed since the fork
        ("diff", "--name-only", "-z", "HEAD", "--"),  # staged or not, not committed yet
        ("ls-files", "--others", "--exclude-standard", "-z"),  # new files git does not track yet
    )
    changed: set[str] = set()
    for listing in listings:
        result = run_git(top_level, *listing)
        if result.returncode != 0:
            raise AffectedError(f"cannot compare with {ref!r}: git {listing[0]}: {_last_line(result.stderr)}")
        changed |= _paths(result.stdout)
    return sorted(changed)


def affected_stacks(files: list[str], all_stacks: list[str]) -> list[str]:
    """Stacks to preview for a set of changed files (paths relative to the repository)."""
    stacks: set[str] = set()
    for file in files:
        if file.startswith("stacks/Pulumi.") and file.endswith(".yaml"):
            name = file[len("stacks/Pulumi.") : -len(".yaml")]
            if name in all_stacks:
                stacks.add(name)
        elif file.startswith(NEUTRAL) or file.endswith(".md"):
            continue
        else:
            return list(all_stacks)  # shared code or schema: every customer may change
    return sorted(stacks)
