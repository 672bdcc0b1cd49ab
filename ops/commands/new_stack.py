"""`ops new-stack`: scaffold a validated stack file for a new customer and add it to a wave."""

from __future__ import annotations

import argparse
import sys

from ops import common

NAME = "new-stack"
HELP = "scaffold stacks/Pulumi.<customer>-<env>.yaml and add it to a wave"
DESCRIPTION = (
    "Create a validated stack file from a template or an existing stack (--from); asks for "
    "the values without a default (or takes them from --set), checking each as it is given; "
    "never writes a secret."
)
EXAMPLES = (
    "./run ops new-stack zeta prod",
    "./run ops new-stack zeta prod --from acme-cloud --set baseDomain=zeta.constellab.app",
    "./run ops new-stack zeta dev --from pharma-onprem --wave canary --no-input --set baseDomain=dev.zeta.example.com",
)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("customer", help="the customer's name: lowercase letters, digits and inner hyphens (e.g. zeta)")
    parser.add_argument("env", help="the environment, same rules (e.g. prod): the stack is <customer>-<env>")
    parser.add_argument(
        "--from", dest="source", metavar="<stack>", help="start from this stack's settings (its name or its file)"
    )
    parser.add_argument("--wave", metavar="<wave>", help="wave to add it to (default: the last)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="<path=value>",
        help="answer a question instead of being asked, once per path (e.g. baseDomain=zeta.constellab.app; "
        "a list comma-separated)",
    )
    parser.add_argument("--no-input", action="store_true", help="never ask: missing values are errors")


def given_values(items: list[str]) -> dict[str, str]:
    """`--set path=value` arguments as a mapping; each path once."""
    given: dict[str, str] = {}
    for item in items:
        key, separator, value = item.partition("=")
        if not separator:
            raise common.UsageError(f"--set {item}: write path=value")
        if key in given:
            raise common.UsageError(f"--set {key}: given twice: give each path once")
        given[key] = value
    return given


def run(args: argparse.Namespace) -> int:
    from ops import new_stack
    from ops.rollout import RolloutError

    given = given_values(args.set)
    interactive = not args.no_input

    def ask(prompt: str) -> str:
        print(prompt, end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        if not sys.stdin.isatty():  # no echoed Enter ends the prompt's line: what follows starts its own
            print(file=sys.stderr, flush=True)
        return line.rstrip("\n")

    known = common.known_stacks()
    try:
        name, document = new_stack.build(
            common.STACKS, args.customer, args.env, args.source, given, ask if interactive else None,
            lambda message: print(f"  refused: {message}", file=sys.stderr), wave=args.wave,
        )  # fmt: skip
        wave = new_stack.write(common.STACKS, name, document, args.wave, known)
    except new_stack.NewStackAbortedError as error:
        # Ctrl-D at a terminal is the user's choice; the end of a pipe means the answers ran out.
        hint = "" if sys.stdin.isatty() else (
            "; without a terminal, add --no-input and give the values with --set "
            f"(e.g. --set {error.path}=<value>)"
        )  # fmt: skip
        print(f"aborted, nothing written: {error}{hint}", file=sys.stderr)
        return 1
    except (new_stack.NewStackError, RolloutError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote stacks/Pulumi.{name}.yaml and added it to wave {wave}")
    print("create it and set its secrets (never written in the file):")
    for command in new_stack.secret_commands(name, document["config"]["constellab:platform"]):
        print(f"  {command}")
    return 0
