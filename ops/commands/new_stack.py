"""`ops new-stack`: scaffold a validated stack file for a new customer and add it to a wave."""

from __future__ import annotations

import argparse
import sys

from ops import common

NAME = "new-stack"
HELP = "scaffold stacks/Pulumi.<customer>-<env>.yaml and add it to a wave"
DESCRIPTION = (
    "Create a validated stack file from a template or an existing stack (--from); asks for "
    "the values without a default (or takes them from --set); never writes a secret."
)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("customer")
    parser.add_argument("env")
    parser.add_argument("--from", dest="source", metavar="<stack>", help="start from this stack's settings")
    parser.add_argument("--wave", metavar="<wave>", help="wave to add it to (default: the last)")
    parser.add_argument("--set", action="append", default=[], metavar="<path=value>", help="answer a question")
    parser.add_argument("--no-input", action="store_true", help="never ask: missing values are errors")


def run(args: argparse.Namespace) -> int:
    from ops import new_stack
    from ops.rollout import RolloutError

    given = {}
    for item in args.set:
        key, separator, value = item.partition("=")
        if not separator:
            raise common.UsageError(f"--set {item}: write path=value")
        given[key] = value
    interactive = not args.no_input

    def ask(prompt: str) -> str:
        print(prompt, end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")

    known = common.known_stacks()
    try:
        name, document = new_stack.build(
            common.STACKS, args.customer, args.env, args.source, given, ask if interactive else None,
            lambda message: print(f"  refused: {message}", file=sys.stderr), wave=args.wave,
        )  # fmt: skip
        wave = new_stack.write(common.STACKS, name, document, args.wave, known)
    except (new_stack.NewStackError, RolloutError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote stacks/Pulumi.{name}.yaml and added it to wave {wave}")
    print("create it and set its secrets (never written in the file):")
    for command in new_stack.secret_commands(name, document["config"]["constellab:platform"]):
        print(f"  {command}")
    return 0
