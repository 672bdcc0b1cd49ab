"""From a stack's raw configuration to a validated `StackSettings`, or to the full list of problems.

The same function serves the Pulumi program (values from the engine) and `python -m ops validate`
(values read from `stacks/Pulumi.<stack>.yaml`), so both report exactly the same messages.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from constellab import yaml_io
from constellab.config import RETIRED_FIELDS, ConfigIssue, PlatformConfig, cross_checks
from constellab.text_file import UnreadableFileError, read_text
from constellab.values import Configured

PLATFORM_KEY = "constellab:platform"


class SecretState(Enum):
    """How a secret key is present in a stack's configuration."""

    SECRET = "secret"
    PLAIN = "plain"
    MISSING = "missing"


@dataclass(frozen=True)
class SecretKey:
    """A config key that may only hold a Pulumi secret; a map holds one secret per server name."""

    key: str
    ref: Configured
    """What the program calls its value (`topology.Ref`): each secret names it once, here."""
    purpose: str
    is_map: bool = False

    @property
    def name(self) -> str:
        return self.key.split(":", 1)[1]

    def set_command(self, member: str | None = None, value: str = "<value>") -> str:
        """The command that stores it (a map member with `--path`)."""
        if member is None:
            return f"pulumi config set --secret {self.name} {value}"
        return f"pulumi config set --secret --path '{self.name}.{member}' {value}"


CLOUDFLARE_TOKEN = SecretKey(
    "constellab:cloudflareApiToken",
    Configured.CLOUDFLARE_TOKEN,
    "Cloudflare API token Pulumi uses for the DNS records (Zone > DNS > Edit on the zone); never leaves Pulumi",
)
ACME_DNS_TOKEN = SecretKey(
    "constellab:acmeDnsApiToken",
    Configured.ACME_DNS_TOKEN,
    "Cloudflare API token the servers' Traefik uses for DNS-01 only (Zone > DNS > Edit on the zone, nothing else)",
)
SPACE_API_KEYS = SecretKey(
    "constellab:spaceApiKeys",
    Configured.SPACE_API_KEY,
    "the Space API key of each hub and lab the stack configures, as the Space shows it for that lab",
    is_map=True,
)
COMMUNITY_API_KEY = SecretKey(
    "constellab:communityApiKey",
    Configured.COMMUNITY_API_KEY,
    "API key for Constellab Community (the space, and labs configured by the stack)",
)
CODELAB_TOKENS = SecretKey(
    "constellab:codelabTokens",
    Configured.CODELAB_TOKEN,
    "the Codelab access token of each hub and lab the stack configures (its codelabToken)",
    is_map=True,
)
OPENAI_API_KEY = SecretKey(
    "constellab:openaiApiKey",
    Configured.OPENAI_API_KEY,
    "OpenAI API key for labs with configuration.openai: true",
)
LAB_MANAGER_API_KEYS = SecretKey(
    "constellab:labManagerApiKeys",
    Configured.LAB_MANAGER_API_KEY,
    "the lab manager API key the Space generated for each hub and lab (a secret map; local labs get one here)",
    is_map=True,
)
TLS_PRIVATE_KEYS = SecretKey(
    "constellab:tlsPrivateKeys",
    Configured.TLS_PRIVATE_KEY,
    "PEM private keys of manual certificates, one per server name (a secret map)",
    is_map=True,
)
SECRET_KEYS = (
    CLOUDFLARE_TOKEN,
    ACME_DNS_TOKEN,
    SPACE_API_KEYS,
    COMMUNITY_API_KEY,
    CODELAB_TOKENS,
    OPENAI_API_KEY,
    LAB_MANAGER_API_KEYS,
    TLS_PRIVATE_KEYS,
)
SECRET_MAPS = tuple(secret for secret in SECRET_KEYS if secret.is_map)
REPLACED_KEYS = {
    "constellab:spaceApiKey": SPACE_API_KEYS,
    "constellab:codelabPassword": CODELAB_TOKENS,
}
"""Keys of earlier versions, one value for every lab of a stack, now one per lab: each lab has its own in the Space."""


