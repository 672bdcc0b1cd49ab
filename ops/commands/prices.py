"""`ops prices`: show the price table `ops cost` uses, or rebuild it from AWS's Price List bulk API."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ops import common

NAME = "prices"
HELP = "show or rebuild the price table of the cost estimate"
DESCRIPTION = (
    "show: the table's date, regions, sources and how many instance types each region prices. "
    "refresh: rebuild it from AWS's public Price List bulk API (no credentials; the EC2 offer of a region is "
    "hundreds of MB, streamed), for the regions given or those of the current table, and the instance families "
    "the stack validation accepts; progress on stderr. The table is written atomically: when a response is bad, "
    "one line says which and the old table stays as it was."
)

EXAMPLES = (
    "./run ops prices show",
    "./run ops prices refresh",
    "./run ops prices refresh --region eu-west-3 --region us-east-1 --out my-prices.json",
)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("show", "refresh"), help="show the table, or rebuild it")
    parser.add_argument(
        "--region",
        action="append",
        default=[],
        metavar="<region>",
        help="refresh: a region to price (repeatable; default: the current table's regions)",
    )
    parser.add_argument(
        "--endpoint",
        metavar="<url>",
        help="refresh: the bulk API's address (default: https://pricing.us-east-1.amazonaws.com)",
    )
    parser.add_argument(
        "--out", metavar="<file.json>", help="the table to show or write (default: constellab/cost/prices.json)"
    )


def run(args: argparse.Namespace) -> int:
    from constellab.aws.regions import AWS_REGION
    from constellab.cost import price_list, prices

    path = Path(args.out) if args.out else prices.SHIPPED
    if args.action == "show":
        if args.region or args.endpoint:
            raise common.UsageError("--region and --endpoint are for `refresh`")
        try:
            table = prices.load(path)
        except prices.PriceTableError as error:
            where = "--out " if args.out else ""
            raise common.CommandError(f"{where}{error}") from None
        print(describe(table, path))
        return 0
    for region in args.region:
        if not AWS_REGION.fullmatch(region):
            raise common.UsageError(f"--region {region!r}: not an AWS region (e.g. eu-west-3)")
    if args.endpoint is not None and not common.is_web_address(args.endpoint):
        raise common.UsageError(
            f"--endpoint {args.endpoint!r}: give an http(s) address, e.g. {price_list.DEFAULT_ENDPOINT}"
        )
    if not path.parent.is_dir():
        raise common.UsageError(f"--out {path}: no directory {path.parent}")
    regions = args.region or _current_regions(path) or list(price_list.DEFAULT_REGIONS)
    from policies.rules.field_limits import ALLOWED_INSTANCE_TYPES

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        built = price_list.build_table(
            args.endpoint or price_list.DEFAULT_ENDPOINT, regions, ALLOWED_INSTANCE_TYPES, progress
        )
    except (price_list.PriceListError, prices.PriceTableError) as error:
        kept = f"the table at {path} is unchanged" if path.exists() else f"nothing was written to {path}"
        raise common.CommandError(f"{error} ({kept})") from None
    price_list.write_table(path, built)
    print(f"wrote {common.shown(path)}: {', '.join(sorted(built['regions']))}")
    return 0


def _current_regions(path: Path) -> list[str]:
    from constellab.cost import prices

    try:
        return prices.load(path).regions
    except prices.PriceTableError:
        return []


def describe(table: object, path: Path) -> str:
    from constellab.cost.prices import PriceTable

    assert isinstance(table, PriceTable)
    lines = [f"{common.shown(path)}: built {table.built}, USD"]
    for region in table.regions:
        section = table.data["regions"][region]
        count = len(section.get("ec2", {}).get("hourly", {}))
        others = sorted(key for key in section if key != "ec2")
        lines.append(f"  {region}: {count} instance types; {', '.join(others) or 'nothing else'}")
    lines.append("sources:")
    for key, source in sorted(table.data.get("sources", {}).items()):
        lines.append(f"  {key}: {source.get('date', '?')}, {source.get('url', '?')}")
    return "\n".join(lines)
