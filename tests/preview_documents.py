"""Stack documents as `ops preview --format json` writes them, one resource at a time, for the diff rules."""

from __future__ import annotations

from typing import Any


def resource(kind: str, name: str, inputs: dict[str, Any], **options: Any) -> dict[str, Any]:
    """One custom resource of type `kind`, with `inputs` and resource options (defaults: none set)."""
    return {
        "urn": f"urn:pulumi:s::constellab::{kind}::{name}",
        "type": kind,
        "name": name,
        "parent": None,
        "custom": True,
        "id": name,
        "inputs": inputs,
        "options": {"protect": False, "retainOnDelete": False, "dependsOn": [], "provider": None,
                    "deleteBeforeReplace": False, "ignoreChanges": [], **options},
    }  # fmt: skip


def document(*resources: dict[str, Any]) -> dict[str, Any]:
    """A stack `s` declaring `resources`."""
    return {"stack": "s", "resources": list(resources)}
