"""The `python -m ops` command line itself (`ops/cli.py`, `ops/common.py`), as a user runs it: the parser and
its help, stack names and paths, and every failure as one line and an exit code.

Each command's own behaviour is in its file: test_validate, test_preview, test_affected, test_check,
test_rollout, test_new_stack, test_render_proxy, test_lab_command.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys

import pytest

from ops.cli import main, parser
from ops.commands import COMMANDS
from tests.conftest import ROOT, run_ops


def test_help_lists_the_commands():
    result = run_ops("--help")
    assert result.returncode == 0
    assert all(command in result.stdout for command in ("validate", "preview", "schema"))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["preview", "--stack", "local", "--jobs", "0"], "argument --jobs: 0 is too small: give 1 or more"),
        (["preview", "--stack", "local", "--jobs", "two"], "argument --jobs: 'two' is not a whole number"),
        (["rollout", "--max-failures", "0"], "argument --max-failures: 0 is too small: give 1 or more"),
        (["rollout", "--concurrency", "-1"], "argument --concurrency: -1 is too small: give 1 or more"),
        (["lab", "status", "lab1", "--stack", "acme-cloud", "--timeout", "nan"], "nan is not a duration"),
    ],
)
def test_counts_and_durations_out_of_range_are_usage_errors(args, expected, capsys):
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    assert expected in capsys.readouterr().err


def test_preview_of_an_unknown_stack_is_one_line_and_exit_2():
    result = run_ops("preview", "--stack", "nobody")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: unknown stack 'nobody' (stacks: acme-cloud, biolab-hybrid, local, pharma-onprem)"
    ]


def test_a_stack_path_that_is_a_directory_is_named_as_such(tmp_path, capsys):
    folder = tmp_path / "Pulumi.folder.yaml"
    folder.mkdir()
    expected = f"error: {folder}: a directory, not a stack file (a stack file is Pulumi.<stack>.yaml)"
    for command in (["preview", "--stack", str(folder)], ["validate", str(folder)], ["check", "--stack", str(folder)]):
        assert main(command) == 2, command
        assert capsys.readouterr().err.strip() == expected, command


def test_a_stack_named_twice_is_previewed_once():
    result = run_ops("preview", "--stack", "local", "--stack", "local", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert [s["stack"] for s in json.loads(result.stdout)["stacks"]] == ["local"]


def test_a_reader_that_stops_early_gets_no_traceback():
    # More output than a pipe holds, so the preview is still writing when the reader leaves.
    process = subprocess.Popen(
        [sys.executable, "-m", "ops", "preview", "--stack", "pharma-onprem", "--format", "json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline()
    process.stdout.close()
    _, err = process.communicate(timeout=300)
    assert "Traceback" not in err
    assert process.returncode == 141


def test_output_that_cannot_be_written_is_one_line_not_a_traceback():
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "ops", "stacks"], cwd=ROOT, stdout=full, stderr=subprocess.PIPE, text=True
        )
    assert result.returncode == 1
    assert result.stderr.strip() == "error: No space left on device"


@pytest.mark.parametrize("command", COMMANDS, ids=[command.NAME for command in COMMANDS])
def test_every_command_help_explains_every_argument_and_shows_an_example_as_users_type_it(command, capsys):
    with pytest.raises(SystemExit) as exited:
        main([command.NAME, "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: ./run ops {command.NAME} ")
    examples = text.split("\nexamples:\n", 1)[1].splitlines()
    assert examples and all(line.startswith(f"  ./run ops {command.NAME}") for line in examples if line.strip())
    sub = argparse.ArgumentParser()
    command.arguments(sub)
    unexplained = [action.dest for action in sub._actions if action.dest != "help" and not action.help]
    assert unexplained == [], f"arguments without a help line: {unexplained}"


def test_every_example_in_the_help_parses():
    for command in COMMANDS:
        for example in command.EXAMPLES:
            words = shlex.split(example.split(" > ", 1)[0])  # the output redirected is the shell's business
            assert words[:2] == ["./run", "ops"], example
            parser().parse_args(words[2:])


def test_a_mistyped_option_prints_that_commands_usage_and_the_closest_option(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["preview", "--stak", "local"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: ./run ops preview ")
    assert err.strip().endswith(
        "./run ops preview: error: unrecognized arguments: --stak local (did you mean --stack?)"
    )


def test_lab_json_reports_every_error_as_json_on_stdout(capsys):
    cases = [
        (["lab", "status", "lab", "--stack", "local", "--json"], 1, "lab is local: only cloud servers are started"),
        (["lab", "status", "nobody", "--stack", "local", "--json"], 2, "stack 'local' has no server 'nobody'"),
    ]
    for argv, code, expected in cases:
        assert main(argv) == code
        captured = capsys.readouterr()
        assert captured.err == ""
        answer = json.loads(captured.out)
        assert answer["exitCode"] == code and answer["error"].startswith(expected)
    with pytest.raises(SystemExit) as exited:
        main(["lab", "status", "--json"])
    assert exited.value.code == 2
    answer = json.loads(capsys.readouterr().out)
    assert answer["error"] == "the following arguments are required: <server>, --stack"
    assert answer["usage"].startswith("usage: ./run ops lab ") and answer["exitCode"] == 2


def test_every_command_names_its_stack_option_stack_and_those_taking_several_repeat_it():
    for command in COMMANDS:
        sub = argparse.ArgumentParser()
        command.arguments(sub)
        options = [option for action in sub._actions for option in action.option_strings if "stack" in option]
        assert options in ([], ["--stack"]), (command.NAME, options)
        several = [action for action in sub._actions if "--all" in action.option_strings]
        if several:  # a command that takes every stack takes several, each with --stack
            stack = next(action for action in sub._actions if "--stack" in action.option_strings)
            assert isinstance(stack, argparse._AppendAction), command.NAME


# Found by the fuzz tests (tests/test_fuzz_cli.py, issue 16): the smallest argument lists that ended in a traceback.


@pytest.mark.parametrize(
    "args",
    [
        ["render-proxy", "--stack=--", "--server", "lab"],
        ["preview", "--jobs=--", "--all"],
        ["rollout", "--stack=--"],
    ],
)
def test_an_option_given_two_dashes_as_its_value_is_a_usage_error_not_a_crash(args, capsys):
    # Python 3.11's argparse drops the `--` of `--stack=--` and hands the command an empty list.
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    option = args[1].split("=")[0]
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(f"error: argument {option}: expected one argument")


@pytest.mark.parametrize("url", ["x", "http://[::1", "http://host:x", "http://host:99999", "ftp://host"])
def test_an_address_that_is_no_web_address_is_a_usage_error_not_a_crash(url, capsys):
    assert main(["prices", "refresh", "--endpoint", url, "--out", "unused.json"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: --endpoint {url!r}: give an http(s) address, e.g. https://pricing.us-east-1.amazonaws.com"
    )
    health = ["lab", "start", "lab1", "--stack", "acme-cloud", "--wait", "--health-url", url]
    assert main(health) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: --health-url {url!r}: give an http(s) URL, e.g. https://lab-manager.<host>/health-check"
    )
