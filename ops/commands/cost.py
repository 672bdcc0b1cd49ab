"""`ops cost`: what each stack costs a month on AWS, per server, from the offline preview and the price table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ops import common

NAME = "cost"
HELP = "estimate each stack's monthly AWS cost, per server"
DESCRIPTION = (
    "Run the program offline (as `ops preview` does) and price what it declares on AWS with the price table "
    "(constellab/cost/prices.json, or --prices): instance hours (always on 730 h a month, scheduled labs their "
    "weekly hours × 52/12, parked labs none) and detailed monitoring's metrics for the same hours; EBS volumes, "
    "public IPv4 addresses and alarms, billed while stopped too. Usage-based costs (S3, data transfer out, "
    "scheduler invocations) are listed with their unit price, not totalled; a price the table lacks is "
    "'price unknown', and the total is then a lower bound."
)

EXAMPLES = (
    "./run ops cost --stack acme-cloud",
    "./run ops cost --all --format markdown > cost.md",
    "./run ops cost --stack biolab-hybrid --format json --prices my-prices.json",
)


def arguments(parser: argparse.ArgumentParser) -> None:
    common.add_stack_selection(parser)
    parser.add_argument(
        "--format",
        choices=("text", "json", "markdown"),
        default="text",
        help="text: per server and line; json: the same as data; markdown: tables with a bar per stack and server",
    )
    parser.add_argument(
        "--prices", metavar="<file.json>", help="price table to use (default: the shipped one, see `ops prices`)"
    )
    parser.add_argument(
        "--jobs", type=common.at_least_one, metavar="<n>", help="stacks previewed at once (default: cores)"
    )


def run(args: argparse.Namespace) -> int:
    from constellab.cost import estimate, prices, render
    from constellab.settings import StackConfigError, load_stack_file
    from offline import documents

    try:
        table = prices.load(Path(args.prices) if args.prices else None)
    except prices.PriceTableError as error:
        raise common.UsageError(f"--prices: {error}" if args.prices else str(error)) from None
    paths: list[Path] = []
    regions: dict[str, str | None] = {}
    failed: list[str] = []
    for path in common.stack_files(args.stack, args.all):
        try:
            settings = load_stack_file(path, require_secrets=False)
        except StackConfigError as error:
            print(error.render(common.shown(path)), file=sys.stderr)
            failed.append(common.stack_name(path))
            continue
        paths.append(path)
        regions[common.stack_name(path)] = settings.aws_region
    if not paths:
        print(f"error: no stack to price ({len(failed)} failed validation)", file=sys.stderr)
        return 1

    def progress(message: str) -> None:
        if len(paths) > 1:
            print(f"previewing {message}", file=sys.stderr, flush=True)

    found = documents.stack_documents(paths, args.jobs, progress)
    costs = [estimate.estimate(document, table, regions.get(document["stack"])) for document in found]
    if args.format == "json":
        print(render.render_json(costs, table))
    elif args.format == "markdown":
        print(render.render_markdown(costs, table), end="")
    else:
        print(render.render_text(costs, table))
    if failed:
        print(
            f"error: {len(failed)} stack(s) not priced, their problems are above: {', '.join(failed)}", file=sys.stderr
        )
        return 1
    return 0
