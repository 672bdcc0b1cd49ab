"""From a stack's raw configuration to a validated `StackSettings`, or to the full list of problems.

The same function serves the Pulumi program (values from the engine) and `python -m ops validate`
(values read from `stacks/Pulumi.<stack>.yaml`), so both report exactly the same messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from constellab import yaml_io
from constellab.aws.regions import AWS_REGION
from constellab.config import PlatformConfig
from constellab.config_checks import ConfigIssue, cross_checks, key_in_path
from constellab.secrets import (
    LAB_MANAGER_API_KEYS,
    PLATFORM_KEY,
    REPLACED_KEYS,
    SECRET_KEYS,
    TLS_PRIVATE_KEYS,
    SecretKey,
    SecretState,
    required_members,
    required_secrets,
)
from constellab.text_file import UnreadableFileError, read_text
from constellab.validation_errors import issues_from_validation_error


@dataclass(frozen=True)
class RawStackConfig:
    """A stack's configuration as found, before validation.

    `values` maps full keys (`constellab:platform`, `aws:region`) to their plain values; a secret's
    value is never read here, only whether it is stored as a secret.
    """

    values: Mapping[str, Any]
    secrets: Mapping[str, SecretState]
    secret_members: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """For a secret map (`tlsPrivateKeys`): the names it has entries for."""
    wrong_members: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """For a secret map stored wrongly (plain or malformed): the members that are not Pulumi secrets."""


@dataclass(frozen=True)
class StackSettings:
    """A validated stack: the platform model plus the settings around it."""

    platform: PlatformConfig
    aws_region: str | None
    secret_keys: tuple[SecretKey, ...]
    unset_secrets: tuple[ConfigIssue, ...] = ()
    """Secrets the stack needs but has not set yet: only when validated without requiring them (offline)."""


class StackConfigError(Exception):
    """A stack's configuration is invalid; carries every problem found."""

    def __init__(self, source: str, issues: list[ConfigIssue]) -> None:
        self.source = source
        self.issues = issues
        super().__init__(self.render())

    def render(self, source: str | None = None) -> str:
        """Every problem, one per line, under `source` (default: the file as it was read)."""
        lines = [f"{source or self.source}: {len(self.issues)} problem(s) in the stack configuration"]
        lines += [f"  - {issue}" for issue in self.issues]
        return "\n".join(lines)


def validate(raw: RawStackConfig, source: str, *, require_secrets: bool = True) -> StackSettings:
    """Validates a stack's configuration; raises `StackConfigError` with all problems at once.

    Without `require_secrets` (the offline commands), a secret not set yet is not a problem: it is listed in
    `unset_secrets`. A secret stored wrongly (in plain text, malformed) always is.
    """
    issues: list[ConfigIssue] = []
    unset: list[ConfigIssue] = issues if require_secrets else []
    known = {PLATFORM_KEY, *(secret.key for secret in SECRET_KEYS)}
    for key in sorted(raw.values) + sorted(raw.secrets):
        if key in REPLACED_KEYS:
            replacement = REPLACED_KEYS[key]
            issues.append(
                ConfigIssue(
                    path=key_in_path(key),
                    message=f"replaced by {replacement.name}, one per server the stack configures (each lab has its "
                    f"own in the Space): remove it and run `{replacement.set_command()}` for each",
                )
            )
        elif key.startswith("constellab:") and key not in known:
            allowed = ", ".join(sorted(k.split(":", 1)[1] for k in known))
            issues.append(ConfigIssue(path=key_in_path(key), message=f"unknown setting: use one of {allowed}"))

    platform: PlatformConfig | None = None
    document = raw.values.get(PLATFORM_KEY)
    if document is None:
        issues.append(ConfigIssue(path=PLATFORM_KEY, message="missing: the stack file must declare the platform here"))
    elif not isinstance(document, Mapping):
        issues.append(ConfigIssue(path=PLATFORM_KEY, message="must be a mapping of the platform's settings"))
    else:
        try:
            platform = PlatformConfig.model_validate(document)
        except ValidationError as error:
            issues += issues_from_validation_error(error)
        issues += cross_checks(document)

    needed = required_secrets(document) if isinstance(document, Mapping) else []
    members = required_members(document) if isinstance(document, Mapping) else {}
    for secret in SECRET_KEYS:
        state = raw.secrets.get(secret.key, SecretState.MISSING)
        if state in (SecretState.MALFORMED, SecretState.PLAIN):
            problem = (
                "`secure:` does not hold the ciphertext Pulumi writes"
                if state is SecretState.MALFORMED
                else "is stored in plain text"
            )
            wrong: list[str | None] = [*sorted(raw.wrong_members.get(secret.key, ()))] if secret.is_map else []
            issues += [  # a map's members each with their own command; else the key, for each server if a map
                ConfigIssue(
                    path=f"{secret.key}.{key_in_path(member)}" if member else secret.key,
                    message=f"{problem}: remove it and run `{secret.set_command(_as_typed(member))}`"
                    f"{' for each server' if secret.is_map and not _as_typed(member) else ''} ({secret.purpose})",
                )
                for member in (wrong or [None])
            ]
        elif secret.is_map and secret in needed:
            present = raw.secret_members.get(secret.key, frozenset()) if state is SecretState.SECRET else frozenset()
            unset += [
                ConfigIssue(path=f"{secret.key}.{server}", message=_missing_member(secret, server))
                for server in members.get(secret, [])
                if server not in present
            ]
        elif state is SecretState.MISSING and secret in needed:
            unset.append(
                ConfigIssue(path=secret.key, message=f"missing: run `{secret.set_command()}` ({secret.purpose})")
            )

    region = raw.values.get("aws:region")
    if platform is not None and platform.uses_aws and not region:
        issues.append(ConfigIssue(path="aws:region", message="missing: set the AWS region (e.g. eu-west-3)"))
    elif region and not (isinstance(region, str) and AWS_REGION.fullmatch(region)):
        issues.append(ConfigIssue(path="aws:region", message=f"{region!r} is not an AWS region (e.g. eu-west-3)"))

    if issues:
        raise StackConfigError(source, issues)
    assert platform is not None
    return StackSettings(
        platform=platform,
        aws_region=str(region) if region else None,
        secret_keys=tuple(needed),
        unset_secrets=tuple(unset) if unset is not issues else (),
    )


