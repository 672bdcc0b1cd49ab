"""The servers of a raw `constellab:platform` document, before (or whatever) validation: one walk for all.

The checks that run on the raw document (cross-field rules, which secrets a stack needs, what a change
removes) see every server the same way: where it is (`space`, `hubs[0]`, `labs[1]`), its kind, and its
fields as written, skipping only what is not a mapping (the field validation reports that).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class RawServer:
    """One server mapping of a raw document."""

    path: str
    """Where it is in the document: `space`, `hubs[0]`, `labs[1]`."""
    kind: Literal["space", "hub", "lab"]
    fields: Mapping[str, Any]
    """As written; the space's name defaults to `space`."""

    @property
    def name(self) -> object:
        return self.fields.get("name")

    @property
    def retired(self) -> bool:
        return self.fields.get("retired") is True


def mappings(value: object) -> list[Mapping[str, Any]]:
    """The mapping items of a list (anything else is pydantic's to report)."""
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def raw_servers(document: Mapping[str, Any]) -> list[RawServer]:
    """Every server of the document, the space first, then hubs and labs in the document's order."""
    found: list[RawServer] = []
    space = document.get("space")
    if isinstance(space, Mapping):
        found.append(RawServer("space", "space", {"name": "space", **space}))
    found += [RawServer(f"hubs[{i}]", "hub", item) for i, item in enumerate(mappings(document.get("hubs")))]
    found += [RawServer(f"labs[{i}]", "lab", item) for i, item in enumerate(mappings(document.get("labs")))]
    return found
