"""What the program names, so statements can be limited to it: name patterns, scopes, roles passed or created."""

from __future__ import annotations

from constellab.deploy_policy.model import (
    CLOUDWATCH_ALARM,
    IAM_INSTANCE_PROFILE,
    IAM_ROLE,
    IAM_USER,
    S3_BUCKET,
    SCHEDULER_SCHEDULE,
    NamePattern,
    RolePass,
    Scope,
    ServiceLinkedRole,
)

# IAM names are auto-named: the logical name, a dash and 7 random characters. `ServerIdentity` names its
# children `<name>-role|-profile|-user` and is itself always `<server>-(host|backups)-identity`;
# `PowerControl` (`<server>-host-power`) names its role `<name>-scheduler`.
INSTANCE_ROLE_NAMES = NamePattern(IAM_ROLE, "*-identity-role-*")
SCHEDULER_ROLE_NAMES = NamePattern(IAM_ROLE, "*-power-scheduler-*")
SERVER_USER_NAMES = NamePattern(IAM_USER, "*-identity-user-*")
INSTANCE_PROFILE_NAMES = NamePattern(IAM_INSTANCE_PROFILE, "*-identity-profile-*")

BUCKET_PURPOSES = ("data", "storage", "backup-daily", "backup-weekly", "backups", "access-logs")
"""`naming.bucket_prefix` purposes: a hub's data lake, the space's storage, the backups by frequency,
`backups`, the single backup bucket of earlier versions that the daily one took over with its name, and the
stack's access-log bucket (`naming.stack_bucket_prefix`, `naming.ACCESS_LOGS`)."""

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
