"""Bad input never crashes, on demand and at scale: the fuzz tests' cases, 10,000 and more (issue 16).

The tests (tests/test_fuzz_*.py) run a few thousand cases with a fixed seed on every CI run; this runs as many
as asked, with a seed of your choice, and counts them:

1. stack files: from the published JSON schema, mutated shipped stacks, stack files changed as text, and
   valid-looking stacks, each read by `load_stack_file` with and without its secrets required: accepted, or
   refused with every problem on a line of its own naming its field;
2. programs: valid-looking stacks; those validation accepts are built under the mock engine and previewed (a
   second each, so far fewer cases);
3. command lines: random argument lists for every `ops` subcommand, in a copy of stacks/: exit 0, 1 or 2 with a
   message, never a traceback.

Progress goes to stderr; the summary to stdout, with every failure and the input that caused it (the tests shrink a
failure to its smallest input: run `pytest tests/test_fuzz_*.py` with the case as an `@example`). Exit 1 on a
failure.

Run: .venv/bin/python bench/fuzz.py [--stack-files 7000] [--programs 100] [--cli 3000] [--seed 16]
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests import test_fuzz_cli as cli_fuzz  # noqa: E402
from tests import test_fuzz_program as program_fuzz  # noqa: E402
from tests import test_fuzz_stack_files as file_fuzz  # noqa: E402


@dataclass
class Target:
    """One kind of case: how many were handled, their outcomes, and the failures with their inputs."""

    name: str
    handled: int = 0
    outcomes: collections.Counter[str] = field(default_factory=collections.Counter)
    failures: list[tuple[Any, str]] = field(default_factory=list)


def run(target: Target, strategy: st.SearchStrategy[Any], count: int, seed_value: int,
        case: Callable[[Any], str]) -> None:  # fmt: skip
    """Runs `count` cases of `strategy` through `case` (which returns the outcome), recording every failure."""
    if count < 1:
        return
    started = time.perf_counter()

    @seed(seed_value)
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def each(drawn: Any) -> None:
        target.handled += 1
        try:
            target.outcomes[case(drawn)] += 1
        except Exception:  # a failure of the oracle or a crash: recorded with its input, the run goes on
            target.failures.append((drawn, traceback.format_exc(limit=-3)))
        if target.handled % 250 == 0:
            rate = target.handled / (time.perf_counter() - started)
            print(f"  {target.name}: {target.handled}/{count} ({rate:.0f}/s)", file=sys.stderr, flush=True)

    each()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack-files", type=int, default=7000, metavar="<n>", help="stack-file cases (7000)")
    parser.add_argument("--programs", type=int, default=100, metavar="<n>", help="program cases, ~1 s each (100)")
    parser.add_argument("--cli", type=int, default=3000, metavar="<n>", help="command lines, all commands (3000)")
    parser.add_argument("--seed", type=int, default=16, metavar="<n>", help="the random seed (16)")
    args = parser.parse_args()
    started = time.perf_counter()
    targets: list[Target] = []
    with tempfile.TemporaryDirectory(prefix="constellab-fuzz-") as scratch:
        folder = Path(scratch)

        def validated(content: Any) -> str:
            online, offline = file_fuzz.validate_file(file_fuzz.write_stack_file(folder, content))
            return online if online == offline else f"{offline} offline, {online} with its secrets required"

        for name, strategy, share in (
            ("stack files from the schema", file_fuzz.schema_documents().map(file_fuzz.as_yaml), 0.15),
            ("stack files mutated", file_fuzz.mutated_documents(most=4).map(file_fuzz.as_yaml), 0.5),
            ("stack files changed as text", file_fuzz.stack_file_texts(), 0.2),
            ("stack files valid-looking", program_fuzz.valid_looking_documents().map(file_fuzz.as_yaml), 0.15),
        ):
            print(f"{name}...", file=sys.stderr, flush=True)
            targets.append(Target(name))
            run(targets[-1], strategy, round(args.stack_files * share), args.seed, validated)

        print("programs of valid-looking stacks...", file=sys.stderr, flush=True)
        targets.append(Target("programs of valid-looking stacks"))
        run(
            targets[-1],
            program_fuzz.valid_looking_documents().map(file_fuzz.as_yaml),
            args.programs,
            args.seed,
            lambda text: "built and previewed" if program_fuzz.build_file(file_fuzz.write_stack_file(folder, text))
            == "accepted" else "refused in the file's terms",
        )  # fmt: skip

        commands = cli_fuzz.COMMAND_NAMES
        with cli_fuzz.isolated(folder / "cli") as fresh:
            for command in commands:
                print(f"command lines of {command}...", file=sys.stderr, flush=True)
                targets.append(Target(f"command lines: {command}"))
                run(
                    targets[-1],
                    st.tuples(cli_fuzz.argument_lists(command).filter(cli_fuzz.fits_a_shell), cli_fuzz.extra_stacks),
                    args.cli // len(commands),
                    args.seed,
                    lambda drawn: f"exit {cli_fuzz.run_case(fresh, drawn[0], drawn[1]).status}",
                )
    return report(targets, time.perf_counter() - started)


def report(targets: list[Target], seconds: float) -> int:
    width = max(len(target.name) for target in targets)
    total = sum(target.handled for target in targets)
    failures = [(target.name, drawn, trace) for target in targets for drawn, trace in target.failures]
    for target in targets:
        if not target.handled:
            continue
        outcomes = ", ".join(f"{count} {outcome}" for outcome, count in sorted(target.outcomes.items()))
        failed = f", {len(target.failures)} FAILED" if target.failures else ""
        print(f"{target.name:<{width}}  {target.handled:>6} handled: {outcomes}{failed}")
    print(f"{'total':<{width}}  {total:>6} handled in {seconds:.0f} s, {len(failures)} failure(s)")
    for name, drawn, trace in failures:
        print(f"\nFAILED {name}: {drawn!r}\n{trace}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
