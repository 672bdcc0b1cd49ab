"""The policy pack's rules, run offline over what the mock engine recorded.

Resources are handed to the rules as CrossGuard hands them: `pulumi_policy` argument objects,
engine (camelCase) input names, secrets unwrapped, options, provider, parent and dependencies.
One addition: options also carry `retain_on_delete`, which CrossGuard does not pass, so the
offline check is the stricter one.

One rule is offline only, `stack-within-budget` (`OFFLINE_RULES`): it compares the stack's monthly cost
estimate (the toolkit's estimator and its shipped price table) with the stack file's `budget.monthlyUsd`,
neither of which the policy pack has (it runs without the toolkit and without prices). So `ops check` and
the preview evaluate it, the pack configuration takes its enforcement level like any rule's, and
`pulumi preview --policy-pack policies` does not evaluate it.
"""

from __future__ import annotations

import difflib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
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

from constellab.text_file import UnreadableFileError, read_text
from offline.engine import OfflineRun, Registration, reveal
from policies.rules import ALL_RULES, Rule


@dataclass(frozen=True)
class Violation:
    """One rule broken by one resource (or by the stack), at the rule's enforcement level."""

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
        resource.property_dependencies = {
            key: [resources[urn] for urn in urns if urn in resources]
            for key, urns in registration.input_dependencies.items()
        }
        resource.parent = resources.get(registration.parent)
    return list(resources.values())


BUDGET_RULE = "stack-within-budget"


def _offline_only(*_: Any) -> None:
    """CrossGuard never runs an offline-only rule: `check_run` evaluates it with what only the toolkit knows."""


OFFLINE_RULES: list[Rule] = [
    Rule(
        name=BUDGET_RULE,
        description="The stack's monthly cost estimate on AWS (on-demand, usage-based costs excluded) stays within "
        "its budget (budget.monthlyUsd in the stack file). Offline only: ops check and ops preview evaluate it, "
        "pulumi preview --policy-pack does not.",
        level="advisory",
        check=_offline_only,
        scope="stack",
    )
]
"""Rules only the toolkit can evaluate; `load_config` knows them, CrossGuard's pack does not list them."""


# CrossGuard's enforcement levels. The rules have no remediation, so `remediate` reports as mandatory,
# as CrossGuard itself does for a policy that only validates.
ENFORCEMENT_LEVELS = ("advisory", "mandatory", "remediate", "disabled")
EVERY_RULE = "all"
# The JSON-schema keywords `_schema_problem` checks; a rule's config schema uses no others (a test says so).
SCHEMA_KEYWORDS = frozenset({"type", "default", "description", "enum", "minimum", "maximum", "items"})


class PolicyConfigError(ValueError):
    """The pack configuration is unreadable or does not fit the rules: one line naming the rule and key."""


def load_config(path: Path | None, rules: list[Rule] | None = None) -> dict[str, dict[str, Any]]:
    """Pack configuration as `pulumi preview --policy-pack-config` takes it: {rule: {key: value}}.

    As with Pulumi, a rule may be given its enforcement level alone (`{"rule": "advisory"}`) and `all`
    sets the level of every rule not given one of its own; an empty file configures nothing. Unlike
    Pulumi, an unknown rule or key is refused too, so a misspelling cannot pass for a configuration.
    """
    if path is None:
        return {}
    try:
        text = read_text(path)
    except UnreadableFileError as error:
        raise PolicyConfigError(f"{path}: {error}") from None
    if not text.strip():
        return {}
    try:
        document = json.loads(text, object_pairs_hook=_without_duplicates)
    except json.JSONDecodeError as error:
        raise PolicyConfigError(f"{path}: not JSON: {error.msg} (line {error.lineno}, column {error.colno})") from None
    except PolicyConfigError as error:
        raise PolicyConfigError(f"{path}: {error}") from None
    return parse_config(document, rules if rules is not None else [*ALL_RULES, *OFFLINE_RULES])


def _without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice (json.loads would keep the last one silently)."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise PolicyConfigError(f"{key!r} is given twice: keep one")
        found[key] = value
    return found


