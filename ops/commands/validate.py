"""`ops validate`: check stack files without the Pulumi CLI, every problem with its field path."""

from __future__ import annotations

import argparse

from ops import common

NAME = "validate"
HELP = "check stack files (all of stacks/ when none is named)"
DESCRIPTION = "Validate stack files without the Pulumi CLI: every problem with its field path; exit 1 if any."

EXAMPLES = (
    "./run ops validate",
    "./run ops validate acme-cloud stacks/Pulumi.local.yaml",
    "./run ops validate --stack acme-cloud --stack local",
)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "stacks", nargs="*", metavar="<stack>", help="a stack's name or its file (default: every stack in stacks/)"
    )
    common.add_stack_selection(parser)  # --stack and --all, as every command that takes stacks has them


def run(args: argparse.Namespace) -> int:
    named = [*args.stacks, *args.stack]
    paths = common.stack_files(named, args.all or not named)
    failed = 0
    for path in paths:
        settings = common.load_or_report(path)
        if settings is None:
            failed += 1
            continue
        servers = ", ".join(f"{server.name} ({server.placement.kind})" for _, server in settings.platform.servers())
        print(f"{common.shown(path)}: valid — {servers}")
    return 1 if failed else 0
