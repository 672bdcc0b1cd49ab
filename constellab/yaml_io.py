"""YAML reading through libyaml when PyYAML was built with it (several times faster), and writing.

Reading is hot in the offline preview: the guardrails read every proxy's files back. Writing stays in
pure Python on purpose: libyaml folds long quoted lines elsewhere, and the rendered text is an input of
deployed resources (a cloud-init document that changes by one byte replaces an instance).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SAFE_LOADER):  # type: ignore[valid-type,misc]
    """The safe loader, whose scalars that are not what their type says are YAML errors (PyYAML lets a Python
    error through: `2026-02-30` reads as a date that does not exist, `!!int x` as a number that is none)."""


def _read_as(kind: str, construct: Callable[[Any, yaml.ScalarNode], Any]) -> Callable[[Any, yaml.ScalarNode], Any]:
    def checked(loader: Any, node: yaml.ScalarNode) -> Any:
        try:
            return construct(loader, node)
        except (ValueError, KeyError, AttributeError, OverflowError):
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"YAML reads {node.value!r} as {kind}, which it is not: quote it to keep it as text",
                node.start_mark,
            ) from None

    return checked


for _tag, _kind_read, _construct in (
    ("int", "a whole number", yaml.constructor.SafeConstructor.construct_yaml_int),
    ("float", "a number", yaml.constructor.SafeConstructor.construct_yaml_float),
    ("bool", "true or false", yaml.constructor.SafeConstructor.construct_yaml_bool),
    ("timestamp", "a date", yaml.constructor.SafeConstructor.construct_yaml_timestamp),
):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _read_as(_kind_read, _construct))

_LOADER: type[yaml.SafeLoader] = _Loader


class _UniqueKeyLoader(_LOADER):  # type: ignore[valid-type,misc]
    """A safe loader that refuses a key given twice in one mapping (YAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, list | dict | set):  # `[a]: 1`, `? {a: 1}`: no key a mapping can hold
                raise yaml.constructor.ConstructorError(
                    None, None, f"this key is {_kind(key)}: keys are text (quote it)", key_node.start_mark
                )
            if isinstance(key, str | int | float | bool):
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"{key!r} is given twice in this mapping: keep one", key_node.start_mark
                    )
                seen.add(key)
        return dict(super().construct_mapping(node, deep=deep))


def _kind(value: object) -> str:
    return "a mapping" if isinstance(value, dict) else "a list" if isinstance(value, list) else "a set"


def load(text: str, *, unique_keys: bool = False) -> Any:
    """The document in `text`, with only plain YAML types (like `yaml.safe_load`).

    With `unique_keys`, a key given twice in a mapping is an error instead of the last one winning. Every error
    is a `yaml.YAMLError`; a character YAML refuses (a NUL, a control character) is one with its line and column.
    """
    loader = _UniqueKeyLoader if unique_keys else _LOADER  # safe loaders, C or Python
    try:
        return yaml.load(text, Loader=loader)
    except yaml.reader.ReaderError as error:
        raise _with_line_and_column(error, text, loader) from None


def _with_line_and_column(error: yaml.reader.ReaderError, text: str, loader: type) -> yaml.MarkedYAMLError:
    """The reader's error (a position in the text, over two lines) as a one-line problem at its line and column."""
    position = int(error.position)
    if issubclass(loader, getattr(yaml, "CSafeLoader", ())):  # libyaml counts in UTF-8 bytes
        position = len(text.encode("utf-8")[:position].decode("utf-8", errors="ignore"))
    line = text.count("\n", 0, position)
    column = position - (text.rfind("\n", 0, position) + 1)
    code = int(error.character)  # the character's code point: the text is decoded already
    problem = f"character U+{code:04X} is not allowed in YAML ({error.reason}): remove it, or write it "
    problem += f'"\\u{code:04x}" between double quotes'
    return yaml.MarkedYAMLError(
        problem=problem, problem_mark=yaml.Mark("<text>", position, line, column, None, position)
    )


def dump(document: Any, **options: Any) -> str:
    """`document` as YAML text, exactly as `yaml.safe_dump` writes it with the same options."""
    return str(yaml.safe_dump(document, **options))
