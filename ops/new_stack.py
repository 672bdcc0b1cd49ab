"""`ops new-stack <customer> <env>`: scaffold a validated stack file and add it to a rollout wave.

Values without a default are asked for (or given with `--set path=value`); the result is validated
before anything is written, secrets are never written (the commands to set them are printed), and
the stack file and `rollout.yaml` are replaced together or not at all.
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from constellab.settings import (
    PLATFORM_KEY,
    RawStackConfig,
    SecretState,
    StackConfigError,
    required_secrets,
    validate,
)
from ops.rollout import ROLLOUT_FILE, RolloutError, RolloutPlan, Wave, export_plan, load_plan

REGION = "aws:region"
PLAN_HEADER = (
    "# Waves of a rollout, in order: every stack is in exactly one wave, or excluded.\n"
    "# (Rewritten by `ops new-stack`: keep comments in this header.)\n"
)


class NewStackError(Exception):
    """Refused before anything is written."""


@dataclass(frozen=True)
class Question:
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
        "front": "constellab/lab-front:2.4.1",
        "glab": "constellab/glab:0.12.3",
        "codelab": "constellab/codelab:0.12.3",
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
    name = f"{customer}-{env}"
    if not re.match(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", name):
        raise NewStackError(f"{name!r}: customer and env must be lowercase letters, digits and hyphens")
    return name


def starting_document(stacks_dir: Path, customer: str, source: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(platform document, other plain config) from a template or from an existing stack."""
    if source is None:
        platform = copy.deepcopy(TEMPLATE)
        extra: dict[str, Any] = {}
    else:
        path = stacks_dir / f"Pulumi.{source}.yaml"
        if not path.is_file():
            raise NewStackError(f"--from {source}: no stack file {path.name}")
        config = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("config", {})
        platform = copy.deepcopy(config.get(PLATFORM_KEY, {}))
        # Secrets are encrypted for their own stack: they never travel to another one.
        extra = {k: v for k, v in config.items() if k != PLATFORM_KEY and not (isinstance(v, dict) and "secure" in v)}
        extra = {k: v for k, v in extra.items() if not k.startswith("constellab:")}
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
    raw = RawStackConfig(values={PLATFORM_KEY: platform, **extra}, secrets=secrets)
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
) -> tuple[str, dict[str, Any]]:
    """The new stack's name and file content; asks `ask` for each missing value, re-asks a bad one."""
    name = stack_name(customer, env)
    if (stacks_dir / f"Pulumi.{name}.yaml").exists():
        raise NewStackError(f"stack {name} exists already (stacks/Pulumi.{name}.yaml): refusing to overwrite it")
    platform, extra = starting_document(stacks_dir, customer, source)
    unknown = sorted(set(given) - {q.path for q in QUESTIONS})
    if unknown:
        raise NewStackError(f"--set {unknown[0]}: not a question (use {', '.join(q.path for q in QUESTIONS)})")

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
            raise NewStackError(f"{question.path}: no value: give it with --set {question.path}=<value>")
        default = question.default if current(question) in (None, "", []) else None
        prompt = f"{question.prompt}" + (f" [{default}]" if default else "") + ": "
        try:
            raw = ask(prompt)
        except EOFError:
            raise NewStackError(f"{question.path}: no answer (input ended)") from None
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

    for _attempt in range(3):
        problems = _problems(platform, extra, f"stacks/Pulumi.{name}.yaml")
        if not problems:
            break
        for path, message in problems:
            say(f"{path}: {message}")
        askable = [q for q in (_question_for(path) for path, _ in problems) if q is not None]
        if ask is None or not askable or len(askable) < len(problems):
            first_path, first_message = problems[0]
            raise NewStackError(f"{first_path}: {first_message}")
        for question in dict.fromkeys(askable):
            ask_for(question)
    else:
        raise NewStackError(f"{problems[0][0]}: {problems[0][1]}")
    return name, {"config": {**extra, PLATFORM_KEY: platform}}


def secret_commands(name: str, platform: dict[str, Any]) -> list[str]:
    """Create the stack in the backend, then set each secret it needs."""
    commands = [f"pulumi stack init {name}"]
    commands += [f"pulumi config set --secret {secret.name} <value> -s {name}" for secret in required_secrets(platform)]
    return commands


def write(stacks_dir: Path, name: str, document: dict[str, Any], wave: str | None, known: list[str]) -> str:
    """Writes the stack file and adds it to a wave, both or neither; returns the wave's name."""
    plan = load_plan(stacks_dir, known)
    target = wave or plan.waves[-1].name
    if target not in [w.name for w in plan.waves]:
        raise RolloutError(f"--wave {target}: no such wave (waves: {', '.join(w.name for w in plan.waves)})")
    waves = tuple(Wave(name=w.name, stacks=(*w.stacks, name) if w.name == target else w.stacks) for w in plan.waves)
    updated = RolloutPlan(waves=waves, excluded=plan.excluded)
    header = f"# yaml-language-server: $schema=./stack.schema.json\n# {name}: scaffolded by `ops new-stack`.\n"
    stack_text = header + yaml.safe_dump(document, sort_keys=False)
    plan_text = PLAN_HEADER + yaml.safe_dump(export_plan(updated), sort_keys=False)
    stack_path, plan_path = stacks_dir / f"Pulumi.{name}.yaml", stacks_dir / ROLLOUT_FILE
    temporary: list[Path] = []
    try:
        for content in (stack_text, plan_text):
            handle, name_ = tempfile.mkstemp(dir=stacks_dir, prefix=".new-stack-", suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(content)
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
