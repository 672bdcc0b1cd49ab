"""`ops new-stack <customer> <env>`: scaffold a validated stack file and add it to a rollout wave.

Values without a default are asked for (or given with `--set path=value`), each checked when it is given
(`ops/new_stack_answers`); the result is validated before anything is written, secrets are never written
(the commands to set them are printed), and the stack file and `rollout.yaml` are replaced together or not
at all.
"""

from __future__ import annotations

import copy
import json
import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from constellab.config import DNS_LABEL_PATTERN
from constellab.settings import (
    PLATFORM_KEY,
    StackConfigError,
    read_stack_file,
    required_members,
    required_secrets,
)
from ops.common import known_stacks
from ops.new_stack_answers import (
    PATHS,
    QUESTIONS,
    Draft,
    NewStackAbortedError,
    NewStackError,
    NewStackUsageError,
    complete,
    get_path,
)
from ops.rollout import ROLLOUT_FILE, RolloutError, RolloutPlan, Wave, parse_plan, read_plan_text

__all__ = ["NewStackAbortedError", "NewStackError", "NewStackUsageError", "build", "secret_commands", "write"]

FIRST_KEYS = ("customer", "baseDomain")
"""The platform's first keys in the written file: whose stack it is, at a glance."""

TEMPLATE: dict[str, Any] = {
    "images": {
        "labManager": "constellab/lab-manager:2.4.1",
    },
    "network": {"mode": "create"},
    "hubs": [{"name": "hub", "placement": {"kind": "cloud", "instanceType": "m6i.large", "dataDiskGb": 200}}],
    "labs": [
        {
            "name": "lab1",
            "hub": "hub",
            "placement": {"kind": "cloud", "instanceType": "t3.xlarge", "dataDiskGb": 100},
            "schedule": {
                "timezone": "Europe/Paris",
                "periods": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "stop": "19:00"}],
            },
        }
    ],
}


def stack_name(customer: str, env: str) -> str:
    """`<customer>-<env>`; each part (the customer is a DNS label in the platform too) and the whole checked."""
    for argument, value in (("customer", customer), ("env", env)):
        if not DNS_LABEL_PATTERN.match(value):
            raise NewStackUsageError(
                f"{argument} {value!r}: use lowercase letters, digits and inner hyphens (e.g. new-stack zeta prod)"
            )
    name = f"{customer}-{env}"
    if not DNS_LABEL_PATTERN.match(name):
        raise NewStackUsageError(f"stack name {name!r} is longer than 63 characters: shorten the customer or env")
    return name


def target_wave(plan: RolloutPlan, wave: str | None) -> str:
    """The wave a new stack joins: `wave`, or the last one."""
    names = [w.name for w in plan.waves]
    if wave is None:
        return names[-1]
    if wave not in names:
        raise NewStackUsageError(f"--wave {wave}: no such wave (waves: {', '.join(names)})")
    return wave


def _source_file(stacks_dir: Path, source: str) -> Path:
    """The stack file `--from` names: a stack's name, or a stack file (as other commands take them)."""
    given = Path(source)
    if given.is_dir():
        raise NewStackUsageError(f"--from {source}: a directory, not a stack: give a stack's name or its file")
    if given.suffix in (".yaml", ".yml"):
        if not given.is_file():
            raise NewStackUsageError(f"--from {source}: no such stack file")
        return given
    path = stacks_dir / f"Pulumi.{source}.yaml"
    if not path.is_file():
        choices = ", ".join(known_stacks(stacks_dir)) or "none"
        raise NewStackUsageError(f"--from {source}: no such stack (stacks: {choices})")
    return path


