"""What the deploy policy is made of: name patterns and scopes, per-type and per-lookup entries, statements."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

# ARNs up to the name, any partition, account and region.
IAM_ROLE = "arn:*:iam::*:role/"
IAM_USER = "arn:*:iam::*:user/"
IAM_INSTANCE_PROFILE = "arn:*:iam::*:instance-profile/"
S3_BUCKET = "arn:*:s3:::"
CLOUDWATCH_ALARM = "arn:*:cloudwatch:*:*:alarm:"
SCHEDULER_SCHEDULE = "arn:*:scheduler:*:*:schedule/default/"
"""The program's schedules are in the account's default schedule group."""


@dataclass(frozen=True)
class NamePattern:
    """Resources of one kind whose names match a glob (`*` as in IAM): what a scoped statement may touch."""

    arn_prefix: str
    """The ARN up to the name, any partition, account and region: `arn:*:iam::*:role/`."""
    name: str
    """The glob every name the program gives this kind of resource matches."""

    @property
    def arn(self) -> str:
        return f"{self.arn_prefix}{self.name}"

    def matches(self, name: str) -> bool:
        """Whether a resource of this kind named `name` is covered."""
        return fnmatch.fnmatchcase(name, self.name)


@dataclass(frozen=True)
class Scope:
    """The resources a group of actions is allowed on: name patterns, or every resource when there are none."""

    label: str
    """The end of its statements' Sids (the service comes first)."""
    patterns: tuple[NamePattern, ...] = ()

    @property
    def resources(self) -> tuple[str, ...]:
        return tuple(sorted({pattern.arn for pattern in self.patterns})) or ("*",)

    def covers(self, name: str) -> bool:
        """Whether a resource named `name` is within this scope."""
        return not self.patterns or any(pattern.matches(name) for pattern in self.patterns)


EVERY_RESOURCE = Scope("AnyResource")


@dataclass(frozen=True)
class RolePass:
    """`iam:PassRole` of the program's own roles to one AWS service (the `iam:PassedToService` condition)."""

    label: str
    service: str
    roles: tuple[NamePattern, ...]


@dataclass(frozen=True)
class ServiceLinkedRole:
    """A service-linked role AWS creates on the caller's behalf the first time a feature needs it."""

    label: str
    service: str
    """The `iam:AWSServiceName` of the role, which the statement's condition requires."""
    role_name: str

    @property
    def arn(self) -> str:
        return f"{IAM_ROLE}aws-service-role/{self.service}/{self.role_name}"


@dataclass(frozen=True)
class ResourcePermissions:
    """The IAM actions the provider needs for one resource type, by phase of its lifecycle."""

    token: str
    create: tuple[str, ...]
    read: tuple[str, ...]
    update: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()
    tag: tuple[str, ...] = ()
    scope: Scope = EVERY_RESOURCE
    """The resources these actions are allowed on."""
    unscoped: tuple[str, ...] = ()
    """Actions of this type that IAM authorizes on `*` only (listings), granted outside `scope`."""
    named_by: tuple[str, ...] = ()
    """Inputs that hold the name of what the scoped actions touch (`name` falls back to Pulumi's auto-name)."""
    passes_role: RolePass | None = None
    service_linked_role: ServiceLinkedRole | None = None
    retained: bool = False
    """Declared with `protect` and `retain_on_delete`: Pulumi never deletes it, so no delete action is granted."""

    @property
    def actions(self) -> tuple[str, ...]:
        """Every scoped action, once, sorted."""
        return tuple(sorted({*self.create, *self.read, *self.update, *self.delete, *self.tag}))


@dataclass(frozen=True)
class LookupPermissions:
    """The IAM actions one lookup (invoke) needs; none when the provider answers from its own configuration."""

    token: str
    actions: tuple[str, ...]


@dataclass(frozen=True)
class Condition:
    """One condition of a statement: `StringEquals` `iam:PassedToService` `ec2.amazonaws.com`."""

    operator: str
    key: str
    value: str


@dataclass(frozen=True)
class Statement:
    """One IAM policy statement (always `Allow`)."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[Condition, ...] = ()

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "Sid": self.sid,
            "Effect": "Allow",
            "Action": list(self.actions),
            "Resource": list(self.resources) if len(self.resources) > 1 else self.resources[0],
        }
        if self.conditions:
            by_operator: dict[str, dict[str, str]] = {}
            for condition in self.conditions:
                by_operator.setdefault(condition.operator, {})[condition.key] = condition.value
            document["Condition"] = by_operator
        return document
