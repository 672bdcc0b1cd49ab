"""The JSON Schema of a stack file, derived from the config models, for editors and reviewers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from constellab.config import PlatformConfig
from constellab.settings import PLATFORM_KEY, SECRET_KEYS

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "stacks" / "stack.schema.json"


def stack_file_schema() -> dict[str, Any]:
    """A schema for the whole `Pulumi.<stack>.yaml`; secret keys only accept `{secure: ...}`."""
    platform = PlatformConfig.model_json_schema(by_alias=True)
    definitions = platform.pop("$defs", {})
    definitions["PlatformConfig"] = platform
    definitions["Secret"] = {
        "description": "A Pulumi secret: `pulumi config set --secret` writes it (each key says how).",
        "type": "object",
        "properties": {"secure": {"type": "string"}},
        "required": ["secure"],
        "additionalProperties": False,
    }
    config_properties: dict[str, Any] = {
        PLATFORM_KEY: {"$ref": "#/$defs/PlatformConfig"},
        "aws:region": {"type": "string", "description": "AWS region of the customer's resources."},
    }
    for secret in SECRET_KEYS:
        if secret.is_map:
            # `pulumi config set --secret --path '<key>.<server>'` stores one secret per server.
            config_properties[secret.key] = {
                "description": f"{secret.purpose}. Set it with `{secret.set_command()}`.",
                "anyOf": [
                    {"$ref": "#/$defs/Secret"},
                    {"type": "object", "additionalProperties": {"$ref": "#/$defs/Secret"}},
                ],
            }
        else:
            config_properties[secret.key] = {
                "$ref": "#/$defs/Secret",
                "description": f"{secret.purpose}. Set it with `{secret.set_command()}`.",
            }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://constellab.example/schemas/stack.schema.json",
        "title": "Constellab stack file (Pulumi.<stack>.yaml)",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": config_properties,
                "required": [PLATFORM_KEY],
                "additionalProperties": True,
            },
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "encryptionsalt": {"type": "string"},
        },
        "required": ["config"],
        "$defs": definitions,
    }


def render_schema() -> str:
    return json.dumps(stack_file_schema(), indent=2, sort_keys=True) + "\n"
