"""Fuzzed command lines: whatever arguments a subcommand gets, it ends with exit 0, 1 or 2 and, on an error, a
message; never a traceback (issue 16).

Each case runs `ops.cli.main` in this process, in a fresh copy of stacks/ committed in a git repository of its
own (so `--against` has refs to read), with empty standard input, no AWS credentials and a PATH that holds only
git: no Pulumi CLI, so `rollout` and `render-proxy --show-secrets` stop where they would need it, `lab` fails
before any network call and a download (`prices refresh`) goes to a closed local port. The program runs once per
stack and is then reused: these cases are about arguments (`test_fuzz_program` fuzzes the program). Arguments are
what a shell can pass: never a NUL byte, and bytes that are not UTF-8 arrive as Python decodes them (`\\udcff`).
No argument is an absolute path or climbs out with `..`: the commands write where they are told.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import itertools
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import constellab.cost.prices
import constellab.schema
import offline.engine
from ops import cli, common
from tests.conftest import ROOT, STACK_NAMES, STACKS
from tests.test_fuzz_stack_files import FUZZ

# ---------------------------------------------------------------------------------------------
# Argument lists
# ---------------------------------------------------------------------------------------------

words = st.text(st.characters(codec="utf-8", exclude_characters="\x00", exclude_categories=["Cs"]), max_size=12)
undecodable = st.sampled_from(["\udcff", "lab\udce9", "\udcc3\udca9"])
"""Bytes that are not UTF-8, as Python hands them over from the command line (surrogate escapes)."""
odd_values = st.one_of(words, undecodable, st.sampled_from(["", " ", "=", "é", "🧪", "\t", "\n", "*", "%s", "{}"]))
dashes = st.sampled_from(["-", "--", "---", "-x", "--all=1", "-1", "-é"]) | words.map(lambda word: f"--{word}")
junk = odd_values | dashes

STACK_VALUES = [*STACK_NAMES, "stacks/Pulumi.acme-cloud.yaml", "Pulumi.local.yaml", "stacks", "acme-*", "*", "nobody",
                "stacks/Pulumi.nobody.yaml", "stacks/rollout.yaml", "Pulumi..yaml", "acme-cloud.yml", "broken",
                "stacks/Pulumi.broken.yaml"]  # fmt: skip
VALUES: dict[str, list[str]] = {
    "stack": STACK_VALUES,
    "stacks": STACK_VALUES,
    "source": STACK_VALUES,
    "server": ["lab1", "lab2", "hub", "space", "analysis", "qc", "lab", "nobody", "Lab1"],
    "action": ["status", "start", "stop"],
    "customer": ["zeta", "acme", "Zeta", "z", "a" * 64, "zeta-", "local"],
    "env": ["prod", "dev", "cloud", "x", "Prod", "-"],
    "against": ["HEAD", "HEAD~1", "HEAD^{tree}", "main", "nope", "-x", "--output=x", "@{-1}", "a..b", "HEAD:stacks"],
    "wave": ["canary", "early", "all", "nope"],
    "set": [
        "baseDomain=zeta.constellab.app",
        "dns.zoneId=0123456789abcdef0123456789abcdef",
        "x=y",
        "=",
        "novalue",
        "adminCidrs=198.51.100.0/24,203.0.113.0/24",
        "endpoints.spaceApiUrl=https://api.zeta.example",
        "sshPublicKeys=ssh-ed25519 AAAA",
        "baseDomain=",
    ],
    "out": ["out", "out/sub", "stacks", "stacks/Pulumi.local.yaml", "rendered/x", "é", "prices.json", "p.json"],
    "full_report": ["report.md", "out/report.md", "stacks", "stacks/Pulumi.local.yaml/x.md", "é.md"],
    "run_dir": ["runs", "out/runs", "stacks/Pulumi.local.yaml", "é"],
    "resume": ["report.json", "stacks/Pulumi.local.yaml", "stacks/rollout.yaml", "stacks"],
    "policy_config": ["policy.json", "stacks/Pulumi.local.yaml", "stacks", "missing.json"],
    "health_url": [
        "https://lab-manager.example/health-check",
        "http://127.0.0.1:9/h",
        "ftp://x",
        "https://",
        "x",
        "http://[::1",
        "http://host:x",
    ],
    "report_url": ["https://example.com/report", "x"],
    "concurrency": ["1", "2", "0", "-1", "3.5", "1e309", "99999999999999999999"],
    "max_failures": ["1", "0", "-1", "x"],
    "jobs": ["1", "2", "0", "-1", "x", "4"],
    "timeout": ["1", "0", "-1", "nan", "inf", "1e309", "0.01", "x"],
    "region": ["eu-west-3", "us-east-1", "mars-1", "EU-WEST-3"],
    "endpoint": [
        "http://127.0.0.1:9",
        "https://pricing.example",
        "file:///nowhere",
        "x",
        "https://",
        "http://[::1",
        "http://host:99999",
    ],
    "prices": ["prices.json", "stacks/Pulumi.local.yaml", "missing.json", "stacks"],
}
"""Values for each argument (by its `dest`) that mean something to it, right or wrong; junk is drawn besides."""


@cache
def subcommands() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in cli.parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _value(dest: str, choices: Any) -> st.SearchStrategy[str]:
    """Mostly a value that means something to the argument (so that commands get past their parsing), else junk."""
    known = [*VALUES.get(dest, []), *(str(choice) for choice in choices or ())]
    if not known:
        return junk
    return st.integers(0, 11).flatmap(
        lambda pick: st.sampled_from(known) if pick < 9 else odd_values if pick < 11 else dashes
    )


@st.composite
def argument_lists(draw: st.DrawFn, command: str) -> list[str]:
    """`command`, its positionals (mostly all there), options with values (required ones mostly there) in any order
    among them, and now and then an unknown option or junk."""
    # Hypothesis draws small integers most: the likely branch of each choice below is the small one.
    # Not --help: it stops before anything else is read (the help of every command has tests of its own).
    actions = [action for action in subcommands()[command]._actions if not isinstance(action, argparse._HelpAction)]
    groups: list[list[str]] = []  # an option stays with its value: the others go before or after
    for action in (action for action in actions if not action.option_strings):
        count = draw(st.integers(0, 2)) if action.nargs in ("*", "?") else int(draw(st.integers(0, 9)) < 9)
        groups += [[draw(_value(action.dest, action.choices))] for _ in range(count)]
    options = [action for action in actions if action.option_strings]
    chosen = [action for action in options if action.required and draw(st.integers(0, 9)) < 9]
    chosen += draw(st.lists(st.sampled_from(options), max_size=4)) if options else []
    for action in chosen:
        option = draw(st.sampled_from(action.option_strings))
        if action.nargs == 0:
            given = [option]
        elif draw(st.integers(0, 4)) == 4:
            given = [f"{option}={draw(_value(action.dest, action.choices))}"]
        else:
            given = [option, draw(_value(action.dest, action.choices))]
        groups.insert(draw(st.integers(0, len(groups))), given)
    tokens = [token for group in groups for token in group]
    for _ in range(draw(st.integers(0, 4).map(lambda count: max(0, count - 2)))):  # mostly none
        tokens.insert(draw(st.integers(0, len(tokens))), draw(junk))
    return [command, *tokens]


EXTRA_STACKS = {"broken": ROOT / "docs" / "examples" / "Pulumi.broken.yaml"}
"""A stack file a case may add to the copy of stacks/ (not committed, in no wave): one that validation refuses."""


extra_stacks = st.sampled_from([None, None, None, *sorted(EXTRA_STACKS)])


def fits_a_shell(argv: list[str]) -> bool:
    """What a shell can pass and what writes only where the case runs: no NUL, no absolute path, no `..`."""
    for argument in argv:
        value = argument.split("=", 1)[1] if argument.startswith("-") and "=" in argument else argument
        if "\x00" in argument or value.startswith(("/", "~")) or ".." in Path(value).parts:
            return False
    return True


# ---------------------------------------------------------------------------------------------
# Running a command line
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ran:
    argv: list[str]
    status: int
    out: str
    err: str


ALLOWED_STATUS = (0, 1, 2)


def check_ran(ran: Ran) -> None:
    """Exit 0, 1 or 2; on an error, a message; never a traceback."""
    assert ran.status in ALLOWED_STATUS, f"exit {ran.status}"
    assert "Traceback (most recent call last)" not in ran.err + ran.out, ran.err
    if ran.status != 0:
        assert (ran.err + ran.out).strip(), f"exit {ran.status} without a message"


def terminal_stream(errors: str) -> io.TextIOWrapper:
    """A UTF-8 stream as a terminal's: stdout strict, stderr replacing what it cannot write (Python's own)."""
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors=errors, write_through=True)


def run_cli(argv: list[str]) -> Ran:
    """`python -m ops <argv>` in this process; an exception other than SystemExit propagates (a crash)."""
    out, err = terminal_stream("strict"), terminal_stream("backslashreplace")
    stdin = io.StringIO("")
    saved = sys.stdout, sys.stderr, sys.stdin
    sys.stdout, sys.stderr, sys.stdin = out, err, stdin
    try:
        try:
            status = cli.main(argv)
        except SystemExit as exit_:
            status = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
            if not isinstance(exit_.code, int | None):  # as the interpreter does: the message, then exit 1
                print(exit_.code, file=sys.stderr)
    finally:
        sys.stdout, sys.stderr, sys.stdin = saved
        gc.unfreeze()  # the preview freezes what it imported; a long fuzz run must not freeze all it made since
    return Ran(argv, status, _text(out), _text(err))


def _text(stream: io.TextIOWrapper) -> str:
    buffer = stream.buffer
    assert isinstance(buffer, io.BytesIO)
    return buffer.getvalue().decode("utf-8", errors="replace")


_RUNS: dict[tuple[Any, ...], offline.engine.OfflineRun] = {}
_real_run_program = offline.engine.run_program


def _run_once(stack_file: Path, *args: Any, **kwargs: Any) -> offline.engine.OfflineRun:
    """The program's run for a stack file, once per content and options: the cases are about arguments."""
    key = (stack_file.name, stack_file.read_bytes(), args, tuple(sorted(kwargs.items())))
    if key not in _RUNS:
        _RUNS[key] = _real_run_program(stack_file, *args, **kwargs)
    return _RUNS[key]