def _raw_servers(document: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(kind, name, server) of every server mapping of a raw document that runs (retired ones need no
    secrets): kind is space, hub or lab."""
    found: list[tuple[str, str, Mapping[str, Any]]] = []
    space = document.get("space")
    if isinstance(space, Mapping):
        found.append(("space", str(space.get("name", "space")), space))
    for key, kind in (("hubs", "hub"), ("labs", "lab")):
        items = document.get(key)
        if isinstance(items, list):
            found += [
                (kind, str(item.get("name")), item)
                for item in items
                if isinstance(item, Mapping) and item.get("retired") is not True
            ]
    return found


def _mode(server: Mapping[str, Any]) -> object:
    configuration = server.get("configuration")
    return configuration.get("mode", "space") if isinstance(configuration, Mapping) else "space"


def manual_certificate_servers(document: Mapping[str, Any]) -> list[str]:
    """Names of the servers whose certificates are `manual` (their keys are secret config)."""
    return [
        name
        for _, name, server in _raw_servers(document)
        if isinstance(server.get("certificates"), Mapping) and server["certificates"].get("mode") == "manual"
    ]


def acme_servers(document: Mapping[str, Any]) -> list[str]:
    """Names of the servers whose certificates come from DNS-01 through Cloudflare (`acme`, the default with
    `dns.provider: cloudflare`): their Traefik holds the DNS-challenge token."""
    dns = document.get("dns")
    default = "acme" if isinstance(dns, Mapping) and dns.get("provider") == "cloudflare" else "default"
    return [
        name
        for _, name, server in _raw_servers(document)
        if (server["certificates"].get("mode") if isinstance(server.get("certificates"), Mapping) else default)
        == "acme"
    ]


def space_keyed_servers(document: Mapping[str, Any]) -> list[str]:
    """Names of the hubs and labs whose lab manager key is the one the Space generated for them: all but local
    ones. A lab the stack configures still calls the Space with that key (its backup targets and history)."""
    return [
        name
        for kind, name, server in _raw_servers(document)
        if kind != "space"
        and not (isinstance(server.get("placement"), Mapping) and server["placement"].get("kind") == "local")
    ]


def stack_configured_servers(document: Mapping[str, Any]) -> list[str]:
    """Names of the hubs and labs the stack configures (their Space key and Codelab token are secret config)."""
    return [name for kind, name, server in _raw_servers(document) if kind != "space" and _mode(server) == "stack"]


def _stack_configured(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [server for kind, _, server in _raw_servers(document) if kind != "space" and _mode(server) == "stack"]


def required_members(document: Mapping[str, Any]) -> dict[SecretKey, list[str]]:
    """For each secret map, the server names it needs an entry for."""
    return {
        TLS_PRIVATE_KEYS: manual_certificate_servers(document),
        LAB_MANAGER_API_KEYS: space_keyed_servers(document),
        SPACE_API_KEYS: stack_configured_servers(document),
        CODELAB_TOKENS: stack_configured_servers(document),
    }


def required_secrets(document: Mapping[str, Any]) -> list[SecretKey]:
    """The secret keys a platform document needs (read from the raw document, valid or not)."""
    needed: list[SecretKey] = []
    dns = document.get("dns")
    if isinstance(dns, Mapping) and dns.get("provider") == "cloudflare":
        needed.append(CLOUDFLARE_TOKEN)
    if acme_servers(document):
        needed.append(ACME_DNS_TOKEN)
    by_stack = _stack_configured(document)
    if by_stack or isinstance(document.get("space"), Mapping):
        needed.append(COMMUNITY_API_KEY)
    if any(isinstance(s.get("configuration"), Mapping) and s["configuration"].get("openai") is True for s in by_stack):
        needed.append(OPENAI_API_KEY)
    needed += [secret for secret, members in required_members(document).items() if members]
    return needed


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


@dataclass(frozen=True)
class StackSettings:
    """A validated stack: the platform model plus the settings around it."""

    platform: PlatformConfig
    aws_region: str | None
    secret_keys: tuple[SecretKey, ...]


class StackConfigError(Exception):
    """A stack's configuration is invalid; carries every problem found."""

    def __init__(self, source: str, issues: list[ConfigIssue]) -> None:
        self.source = source
        self.issues = issues
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"{self.source}: {len(self.issues)} problem(s) in the stack configuration"]
        lines += [f"  - {issue}" for issue in self.issues]
        return "\n".join(lines)


