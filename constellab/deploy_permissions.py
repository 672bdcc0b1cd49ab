"""The deploy identity's minimum AWS permissions, and the IAM policy document the deploy role carries.

`pulumi up`, `preview` and `refresh` reach AWS through the Pulumi AWS provider, which is bridged from the
Terraform AWS provider: the IAM actions below are the API calls that provider's resources make to create,
read, update, delete and tag what this program declares (sources: hashicorp/terraform-provider-aws,
`internal/service/<service>/<resource>.go`, and the AWS Service Authorization Reference for the action each
API call is authorized as). The table has one entry per resource type token and per lookup (invoke) the
program can make; `tests/test_deploy_permissions.py` runs every shipped stack under the mock engine and
fails for a type or lookup without an entry, and for a declared name outside the scoped statements.

Scoping. IAM, S3, CloudWatch alarms and schedules are limited to the names this program gives them (the
component names below, plus Pulumi's random suffix), so the deploy identity cannot touch the account's
other roles, users or buckets (the Pulumi state, CloudTrail's logs...). EC2 stays on `*`: its `Describe*`
calls take no resource ARN, and `RunInstances` authorizes images, network interfaces and volumes the
program never names. `iam:PassRole` is limited to the program's own roles and to the one service each is
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
import fnmatch
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

POLICY_VERSION = "2012-10-17"
POWER_GATE = "pulumi-python:dynamic/power:Gate"
"""The type of `components.power_gate.PowerGate`, a dynamic resource: its provider is the program itself."""
POLICY_FILE = Path(__file__).resolve().parent.parent / "deploy" / "iam-deploy-policy.json"
MANAGED_POLICY_MAX_CHARS = 6144
"""IAM's quota for a customer managed policy, whitespace not counted (an inline role policy may have 10,240)."""


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


# ---------------------------------------------------------------------------------------------
# What the program names, so statements can be limited to it
# ---------------------------------------------------------------------------------------------

IAM_ROLE = "arn:*:iam::*:role/"
IAM_USER = "arn:*:iam::*:user/"
IAM_INSTANCE_PROFILE = "arn:*:iam::*:instance-profile/"
S3_BUCKET = "arn:*:s3:::"
CLOUDWATCH_ALARM = "arn:*:cloudwatch:*:*:alarm:"
SCHEDULER_SCHEDULE = "arn:*:scheduler:*:*:schedule/default/"
"""The program's schedules are in the account's default schedule group."""

# IAM names are auto-named: the logical name, a dash and 7 random characters. `ServerIdentity` names its
# children `<name>-role|-profile|-user` and is itself always `<server>-(host|backups)-identity`;
# `PowerControl` (`<server>-host-power`) names its role `<name>-scheduler`.
INSTANCE_ROLE_NAMES = NamePattern(IAM_ROLE, "*-identity-role-*")
SCHEDULER_ROLE_NAMES = NamePattern(IAM_ROLE, "*-power-scheduler-*")
SERVER_USER_NAMES = NamePattern(IAM_USER, "*-identity-user-*")
INSTANCE_PROFILE_NAMES = NamePattern(IAM_INSTANCE_PROFILE, "*-identity-profile-*")

BUCKET_PURPOSES = ("data", "storage", "backup-daily", "backup-weekly", "backups")
"""`naming.bucket_prefix` purposes: a hub's data lake, the space's storage, the backups by frequency, and
`backups`, the single backup bucket of earlier versions that the daily one took over with its name."""

PLATFORM_BUCKETS = Scope(
    "PlatformBuckets", tuple(NamePattern(S3_BUCKET, f"*-{purpose}-*") for purpose in BUCKET_PURPOSES)
)
SERVER_ROLES = Scope("ServerRoles", (INSTANCE_ROLE_NAMES, SCHEDULER_ROLE_NAMES))
SERVER_USERS = Scope("ServerUsers", (SERVER_USER_NAMES,))
# An instance profile's read also reads its role (`GetRole`), and adding the role is authorized on both.
INSTANCE_PROFILES = Scope("InstanceProfiles", (INSTANCE_PROFILE_NAMES, INSTANCE_ROLE_NAMES))
POWER_ALARMS = Scope(
    "PowerAlarms",
    (NamePattern(CLOUDWATCH_ALARM, "*-power-auto-recover-*"), NamePattern(CLOUDWATCH_ALARM, "*-power-idle-stop-*")),
)
POWER_SCHEDULES = Scope("PowerSchedules", (NamePattern(SCHEDULER_SCHEDULE, "*-power-period*"),))

