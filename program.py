"""The Pulumi program, importable: read the engine's config, validate it, build, export.

`__main__.py` runs it under the Pulumi CLI; `ops preview` and the tests run the very same code under
Pulumi's mock engine.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pulumi

import sdk_internals
from components.platform import Platform, PlatformArgs
from components.values import StackSecrets
from constellab.settings import (
    PLATFORM_KEY,
    SECRET_KEYS,
    SECRET_MAPS,
    RawStackConfig,
    SecretState,
    StackSettings,
    required_members,
    validate,
)


def raw_config_from_engine() -> RawStackConfig:
    """The stack's config as the engine hands it to the program; secrets are only checked for secrecy."""
    values: dict[str, Any] = {}
    secrets: dict[str, SecretState] = {}
    secret_keys = {secret.key for secret in SECRET_KEYS}
    for key in sdk_internals.config_keys():
        if key in secret_keys:
            continue
        raw = sdk_internals.config_value(key)
        if key == PLATFORM_KEY and isinstance(raw, str):
            with contextlib.suppress(json.JSONDecodeError):  # validation reports a non-mapping
                raw = json.loads(raw)
        values[key] = raw
    members: dict[str, frozenset[str]] = {}
    for secret_map in SECRET_MAPS:
        found = sdk_internals.config_value(secret_map.key)
        if isinstance(found, str):
            with contextlib.suppress(json.JSONDecodeError):
                decoded = json.loads(found)
                if isinstance(decoded, dict):
                    members[secret_map.key] = frozenset(decoded)
    for secret in SECRET_KEYS:
        if sdk_internals.config_value(secret.key) is None:
            secrets[secret.key] = SecretState.MISSING
        else:
            secrets[secret.key] = (
                SecretState.SECRET if sdk_internals.config_is_secret(secret.key) else SecretState.PLAIN
            )
    return RawStackConfig(values=values, secrets=secrets, secret_members=members)


def settings_from_engine() -> StackSettings:
    """Validates the stack's config; raises `StackConfigError` listing every problem."""
    return validate(raw_config_from_engine(), f"stack {pulumi.get_stack()}")


def _member(secret_map: pulumi.Output[Any], name: str) -> pulumi.Output[str]:
    return pulumi.Output.secret(secret_map.apply(lambda found: str(found[name])))


def build(stack: str, settings: StackSettings) -> Platform:
    """Declares the whole platform and exports its outputs."""
    config = pulumi.Config("constellab")
    shared = {secret.ref: config.require_secret(secret.name) for secret in settings.secret_keys if not secret.is_map}
    per_server = {}
    document = settings.platform.model_dump(mode="json", by_alias=True)
    for secret_map, servers in required_members(document).items():
        if secret_map in settings.secret_keys:
            members = config.require_secret_object(secret_map.name)
            per_server[secret_map.ref] = {server: _member(members, server) for server in servers}
    secrets = StackSecrets(shared=shared, per_server=per_server)
    platform = Platform(settings.platform.customer, PlatformArgs(stack=stack, settings=settings, secrets=secrets))
    pulumi.export("servers", platform.servers)
    pulumi.export("credentials", platform.credentials)
    if platform.dns_records is not None:
        pulumi.export("dnsRecords", platform.dns_records)
    return platform
