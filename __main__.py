"""Entry point of `pulumi up`: validate the stack's config, then declare the platform."""

import pulumi

import program
from constellab.settings import StackConfigError

try:
    settings = program.settings_from_engine()
except StackConfigError as error:
    # RunError prints the message alone: every problem, no traceback, nothing registered.
    raise pulumi.RunError(error.render()) from None

program.build(pulumi.get_stack(), settings)