PASS_INSTANCE_ROLE = RolePass("Ec2", "ec2.amazonaws.com", (INSTANCE_ROLE_NAMES,))
PASS_SCHEDULER_ROLE = RolePass("Scheduler", "scheduler.amazonaws.com", (SCHEDULER_ROLE_NAMES,))
# CloudWatch performs EC2 alarm actions (stop, recover) with this role, and creates it on the first
# PutMetricAlarm with an EC2 action: "The iam:CreateServiceLinkedRole permission for all alarms with EC2
# actions" (CloudWatch API reference, PutMetricAlarm; CloudWatch User Guide, "Using service-linked roles
# for CloudWatch": AWSServiceRoleForCloudWatchEvents trusts CloudWatch Events, events.amazonaws.com).
CLOUDWATCH_EVENTS_ROLE = ServiceLinkedRole(
    "CloudWatchEvents", "events.amazonaws.com", "AWSServiceRoleForCloudWatchEvents"
)

EC2_TAGS = ("ec2:CreateTags", "ec2:DeleteTags")
"""EC2 tags on create (`TagSpecifications`, authorized as `ec2:CreateTags`) and on update."""

# ---------------------------------------------------------------------------------------------
# Resource types
# ---------------------------------------------------------------------------------------------


def _bucket_setting(token: str, put: str, get: str, delete: str) -> ResourcePermissions:
    """A bucket setting declared as a resource of its own: written, read back, and removed."""
    return ResourcePermissions(
        token,
        create=(put,),
        read=(get,),
        update=(put,),
        delete=(delete,),
        scope=PLATFORM_BUCKETS,
        named_by=("bucket",),
    )


