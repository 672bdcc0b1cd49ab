"""Which stacks a change affects: a stack file's own stacks, or all of them when shared code changes."""

from __future__ import annotations

import subprocess
from pathlib import Path

# Changes to these never change what any stack declares.
NEUTRAL = ("README.md", "docs/", ".github/", "bench/", "tests/", "policies/README.md")


class AffectedError(Exception):
    pass


def changed_files(root: Path, ref: str) -> list[str]:
    result = subprocess.run(["git", "diff", "--name-only", f"{ref}...HEAD"], cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise AffectedError(f"cannot compare with {ref!r}: {(result.stderr.strip().splitlines() or [''])[-1]}")
    uncommitted = subprocess.run(["git", "diff", "--name-only", "HEAD"], cwd=root, capture_output=True, text=True)
    return sorted({line for line in (result.stdout + uncommitted.stdout).splitlines() if line})


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
