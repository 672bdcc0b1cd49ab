"""The `ops` commands, one module each: its name, help, arguments and `run`.

A new command is one module here with `NAME`, `HELP`, `DESCRIPTION`, `EXAMPLES` (as users type them, shown
by `--help`), `arguments(parser)` (a help line for every argument) and `run(args)`, and one line in
`COMMANDS`. Heavy imports go inside `run`, so `--help` and the other commands stay fast.
"""

from __future__ import annotations

import argparse
from types import ModuleType
from typing import Protocol, cast

from ops.commands import (
    affected,
    check,
    cost,
    lab,
    new_stack,
    preview,
    prices,
    render_proxy,
    rollout,
    schema,
    stacks,
    validate,
)


class Command(Protocol):
    NAME: str
    HELP: str
    DESCRIPTION: str
    EXAMPLES: tuple[str, ...]

    def arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def _commands(*modules: ModuleType) -> tuple[Command, ...]:
    return tuple(cast(Command, module) for module in modules)


COMMANDS = _commands(
    validate, preview, render_proxy, affected, stacks, check, rollout, new_stack, lab, schema, cost, prices
)
