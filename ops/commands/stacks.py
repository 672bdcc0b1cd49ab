"""`ops stacks`: the stacks of stacks/ with their customer (for CI matrices)."""

from __future__ import annotations

import argparse
import json
import sys

from ops import common

NAME = "stacks"
HELP = "list the stacks, with their customer (for CI matrices)"
DESCRIPTION = "List the stacks of stacks/; --deployable leaves out those rollout.yaml excludes."

EXAMPLES = ("./run ops stacks", "./run ops stacks --deployable --format json")


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--deployable", action="store_true", help="leave out the stacks rollout.yaml excludes")
    parser.add_argument(
        "--format", choices=("lines", "json"), default="lines", help="lines: names; json: names and customers"
    )


def run(args: argparse.Namespace) -> int:
    names = common.known_stacks()
    if args.deployable:
        names = common.deployable(names)
    entries = []
    failed = []
    for name in names:
        settings = common.load_or_report(common.STACKS / f"Pulumi.{name}.yaml", offline=True)
        if settings is None:
            failed.append(name)  # listed on stderr; the others are listed all the same
            continue
        entries.append({"stack": name, "customer": settings.platform.customer})
    if args.format == "json":
        print(json.dumps(entries))
    else:
        print("\n".join(entry["stack"] for entry in entries))
    if failed:
        print(f"error: {len(failed)} stack(s) failed validation: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
