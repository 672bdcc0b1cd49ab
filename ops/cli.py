"""The toolkit's command line (`python -m ops <command>`): the parser built from `ops.commands.COMMANDS`, and
one place that turns every failure into one line and an exit code."""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from ops.commands import COMMANDS
from ops.common import USAGE_ERROR, CommandError, InvalidStackError, UsageError

PROG = "./run ops"
"""How users type the command line (`./run ops` runs `python -m ops` in the project's virtualenv)."""


class HelpFormatter(argparse.HelpFormatter):
    """Wraps descriptions to the terminal, and keeps the examples one a line, as they are typed."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class CommandParser(argparse.ArgumentParser):
    """A command's parser: a mistyped option is reported with this command's usage and the closest option,
    and, for a command asked for JSON (`--json`), as a JSON object on stdout."""

    json_errors = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        # argparse hands a command's unknown arguments up to the top parser, which would show its own usage.
        parsed, unknown = super().parse_known_args(args, namespace)
        if unknown:
            self.error(f"unrecognized arguments: {' '.join(unknown)}")
        for action in self._actions:
            if action.option_strings and action.nargs is None and _got_no_value(action, getattr(parsed, action.dest)):
                self.error(f"argument {'/'.join(action.option_strings)}: expected one argument")
        return parsed, unknown

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments: "):
            message += _closest_option(self, message.removeprefix("unrecognized arguments: ").split())
        if self.json_errors:
            print(
                json.dumps({"error": message, "exitCode": USAGE_ERROR, "usage": self.format_usage().strip()}, indent=2)
            )
            raise SystemExit(USAGE_ERROR)
        super().error(message)


def _got_no_value(action: argparse.Action, value: object) -> bool:
    """Whether argparse took `--option=--` for an option of one value: it drops the `--` and hands over an empty
    list (Python 3.11, for `store` and `append` alike), which no command expects."""
    if isinstance(action, argparse._AppendAction):
        return isinstance(value, list) and [] in value
    return value == [] and action.default != []


def _closest_option(parser: argparse.ArgumentParser, unknown: list[str]) -> str:
    options = [option for action in parser._actions for option in action.option_strings]
    for argument in unknown:
        close = difflib.get_close_matches(argument.split("=", 1)[0], options, n=1)
        if argument.startswith("-") and close:
            return f" (did you mean {close[0]}?)"
    return ""


def parser(json_errors: bool = False) -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog=PROG,
        description="Constellab platform toolkit: check and preview customer stacks without the Pulumi CLI.",
        epilog=f"examples:\n  {PROG} validate\n  {PROG} preview --stack acme-cloud\n  {PROG} <command> --help",
        formatter_class=HelpFormatter,
    )
    commands = top.add_subparsers(dest="command", metavar="<command>", required=True, parser_class=CommandParser)
    for command in COMMANDS:
        examples = "\n".join(f"  {example}" for example in command.EXAMPLES)
        sub = commands.add_parser(
            command.NAME,
            help=command.HELP,
            description=command.DESCRIPTION,
            epilog=f"examples:\n{examples}",
            formatter_class=HelpFormatter,
        )
        command.arguments(sub)
        sub.set_defaults(handler=command.run)
        if isinstance(sub, CommandParser):
            sub.json_errors = json_errors and any(action.dest == "json" for action in sub._actions)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser(json_errors="--json" in argv).parse_args(argv)
    as_json = bool(getattr(args, "json", False))
    try:
        status = int(args.handler(args))
        sys.stdout.flush()  # here, so a failed write is reported below rather than at exit
        return status
    except UsageError as error:
        _report(str(error), USAGE_ERROR, as_json)
        return USAGE_ERROR
    except (InvalidStackError, CommandError) as error:
        _report(str(error), 1, as_json)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): nothing left to say, and nothing to flush at exit either.
        _drop_unwritten_output()
        return 141  # what a shell reports for a command stopped by SIGPIPE
    except OSError as error:
        # Output that cannot be written (a full disk) or a file the command needs: one line, not a trace.
        if error.filename is not None:
            print(f"error: {error.filename}: {error.strerror or error}", file=sys.stderr)
        else:
            print(f"error: {error.strerror or error}", file=sys.stderr)
        _drop_unwritten_output()
        return 1


def _drop_unwritten_output() -> None:
    """Points stdout at /dev/null so the interpreter does not fail again flushing it at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (tests capture it): nothing to flush
        pass


def _report(message: str, status: int, as_json: bool) -> None:
    """An error: one `error:` line on stderr, or, for a command asked for JSON, an object on stdout."""
    if as_json:
        print(json.dumps({"error": message, "exitCode": status}, indent=2))
    else:
        print(message if "\n" in message else f"error: {message}", file=sys.stderr)
