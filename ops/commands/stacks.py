"""`ops stacks`: the stacks of stacks/ with their customer (for CI matrices)."""

from __future__ import annotations

import argparse
import json

from ops import common

NAME = "stacks"
HELP = "list the stacks, with their customer (for CI matrices)"
DESCRIPTION = "List the stacks of stacks/; --deployable leaves out those rollout.yaml excludes."


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--deployable", action="store_true")
    parser.add_argument("--format", choices=("lines", "json"), default="lines")


def run(args: argparse.Namespace) -> int:
    names = common.known_stacks()
    if args.deployable:
        names = common.deployable(names)
    entries = []
    for name in names:
        settings = common.load_or_report(common.STACKS / f"Pulumi.{name}.yaml")
        if settings is None:
            return 1
        entries.append({"stack": name, "customer": settings.platform.customer})
    if args.format == "json":
        print(json.dumps(entries))
    else:
        print("\n".join(entry["stack"] for entry in entries))
    return 0
