"""The preview documents of stacks as they are at a git ref (the `before` of `ops preview --against`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ops.git import GitRefError, resolve_commit, run_git


class AgainstError(Exception):
    """The git ref cannot be previewed (unknown ref, or its preview failed): one line, exit 2."""


def documents_at(root: Path, ref: str, stacks: list[str]) -> dict[str, dict[str, Any] | None]:
    """The preview documents of `stacks` as they are at `ref`, from a temporary worktree."""
    try:
        commit = resolve_commit(root, ref)
    except GitRefError as error:
        raise AgainstError(str(error)) from None
    folder = Path(tempfile.mkdtemp(prefix="constellab-against-"))
    worktree = folder / "tree"
    added = run_git(root, "worktree", "add", "--detach", "--quiet", str(worktree), commit)
    if added.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise AgainstError(f"cannot check out {ref!r}: {added.stderr.strip().splitlines()[-1] if added.stderr else ''}")
    try:
        present = [s for s in stacks if (worktree / "stacks" / f"Pulumi.{s}.yaml").is_file()]
        found: dict[str, dict[str, Any] | None] = dict.fromkeys(stacks)
        if not present:
            return found
        args = [sys.executable, "-m", "ops", "preview", "--format", "json"]
        for stack in present:
            args += ["--stack", stack]
        env = {**os.environ, "PYTHONPATH": str(worktree)}
        result = subprocess.run(args, cwd=worktree, capture_output=True, text=True, env=env, timeout=900)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no message"])[-1]
            raise AgainstError(f"the stacks at {ref!r} do not preview: {last}")
        report = json.loads(result.stdout)
        if report.get("schemaVersion") != 1:
            raise AgainstError(f"the preview at {ref!r} predates the JSON schema v1: compare with a later ref")
        for document in report["stacks"]:
            found[document["stack"]] = document
        return found
    finally:
        run_git(root, "worktree", "remove", "--force", str(worktree))
        shutil.rmtree(folder, ignore_errors=True)
