"""The deploy identity's minimum AWS permissions, and the IAM policy document the deploy role carries.

`pulumi up`, `preview` and `refresh` reach AWS through the Pulumi AWS provider, which is bridged from the
Terraform AWS provider: the IAM actions in the table (`constellab.deploy_policy`) are the API calls that
provider's resources make to create, read, update, delete and tag what this program declares (sources:
hashicorp/terraform-provider-aws, `internal/service/<service>/<resource>.go`, and the AWS Service
Authorization Reference for the action each API call is authorized as). The table has one entry per resource
type token and per lookup (invoke) the program can make; `tests/test_deploy_permissions.py` runs every
shipped stack under the mock engine and fails for a type or lookup without an entry, and for a declared name
outside the scoped statements.

Scoping. IAM, S3, CloudWatch alarms and schedules are limited to the names this program gives them (the
component names in `deploy_policy.names`, plus Pulumi's random suffix), so the deploy identity cannot touch
the account's other roles, users or buckets (the Pulumi state, CloudTrail's logs...). EC2 stays on `*`: its
`Describe*` calls take no resource ARN, and `RunInstances` authorizes images, network interfaces and volumes
the program never names. `iam:PassRole` is limited to the program's own roles and to the one service each is
passed to. The buckets and the data volume are protected and retained on delete, so Pulumi never deletes
them: `s3:DeleteBucket` and `ec2:DeleteVolume` are left out on purpose, and the deploy identity cannot
destroy data.

Not covered, because nothing here uses it: the Pulumi state lives in Pulumi Cloud (`PULUMI_ACCESS_TOKEN` in
`.github/workflows/deploy.yml`; `Pulumi.yaml` names no backend) and the stacks use its default secrets
provider, so neither needs an AWS permission. A stack moved to an `s3://` backend or an `awskms://` secrets
provider needs `s3:GetObject`/`PutObject`/`DeleteObject`/`ListBucket` on that bucket, or
`kms:Encrypt`/`Decrypt` on that key, in a statement of its own.

`python -m constellab.deploy_permissions` prints the document; `--check` verifies that
`deploy/iam-deploy-policy.json` is up to date, `--write` rewrites it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from constellab.deploy_policy.lookups import LOOKUP_PERMISSIONS, LOOKUPS, PROVIDER_ACTIONS
from constellab.deploy_policy.model import (
    CLOUDWATCH_ALARM,
    EVERY_RESOURCE,
    IAM_INSTANCE_PROFILE,
    IAM_ROLE,
    IAM_USER,
    S3_BUCKET,
    SCHEDULER_SCHEDULE,
    Condition,
    LookupPermissions,
    NamePattern,
    ResourcePermissions,
    RolePass,
    Scope,
    ServiceLinkedRole,
    Statement,
)
from constellab.deploy_policy.names import (
    BUCKET_PURPOSES,
    CLOUDWATCH_EVENTS_ROLE,
    INSTANCE_PROFILE_NAMES,
    INSTANCE_PROFILES,
    INSTANCE_ROLE_NAMES,
    PASS_INSTANCE_ROLE,
    PASS_SCHEDULER_ROLE,
    PLATFORM_BUCKETS,
    POWER_ALARMS,
    POWER_SCHEDULES,
    SCHEDULER_ROLE_NAMES,
    SERVER_ROLES,
    SERVER_USER_NAMES,
    SERVER_USERS,
)
from constellab.deploy_policy.resources import EC2_TAGS, POWER_GATE, RESOURCE_PERMISSIONS, RESOURCES

__all__ = [
    "BUCKET_PURPOSES",
    "CLOUDWATCH_ALARM",
    "CLOUDWATCH_EVENTS_ROLE",
    "EC2_TAGS",
    "EVERY_RESOURCE",
    "IAM_INSTANCE_PROFILE",
    "IAM_ROLE",
    "IAM_USER",
    "INSTANCE_PROFILES",
    "INSTANCE_PROFILE_NAMES",
    "INSTANCE_ROLE_NAMES",
    "LOOKUPS",
    "LOOKUP_PERMISSIONS",
    "MANAGED_POLICY_MAX_CHARS",
    "PASS_INSTANCE_ROLE",
    "PASS_SCHEDULER_ROLE",
    "PLATFORM_BUCKETS",
    "POLICY_FILE",
    "POLICY_VERSION",
    "POWER_ALARMS",
    "POWER_GATE",
    "POWER_SCHEDULES",
    "PROVIDER_ACTIONS",
    "RESOURCES",
    "RESOURCE_PERMISSIONS",
    "S3_BUCKET",
    "SCHEDULER_ROLE_NAMES",
    "SCHEDULER_SCHEDULE",
    "SERVER_ROLES",
    "SERVER_USERS",
    "SERVER_USER_NAMES",
    "Condition",
    "LookupPermissions",
    "NamePattern",
    "ResourcePermissions",
    "RolePass",
    "Scope",
    "ServiceLinkedRole",
    "Statement",
    "main",
    "policy_document",
    "quota_size",
    "render",
    "statements",
]

POLICY_VERSION = "2012-10-17"
POLICY_FILE = Path(__file__).resolve().parent.parent / "deploy" / "iam-deploy-policy.json"
MANAGED_POLICY_MAX_CHARS = 6144
"""IAM's quota for a customer managed policy, whitespace not counted (an inline role policy may have 10,240)."""


