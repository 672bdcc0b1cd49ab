"""The IAM actions the provider needs for each resource type the program declares, by lifecycle phase.

Each group of entries names the provider's source files it comes from (`internal/service/<service>/...`);
the sources and the scoping are explained in `constellab.deploy_permissions`.
"""

from __future__ import annotations

from constellab.deploy_policy.model import ResourcePermissions
from constellab.deploy_policy.names import (
    CLOUDWATCH_EVENTS_ROLE,
    INSTANCE_PROFILES,
    PASS_INSTANCE_ROLE,
    PASS_SCHEDULER_ROLE,
    PLATFORM_BUCKETS,
    POWER_ALARMS,
    POWER_SCHEDULES,
    SERVER_ROLES,
    SERVER_USERS,
)

POWER_GATE = "pulumi-python:dynamic/power:Gate"
"""The type of `components.power_gate.PowerGate`, a dynamic resource: its provider is the program itself."""
EC2_TAGS = ("ec2:CreateTags", "ec2:DeleteTags")
"""EC2 tags on create (`TagSpecifications`, authorized as `ec2:CreateTags`) and on update."""


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
    # bucket_logging.go: PutBucketLogging on the source bucket (its delete puts an empty logging status); the
    # target bucket is only named, its policy lets S3's log delivery write (`iam.access_log_bucket_policy`).
    _bucket_setting(
        "aws:s3/bucketLogging:BucketLogging", "s3:PutBucketLogging", "s3:GetBucketLogging", "s3:PutBucketLogging"
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

RESOURCE_PERMISSIONS: dict[str, ResourcePermissions] = {entry.token: entry for entry in RESOURCES}
