"""`ops validate`: check stack files without the Pulumi CLI, every problem with its field path."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ops import common

NAME = "validate"
HELP = "check stack files (all of stacks/ when none is named)"
DESCRIPTION = "Validate stack files without the Pulumi CLI: every problem with its field path; exit 1 if any."


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", metavar="stacks/Pulumi.<stack>.yaml")


def run(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.files] or sorted(common.STACKS.glob("Pulumi.*.yaml"))
    failed = 0
    for path in paths:
        if not path.is_file():
            print(f"{path}: no such stack file", file=sys.stderr)
            failed += 1
            continue
        settings = common.load_or_report(path)
        if settings is None:
            failed += 1
            continue
        servers = ", ".join(f"{server.name} ({server.placement.kind})" for _, server in settings.platform.servers())
        print(f"{path}: valid — {servers}")
    return 1 if failed else 0