_SERVICE_LABELS = {"cloudwatch": "CloudWatch", "ec2": "Ec2", "iam": "Iam", "s3": "S3", "scheduler": "Scheduler"}


def _service_of(action: str) -> str:
    return action.split(":", 1)[0]


def _sid(service: str, label: str) -> str:
    return _SERVICE_LABELS.get(service, service.capitalize()) + label


def statements(
    resources: Iterable[ResourcePermissions] = RESOURCES,
    lookups: Iterable[LookupPermissions] = LOOKUPS,
    provider_actions: Sequence[str] = PROVIDER_ACTIONS,
) -> list[Statement]:
    """The policy's statements: one per service and scope, then `iam:PassRole` per target service and the
    service-linked roles, sorted by service, then Sid; actions and resources sorted."""
    grouped: dict[tuple[str, Scope], set[str]] = {}

    def grant(actions: Iterable[str], scope: Scope) -> None:
        for action in actions:
            grouped.setdefault((_service_of(action), scope), set()).add(action)

    passes: dict[RolePass, None] = {}
    linked_roles: dict[ServiceLinkedRole, None] = {}
    for entry in resources:
        grant(entry.actions, entry.scope)
        grant(entry.unscoped, EVERY_RESOURCE)
        if entry.passes_role is not None:
            passes[entry.passes_role] = None
        if entry.service_linked_role is not None:
            linked_roles[entry.service_linked_role] = None
    for lookup in lookups:
        grant(lookup.actions, EVERY_RESOURCE)
    grant(provider_actions, EVERY_RESOURCE)

    found: list[tuple[str, Statement]] = [
        (service, Statement(_sid(service, scope.label), tuple(sorted(actions)), scope.resources))
        for (service, scope), actions in grouped.items()
    ]
    found += [
        (
            "iam",
            Statement(
                f"IamPassRoleTo{role_pass.label}",
                ("iam:PassRole",),
                tuple(sorted(pattern.arn for pattern in role_pass.roles)),
                (Condition("StringEquals", "iam:PassedToService", role_pass.service),),
            ),
        )
        for role_pass in passes
    ]
    found += [
        (
            "iam",
            Statement(
                f"IamCreate{role.label}ServiceLinkedRole",
                ("iam:CreateServiceLinkedRole",),
                (role.arn,),
                (Condition("StringEquals", "iam:AWSServiceName", role.service),),
            ),
        )
        for role in linked_roles
    ]
    return [statement for _, statement in sorted(found, key=lambda item: (item[0], item[1].sid))]


def policy_document() -> dict[str, Any]:
    """The deploy identity's IAM policy, as JSON data."""
    return {"Version": POLICY_VERSION, "Statement": [statement.to_json() for statement in statements()]}


def render() -> str:
    """The policy document as the text shipped in `deploy/iam-deploy-policy.json`."""
    return json.dumps(policy_document(), indent=2) + "\n"


def quota_size(document_text: str) -> int:
    """The document's size as IAM counts it against its quota: whitespace does not count."""
    return len("".join(document_text.split()))


def main(argv: Sequence[str] | None = None) -> int:
    """Prints the policy document, or checks (`--check`) or rewrites (`--write`) the shipped file."""
    parser = argparse.ArgumentParser(
        prog="python -m constellab.deploy_permissions", description="The deploy identity's IAM policy document."
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--check", action="store_true", help="exit 1 if the shipped document is out of date")
    action.add_argument("--write", action="store_true", help="rewrite the shipped document")
    parser.add_argument("--file", type=Path, default=POLICY_FILE, help="the shipped document (default: %(default)s)")
    arguments = parser.parse_args(argv)
    expected = render()
    if arguments.write:
        arguments.file.parent.mkdir(parents=True, exist_ok=True)
        arguments.file.write_text(expected)
        return 0
    if arguments.check:
        shipped = arguments.file.read_text() if arguments.file.is_file() else None
        if shipped != expected:
            state = "is out of date" if shipped is not None else "is missing"
            print(
                f"error: {arguments.file} {state}: the program's resources need other permissions than the "
                "deploy role's policy grants. Run `python -m constellab.deploy_permissions --write`, review the "
                "difference, and update the deploy role's policy with it.",
                file=sys.stderr,
            )
            return 1
        return 0
    sys.stdout.write(expected)
    return 0


if __name__ == "__main__":
    sys.exit(main())
