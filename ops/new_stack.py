"""`ops new-stack <customer> <env>`: scaffold a validated stack file and add it to a rollout wave.

Values without a default are asked for (or given with `--set path=value`); the result is validated
before anything is written, secrets are never written (the commands to set them are printed), and
the stack file and `rollout.yaml` are replaced together or not at all.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from constellab.config import DNS_LABEL_PATTERN
from constellab.settings import (
    PLATFORM_KEY,
    RawStackConfig,
    SecretState,
    StackConfigError,
    read_stack_file,
    required_members,
    required_secrets,
    validate,
)
from ops.common import UsageError, known_stacks
from ops.rollout import ROLLOUT_FILE, RolloutError, RolloutPlan, Wave, parse_plan, read_plan_text

REGION = "aws:region"
MAX_ASKS = 3
"""How many times refused answers are asked again before new-stack gives up."""


class NewStackError(Exception):
    """Refused before anything is written."""


class NewStackUsageError(UsageError):
    """A bad argument (name, `--set`, `--from`, `--wave`) or no way to answer: refused before anything, exit 2.

    A `UsageError`, so the command line reports it as one (`error: ...`, exit 2) like other commands' bad arguments.
    """


@dataclass(frozen=True)
class Question:
    """A value new-stack asks for when neither --set nor the starting stack gives it."""

    path: str
    """Dotted path in the platform document (or `aws:region`)."""
    prompt: str
    default: str | None = None
    many: bool = False
    """A comma-separated list."""
    when: Callable[[dict[str, Any]], bool] = lambda document: True


QUESTIONS = [
    Question("baseDomain", "Base domain (each server is <name>.<domain>)"),
    Question(REGION, "AWS region", "eu-west-3"),
    Question("dns.provider", "DNS provider (cloudflare or none)", "cloudflare"),
    Question("dns.zoneId", "Cloudflare zone id", when=lambda d: _get(d, "dns.provider") == "cloudflare"),
    Question("adminCidrs", "Administrator networks (comma-separated CIDRs)", many=True),
    Question("sshPublicKeys", "Administrator SSH public keys (comma-separated)", many=True),
    Question("endpoints.spaceApiUrl", "Collaborative space API URL"),
    Question("endpoints.spaceFrontUrl", "Collaborative space front URL"),
]

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


def _get(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _set(document: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    target = document
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = value


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


def starting_document(stacks_dir: Path, customer: str, source: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(platform document, other plain config) from a template or from an existing stack."""
    if source is None:
        platform = copy.deepcopy(TEMPLATE)
        extra: dict[str, Any] = {}
    else:
        path = stacks_dir / f"Pulumi.{source}.yaml"
        if not path.is_file():
            choices = ", ".join(known_stacks(stacks_dir)) or "none"
            raise NewStackUsageError(f"--from {source}: no such stack (stacks: {choices})")
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
            if _get(platform, parent) is not None and not isinstance(_get(platform, parent), dict):
                raise NewStackError(f"--from {source}: {path}: {PLATFORM_KEY}.{parent} must be a mapping")
        # Secrets are encrypted for their own stack: read_stack_file never keeps them, so they never travel.
        extra = {k: copy.deepcopy(v) for k, v in raw.values.items() if not k.startswith("constellab:")}
        for key in ("baseDomain",):
            platform.pop(key, None)
    platform["customer"] = customer
    return platform, extra


def _answer(question: Question, raw: str) -> Any:
    if question.many:
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw.strip()


def _problems(platform: dict[str, Any], extra: dict[str, Any], source: str) -> list[tuple[str, str]]:
    """(path, message) of every problem, secrets assumed set (they are set after, as secrets)."""
    secrets = {secret.key: SecretState.SECRET for secret in required_secrets(platform)}
    members = {secret.key: frozenset(servers) for secret, servers in required_members(platform).items()}
    raw = RawStackConfig(values={PLATFORM_KEY: platform, **extra}, secrets=secrets, secret_members=members)
    try:
        validate(raw, source)
    except StackConfigError as error:
        return [(issue.path, issue.message) for issue in error.issues]
    return []


