"""What every `ops` command shares: where the stacks are, finding and loading them, usage errors.

Commands read `ROOT` and `STACKS` through this module (`common.STACKS`), so a test may point them elsewhere.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from constellab.naming import Server
    from constellab.settings import StackSettings

ROOT = Path(__file__).resolve().parent.parent
STACKS = ROOT / "stacks"
USAGE_ERROR = 2


class UsageError(Exception):
    """Bad arguments: reported in one line, exit 2."""


class CommandError(Exception):
    """The command could not do its work (the message says why): one line, exit 1."""


class InvalidStackError(Exception):
    """The stack file has problems (the message lists them all): exit 1."""


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


def is_web_address(url: str) -> bool:
    """Whether `url` is an http(s) address with a host (and, if any, a port number) a request can be sent to."""
    import urllib.parse

    try:
        target = urllib.parse.urlsplit(url)
        target.port  # noqa: B018 (read for its check: a port that is no number, or out of range, raises)
    except ValueError:  # e.g. `http://[::1` (an unclosed bracket), `http://host:x`
        return False
    return target.scheme in ("http", "https") and bool(target.hostname)


def policy_config(given: str | None) -> dict[str, dict[str, Any]]:
    """`--policy-config`'s pack configuration (empty without one), or a usage error naming the option."""
    from offline import guardrails

    try:
        return guardrails.load_config(Path(given) if given else None)
    except (OSError, ValueError) as error:
        raise UsageError(f"--policy-config: {error}") from None


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


def add_stack_selection(parser: argparse.ArgumentParser) -> None:
    """`--stack` (repeatable) and `--all`, as every command that works on several stacks takes them."""
    parser.add_argument(
        "--stack", action="append", default=[], metavar="<stack>", help="a stack's name or file (repeatable)"
    )
    parser.add_argument("--all", action="store_true", help="every stack in stacks/")


def stack_files(names: Sequence[str], all_stacks: bool) -> list[Path]:
    """Stack names (or paths) to stack files, refusing unknown ones with the list of known stacks."""
    known = sorted(STACKS.glob("Pulumi.*.yaml"))
    if all_stacks and names:
        raise UsageError(f"--all and a stack ({names[0]}) conflict: give one or the other")
    if all_stacks:
        if not known:
            raise UsageError(f"no stack files in {STACKS}")
        return known
    if not names:
        raise UsageError("name a stack with --stack <stack> (repeatable) or use --all")
    found = []
    for name in names:
        path = Path(name)
        if path.is_dir():
            raise UsageError(f"{name}: a directory, not a stack file (a stack file is Pulumi.<stack>.yaml)")
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


def shown(path: Path) -> str:
    """A path as a user would type it: relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_or_report(path: Path, *, offline: bool = False) -> StackSettings | None:
    """The validated stack, or None after printing its problems (all of them) to stderr.

    `offline`: for a command that runs nothing for real, secrets not set yet are no problem (placeholders
    stand in for them): it says so once and goes on.
    """
    from constellab.settings import StackConfigError, load_stack_file

    try:
        settings = load_stack_file(path, require_secrets=not offline)
    except StackConfigError as error:
        print(error.render(shown(path)), file=sys.stderr)
        return None
    note_unset_secrets(path, settings)
    return settings


def note_unset_secrets(path: Path, settings: StackSettings) -> None:
    """Says once, on stderr, which secrets a stack has not set yet (an offline run uses placeholders)."""
    if settings.unset_secrets:
        names = ", ".join(issue.path for issue in settings.unset_secrets)
        print(
            f"note: {path.name}: {len(settings.unset_secrets)} secret(s) not set yet, placeholders stand in "
            f"offline: {names} (`./run ops validate {stack_name(path)}` says how to set them)",
            file=sys.stderr,
        )


def stack_and_server(stack: str, server: str) -> tuple[StackSettings, Server]:
    """A validated stack and one of its servers; unknown names are usage errors."""
    from constellab.settings import StackConfigError, load_stack_file

    path = stack_files([stack], False)[0]
    try:
        # No secret is decrypted here: one not set yet is no problem (`note_unset_secrets` says so).
        settings = load_stack_file(path, require_secrets=False)
    except StackConfigError as error:
        raise InvalidStackError(error.render(shown(path))) from None
    note_unset_secrets(path, settings)
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
