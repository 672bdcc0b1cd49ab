"""Pydantic's validation errors in the stack file's terms: the field's path as the file spells it, and a
message in YAML words (no pydantic wording)."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from constellab.config import RETIRED_FIELDS, PlatformConfig
from constellab.config_checks import ConfigIssue

# ---------------------------------------------------------------------------------------------
# Error paths
# ---------------------------------------------------------------------------------------------


def issues_from_validation_error(error: ValidationError) -> list[ConfigIssue]:
    """Turns pydantic's errors into `path: message` lines with stack-file (camelCase) paths."""
    issues = []
    for detail in error.errors():
        path, parent = _stack_path(PlatformConfig, detail["loc"])
        ctx = detail.get("ctx") or {}
        if isinstance(ctx.get("field"), str):
            path = f"{path}.{ctx['field']}" if path else ctx["field"]
        if detail["type"] in ("union_tag_invalid", "union_tag_not_found"):
            discriminator = str(ctx.get("discriminator", "kind")).strip("'")
            path = f"{path}.{discriminator}" if path else discriminator
        issues.append(ConfigIssue(path=path, message=_message(detail, parent)))
    return issues


def _message(detail: Any, parent: type[BaseModel] | None) -> str:
    kind = detail["type"]
    if kind == "missing":
        return "required: add it"
    if kind == "extra_forbidden":
        retired = RETIRED_FIELDS.get((parent.__name__, str(detail["loc"][-1]))) if parent is not None else None
        if retired is not None:
            return retired
        allowed = ", ".join(_aliases(parent)) if parent is not None else "see the JSON schema"
        return f"unknown field: remove it or use one of {allowed}"
    if kind == "union_tag_not_found":
        return "required: say which kind this is"
    if kind == "union_tag_invalid":
        ctx = detail.get("ctx", {})
        return f"{ctx.get('tag')!r} is not one of {ctx.get('expected_tags')}"
    if kind in _PLAIN_TYPE_MESSAGES:
        return f"{_PLAIN_TYPE_MESSAGES[kind]}, not {_yaml_kind(detail.get('input'))}"
    message = str(detail["msg"])
    return message[0].lower() + message[1:] if message else message


# pydantic names Python types ("a valid tuple", "an instance of Lab"); a stack file has YAML's.
_PLAIN_TYPE_MESSAGES = {
    "tuple_type": "must be a list (one `- item` per line)",
    "list_type": "must be a list (one `- item` per line)",
    "dict_type": "must be a mapping (`key: value` lines)",
    "model_type": "must be a mapping (`key: value` lines)",
    "model_attributes_type": "must be a mapping (`key: value` lines)",
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
}


def _yaml_kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "empty"
    return repr(value)


def _aliases(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _stack_path(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[str, type[BaseModel] | None]:
    """Walks `loc` through the models to drop union tags; returns the path and the last model."""
    parts: list[str] = []
    current: Any = model
    last_model: type[BaseModel] | None = model
    for element in loc:
        current = _unwrap(current)
        if isinstance(element, int):
            parts.append(f"[{element}]")
            current = _item_type(current)
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            last_model = current
            field = next(
                (f for n, f in current.model_fields.items() if (f.alias or n) == element or n == element),
                None,
            )
            parts.append(f".{element}")
            current = field.annotation if field is not None else None
            continue
        members = _union_members(current)
        if members:
            tagged = next((m for m in members if _tag_of(m) == element), None)
            if tagged is not None:
                current = tagged
                continue
        if "[" in str(element):
            continue  # pydantic's name for a union member or validator, not a field
        parts.append(f".{element}")
        current = None
    return "".join(parts).lstrip("."), last_model


def _unwrap(annotation: Any) -> Any:
    """Strips `Annotated[...]` and `X | None` down to the type that holds the fields."""
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif typing.get_origin(annotation) in (typing.Union, types.UnionType):
            present = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            if len(present) != 1:
                return annotation
            annotation = present[0]
        else:
            return annotation


def _item_type(annotation: Any) -> Any:
    args = typing.get_args(annotation)
    return args[0] if args else None


def _union_members(annotation: Any) -> list[type[BaseModel]]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [_unwrap(arg) for arg in typing.get_args(annotation)]
        return [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
    return []


def _tag_of(model: type[BaseModel]) -> str | None:
    for name in ("kind", "provider", "mode"):
        field = model.model_fields.get(name)
        if field is not None:
            args = typing.get_args(field.annotation)
            if len(args) == 1 and isinstance(args[0], str):
                return args[0]
    return None
