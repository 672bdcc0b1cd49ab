"""Helpers shared by the rules: messages, property access, policy documents, the rule registry.

The rules see resources exactly as CrossGuard passes them: engine (camelCase) property names,
secrets already unwrapped. They import nothing from the toolkit, so the pack runs on its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

Level = Literal["mandatory", "advisory"]


@dataclass(frozen=True)
class Rule:
    """One guardrail: usable by CrossGuard (`policy()`) and by the offline evaluator (`check`)."""

    name: str
    description: str
    level: Level
    check: Callable[..., None]
    scope: Literal["resource", "stack"] = "resource"
    config: dict[str, dict[str, Any]] = field(default_factory=dict)
    """JSON-schema properties of the rule's configuration, each with its `default`."""

    def policy(self) -> ResourceValidationPolicy | StackValidationPolicy:
        level = EnforcementLevel.MANDATORY if self.level == "mandatory" else EnforcementLevel.ADVISORY
        schema = PolicyConfigSchema(properties=self.config) if self.config else None
        if self.scope == "stack":
            return StackValidationPolicy(
                name=self.name,
                description=self.description,
                validate=self.check,
                enforcement_level=level,
                config_schema=schema,
            )
        return ResourceValidationPolicy(
            name=self.name,
            description=self.description,
            validate=self.check,
            enforcement_level=level,
            config_schema=schema,
        )

    def defaults(self) -> dict[str, Any]:
        return {key: spec["default"] for key, spec in self.config.items() if "default" in spec}


def short_type(resource_type: str) -> str:
    """`aws:s3/bucket:Bucket` -> `aws:Bucket`."""
    package, _, rest = resource_type.partition(":")
    return f"{package}:{rest.rsplit(':', 1)[-1]}" if rest else resource_type


def label(name: str, resource_type: str) -> str:
    return f"{name} ({short_type(resource_type)})"


def report(
    report_violation: ReportViolation, name: str, resource_type: str, problem: str, fix: str, urn: str | None = None
) -> None:
    """Reports `<resource> (<type>): <problem>. Fix: <fix>`."""
    report_violation(f"{label(name, resource_type)}: {problem}. Fix: {fix}", urn)


def config(args: ResourceValidationArgs | StackValidationArgs, rule_defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The rule's configuration: the pack's values over the rule's defaults."""
    found = dict(rule_defaults)
    found.update({k: v for k, v in (args.get_config() or {}).items() if k != "enforcementLevel"})
    return found


def dig(value: Any, *path: str | int, default: Any = None) -> Any:
    """`dig(props, "rule", "objectOwnership")` without KeyErrors; lists are indexed by int."""
    for key in path:
        if isinstance(value, Mapping) and isinstance(key, str):
            if key not in value:
                return default
            value = value[key]
        elif isinstance(value, list | tuple) and isinstance(key, int):
            if not -len(value) <= key < len(value):
                return default
            value = value[key]
        else:
            return default
    return value


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def policy_document(value: Any) -> dict[str, Any] | None:
    """An IAM or bucket policy as a dict, from the JSON string or dict the engine passes."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str) and value.strip():
        try:
            decoded = json.loads(value)
        except json.JSONDecodeError:
            return None
        return decoded if isinstance(decoded, dict) else None
    return None


def statements(document: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    return [dict(s) for s in as_list(dig(document, "Statement")) if isinstance(s, Mapping)] if document else []


def of_type(resources: Iterable[PolicyResource], *types: str) -> list[PolicyResource]:
    return [resource for resource in resources if resource.resource_type in types]


def depends_on(resource: PolicyResource, *types: str) -> list[PolicyResource]:
    """The resources of the given types that `resource` takes a value from."""
    found = list(resource.dependencies or [])
    for dependencies in (resource.property_dependencies or {}).values():
        found += list(dependencies)
    unique = {dependency.urn: dependency for dependency in found if dependency.resource_type in types}
    return list(unique.values())


def tags_of(resource: PolicyResource | ResourceValidationArgs) -> dict[str, str]:
    tags = resource.props.get("tags") or {}
    return dict(tags) if isinstance(tags, Mapping) else {}


RETIRED_TAG = "constellab:retired"
"""On the kept data of a decommissioned server (naming.server_tags): released from protection on purpose."""


def kept_on_delete(resource: PolicyResource | ResourceValidationArgs) -> bool:
    """Protected and retained on delete; a decommissioned server's data needs only the latter."""
    retained = getattr(resource.opts, "retain_on_delete", True)  # CrossGuard does not pass it; offline does
    if retained is False:
        return False
    return bool(resource.opts.protect) or tags_of(resource).get(RETIRED_TAG) == "true"
