"""`ops affected`: the stacks a change since a git ref touches (for pull requests)."""

from __future__ import annotations

import argparse

from ops import common

NAME = "affected"
HELP = "list the stacks a change affects (for pull requests)"
DESCRIPTION = "Stacks whose files changed since <git-ref>, or every stack when shared code changed."
EXAMPLES = (
    "./run ops affected --against origin/main",
    "./run ops affected --against origin/main --format args --deployable",
)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--against", required=True, metavar="<git-ref>", help="the branch, tag or commit to compare with"
    )
    parser.add_argument(
        "--format", choices=("lines", "args"), default="lines", help="lines: one stack a line; args: --stack options"
    )
    parser.add_argument("--deployable", action="store_true", help="leave out the stacks rollout.yaml excludes")


def run(args: argparse.Namespace) -> int:
    from ops.affected import AffectedError, affected_stacks, changed_files

    names = common.known_stacks()
    try:
        stacks = affected_stacks(changed_files(common.ROOT, args.against), names)
    except AffectedError as error:
        raise common.UsageError(str(error)) from None
    if args.deployable:
        allowed = set(common.deployable(names))
        stacks = [stack for stack in stacks if stack in allowed]
    if args.format == "args":
        print("--all" if stacks == names and stacks else " ".join(f"--stack {stack}" for stack in stacks))
    else:
        print("\n".join(stacks))
    return 0
