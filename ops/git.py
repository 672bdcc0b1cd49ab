"""Asking git, for the commands that compare with a ref (`preview --against`, `affected --against`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


class GitRefError(Exception):
    """The ref cannot be compared with (empty, an option, unknown, or no git): the message says why."""


def run_git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)


def resolve_commit(root: Path, ref: str) -> str:
    """The commit `ref` names in the repository at `root`; refuses what git must never read as an option."""
    if not ref.strip():
        raise GitRefError("--against needs a git ref: a branch, tag or commit, e.g. --against origin/main")
    if ref.startswith("-"):
        # git would take it as an option (`--output=<file>` writes a file): never pass it on.
        raise GitRefError(f"--against {ref!r}: a git ref cannot start with '-'; name a branch, tag or commit")
    if "\0" in ref:
        raise GitRefError(f"--against {ref!r}: a git ref cannot contain a NUL byte")
    if shutil.which("git") is None:
        raise GitRefError("--against needs git: install it")
    # --end-of-options: even a ref that got past the checks above is never read as an option.
    resolved = run_git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if resolved.returncode != 0:
        raise GitRefError(f"unknown git ref {ref!r}")
    return resolved.stdout.strip()


def not_ignored(root: Path, paths: list[Path]) -> list[Path] | None:
    """Those of `paths` (inside the repository at `root`) that git does not ignore, so that a `git add` would
    take them; None when git cannot tell (no git, or `root` is not a git work tree)."""
    if shutil.which("git") is None:
        return None
    relative = [str(path.resolve().relative_to(root.resolve())) for path in paths]
    # Exit 0: some are ignored (listed), 1: none is; anything else: git could not tell.
    answer = run_git(root, "check-ignore", "--verbose", "--non-matching", "--", *relative)
    if answer.returncode not in (0, 1):
        return None
    # `--verbose --non-matching` prints `::\t<path>` for a path no pattern ignores.
    unmatched = {line.split("\t", 1)[1] for line in answer.stdout.splitlines() if line.startswith("::\t")}
    return [path for path, shown in zip(paths, relative, strict=True) if shown in unmatched]
