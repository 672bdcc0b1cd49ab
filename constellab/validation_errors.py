"""Pydantic's validation errors in the stack file's terms: the field's path as the file spells it, and a
message in YAML words (no pydantic wording)."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from constellab.config import RETIRED_FIELDS, PlatformConfig
from constellab.config_checks import ConfigIssue, key_in_path
from constellab.config_types import yaml_text

# ---------------------------------------------------------------------------------------------
# Error paths
# ---------------------------------------------------------------------------------------------


def issues_from_validation_error(error: ValidationError) -> list[ConfigIssue]:
    """Turns pydantic's errors into `path: message` lines with stack-file (camelCase) paths."""
    issues = []
    for detail in error.errors():
        if _counts_only_invalid_items(detail):
            continue
        path, parent = _stack_path(PlatformConfig, detail["loc"])
        ctx = detail.get("ctx") or {}
        if isinstance(ctx.get("field"), str):
            path = f"{path}.{ctx['field']}" if path else ctx["field"]
        if detail["type"] in ("union_tag_invalid", "union_tag_not_found"):
            discriminator = str(ctx.get("discriminator", "kind")).strip("'")
            path = f"{path}.{discriminator}" if path else discriminator
        issues.append(ConfigIssue(path=path, message=_message(detail, parent)))
    return issues


def _counts_only_invalid_items(detail: Any) -> bool:
    """pydantic checks a list's length on the items that validated: a list whose only item is wrong is also
    'too short'. That item's own error says what is wrong; the list, as written, is long enough."""
    written = detail.get("input")
    minimum = (detail.get("ctx") or {}).get("min_length")
    return (
        detail["type"] == "too_short"
        and isinstance(written, list | tuple)
        and isinstance(minimum, int)
        and len(written) >= minimum
    )


def _message(detail: Any, parent: type[BaseModel] | None) -> str:
    kind = detail["type"]
    ctx = detail.get("ctx") or {}
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
        return f"{ctx.get('tag')!r} is not one of {ctx.get('expected_tags')}"
    return _value_message(kind, ctx, detail.get("input")) or _pydantic_message(detail)


def _value_message(kind: str, ctx: dict[str, Any], value: Any) -> str | None:
    """What is wrong with a value, in the stack file's words; None for a kind of error not translated here."""
    written = yaml_text(value)
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace(" or ", ", ")
        return f"{written} is not one of {expected}" if ", " in expected else f"must be {expected}, not {written}"
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        return f"must be {words} {ctx.get(key)}, not {written}"
    if kind == "too_short":
        return f"must list at least {_items(ctx.get('min_length'))}" + (": it is empty" if value == [] else "")
    if kind == "too_long":
        return f"must list at most {_items(ctx.get('max_length'))}"
    if kind == "string_too_short":
        minimum = ctx.get("min_length")
        return "must not be empty" if minimum == 1 else f"must be {minimum} characters or more"
    if kind == "string_too_long":
        return f"must be {ctx.get('max_length')} characters at most"
    if kind == "string_pattern_mismatch":
        form = PATTERN_FORMS.get(str(ctx.get("pattern")))
        return f"{written} is not {form}" if form else f"{written} does not have the form {ctx.get('pattern')}"
    if kind == "string_type" and isinstance(value, bool | int | float):
        return f"must be text, not {written}: quote it"
    if kind in _PLAIN_TYPE_MESSAGES:
        return f"{_PLAIN_TYPE_MESSAGES[kind]}, not {written}"
    return None


def _pydantic_message(detail: Any) -> str:
    """Our own errors' messages (`PydanticCustomError`, `ValueError`), as written."""
    message = str(detail["msg"]).removeprefix("Value error, ")
    return message[0].lower() + message[1:] if message else message


_BOUNDS = {
    "greater_than_equal": ("ge", "at least"),
    "less_than_equal": ("le", "at most"),
    "greater_than": ("gt", "more than"),
    "less_than": ("lt", "less than"),
}
"""pydantic's bound errors: the context key of the limit, and the words."""


def _items(count: object) -> str:
    return "one item" if count == 1 else f"{count} items"


PATTERN_FORMS = {
    r"^vpc-[0-9a-f]{8,17}$": "a VPC id (e.g. 'vpc-0a1b2c3d4e5f67890')",
    r"^subnet-[0-9a-f]{8,17}$": "a subnet id (e.g. 'subnet-0a1b2c3d4e5f67890')",
    r"^(unix|tcp|ssh)://.+$": "a Docker host address (e.g. 'unix:///var/run/docker.sock' or 'ssh://ops@host')",
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$": "a package name (letters, digits, '.', '_' and '-', e.g. 'gws_omix')",
    r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$": "a git branch name (e.g. 'main' or 'release/1.2')",
    r"^[0-9a-f]{7,40}$": "a git commit (7 to 40 lowercase hexadecimal characters, e.g. '3f2c9e1')",
    r"^[A-Za-z0-9_-]{10,100}$": "a captcha site key (10 to 100 letters, digits, '_' and '-')",
}
"""Each pattern of the models (`Field(pattern=...)`) in the stack file's words (a test checks every one is here)."""


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
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
}


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
            parts.append(f".{key_in_path(element)}")  # a field, or a key the model does not know, as written
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
        parts.append(f".{key_in_path(element)}")  # a key the file has, unknown here: as written, quoted if odd
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
