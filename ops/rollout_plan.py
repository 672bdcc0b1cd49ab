"""`stacks/rollout.yaml`: the waves a change goes through, read and checked (every problem with its path), and the
selection of stacks a rollout runs."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from constellab.text_file import UnreadableFileError, read_text

ROLLOUT_FILE = "rollout.yaml"


class Wave(BaseModel):
    """Stacks that roll out together, after every earlier wave."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    stacks: tuple[str, ...] = Field(min_length=1)


class RolloutPlan(BaseModel):
    """`stacks/rollout.yaml`: the waves, in order; every stack is in exactly one wave or excluded."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    waves: tuple[Wave, ...] = Field(min_length=1)
    excluded: tuple[str, ...] = ()
    """Stacks never rolled out (e.g. `local`, a developer's own machine)."""

    @field_validator("waves")
    @classmethod
    def _unique_names(cls, waves: tuple[Wave, ...]) -> tuple[Wave, ...]:
        names = [wave.name for wave in waves]
        if len(set(names)) != len(names):
            raise ValueError(f"wave names repeat: {', '.join(names)}")
        return waves


class RolloutError(Exception):
    """A bad plan, selection or report: reported before anything starts."""


def read_plan_text(path: Path) -> str:
    """The text of a rollout plan file, or a one-line `RolloutError` naming the file and the fix."""
    if not path.exists() and not path.is_symlink():
        raise RolloutError(f"{path}: no such file: list the waves there (see README, Rollouts)")
    try:
        return read_text(path)
    except UnreadableFileError as error:
        raise RolloutError(f"{path}: {error}") from None


def parse_plan(text: str, path: Path, known: list[str]) -> RolloutPlan:
    """Validates a rollout plan's text against the stacks that have a file; every problem in one line."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RolloutError(f"{path}: not valid YAML: {_yaml_problem(error)}") from None
    if not isinstance(document, dict):
        raise RolloutError(f"{path}: must be a mapping with a 'waves' list")
    try:
        plan = RolloutPlan.model_validate(document)
    except ValidationError as error:
        raise RolloutError(f"{path}: " + "; ".join(_plan_problems(error))) from None
    problems = []
    seen: dict[str, str] = {}
    for wave in plan.waves:
        for stack in wave.stacks:
            if stack in seen:
                problems.append(f"{stack} is in waves {seen[stack]} and {wave.name}: one wave per stack")
            seen[stack] = wave.name
    for stack in plan.excluded:
        if stack in seen:
            problems.append(f"{stack} is in wave {seen[stack]} and in excluded: keep one")
    for stack in [*seen, *plan.excluded]:
        if stack not in known:
            problems.append(f"{stack} has no stack file")
    missing = sorted(set(known) - set(seen) - set(plan.excluded))
    if missing:
        problems.append(f"not in any wave: {', '.join(missing)} (add them to a wave or to excluded)")
    if problems:
        raise RolloutError(f"{path}: " + "; ".join(problems))
    return plan


def load_plan(stacks_dir: Path, known: list[str]) -> RolloutPlan:
    """`stacks/rollout.yaml`, validated against the stacks that have a file (`known`)."""
    path = stacks_dir / ROLLOUT_FILE
    return parse_plan(read_plan_text(path), path, known)


def _yaml_problem(error: yaml.YAMLError) -> str:
    """`line L, column C: problem`: PyYAML's own message spans lines and quotes its input."""
    mark = getattr(error, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return where + str(getattr(error, "problem", None) or error)


# What each list of the plan holds, for messages about it.
_PLAN_LISTS = {"waves": "wave", "stacks": "stack", "excluded": "stack"}


def _plan_problems(error: ValidationError) -> list[str]:
    """Each of pydantic's errors as `field.path: what to do`, in the plan's own words."""
    details = error.errors()
    problems = []
    for detail in details:
        loc = detail["loc"]
        # pydantic counts only the items that validated: a list whose items are wrong is not also "empty".
        if detail["type"] == "too_short" and any(other["loc"][: len(loc)] == loc != other["loc"] for other in details):
            continue
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
        problems.append(f"{where}: {_plan_message(detail)}")
    return problems


def _plan_message(detail: Any) -> str:
    kind, loc = detail["type"], detail["loc"]
    field_name = next((part for part in reversed(loc) if isinstance(part, str)), "")
    holds = _PLAN_LISTS.get(field_name)
    if kind == "missing":
        return "required: add it"
    if kind == "extra_forbidden":
        owner = RolloutPlan if len(loc) == 1 else Wave
        return f"unknown field: remove it or use one of {', '.join(owner.model_fields)}"
    if kind == "too_short" and holds is not None:
        return f"needs at least one {holds}"
    if kind in ("tuple_type", "list_type") and holds is not None:
        return f"must be a list of {holds}s"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "a wave is a mapping with a name and a stacks list"
    if kind == "string_type":
        return (
            f"{detail['input']!r} is not text: quote it if it is a name" if isinstance(loc[-1], int) else "must be text"
        )
    if kind == "string_pattern_mismatch":
        return f"{detail['input']!r} is not a wave name: use lowercase letters, digits and hyphens"
    message = str(detail["msg"]).removeprefix("Value error, ")
    return message[0].lower() + message[1:] if message else message


def select(plan: RolloutPlan, wave: str | None, patterns: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(wave, stack) pairs in rollout order: those of `wave` (all when None) matching any of the stack names or
    globs `patterns` (all when none); each pattern must match a stack."""
    if wave is not None and wave not in [w.name for w in plan.waves]:
        raise RolloutError(f"no wave {wave!r} (waves: {', '.join(w.name for w in plan.waves)})")
    candidates = [(w.name, stack) for w in plan.waves if wave is None or w.name == wave for stack in w.stacks]
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(stack, pattern) for _, stack in candidates):
            excluded = [stack for stack in plan.excluded if fnmatch.fnmatchcase(stack, pattern)]
            if excluded:
                raise RolloutError(f"--stack {pattern!r}: {', '.join(excluded)} is excluded in rollout.yaml")
            scope = f"no stack of wave {wave}" if wave is not None else "no stack of rollout.yaml"
            names = ", ".join(stack for _, stack in candidates)
            raise RolloutError(f"--stack {pattern!r} matches {scope} (stacks: {names})")
    return [
        (name, stack)
        for name, stack in candidates
        if not patterns or any(fnmatch.fnmatchcase(stack, pattern) for pattern in patterns)
    ]


# ---------------------------------------------------------------------------------------------
# Runners
# ---------------------------------------------------------------------------------------------
