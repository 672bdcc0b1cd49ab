"""YAML reading through libyaml when PyYAML was built with it (several times faster), and writing.

Reading is hot in the offline preview: the guardrails read every proxy's files back. Writing stays in
pure Python on purpose: libyaml folds long quoted lines elsewhere, and the rendered text is an input of
deployed resources (a cloud-init document that changes by one byte replaces an instance).
"""

from __future__ import annotations

from typing import Any

import yaml

_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str) -> Any:
    """The document in `text`, with only plain YAML types (like `yaml.safe_load`)."""
    return yaml.load(text, Loader=_LOADER)  # a safe loader, C or Python


def dump(document: Any, **options: Any) -> str:
    """`document` as YAML text, exactly as `yaml.safe_dump` writes it with the same options."""
    return str(yaml.safe_dump(document, **options))
