"""The README's console examples are what the commands print, and the files they name are in the repository."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def console_examples() -> list[tuple[str, list[str]]]:
    """(command, the lines shown after it) of every `$ ./run ops ...` line in the README's console blocks."""
    examples = []
    for block in re.findall(r"```console\n(.*?)```", README, flags=re.DOTALL):
        command: str | None = None
        shown: list[str] = []
        for line in [*block.splitlines(), "$ "]:
            if line.startswith("$ "):
                if command is not None and command.startswith("./run ops "):
                    examples.append((command, shown))
                command, shown = line[2:], []
            else:
                shown.append(line)
    return examples


EXAMPLES = console_examples()


def test_the_readme_shows_a_broken_stack_that_is_in_the_repository():
    named = [word for command, _ in EXAMPLES for word in shlex.split(command) if word.endswith(".yaml")]
    assert "docs/examples/Pulumi.broken.yaml" in named
    assert all((ROOT / path).is_file() for path in named), named


@pytest.mark.parametrize(("command", "shown"), EXAMPLES, ids=[command for command, _ in EXAMPLES])
def test_each_readme_console_example_prints_what_the_readme_shows(command, shown):
    words = shlex.split(command)
    # `./run ops` is `python -m ops` in the project's virtualenv (the one running these tests).
    result = subprocess.run(
        [sys.executable, "-m", "ops", *words[2:]], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    printed = (result.stdout + result.stderr).splitlines()
    if shown[-1:] == ["..."]:  # the README shows the start of a long output
        shown, printed = shown[:-1], printed[: len(shown) - 1]
    assert printed == shown
    assert result.returncode == (1 if any("problem(s)" in line for line in shown) else 0)


def test_the_readme_gives_the_quick_test_run_and_its_marker_exists():
    block = re.search(r"```bash\n(\./run preview .*?)```", README, flags=re.DOTALL)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    assert commands == ["./run preview", "./run test", './run test -m "not slow"']
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"slow: ' in pyproject, "the marker the quick run leaves out is declared"