RESOURCES: tuple[ResourcePermissions, ...] = (
    # --- EC2: network (internal/service/ec2/vpc_*.go) ---
    ResourcePermissions(
        "aws:ec2/vpc:Vpc",
        create=("ec2:CreateVpc",),
        # The read also finds the VPC's main route table, default network ACL and default security group.
        read=(
            "ec2:DescribeVpcs",
            "ec2:DescribeVpcAttribute",
            "ec2:DescribeRouteTables",
            "ec2:DescribeNetworkAcls",
            "ec2:DescribeSecurityGroups",
        ),
        update=("ec2:ModifyVpcAttribute",),
        delete=("ec2:DeleteVpc",),
        tag=EC2_TAGS,
    ),
    ResourcePermissions(
        "aws:ec2/internetGateway:InternetGateway",
        create=("ec2:CreateInternetGateway", "ec2:AttachInternetGateway"),
        read=("ec2:DescribeInternetGateways",),
        delete=("ec2:DetachInternetGateway", "ec2:DeleteInternetGateway"),
        tag=EC2_TAGS,
    ),
    ResourcePermissions(
        "aws:ec2/subnet:Subnet",
        create=("ec2:CreateSubnet",),
        read=("ec2:DescribeSubnets",),
        update=("ec2:ModifySubnetAttribute",),
        # The delete first looks for network interfaces left in the subnet.
        delete=("ec2:DeleteSubnet", "ec2:DescribeNetworkInterfaces"),
        tag=EC2_TAGS,
    ),
    ResourcePermissions(
        "aws:ec2/routeTable:RouteTable",
        create=("ec2:CreateRouteTable", "ec2:CreateRoute"),
        read=("ec2:DescribeRouteTables",),
        update=("ec2:CreateRoute", "ec2:ReplaceRoute", "ec2:DeleteRoute"),
        delete=("ec2:DeleteRouteTable",),
        tag=EC2_TAGS,
    ),
    ResourcePermissions(
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        create=("ec2:AssociateRouteTable",),
        read=("ec2:DescribeRouteTables",),
        update=("ec2:ReplaceRouteTableAssociation",),
        delete=("ec2:DisassociateRouteTable",),
    ),
    ResourcePermissions(
        "aws:ec2/securityGroup:SecurityGroup",
        # The create revokes the allow-all egress rule AWS adds to every new group (the program declares its
        # own egress rule).
        create=("ec2:CreateSecurityGroup", "ec2:RevokeSecurityGroupEgress"),
        read=("ec2:DescribeSecurityGroups",),
        # The delete waits for the group's network interfaces to go.
        delete=("ec2:DeleteSecurityGroup", "ec2:DescribeNetworkInterfaces"),
        tag=EC2_TAGS,
    ),
    ResourcePermissions(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        create=("ec2:AuthorizeSecurityGroupIngress",),
        read=("ec2:DescribeSecurityGroupRules",),
        update=("ec2:ModifySecurityGroupRules",),
        delete=("ec2:RevokeSecurityGroupIngress",),
        tag=EC2_TAGS,
    ),
    ResourcePermissions(
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        create=("ec2:AuthorizeSecurityGroupEgress",),
        read=("ec2:DescribeSecurityGroupRules",),
        update=("ec2:ModifySecurityGroupRules",),
        delete=("ec2:RevokeSecurityGroupEgress",),
        tag=EC2_TAGS,
    ),
    # --- EC2: servers (internal/service/ec2/ec2_instance.go, ebs_*.go, ec2_eip*.go) ---
    ResourcePermissions(
        "aws:ec2/instance:Instance",
        # The create reads the image's root device name for `root_block_device`, and the instance type's
        # burstable support (t3: credit specification), then waits for the instance to run.
        create=("ec2:RunInstances", "ec2:DescribeImages", "ec2:DescribeInstanceTypes"),
        read=(
            "ec2:DescribeInstances",
            "ec2:DescribeInstanceAttribute",
            "ec2:DescribeInstanceCreditSpecifications",
            "ec2:DescribeInstanceTypes",
            "ec2:DescribeVolumes",
        ),
        # A new instance type or EBS optimization stops, modifies and starts the instance; a new instance
        # profile is (re)associated; security groups are set on the primary network interface.
        update=(
            "ec2:ModifyInstanceAttribute",
            "ec2:ModifyInstanceMetadataOptions",
            "ec2:ModifyInstanceCreditSpecification",
            "ec2:ModifyNetworkInterfaceAttribute",
            "ec2:ModifyVolume",
            "ec2:DescribeVolumesModifications",
            "ec2:MonitorInstances",
            "ec2:UnmonitorInstances",
            "ec2:StopInstances",
            "ec2:StartInstances",
            "ec2:DescribeIamInstanceProfileAssociations",
            "ec2:AssociateIamInstanceProfile",
            "ec2:ReplaceIamInstanceProfileAssociation",
            "ec2:DisassociateIamInstanceProfile",
        ),
        delete=("ec2:TerminateInstances",),
        tag=EC2_TAGS,
        passes_role=PASS_INSTANCE_ROLE,
    ),
    ResourcePermissions(
        "aws:ebs/volume:Volume",
        create=("ec2:CreateVolume",),
        read=("ec2:DescribeVolumes",),
        update=("ec2:ModifyVolume", "ec2:DescribeVolumesModifications"),
        # ec2:DeleteVolume left out: the data volume is protected and retained on delete.
        tag=EC2_TAGS,
        retained=True,
    ),
    ResourcePermissions(
        "aws:ec2/volumeAttachment:VolumeAttachment",
        # The create waits for the instance to run; `stop_instance_before_detaching` stops it first.
        create=("ec2:AttachVolume", "ec2:DescribeInstances"),
        read=("ec2:DescribeVolumes",),
        delete=("ec2:DetachVolume", "ec2:StopInstances", "ec2:DescribeInstances"),
    ),
    ResourcePermissions(
        "aws:ec2/eip:Eip",
        create=("ec2:AllocateAddress",),
        # The read includes the address's reverse DNS name (`ptr_record`).
        read=("ec2:DescribeAddresses", "ec2:DescribeAddressesAttribute"),
        delete=("ec2:DisassociateAddress", "ec2:ReleaseAddress"),
        tag=EC2_TAGS,
    ),
    ResourcePermissions(
        "aws:ec2/eipAssociation:EipAssociation",
        create=("ec2:AssociateAddress",),
        read=("ec2:DescribeAddresses",),
        delete=("ec2:DisassociateAddress",),
    ),
    ResourcePermissions(
        # The program's own EC2 calls: its power gates (components/power_gate.py, through
        # constellab/ec2_power.py) read an instance's state at every diff, and start or stop it.
        POWER_GATE,
        create=("ec2:DescribeInstances", "ec2:StartInstances", "ec2:StopInstances"),
        read=("ec2:DescribeInstances",),
        update=("ec2:DescribeInstances", "ec2:StartInstances", "ec2:StopInstances"),
    ),
    # --- S3 (internal/service/s3/bucket*.go). Each S3 "Delete<Setting>" API call is authorized as the
    # matching Put action (S3 API reference, e.g. DeleteBucketEncryption: s3:PutEncryptionConfiguration). ---
    ResourcePermissions(
        "aws:s3/bucket:Bucket",
        # CreateBucket with the private canned ACL needs no s3:PutBucketAcl (S3 API reference, CreateBucket).
        create=("s3:CreateBucket",),
        # HeadBucket (authorized as s3:ListBucket) finds the bucket and its region; the read then reads every
        # setting the resource still reports, even those the program declares as separate resources.
        read=(
            "s3:ListBucket",
            "s3:GetBucketPolicy",
            "s3:GetBucketAcl",
            "s3:GetBucketCORS",
            "s3:GetBucketWebsite",
            "s3:GetBucketVersioning",
            "s3:GetAccelerateConfiguration",
            "s3:GetBucketRequestPayment",
            "s3:GetBucketLogging",
            "s3:GetLifecycleConfiguration",
            "s3:GetReplicationConfiguration",
            "s3:GetEncryptionConfiguration",
            "s3:GetBucketObjectLockConfiguration",
        ),
        # s3:DeleteBucket left out: every bucket is protected and retained on delete.
        tag=("s3:GetBucketTagging", "s3:PutBucketTagging"),
        scope=PLATFORM_BUCKETS,
        named_by=("bucketPrefix", "bucket"),
        retained=True,
    ),
    # Removing versioning suspends it.
    _bucket_setting(
        "aws:s3/bucketVersioning:BucketVersioning",
        "s3:PutBucketVersioning",
        "s3:GetBucketVersioning",
        "s3:PutBucketVersioning",
    ),
    _bucket_setting(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "s3:PutEncryptionConfiguration",
        "s3:GetEncryptionConfiguration",
        "s3:PutEncryptionConfiguration",
    ),
    _bucket_setting(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        "s3:GetBucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
    ),
    _bucket_setting(
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "s3:PutBucketOwnershipControls",
        "s3:GetBucketOwnershipControls",
        "s3:PutBucketOwnershipControls",
    ),
    _bucket_setting(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "s3:PutLifecycleConfiguration",
        "s3:GetLifecycleConfiguration",
        "s3:PutLifecycleConfiguration",
    ),
    _bucket_setting(
        "aws:s3/bucketPolicy:BucketPolicy", "s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:DeleteBucketPolicy"
    ),
    # --- IAM (internal/service/iam/*.go). Tags passed to Create<Entity> also need iam:Tag<Entity>. ---
    ResourcePermissions(
        "aws:iam/role:Role",
        create=("iam:CreateRole",),
        # The read also reads the role's inline and attached policies.
        read=("iam:GetRole", "iam:ListRolePolicies", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies"),
        update=("iam:UpdateAssumeRolePolicy", "iam:UpdateRole", "iam:UpdateRoleDescription"),
        # The delete first takes the role out of every instance profile.
        delete=("iam:ListInstanceProfilesForRole", "iam:RemoveRoleFromInstanceProfile", "iam:DeleteRole"),
        tag=("iam:TagRole", "iam:UntagRole"),
        scope=SERVER_ROLES,
        named_by=("name",),
    ),
    ResourcePermissions(
        "aws:iam/rolePolicy:RolePolicy",
        create=("iam:PutRolePolicy",),
        read=("iam:GetRolePolicy",),
        update=("iam:PutRolePolicy",),
        delete=("iam:DeleteRolePolicy",),
        scope=SERVER_ROLES,
        named_by=("role",),
    ),
    ResourcePermissions(
        "aws:iam/instanceProfile:InstanceProfile",
        # Adding the role to the profile passes the role (IAM API reference, AddRoleToInstanceProfile).
        create=("iam:CreateInstanceProfile", "iam:AddRoleToInstanceProfile"),
        read=("iam:GetInstanceProfile", "iam:GetRole"),
        update=("iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile"),
        delete=("iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"),
        tag=("iam:TagInstanceProfile", "iam:UntagInstanceProfile"),
        scope=INSTANCE_PROFILES,
        named_by=("name", "role"),
        passes_role=PASS_INSTANCE_ROLE,
    ),
    ResourcePermissions(
        "aws:iam/user:User",
        create=("iam:CreateUser",),
        read=("iam:GetUser",),
        update=("iam:UpdateUser",),
        # The delete first removes the user from its groups (force_destroy is off: keys go with AccessKey).
        delete=("iam:ListGroupsForUser", "iam:DeleteUser"),
        tag=("iam:TagUser", "iam:UntagUser"),
        scope=SERVER_USERS,
        named_by=("name",),
    ),
    ResourcePermissions(
        "aws:iam/userPolicy:UserPolicy",
        create=("iam:PutUserPolicy",),
        read=("iam:GetUserPolicy",),
        update=("iam:PutUserPolicy",),
        delete=("iam:DeleteUserPolicy",),
        scope=SERVER_USERS,
        named_by=("user",),
    ),
    ResourcePermissions(
        "aws:iam/accessKey:AccessKey",
        create=("iam:CreateAccessKey",),
        read=("iam:ListAccessKeys",),
        update=("iam:UpdateAccessKey",),
        delete=("iam:DeleteAccessKey",),
        scope=SERVER_USERS,
        named_by=("user",),
    ),
    # --- CloudWatch (internal/service/cloudwatch/metric_alarm.go): tags on create need cloudwatch:TagResource. ---
    ResourcePermissions(
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        create=("cloudwatch:PutMetricAlarm",),
        read=("cloudwatch:ListTagsForResource",),
        update=("cloudwatch:PutMetricAlarm",),
        delete=("cloudwatch:DeleteAlarms",),
        tag=("cloudwatch:TagResource", "cloudwatch:UntagResource"),
        scope=POWER_ALARMS,
        # PutMetricAlarm's API reference: ec2:DescribeInstanceStatus and ec2:DescribeInstances for an alarm on a
        # status check, ec2:StopInstances for a stop action (the idle stop), ec2:DescribeInstanceRecoveryAttribute
        # and ec2:RecoverInstances for a recover action (the auto-recover alarm).
        unscoped=(
            "cloudwatch:DescribeAlarms",
            "ec2:DescribeInstanceStatus",
            "ec2:DescribeInstances",
            "ec2:StopInstances",
            "ec2:DescribeInstanceRecoveryAttribute",
            "ec2:RecoverInstances",
        ),
        named_by=("name",),
        service_linked_role=CLOUDWATCH_EVENTS_ROLE,
    ),
    # --- EventBridge Scheduler (internal/service/scheduler/schedule.go): schedules take no tags. ---
    ResourcePermissions(
        "aws:scheduler/schedule:Schedule",
        create=("scheduler:CreateSchedule",),
        read=("scheduler:GetSchedule",),
        update=("scheduler:UpdateSchedule",),
        delete=("scheduler:DeleteSchedule",),
        scope=POWER_SCHEDULES,
        named_by=("name",),
        passes_role=PASS_SCHEDULER_ROLE,
    ),
)

# ---------------------------------------------------------------------------------------------
# Lookups, and the provider itself
# ---------------------------------------------------------------------------------------------

LOOKUPS: tuple[LookupPermissions, ...] = (
    LookupPermissions("aws:ec2/getAmi:getAmi", ("ec2:DescribeImages",)),
    LookupPermissions("aws:ec2/getSubnet:getSubnet", ("ec2:DescribeSubnets",)),
    LookupPermissions("aws:index/getAvailabilityZones:getAvailabilityZones", ("ec2:DescribeAvailabilityZones",)),
    # sts:GetCallerIdentity needs no permission and cannot be denied (STS API reference); listed so the
    # document says what the provider calls.
    LookupPermissions("aws:index/getCallerIdentity:getCallerIdentity", ("sts:GetCallerIdentity",)),
    # The partition and the region come from the provider's own endpoint data: no API call.
    LookupPermissions("aws:index/getPartition:getPartition", ()),
    LookupPermissions("aws:index/getRegion:getRegion", ()),
)

PROVIDER_ACTIONS = ("sts:GetCallerIdentity",)
"""The provider's configuration asks STS for the account it deploys to."""

RESOURCE_PERMISSIONS: dict[str, ResourcePermissions] = {entry.token: entry for entry in RESOURCES}
LOOKUP_PERMISSIONS: dict[str, LookupPermissions] = {entry.token: entry for entry in LOOKUPS}

# ---------------------------------------------------------------------------------------------
# The policy document
# ---------------------------------------------------------------------------------------------

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