def parse_config(document: Any, rules: list[Rule]) -> dict[str, dict[str, Any]]:
    """The decoded configuration checked against the rules: {rule: {key: value}}, levels as `enforcementLevel`."""
    if not isinstance(document, dict):
        raise PolicyConfigError(
            f'the configuration is a JSON object of rule names, e.g. {{"all": "advisory"}}, not {_kind(document)}'
        )
    by_name = {rule.name: rule for rule in rules}
    every_level: str | None = None
    found: dict[str, dict[str, Any]] = {}
    for name, value in document.items():
        if name == EVERY_RULE:
            every_level = _level_only(value)
            continue
        rule = by_name.get(name)
        if rule is None:
            close = difflib.get_close_matches(name, by_name, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "the rules are listed in policies/rules"
            raise PolicyConfigError(f"unknown rule {name!r}: {hint}")
        found[name] = _rule_settings(rule, value)
    if every_level is not None:
        # A rule's own level wins over the one `all` gives, as in CrossGuard.
        for rule in rules:
            found.setdefault(rule.name, {}).setdefault("enforcementLevel", every_level)
    return found


def _level(where: str, value: Any) -> str:
    if not isinstance(value, str) or value not in ENFORCEMENT_LEVELS:
        shown = repr(value) if isinstance(value, str) else _kind(value)
        raise PolicyConfigError(
            f"{where}: {shown} is not an enforcement level: use one of {', '.join(ENFORCEMENT_LEVELS)}"
        )
    return value


def _level_only(value: Any) -> str:
    """The level `all` gives every rule: `"all": "advisory"` or `"all": {"enforcementLevel": "advisory"}`."""
    if isinstance(value, dict):
        others = sorted(set(value) - {"enforcementLevel"})
        if others:
            raise PolicyConfigError(
                f"{EVERY_RULE}: only enforcementLevel applies to every rule, not {others[0]!r}: "
                "set it under a rule's name"
            )
        if "enforcementLevel" not in value:
            raise PolicyConfigError(f'{EVERY_RULE}: give enforcementLevel, e.g. "all": "advisory"')
        return _level(f"{EVERY_RULE}: enforcementLevel", value["enforcementLevel"])
    return _level(EVERY_RULE, value)


def _rule_settings(rule: Rule, value: Any) -> dict[str, Any]:
    """One rule's settings: its level alone (a string), or an object of its level and parameters."""
    if isinstance(value, str):
        return {"enforcementLevel": _level(rule.name, value)}
    if not isinstance(value, dict):
        raise PolicyConfigError(
            f"{rule.name}: give an enforcement level ({', '.join(ENFORCEMENT_LEVELS)}) or an object of settings, "
            f"not {_kind(value)}"
        )
    settings: dict[str, Any] = {}
    for key, setting in value.items():
        if key == "enforcementLevel":
            settings[key] = _level(f"{rule.name}: enforcementLevel", setting)
            continue
        schema = rule.config.get(key)
        if schema is None:
            known = ", ".join(["enforcementLevel", *rule.config])
            raise PolicyConfigError(f"{rule.name}: unknown key {key!r} (keys: {known})")
        problem = _schema_problem(setting, schema, key)
        if problem:
            default = schema.get("default")
            # The start of the default shows the expected shape without repeating a long list.
            example = f" (e.g. {json.dumps(default[:2] if isinstance(default, list) else default)})"
            example = example if "default" in schema else ""
            raise PolicyConfigError(f"{rule.name}: {problem}{example}")
        settings[key] = setting
    return settings


_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def _kind(value: Any) -> str:
    """How a decoded JSON value reads in a message: `the string 'c5.*'`, `an array`."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int | float):
        return f"the number {value}"
    return "an array" if isinstance(value, list) else "an object"


def _schema_problem(value: Any, schema: Mapping[str, Any], where: str) -> str | None:
    """What makes `value` fail the (JSON-schema) `schema` of a rule parameter, or None."""
    expected = schema.get("type")
    if expected is not None:
        types = [expected] if isinstance(expected, str) else list(expected)
        if not any(_JSON_TYPES[name](value) for name in types):
            wanted = " or ".join(f"an {t}" if t[0] in "aeiou" else f"a {t}" for t in types)
            return f"{where} must be {wanted}, not {_kind(value)}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{where} must be one of {', '.join(json.dumps(v) for v in schema['enum'])}, not {json.dumps(value)}"
    if _JSON_TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            return f"{where} must be at least {schema['minimum']}, not {value}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"{where} must be at most {schema['maximum']}, not {value}"
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            problem = _schema_problem(item, schema["items"], f"{where}[{index}]")
            if problem:
                return problem
    return None


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
        if level == "remediate":
            level = "mandatory"  # no rule remediates: CrossGuard reports their violations as mandatory
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


def check_run(
    run: OfflineRun, pack_config: Mapping[str, Mapping[str, Any]] | None = None, cost: Mapping[str, Any] | None = None
) -> list[Violation]:
    """The pack's rules over the run, then the offline-only ones; `cost` is the run's estimate when the caller
    has it (the preview document's), computed here otherwise."""
    found = evaluate(run.registrations, pack_config=pack_config)
    budget = run.settings.platform.budget
    if budget is None:
        return found
    level = str(dict((pack_config or {}).get(BUDGET_RULE, {})).get("enforcementLevel", OFFLINE_RULES[0].level))
    if level == "disabled":
        return found
    if cost is None:
        from offline.documents import run_cost

        cost = run_cost(run)
    # The stack's own resource, as the engine names it (the mock engine registers none).
    stack_urn = f"urn:pulumi:{run.stack}::constellab::pulumi:pulumi:Stack::constellab-{run.stack}"
    message = budget_message(run.stack, cost, budget.monthly_usd)
    if message is None:
        return found
    if not cost["complete"] and cost["monthlyUsd"] <= budget.monthly_usd:
        level = "advisory"  # below the budget but a lower bound: no proof of a breach, a warning only
    level = "mandatory" if level == "remediate" else level
    return [*found, Violation(BUDGET_RULE, level, stack_urn, run.stack, "pulumi:pulumi:Stack", message)]


def budget_message(stack: str, cost: Mapping[str, Any], budget: float) -> str | None:
    """What `stack-within-budget` says about an estimate (`cost`, a preview document's) and a budget, or None when
    the estimate is complete and within it. An estimate with prices unknown is a lower bound: above the budget it
    already breaks it; below, it cannot tell."""
    estimate, unknown = float(cost["monthlyUsd"]), int(cost["priceUnknown"])
    shown = f"${estimate:,.2f}/month" + (f" ({unknown} price unknown: a lower bound)" if unknown else "")
    limit = f"the budget of ${budget:,.2f}/month (budget.monthlyUsd)"
    fix = (
        f"lower it (smaller instance types, a schedule or parking for labs that need not run all the time, fewer "
        f"servers; `ops cost --stack {stack}` shows every line) or raise budget.monthlyUsd"
    )
    if estimate > budget:
        over = "already over" if unknown else "over"
        least = "at least " if unknown else ""
        return f"the estimate, {least}{shown}, is {over} {limit} by ${estimate - budget:,.2f}: {fix}"
    if unknown:
        return (
            f"the estimate, at least {shown}, is below {limit}, but it is a lower bound: the {unknown} cost(s) "
            "without a price may take the stack over it (`ops cost` lists them; `ops prices refresh` adds prices)"
        )
    return None


def rule_counts(config: Mapping[str, Mapping[str, Any]] | None, budget: bool) -> tuple[int, int]:
    """How many rules a stack's check runs and how many the pack configuration turns off, so a report never
    counts a disabled rule as passing: the pack's rules, and `stack-within-budget` when the stack has a budget."""
    applicable = [*(rule.name for rule in ALL_RULES), *([BUDGET_RULE] if budget else [])]
    disabled = sum(1 for name in applicable if (config or {}).get(name, {}).get("enforcementLevel") == "disabled")
    return len(applicable) - disabled, disabled


def render(stack: str, violations: list[Violation], counts: tuple[int, int] | None = None) -> str:
    """Violations grouped by resource, mandatory first; `counts` is `rule_counts` (the pack's rules, none
    disabled, when not given)."""
    enabled, disabled = counts or (len(ALL_RULES), 0)
    if not violations:
        if not enabled:
            return f"{stack}: nothing checked: the pack configuration disables every guardrail"
        if disabled:
            return f"{stack}: all {enabled} enabled guardrails pass ({disabled} disabled)"
        return f"{stack}: all {enabled} guardrails pass"
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