def _question_for(path: str) -> Question | None:
    bare = re.sub(r"\[\d+\]", "", path)
    return next((q for q in QUESTIONS if q.path == bare), None)


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
    """The new stack's name and file content; asks `ask` for each missing value, re-asks a bad one.

    Every argument (name, `--set` paths, `--from`, `--wave`) and `rollout.yaml` are checked before the
    first question, so a mistake there never costs the answers.
    """
    name = stack_name(customer, env)
    if (stacks_dir / f"Pulumi.{name}.yaml").exists():
        raise NewStackError(f"stack {name} exists already (stacks/Pulumi.{name}.yaml): refusing to overwrite it")
    unknown = sorted(set(given) - {q.path for q in QUESTIONS})
    if unknown:
        raise NewStackUsageError(f"--set {unknown[0]}: not a question (use {', '.join(q.path for q in QUESTIONS)})")
    platform, extra = starting_document(stacks_dir, customer, source)
    plan_path = stacks_dir / ROLLOUT_FILE
    target_wave(parse_plan(read_plan_text(plan_path), plan_path, known_stacks(stacks_dir)), wave)

    def put(question: Question, raw: str) -> None:
        value = _answer(question, raw)
        if question.path == REGION:
            extra[REGION] = value
        else:
            _set(platform, question.path, value)

    def current(question: Question) -> Any:
        return extra.get(REGION) if question.path == REGION else _get(platform, question.path)

    def ask_for(question: Question) -> None:
        if ask is None:
            raise NewStackUsageError(f"{question.path}: no value: give it with --set {question.path}=<value>")
        default = question.default if current(question) in (None, "", []) else None
        prompt = f"{question.prompt}" + (f" [{default}]" if default else "") + ": "
        try:
            raw = ask(prompt)
        except EOFError:
            _end_prompt_line()
            raise NewStackUsageError(
                f"{question.path}: no answer (input ended): without a terminal, run with --no-input and give "
                f"the values with --set (e.g. --set {question.path}=<value>)"
            ) from None
        except KeyboardInterrupt:
            _end_prompt_line()
            raise
        put(question, raw or default or "")

    for question in QUESTIONS:
        if not question.when({**platform, **({REGION: extra.get(REGION)})}):
            continue
        if question.path in given:
            put(question, given[question.path])
        elif current(question) in (None, "", []):
            if ask is None and question.default is not None:
                put(question, question.default)
            else:
                ask_for(question)

    source_name = f"stacks/Pulumi.{name}.yaml"
    for attempt in range(MAX_ASKS + 1):
        problems = _problems(platform, extra, source_name)
        if not problems:
            break
        askable = [q for q in (_question_for(path) for path, _ in problems) if q is not None]
        if ask is None or len(askable) < len(problems) or attempt == MAX_ASKS:
            # Each problem once: the others as lines, the first as the error itself.
            for path, message in problems[1:]:
                say(f"{path}: {message}")
            first_path, first_message = problems[0]
            others = f" (and the {len(problems) - 1} other problem(s) above)" if len(problems) > 1 else ""
            raise NewStackError(f"{first_path}: {first_message}{others}")
        for path, message in problems:
            say(f"{path}: {message}")
        for question in dict.fromkeys(askable):
            ask_for(question)
    return name, {"config": {**extra, PLATFORM_KEY: platform}}


def _end_prompt_line() -> None:
    # The command line's prompt (on stderr) waits on its own line: what follows must not join it.
    print(file=sys.stderr, flush=True)


def secret_commands(name: str, platform: dict[str, Any]) -> list[str]:
    """Create the stack in the backend, then set each secret it needs."""
    commands = [f"pulumi stack init {name}"]
    members = required_members(platform)
    for secret in required_secrets(platform):
        if secret.is_map:
            commands += [f"{secret.set_command(server, '<value>')} -s {name}" for server in members[secret]]
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
    stack_text = header + yaml.safe_dump(document, sort_keys=False)
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