def starting_document(stacks_dir: Path, customer: str, source: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(platform document, other plain config) from a template or from an existing stack."""
    if source is None:
        platform = copy.deepcopy(TEMPLATE)
        extra: dict[str, Any] = {}
    else:
        path = _source_file(stacks_dir, source)
        try:
            raw = read_stack_file(path)
        except StackConfigError as error:
            problems = "; ".join(str(issue) for issue in error.issues)
            raise NewStackError(f"--from {source}: {error.source}: {problems}") from None
        found = raw.values.get(PLATFORM_KEY)
        if not isinstance(found, dict):
            what = "has none" if found is None else "must be a mapping of the platform's settings"
            raise NewStackError(f"--from {source}: {path}: {PLATFORM_KEY} {what}: fix it or start from another stack")
        platform = copy.deepcopy(found)
        # The questions set values inside these: a source where one is not a mapping cannot be completed.
        for parent in sorted({q.path.rsplit(".", 1)[0] for q in QUESTIONS if "." in q.path}):
            if get_path(platform, parent) is not None and not isinstance(get_path(platform, parent), dict):
                raise NewStackError(f"--from {source}: {path}: {PLATFORM_KEY}.{parent} must be a mapping")
        # Secrets are encrypted for their own stack: read_stack_file never keeps them, so they never travel.
        extra = {k: copy.deepcopy(v) for k, v in raw.values.items() if not k.startswith("constellab:")}
        for key in ("baseDomain",):
            platform.pop(key, None)
    platform["customer"] = customer
    return platform, extra


def build(
    stacks_dir: Path,
    customer: str,
    env: str,
    source: str | None,
    given: dict[str, str],
    ask: Callable[[str], str] | None,
    say: Callable[[str], None],
    *,
    wave: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """The new stack's name and file content; asks `ask` for each missing value, re-asks a bad one at once.

    Every argument (name, `--set` paths and values, `--from`, `--wave`) and `rollout.yaml` are checked
    before the first question, so a mistake there never costs the answers.
    """
    name = stack_name(customer, env)
    if (stacks_dir / f"Pulumi.{name}.yaml").exists():
        raise NewStackError(f"stack {name} exists already (stacks/Pulumi.{name}.yaml): refusing to overwrite it")
    unknown = sorted(set(given) - set(PATHS))
    if unknown:
        raise NewStackUsageError(f"--set {unknown[0]}: not a question (use {', '.join(PATHS)})")
    platform, extra = starting_document(stacks_dir, customer, source)
    plan_path = stacks_dir / ROLLOUT_FILE
    target_wave(parse_plan(read_plan_text(plan_path), plan_path, known_stacks(stacks_dir)), wave)
    draft = Draft(platform, extra)
    complete(draft, given, ask, say, f"stacks/Pulumi.{name}.yaml")
    first = {key: draft.platform[key] for key in FIRST_KEYS if key in draft.platform}
    return name, {"config": {**draft.extra, PLATFORM_KEY: first | draft.platform}}


def secret_commands(name: str, platform: dict[str, Any]) -> list[str]:
    """Create the stack in the backend, then set each secret it needs."""
    commands = [f"pulumi stack init {name}"]
    members = required_members(platform)
    for secret in required_secrets(platform):
        if secret.is_map:
            commands += [f"{secret.set_command(server)} -s {name}" for server in members[secret]]
        else:
            commands.append(f"{secret.set_command()} -s {name}")
    return commands


def add_to_wave(plan_text: str, wave: str, stack: str) -> str:
    """`plan_text` with `stack` appended to `wave`'s stacks list; every other byte is kept.

    Handles a flow list (`stacks: [a, b]`) and a block list (`- a` lines, the new line indented like
    the last one). The caller checks the result by loading it.
    """
    stacks = _stacks_node(yaml.compose(plan_text, Loader=yaml.SafeLoader), wave)
    scalar = stack if yaml.safe_load(stack) == stack else json.dumps(stack)  # e.g. a date-like name stays text
    last = stacks.value[-1]
    if stacks.flow_style:
        at = last.end_mark.index
        return plan_text[:at] + ", " + scalar + plan_text[at:]
    line_start = plan_text.rfind("\n", 0, last.start_mark.index) + 1
    prefix = plan_text[line_start : last.start_mark.index]
    if not re.fullmatch(r"[ \t]*-[ \t]+", prefix):
        prefix = " " * stacks.start_mark.column + "- "
    line_end = plan_text.find("\n", last.end_mark.index)
    if line_end == -1:
        return plan_text + "\n" + prefix + scalar + "\n"
    newline = "\r\n" if plan_text[line_end - 1 : line_end] == "\r" else "\n"
    return plan_text[: line_end + 1] + prefix + scalar + newline + plan_text[line_end + 1 :]


def _stacks_node(root: yaml.Node | None, wave: str) -> yaml.SequenceNode:
    """The node of `wave`'s stacks list in a validated plan."""
    waves = _value_of(root, "waves")
    for entry in waves.value if isinstance(waves, yaml.SequenceNode) else []:
        name = _value_of(entry, "name")
        stacks = _value_of(entry, "stacks")
        named = isinstance(name, yaml.ScalarNode) and name.value == wave
        if named and isinstance(stacks, yaml.SequenceNode) and stacks.value:
            return stacks
    raise RolloutError(f"{ROLLOUT_FILE}: wave {wave} has no stacks list to add to")


def _value_of(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((value for name, value in node.value if isinstance(name, yaml.ScalarNode) and name.value == key), None)


class _StackDumper(yaml.SafeDumper):
    """YAML for a stack file that every reader reads the same way."""


_SEXAGESIMAL = re.compile(r"[0-9]+(:[0-9]+)+")


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # A time unquoted is a number to a YAML 1.1 reader (`19:00` is 1140): times are written quoted.
    style = '"' if _SEXAGESIMAL.fullmatch(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_StackDumper.add_representer(str, _text)


def stack_yaml(document: dict[str, Any]) -> str:
    """The stack file's YAML: keys in the document's order, times quoted, every value on one line (no folding:
    an SSH public key stays one line, as `authorized_keys` and a reader expect)."""
    return yaml.dump(document, Dumper=_StackDumper, sort_keys=False, width=sys.maxsize)


def write(stacks_dir: Path, name: str, document: dict[str, Any], wave: str | None, known: list[str]) -> str:
    """Writes the stack file and adds it to a wave, both or neither; returns the wave's name.

    `rollout.yaml` is edited, not rewritten: its comments and layout stay as they were.
    """
    plan_path = stacks_dir / ROLLOUT_FILE
    plan_text = read_plan_text(plan_path)
    plan = parse_plan(plan_text, plan_path, known)
    target = target_wave(plan, wave)
    expected = RolloutPlan(
        waves=tuple(Wave(name=w.name, stacks=(*w.stacks, name) if w.name == target else w.stacks) for w in plan.waves),
        excluded=plan.excluded,
    )
    edited_text = add_to_wave(plan_text, target, name)
    try:
        edited = parse_plan(edited_text, plan_path, [*known, name])
    except RolloutError:
        edited = None
    if edited != expected:
        raise NewStackError(
            f"{plan_path}: could not add {name} to wave {target} by editing the file (an anchor or an unusual "
            f"layout?): write that wave's list as `stacks: [...]` and run new-stack again"
        )
    header = f"# yaml-language-server: $schema=./stack.schema.json\n# {name}: scaffolded by `ops new-stack`.\n"
    stack_text = header + stack_yaml(document)
    stack_path = stacks_dir / f"Pulumi.{name}.yaml"
    mode = stat.S_IMODE(plan_path.stat().st_mode)  # temporary files are private; the stack files are not
    temporary: list[Path] = []
    try:
        for content in (stack_text, edited_text):
            handle, name_ = tempfile.mkstemp(dir=stacks_dir, prefix=".new-stack-", suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
                file.write(content)
            os.chmod(name_, mode)
            temporary.append(Path(name_))
        os.replace(temporary[0], stack_path)
        try:
            os.replace(temporary[1], plan_path)
        except OSError:
            stack_path.unlink(missing_ok=True)
            raise
    finally:
        for path in temporary:
            path.unlink(missing_ok=True)
    return target