def _as_typed(member: str | None) -> str | None:
    """A secret map's member as a command can name it; None for one no command could (a line break in it)."""
    return member if member and key_in_path(member) == member else None


def _missing_member(secret: SecretKey, server: str) -> str:
    if secret is TLS_PRIVATE_KEYS:
        return f"missing: the manual certificate needs its key, run `{secret.set_command(server)}`"
    if secret is LAB_MANAGER_API_KEYS:
        return (
            f"missing: {server}'s lab manager takes the API key the Space generated for it (it calls the Space with "
            f"it, for its backups too): create the lab in the Space and run "
            f"`{secret.set_command(server, value='<key>')}`"
        )
    command = secret.set_command(server, value="<key>")
    return f"missing: the stack configures {server}: run `{command}` ({secret.purpose})"


# ---------------------------------------------------------------------------------------------
# Stack files
# ---------------------------------------------------------------------------------------------


# The top-level keys of Pulumi's stack settings file (Pulumi.<stack>.yaml).
STACK_FILE_KEYS = frozenset({"config", "environment", "encryptedkey", "encryptionsalt", "secretsprovider"})


def read_stack_file(path: Path) -> RawStackConfig:
    """Reads `Pulumi.<stack>.yaml`; a secret's ciphertext is noted, never kept."""
    try:
        document = yaml_io.load(read_text(path), unique_keys=True)
    except UnreadableFileError as error:
        raise StackConfigError(str(path), [ConfigIssue(path="", message=str(error))]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).split("\n", 1)[0]  # the rest names the text
        raise StackConfigError(str(path), [ConfigIssue(path="", message=f"not valid YAML: {where}{problem}")]) from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise StackConfigError(
            str(path), [ConfigIssue(path="", message="a stack file is a YAML mapping with a 'config' key")]
        )
    unknown = sorted(key_in_path(key) for key in document if key not in STACK_FILE_KEYS)
    if unknown:
        known = ", ".join(sorted(STACK_FILE_KEYS))
        issues = [ConfigIssue(path=key, message=f"unknown top-level key: a stack file has {known}") for key in unknown]
        raise StackConfigError(str(path), issues)
    config = document.get("config", {}) or {}
    if not isinstance(config, dict):
        raise StackConfigError(str(path), [ConfigIssue(path="config", message="must be a mapping of keys to values")])

    values: dict[str, Any] = {}
    secrets: dict[str, SecretState] = {}
    members: dict[str, frozenset[str]] = {}
    wrong: dict[str, frozenset[str]] = {}
    for key, value in config.items():
        key = str(key)
        if ":" not in key:
            key = f"constellab:{key}"
        if _is_secure(value):
            secrets[key] = SecretState.SECRET
        elif _looks_secure(value):
            secrets[key] = SecretState.MALFORMED
        elif isinstance(value, dict) and value and all(_is_secure(item) for item in value.values()):
            # `pulumi config set --secret --path key.member` stores a map of encrypted members.
            secrets[key] = SecretState.SECRET
            members[key] = frozenset(str(member) for member in value)
        elif isinstance(value, dict) and value and any(_looks_secure(item) for item in value.values()):
            secrets[key] = SecretState.MALFORMED
            wrong[key] = frozenset(str(member) for member, item in value.items() if not _is_secure(item))
        elif key in {secret.key for secret in SECRET_KEYS}:
            secrets[key] = SecretState.PLAIN
            if isinstance(value, dict) and value:
                wrong[key] = frozenset(str(member) for member, item in value.items() if not _is_secure(item))
        else:
            values[key] = value
    return RawStackConfig(values=values, secrets=secrets, secret_members=members, wrong_members=wrong)


def _is_secure(value: object) -> bool:
    """A secret as Pulumi writes it: `{secure: <ciphertext>}`."""
    if not isinstance(value, dict) or set(value) != {"secure"}:
        return False
    ciphertext = value["secure"]
    return isinstance(ciphertext, str) and bool(ciphertext.strip())


def _looks_secure(value: object) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def stack_name_of(path: Path) -> str:
    """`stacks/Pulumi.acme-prod.yaml` -> `acme-prod`."""
    name = path.name
    if not (name.startswith("Pulumi.") and name.endswith((".yaml", ".yml"))) or name.count(".") < 2:
        raise ValueError(f"{path}: a stack file is named Pulumi.<stack>.yaml")
    return name[len("Pulumi.") : name.rindex(".")]


def load_stack_file(path: Path, *, require_secrets: bool = True) -> StackSettings:
    """Reads and validates a stack file (see `validate` for `require_secrets`)."""
    return validate(read_stack_file(path), str(path), require_secrets=require_secrets)
