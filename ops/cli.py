"""The toolkit's command line (`python -m ops <command>`): the parser built from `ops.commands.COMMANDS`, and
one place that turns every failure into one line and an exit code."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ops.commands import COMMANDS
from ops.common import USAGE_ERROR, InvalidStackError, UsageError


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m ops",
        description="Constellab platform toolkit: check and preview customer stacks without the Pulumi CLI.",
    )
    commands = top.add_subparsers(dest="command", metavar="<command>", required=True)
    for command in COMMANDS:
        sub = commands.add_parser(command.NAME, help=command.HELP, description=command.DESCRIPTION)
        command.arguments(sub)
        sub.set_defaults(handler=command.run)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        status = int(args.handler(args))
        sys.stdout.flush()  # here, so a failed write is reported below rather than at exit
        return status
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except InvalidStackError:
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