def validate(raw: RawStackConfig, source: str) -> StackSettings:
    """Validates a stack's configuration; raises `StackConfigError` with all problems at once."""
    issues: list[ConfigIssue] = []
    known = {PLATFORM_KEY, *(secret.key for secret in SECRET_KEYS)}
    for key in sorted(raw.values) + sorted(raw.secrets):
        if key in REPLACED_KEYS:
            replacement = REPLACED_KEYS[key]
            issues.append(
                ConfigIssue(
                    path=key,
                    message=f"replaced by {replacement.name}, one per server the stack configures (each lab has its "
                    f"own in the Space): remove it and run `{replacement.set_command('<server>')}` for each",
                )
            )
        elif key.startswith("constellab:") and key not in known:
            allowed = ", ".join(sorted(k.split(":", 1)[1] for k in known))
            issues.append(ConfigIssue(path=key, message=f"unknown setting: use one of {allowed}"))

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
        if state is SecretState.PLAIN:
            member = "<server>" if secret.is_map else None
            issues.append(
                ConfigIssue(
                    path=secret.key,
                    message="is stored in plain text: remove it and run "
                    f"`{secret.set_command(member)}` ({secret.purpose})",
                )
            )
        elif secret.is_map and secret in needed:
            present = raw.secret_members.get(secret.key, frozenset()) if state is SecretState.SECRET else frozenset()
            issues += [
                ConfigIssue(path=f"{secret.key}.{server}", message=_missing_member(secret, server))
                for server in members.get(secret, [])
                if server not in present
            ]
        elif state is SecretState.MISSING and secret in needed:
            issues.append(
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
    )


def _missing_member(secret: SecretKey, server: str) -> str:
    if secret is TLS_PRIVATE_KEYS:
        key_file = f'-- "$(cat {server}.key)"'
        return f"missing: the manual certificate needs its key, run `{secret.set_command(server, value=key_file)}`"
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


# eu-west-3, us-gov-west-1, ap-southeast-2, il-central-1, ...
AWS_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")

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
        problem = getattr(error, "problem", None) or str(error)
        raise StackConfigError(str(path), [ConfigIssue(path="", message=f"not valid YAML: {where}{problem}")]) from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise StackConfigError(
            str(path), [ConfigIssue(path="", message="a stack file is a YAML mapping with a 'config' key")]
        )
    unknown = sorted(str(key) for key in document if key not in STACK_FILE_KEYS)
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
    for key, value in config.items():
        key = str(key)
        if ":" not in key:
            key = f"constellab:{key}"
        if _is_secure(value):
            secrets[key] = SecretState.SECRET
        elif isinstance(value, dict) and value and all(_is_secure(item) for item in value.values()):
            # `pulumi config set --secret --path key.member` stores a map of encrypted members.
            secrets[key] = SecretState.SECRET
            members[key] = frozenset(str(member) for member in value)
        elif key in {secret.key for secret in SECRET_KEYS}:
            secrets[key] = SecretState.PLAIN
        else:
            values[key] = value
    return RawStackConfig(values=values, secrets=secrets, secret_members=members)


def _is_secure(value: object) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def stack_name_of(path: Path) -> str:
    """`stacks/Pulumi.acme-prod.yaml` -> `acme-prod`."""
    name = path.name
    if not (name.startswith("Pulumi.") and name.endswith((".yaml", ".yml"))) or name.count(".") < 2:
        raise ValueError(f"{path}: a stack file is named Pulumi.<stack>.yaml")
    return name[len("Pulumi.") : name.rindex(".")]


def load_stack_file(path: Path) -> StackSettings:
    """Reads and validates a stack file."""
    return validate(read_stack_file(path), str(path))


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