def make_template(folder: Path) -> Path:
    """A project folder with a copy of stacks/, committed in a git repository, and a PATH that holds only git.

    Each case copies the folder but not the repository: its `.git` is a file naming the template's (as a git
    worktree's is), so a case costs a few files, not a repository.
    """
    template = folder / "template"
    shutil.copytree(STACKS, template / "stacks")
    shutil.copy(ROOT / ".gitignore", template / ".gitignore")
    shutil.copy(constellab.cost.prices.SHIPPED, template / "prices.json")
    git = shutil.which("git")
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    if git is not None:
        (bin_dir / "git").symlink_to(git)
        env = {"PATH": str(bin_dir), "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(folder)}
        author = ["-c", "user.name=fuzz", "-c", "user.email=fuzz@example.com"]
        for command in (
            ["init", "-q", "--template=", "-b", "main"],
            ["add", "."],
            [*author, "commit", "-qm", "stacks"],
        ):
            subprocess.run(["git", *command], cwd=template, env=env, check=True, capture_output=True)
    return template


@contextlib.contextmanager
def isolated(folder: Path) -> Iterator[Callable[[str | None], Path]]:
    """Points the commands at fresh copies of the template (one per case): ROOT, stacks/, the schema, the price
    table, the working directory; an environment without AWS credentials, with only git on PATH and every download
    sent to a closed port; the program run once per stack."""
    template = make_template(folder)
    counter = itertools.count()
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(("AWS_", "CONSTELLAB_", "PULUMI_")) or name.lower().endswith("_proxy"):
                patch.delenv(name)
        for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):  # no download: refused at once
            patch.setenv(proxy, "http://127.0.0.1:9")
        # urllib keeps the opener its first urlopen built, with the proxies of that moment: one built here must not
        # outlive the cases, or every later download in this process (moto's health check, a local price list)
        # would go to the closed port.
        patch.setattr(urllib.request, "_opener", None)
        patch.setenv("PATH", str(folder / "bin"))
        patch.setenv("HOME", str(folder))
        patch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
        patch.setenv("GIT_CONFIG_NOSYSTEM", "1")
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        patch.setenv("AWS_CONFIG_FILE", str(folder / "no-aws-config"))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(folder / "no-aws-credentials"))
        patch.setenv("BOTO_CONFIG", str(folder / "no-boto-config"))
        patch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # were credentials found: refused at once
        patch.setenv("CONSTELLAB_POLL_SECONDS", "0")
        patch.setattr(offline.engine, "run_program", _run_once)

        def fresh(extra: str | None = None) -> Path:
            root = folder / f"case{next(counter)}"
            shutil.copytree(template, root, ignore=shutil.ignore_patterns(".git"))
            if (template / ".git").is_dir():
                (root / ".git").write_text(f"gitdir: {template / '.git'}\n")
            if extra is not None:
                shutil.copy(EXTRA_STACKS[extra], root / "stacks" / f"Pulumi.{extra}.yaml")
            patch.setattr(common, "ROOT", root)
            patch.setattr(common, "STACKS", root / "stacks")
            patch.setattr(constellab.schema, "SCHEMA_PATH", root / "stacks" / "stack.schema.json")
            patch.setattr(constellab.cost.prices, "SHIPPED", root / "prices.json")
            patch.chdir(root)
            return root

        yield fresh


