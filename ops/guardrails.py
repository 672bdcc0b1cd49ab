"""The policy pack's rules, run offline over what the mock engine recorded.

Resources are handed to the rules as CrossGuard hands them: `pulumi_policy` argument objects,
engine (camelCase) input names, secrets unwrapped, options, provider, parent and dependencies.
One addition: options also carry `retain_on_delete`, which CrossGuard does not pass, so the
offline check is the stricter one.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)

from ops.offline import OfflineRun, Registration, reveal
from policies.rules import ALL_RULES, Rule


@dataclass(frozen=True)
class Violation:
    rule: str
    level: str
    urn: str
    name: str
    type: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in ("rule", "level", "urn", "name", "type", "message")}


def _options(registration: Registration) -> PolicyResourceOptions:
    options = PolicyResourceOptions(
        protect=registration.protect,
        ignore_changes=list(registration.ignore_changes),
        delete_before_replace=registration.delete_before_replace,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=registration.parent or None,
    )
    options.retain_on_delete = registration.retain_on_delete  # type: ignore[attr-defined]
    return options


def policy_resources(registrations: Iterable[Registration]) -> list[PolicyResource]:
    """The stack's resources as CrossGuard's stack policies see them (components left out)."""
    custom = [r for r in registrations if r.custom]
    providers = {
        r.urn: PolicyProviderResource(r.type, reveal(r.inputs), r.urn, r.name)
        for r in custom
        if r.type.startswith("pulumi:providers:")
    }
    resources: dict[str, PolicyResource] = {}
    for registration in custom:
        provider_urn = registration.provider.rsplit("::", 1)[0] if registration.provider else ""
        resources[registration.urn] = PolicyResource(
            resource_type=registration.type,
            props=reveal(registration.inputs),
            urn=registration.urn,
            name=registration.name,
            opts=_options(registration),
            provider=providers.get(provider_urn),
            parent=None,
            dependencies=[],
            property_dependencies={},
        )
    for registration in custom:
        resource = resources[registration.urn]
        resource.dependencies = [resources[urn] for urn in registration.dependencies if urn in resources]
        resource.parent = resources.get(registration.parent)
    return list(resources.values())


def load_config(path: Path | None) -> dict[str, dict[str, Any]]:
    """Pack configuration as `pulumi preview --policy-pack-config` takes it: {rule: {key: value}}."""
    if path is None:
        return {}
    document = json.loads(path.read_text(encoding="utf-8"))
    return {name: value for name, value in document.items() if isinstance(value, dict)}


class _Collector:
    """The `report_violation` callback of one rule."""

    def __init__(self, rule: Rule, level: str, resources: dict[str, PolicyResource], found: list[Violation]) -> None:
        self.rule, self.level, self.resources, self.found = rule, level, resources, found
        self.current = ""

    def __call__(self, message: str, urn: str | None = None) -> None:
        subject = self.resources.get(urn or self.current)
        self.found.append(
            Violation(
                self.rule.name,
                self.level,
                urn or self.current,
                subject.name if subject else "",
                subject.resource_type if subject else "",
                message,
            )
        )


def evaluate(
    registrations: list[Registration],
    rules: list[Rule] | None = None,
    pack_config: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Violation]:
    """Every violation of every rule, in rule order."""
    resources = policy_resources(registrations)
    by_urn = {resource.urn: resource for resource in resources}
    found: list[Violation] = []
    for rule in rules if rules is not None else ALL_RULES:
        settings = {**rule.defaults(), **dict((pack_config or {}).get(rule.name, {}))}
        level = str(settings.pop("enforcementLevel", rule.level))
        if level == "disabled":
            continue
        collect = _Collector(rule, level, by_urn, found)
        if rule.scope == "stack":
            rule.check(StackValidationArgs(resources, settings), collect)
            continue
        for resource in resources:
            collect.current = resource.urn
            args = ResourceValidationArgs(
                resource.resource_type, resource.props, resource.urn, resource.name, resource.opts,
                resource.provider, settings,
            )  # fmt: skip
            rule.check(args, collect)
    return found


def check_run(run: OfflineRun, pack_config: Mapping[str, Mapping[str, Any]] | None = None) -> list[Violation]:
    return evaluate(run.registrations, pack_config=pack_config)


def render(stack: str, violations: list[Violation]) -> str:
    """Violations grouped by resource, mandatory first."""
    if not violations:
        return f"{stack}: all {len(ALL_RULES)} guardrails pass"
    grouped: dict[tuple[str, str], list[Violation]] = defaultdict(list)
    for violation in violations:
        grouped[(violation.name, violation.type)].append(violation)
    mandatory = sum(1 for v in violations if v.level == "mandatory")
    lines = [f"{stack}: {mandatory} mandatory and {len(violations) - mandatory} advisory violation(s)"]
    for (name, kind), items in sorted(grouped.items(), key=lambda item: item[0]):
        lines.append(f"  {name} ({kind})")
        for item in sorted(items, key=lambda v: (v.level != "mandatory", v.rule)):
            lines.append(f"    [{item.level}] {item.rule}: {item.message}")
    return "\n".join(lines)
