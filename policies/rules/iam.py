"""IAM: no wildcard writes, scheduler roles that only start and stop their instance, one-service trust."""

from __future__ import annotations

from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from .common import Rule, as_list, depends_on, dig, of_type, policy_document, report, statements

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IDENTITY_POLICIES = (
    ROLE_POLICY,
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/policy:Policy",
    "aws:iam/groupPolicy:GroupPolicy",
)
READ_PREFIXES = ("Get", "List", "Describe", "Head")
SCHEDULER = "scheduler.amazonaws.com"
POWER_ACTIONS = {"ec2:StartInstances", "ec2:StopInstances"}


def _is_write(action: str) -> bool:
    if action == "*":
        return True
    _, _, verb = action.partition(":")
    return verb == "*" or not verb.startswith(READ_PREFIXES)


def no_wildcard_write(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in IDENTITY_POLICIES:
        return
    for statement in statements(policy_document(args.props.get("policy"))):
        if statement.get("Effect") != "Allow":
            continue
        actions = [str(a) for a in as_list(statement.get("Action"))]
        writes = [a for a in actions if _is_write(a)]
        wildcard_actions = [a for a in actions if a == "*" or a.endswith(":*")]
        sid = statement.get("Sid", "(no Sid)")
        if wildcard_actions:
            report(
                report_violation,
                args.name,
                args.resource_type,
                f"statement {sid} allows {', '.join(wildcard_actions)}",
                "list the actions the server needs",
            )
        elif writes and "*" in as_list(statement.get("Resource")):
            report(
                report_violation,
                args.name,
                args.resource_type,
                f"statement {sid} allows {', '.join(writes)} on every resource",
                "name the buckets, prefixes or instances it writes to",
            )


def _trusted_services(role_props: Any) -> list[str]:
    services: list[str] = []
    for statement in statements(policy_document(dig(role_props, "assumeRolePolicy"))):
        services += [str(s) for s in as_list(dig(statement, "Principal", "Service"))]
    return services


def trust_one_service(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != ROLE:
        return
    for statement in statements(policy_document(args.props.get("assumeRolePolicy"))):
        principal = statement.get("Principal")
        services = as_list(dig(principal, "Service"))
        others = sorted(set(principal) - {"Service"}) if isinstance(principal, dict) else ["*"]
        if len(services) != 1 or others:
            named = ", ".join(map(str, services)) or "no service"
            extra = f" and {', '.join(others)}" if others else ""
            report(
                report_violation,
                args.name,
                args.resource_type,
                f"trusts {named}{extra}",
                "trust exactly one AWS service per role",
            )


def scheduler_role_scope(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for policy in of_type(args.resources, ROLE_POLICY):
        roles = depends_on(policy, ROLE)
        if not any(SCHEDULER in _trusted_services(role.props) for role in roles):
            continue
        for statement in statements(policy_document(policy.props.get("policy"))):
            if statement.get("Effect") != "Allow":
                continue
            actions = {str(a) for a in as_list(statement.get("Action"))}
            resources = [str(r) for r in as_list(statement.get("Resource"))]
            if not actions <= POWER_ACTIONS:
                report(
                    report_violation,
                    policy.name,
                    policy.resource_type,
                    f"the scheduler role may also {', '.join(sorted(actions - POWER_ACTIONS))}",
                    "allow only ec2:StartInstances and ec2:StopInstances",
                    policy.urn,
                )
            if not resources or any(":instance/" not in r or r.endswith("/*") for r in resources):
                report(
                    report_violation,
                    policy.name,
                    policy.resource_type,
                    f"the scheduler role reaches {', '.join(resources) or 'no named instance'}",
                    "name the one instance it starts and stops",
                    policy.urn,
                )


RULES = [
    Rule(
        "iam-no-wildcard-write",
        "No wildcard action, and no write action on every resource",
        "mandatory",
        no_wildcard_write,
    ),
    Rule("iam-trust-one-service", "A role's trust policy names one AWS service", "mandatory", trust_one_service),
    Rule(
        "iam-scheduler-role-scope",
        "Scheduler roles only start and stop their own instance",
        "mandatory",
        scheduler_role_scope,
        scope="stack",
    ),
]