def run_case(fresh: Callable[[str | None], Path], argv: list[str], extra: str | None = None) -> Ran:
    """One command line in a fresh copy of stacks/ (with one more stack file: `EXTRA_STACKS`), checked."""
    root = fresh(extra)
    try:
        ran = run_cli(argv)
        check_ran(ran)
        return ran
    finally:
        os.chdir(root.parent)
        shutil.rmtree(root, ignore_errors=True)


def repository_state() -> dict[str, float]:
    """Where a command run in the repository would write (stacks/ and its schema, rendered/, runs/, the price
    table), with the times."""
    written = [STACKS, ROOT / "rendered", ROOT / "runs", constellab.cost.prices.SHIPPED]
    return {str(path): path.stat().st_mtime for top in written if top.exists() for path in [top, *top.rglob("*")]}


# ---------------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------------

COMMAND_NAMES = sorted(subcommands())
EXAMPLES_PER_COMMAND = {"preview": 60, "check": 60, "schema": 30}
"""Most commands are quick; a preview or check of valid stacks renders their documents (the runs are reused)."""


@pytest.mark.parametrize("command", COMMAND_NAMES)
def test_any_argument_list_of_a_subcommand_ends_in_exit_0_1_or_2_with_a_message(tmp_path, command):
    before = repository_state()
    with isolated(tmp_path) as fresh:

        @settings(FUZZ, max_examples=EXAMPLES_PER_COMMAND.get(command, 80))
        @given(argv=argument_lists(command).filter(fits_a_shell), extra=extra_stacks)
        def case(argv: list[str], extra: str | None) -> None:
            run_case(fresh, argv, extra)

        case()
    assert repository_state() == before, "a command wrote into the repository"


@pytest.mark.parametrize(
    "argv",
    [[], ["--"], ["nosuchcommand"], ["-x"], ["\udcff"], ["validate", "\udcff"], ["--help"], ["validate", "--help"]],
)
def test_the_top_level_command_line_ends_in_exit_0_1_or_2_with_a_message(tmp_path, argv):
    with isolated(tmp_path) as fresh:
        run_case(fresh, argv)


def test_the_oracle_fails_an_exit_without_a_message_or_with_a_traceback():
    for ran in (
        Ran(["x"], 1, "", ""),
        Ran(["x"], 3, "", "error: x"),
        Ran(["x"], 1, "", "Traceback (most recent call last):\n  ..."),
    ):
        with pytest.raises(AssertionError):
            check_ran(ran)
