"""What every `ops` command shares: where the stacks are, finding and loading them, usage errors.

Commands read `ROOT` and `STACKS` through this module (`common.STACKS`), so a test may point them elsewhere.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from constellab.naming import Server
    from constellab.settings import StackSettings

ROOT = Path(__file__).resolve().parent.parent
STACKS = ROOT / "stacks"
USAGE_ERROR = 2


class UsageError(Exception):
    """Bad arguments: reported in one line, exit 2."""


class InvalidStackError(Exception):
    """The stack file has problems (already printed): exit 1."""


def at_least_one(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small: give 1 or more")
    return value


def positive_seconds(text: str) -> float:
    """argparse type: a finite number of seconds above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a duration: give seconds above 0")
    return value


def check_directory_can_be_made(given: str, argument: str) -> None:
    """Refuses, before any work starts, a directory that exists as a file or cannot be created."""
    from ops.files import why_no_files_can_go_in

    if not given.strip():
        raise UsageError(f"{argument}: give a directory")
    problem = why_no_files_can_go_in(Path(given))
    if problem:
        raise UsageError(f"{argument} {given}: {problem}")


def known_stacks(stacks_dir: Path | None = None) -> list[str]:
    """Every stack with a file in `stacks_dir` (stacks/), sorted."""
    return [stack_name(path) for path in sorted((stacks_dir or STACKS).glob("Pulumi.*.yaml"))]


def stack_name(path: Path) -> str:
    from constellab.settings import stack_name_of

    return stack_name_of(path)


def stack_files(names: Sequence[str], all_stacks: bool) -> list[Path]:
    """Stack names (or paths) to stack files, refusing unknown ones with the list of known stacks."""
    known = sorted(STACKS.glob("Pulumi.*.yaml"))
    if all_stacks:
        if not known:
            raise UsageError(f"no stack files in {STACKS}")
        return known
    if not names:
        raise UsageError("name a stack with --stack <stack> (repeatable) or use --all")
    found = []
    for name in names:
        path = Path(name)
        candidate = path if path.suffix in (".yaml", ".yml") else STACKS / f"Pulumi.{name}.yaml"
        if candidate.is_symlink() and not candidate.exists():
            raise UsageError(f"{candidate}: a broken or looping symbolic link")
        if candidate.exists() and not candidate.is_file():
            raise UsageError(f"{candidate}: not a regular file (a stack file is Pulumi.<stack>.yaml)")
        if not candidate.is_file():
            choices = ", ".join(known_stacks()) or "none"
            raise UsageError(f"unknown stack {name!r} (stacks: {choices})")
        if not candidate.name.startswith("Pulumi.") or candidate.name.count(".") < 2:
            raise UsageError(f"{candidate}: a stack file is named Pulumi.<stack>.yaml")
        if candidate not in found:  # a stack named twice is previewed once
            found.append(candidate)
    return found


def load_or_report(path: Path) -> StackSettings | None:
    """The validated stack, or None after printing its problems (all of them) to stderr."""
    from constellab.settings import StackConfigError, load_stack_file

    try:
        return load_stack_file(path)
    except StackConfigError as error:
        print(error.render(), file=sys.stderr)
        return None


def stack_and_server(stack: str, server: str) -> tuple[StackSettings, Server]:
    """A validated stack and one of its servers; unknown names are usage errors."""
    settings = load_or_report(stack_files([stack], False)[0])
    if settings is None:
        raise InvalidStackError
    servers = {found.name: found for _, found in settings.platform.servers()}
    if server not in servers:
        raise UsageError(f"stack {stack!r} has no server {server!r} (servers: {', '.join(servers)})")
    return settings, servers[server]


def deployable(names: list[str]) -> list[str]:
    """The stacks a rollout or a deploy may touch: all but those rollout.yaml excludes."""
    from ops.rollout import RolloutError, load_plan

    try:
        excluded = set(load_plan(STACKS, names).excluded)
    except RolloutError as error:
        raise UsageError(str(error)) from None
    return [name for name in names if name not in excluded]
