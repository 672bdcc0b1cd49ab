"""`ops schema`: write (or check) the JSON Schema editors use for stack files."""

from __future__ import annotations

import argparse
import sys

from ops import common

NAME = "schema"
HELP = "write the stack files' JSON Schema (stacks/stack.schema.json)"
DESCRIPTION = "Write the JSON Schema editors use to check stack files; --check only compares."

EXAMPLES = ("./run ops schema", "./run ops schema --check")


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true", help="exit 1 if the written schema is out of date")


def run(args: argparse.Namespace) -> int:
    from constellab.schema import SCHEMA_PATH, render_schema

    text = render_schema()
    where = SCHEMA_PATH.relative_to(common.ROOT)
    if args.check:
        current = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.is_file() else ""
        if current != text:
            print(f"{where} is out of date: run `python -m ops schema`", file=sys.stderr)
            return 1
        print(f"{where} is up to date")
        return 0
    SCHEMA_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {where}")
    return 0
