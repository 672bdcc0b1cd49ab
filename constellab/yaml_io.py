"""YAML reading through libyaml when PyYAML was built with it (several times faster), and writing.

Reading is hot in the offline preview: the guardrails read every proxy's files back. Writing stays in
pure Python on purpose: libyaml folds long quoted lines elsewhere, and the rendered text is an input of
deployed resources (a cloud-init document that changes by one byte replaces an instance).
"""

from __future__ import annotations

from typing import Any

import yaml

_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_LOADER):  # type: ignore[valid-type,misc]
    """A safe loader that refuses a key given twice in one mapping (YAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"{key!r} is given twice in this mapping: keep one", key_node.start_mark
                )
            seen.add(key)
        return dict(super().construct_mapping(node, deep=deep))


def load(text: str, *, unique_keys: bool = False) -> Any:
    """The document in `text`, with only plain YAML types (like `yaml.safe_load`).

    With `unique_keys`, a key given twice in a mapping is an error instead of the last one winning.
    """
    return yaml.load(text, Loader=_UniqueKeyLoader if unique_keys else _LOADER)  # safe loaders, C or Python


def dump(document: Any, **options: Any) -> str:
    """`document` as YAML text, exactly as `yaml.safe_dump` writes it with the same options."""
    return str(yaml.safe_dump(document, **options))
