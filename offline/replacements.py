"""Which input changes make a provider replace a resource, for every resource type the program declares.

One entry per type: the inputs whose change forces a new resource, and where that fact comes from. A
bridged provider (pulumi-aws, pulumi-docker, pulumi-cloudflare, pulumi-random) replaces a resource when a
changed attribute is `ForceNew` in the Terraform provider's schema (or has a `RequiresReplace` plan
modifier in a framework resource); pulumi-command has its own rules. `tests/test_preview_truth.py` fails
when the program declares a type this table does not cover.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from constellab.aws.instance_types import instance_architecture


@dataclass(frozen=True)
class Rule:
    """How one resource type reacts to a changed input."""

    replace_on: frozenset[str]
    """Inputs whose change replaces the resource."""
    source: str
    """Where the fact comes from (provider source file, or documentation)."""
    in_place_only: frozenset[str] | None = None
    """If set, every input BUT these replaces the resource (a Docker container)."""
    stop_start_on: frozenset[str] = frozenset()
    """Inputs updated in place only by stopping and starting the resource (an EC2 instance's type)."""
    recomputed_on_update: bool = False
    """An update computes its outputs anew (a command runs again): the engine cannot know them before."""
    delete_before_replace: bool = False
    """The provider deletes it before creating its replacement (a fixed name cannot exist twice)."""
    decided_at_apply: bool = False
    """Its diff reads the world: what an update does is known at apply only."""


def _rule(
    inputs: str,
    source: str,
    *,
    in_place_only: str | None = None,
    stop_start_on: str = "",
    recomputed_on_update: bool = False,
    delete_before_replace: bool = False,
    decided_at_apply: bool = False,
) -> Rule:
    """`inputs`: top-level inputs, or `input.field` where only that field of an object input replaces."""
    return Rule(
        replace_on=frozenset(inputs.split()),
        source=source,
        in_place_only=frozenset(in_place_only.split()) if in_place_only is not None else None,
        stop_start_on=frozenset(stop_start_on.split()),
        recomputed_on_update=recomputed_on_update,
        delete_before_replace=delete_before_replace,
        decided_at_apply=decided_at_apply,
    )


TF_AWS = "hashicorp/terraform-provider-aws v6 (bridged by pulumi-aws 7)"
TF_DOCKER = "kreuzwerker/terraform-provider-docker v4.5.0@5074970c (the commit pulumi-docker 5 pins)"
V6 = "read in zongruxie4/terraform-provider-aws, a fork tracking upstream v6.41+"
V5 = "read in isometry/terraform-provider-aws@c129a939 (late v5; no v6 copy could be read), as upstream's older copy"
# v6's per-resource `region` replaces every AWS resource (the provider's forceNewIfRegionChanges interceptors).
RULES: dict[str, Rule] = {
    "aws:ec2/instance:Instance": _rule(
        "ami associatePublicIpAddress availabilityZone cpuOptions.amdSevSnp cpuOptions.coreCount "
        "cpuOptions.threadsPerCore ebsBlockDevices ebsOptimized enclaveOptions.enabled ephemeralBlockDevices "
        "hibernation hostId instanceMarketOptions keyName launchTemplate networkInterfaces placementGroup "
        "placementGroupId placementPartitionNumber primaryNetworkInterface privateDnsNameOptions privateIp region "
        "rootBlockDevice.encrypted rootBlockDevice.kmsKeyId secondaryNetworkInterfaces securityGroups subnetId "
        "tenancy",
        f"{TF_AWS} internal/service/ec2/ec2_instance.go@19bdae64 ({V6}): ForceNew on ami, "
        "associate_public_ip_address, availability_zone, ebs_optimized, ephemeral_block_device, hibernation, "
        "host_id, instance_market_options, key_name, launch_template, placement_group(_id), "
        "placement_partition_number, private_dns_name_options, private_ip, security_groups, subnet_id, tenancy; "
        "nested fields of cpu_options, ebs_block_device, enclave_options, network_interface, root_block_device "
        "(encrypted, kms_key_id); CustomizeDiff: instance_type replaces when the old and new types share no CPU "
        "architecture, user_data only with user_data_replace_on_change. resourceInstanceUpdate stops and starts "
        "the instance for instance_type, user_data, user_data_base64, capacity_reservation_specification",
        stop_start_on="instanceType userData userDataBase64 capacityReservationSpecification",
    ),
    "aws:ebs/volume:Volume": _rule(
        "availabilityZone encrypted kmsKeyId multiAttachEnabled outpostArn region snapshotId",
        f"{TF_AWS} internal/service/ec2/ebs_volume.go@04dad9bd ({V6}): ForceNew on availability_zone, encrypted, "
        "kms_key_id, multi_attach_enabled, outpost_arn, snapshot_id (size, type, iops, throughput: ModifyVolume)",
    ),
    "aws:ec2/volumeAttachment:VolumeAttachment": _rule(
        "deviceName instanceId region volumeId",
        f"{TF_AWS} internal/service/ec2/ebs_volume_attachment.go ({V5}): ForceNew on device_name, instance_id, "
        "volume_id (its update does nothing)",
    ),
    "aws:ec2/eip:Eip": _rule(
        "address domain ipamPoolId networkBorderGroup publicIpv4Pool region",
        f"{TF_AWS} internal/service/ec2/ec2_eip.go@14b46383 ({V6}): ForceNew on address, domain, ipam_pool_id, "
        "network_border_group, public_ipv4_pool",
    ),
    "aws:ec2/eipAssociation:EipAssociation": _rule(
        "allocationId allowReassociation instanceId networkInterfaceId privateIpAddress publicIp region",
        f"{TF_AWS} internal/service/ec2/ec2_eip_association.go ({V5}): every argument is ForceNew (no update)",
    ),
    "aws:ec2/internetGateway:InternetGateway": _rule(
        "region",
        f"{TF_AWS} internal/service/ec2/vpc_internet_gateway.go@5972ac32 ({V6}): no ForceNew argument; a new "
        "vpc_id detaches and attaches it",
    ),
    "aws:ec2/routeTable:RouteTable": _rule(
        "region vpcId", f"{TF_AWS} internal/service/ec2/vpc_route_table.go ({V5}): ForceNew on vpc_id (routes update)"
    ),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _rule(
        "gatewayId region subnetId",
        f"{TF_AWS} internal/service/ec2/vpc_route_table_association.go@71795f1e ({V6}): ForceNew on gateway_id, "
        "subnet_id; route_table_id is replaced in place (ReplaceRouteTableAssociation)",
    ),
    "aws:ec2/securityGroup:SecurityGroup": _rule(
        "description name namePrefix region vpcId",
        f"{TF_AWS} internal/service/ec2/vpc_security_group.go ({V5}): ForceNew on description, name, name_prefix, "
        "vpc_id",
    ),
    "aws:ec2/subnet:Subnet": _rule(
        "availabilityZone availabilityZoneId cidrBlock ipv4IpamPoolId ipv4NetmaskLength ipv6IpamPoolId ipv6Native "
        "ipv6NetmaskLength outpostArn region vpcId",
        f"{TF_AWS} internal/service/ec2/vpc_subnet.go@036145e2 ({V6}): ForceNew on availability_zone(_id), "
        "cidr_block, ipv4/ipv6 IPAM pool and netmask, ipv6_native, outpost_arn, vpc_id",
    ),
    "aws:ec2/vpc:Vpc": _rule(
        "cidrBlock instanceTenancy ipv4IpamPoolId ipv4NetmaskLength region",
        f"{TF_AWS} internal/service/ec2/vpc_.go@036145e2 ({V6}): ForceNew on cidr_block, ipv4_ipam_pool_id, "
        "ipv4_netmask_length; CustomizeDiff replaces on instance_tenancy but dedicated -> default",
    ),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _rule(
        "region securityGroupId",
        f"{TF_AWS} internal/service/ec2/vpc_security_group_ingress_rule.go ({V5}, framework): RequiresReplace on "
        "security_group_id; ModifyPlan replaces when the source changes kind (cidr_ipv4, cidr_ipv6, "
        "prefix_list_id, referenced_security_group_id); addresses, ports, protocol update in place",
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _rule(
        "region securityGroupId",
        f"{TF_AWS} internal/service/ec2/vpc_security_group_egress_rule.go ({V5}): the ingress rule's schema and "
        "ModifyPlan",
    ),
    "aws:iam/accessKey:AccessKey": _rule(
        "pgpKey user", f"{TF_AWS} internal/service/iam/access_key.go@1271cd22: ForceNew on pgp_key, user"
    ),
    "aws:iam/instanceProfile:InstanceProfile": _rule(
        "name namePrefix path",
        f"{TF_AWS} internal/service/iam/instance_profile.go@013f1736: ForceNew on name, name_prefix, path",
    ),
    "aws:iam/role:Role": _rule(
        "name namePrefix path", f"{TF_AWS} internal/service/iam/role.go@0040ea69: ForceNew on name, name_prefix, path"
    ),
    "aws:iam/rolePolicy:RolePolicy": _rule(
        "name namePrefix role",
        f"{TF_AWS} internal/service/iam/role_policy.go@02f97af8: ForceNew on name, name_prefix, role",
    ),
    "aws:iam/user:User": _rule(
        "", f"{TF_AWS} internal/service/iam/user.go@058fd401: no ForceNew argument (a new name or path: UpdateUser)"
    ),
    "aws:iam/userPolicy:UserPolicy": _rule(
        "name namePrefix user",
        f"{TF_AWS} internal/service/iam/user_policy.go@02f97af8: ForceNew on name, name_prefix, user",
    ),
    "aws:s3/bucket:Bucket": _rule(
        "bucket bucketPrefix objectLockEnabled region",
        f"{TF_AWS} internal/service/s3/bucket.go@0070bcd1: ForceNew on bucket, bucket_prefix and the object lock "
        "(an older copy: object_lock_configuration.object_lock_enabled, top-level object_lock_enabled since v5)",
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _rule(
        "bucket expectedBucketOwner region",
        f"{TF_AWS} internal/service/s3/bucket_lifecycle_configuration.go@01606926 (framework): RequiresReplace on "
        "bucket, expected_bucket_owner",
    ),
    "aws:s3/bucketLogging:BucketLogging": _rule(
        "bucket expectedBucketOwner region",
        f"{TF_AWS} internal/service/s3/bucket_logging.go@01f43111: ForceNew on bucket, expected_bucket_owner "
        "(target_bucket, target_prefix, target_grant, target_object_key_format: PutBucketLogging in place)",
    ),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _rule(
        "bucket region", f"{TF_AWS} internal/service/s3/bucket_ownership_controls.go@01c08000: ForceNew on bucket"
    ),
    "aws:s3/bucketPolicy:BucketPolicy": _rule(
        "bucket region", f"{TF_AWS} internal/service/s3/bucket_policy.go@0073593e: ForceNew on bucket"
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _rule(
        "bucket region", f"{TF_AWS} internal/service/s3/bucket_public_access_block.go@01606926: ForceNew on bucket"
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": _rule(
        "bucket expectedBucketOwner region",
        f"{TF_AWS} internal/service/s3/bucket_server_side_encryption_configuration.go@01606926: ForceNew on bucket, "
        "expected_bucket_owner",
    ),
    "aws:s3/bucketVersioning:BucketVersioning": _rule(
        "bucket expectedBucketOwner region",
        f"{TF_AWS} internal/service/s3/bucket_versioning.go@01c08000: ForceNew on bucket, expected_bucket_owner",
    ),
    "aws:scheduler/schedule:Schedule": _rule(
        "groupName name namePrefix region",
        f"{TF_AWS} internal/service/scheduler/schedule.go@02f524b9: ForceNew on group_name, name, name_prefix "
        "(the expression, time zone, state and target are updated in place)",
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": _rule(
        "name region", f"{TF_AWS} internal/service/cloudwatch/metric_alarm.go@055611a6: ForceNew on alarm_name"
    ),
    "cloudflare:index/dnsRecord:DnsRecord": _rule(
        "type zoneId",
        "cloudflare/terraform-provider-cloudflare v5 (bridged by pulumi-cloudflare 6) internal/services/dns_record/"
        "schema.go@a2efdc57 (v5.22.0; the same at v5.19.1): RequiresReplace on zone_id and type; name, content, "
        "ttl, proxied, comment update in place",
    ),
    "docker:index/container:Container": _rule(
        "",
        f"{TF_DOCKER} internal/provider/resource_docker_container.go: ForceNew on every argument that shapes the "
        "container (name, image, env, labels, volumes, ports, networks_advanced, upload, command...); "
        "resourceDockerContainerUpdate applies restart, max_retry_count, cpu_shares, cpu_set, memory, "
        "memory_reservation, memory_swap and the device limits, and starts it when must_run becomes true; the "
        "other in-place arguments only steer create and delete (pulumi-docker sets DeleteBeforeReplace)",
        in_place_only="attach containerReadRefreshTimeoutMilliseconds cpuPeriod cpuQuota cpuSet cpuShares "
        "destroyGraceSeconds deviceReadBps deviceReadIops deviceWriteBps deviceWriteIops healthcheck init logs "
        "maxRetryCount memory memoryReservation memorySwap mustRun removeVolumes restart rm start tmpfs wait "
        "waitTimeout",
        delete_before_replace=True,
    ),
    "docker:index/network:Network": _rule(
        "attachable driver ingress internal ipamConfigs ipamDriver ipamOptions ipv6 labels name options",
        f"{TF_DOCKER} internal/provider/resource_docker_network.go: every argument is ForceNew (no update)",
    ),
    "docker:index/remoteImage:RemoteImage": _rule(
        "build name platform pullTriggers triggers",
        f"{TF_DOCKER} internal/provider/resource_docker_image.go: ForceNew on name, pull_triggers, triggers, "
        "platform, and build's required context; keep_locally and force_remove only change the state",
    ),
    "random:index/randomPassword:RandomPassword": _rule(
        "keepers length lower minLower minNumeric minSpecial minUpper number numeric overrideSpecial special upper",
        "hashicorp/terraform-provider-random internal/provider/resource_password.go@f8d869dc (v3.9.0, pinned by "
        "pulumi-random): RequiresReplace on every argument",
    ),
    "command:local:Command": _rule(
        "triggers",
        "pulumi/pulumi-command v1.2.1 provider/pkg/provider/common/inputs.go@7f3eb6f3: only `triggers` is "
        "replaceOnChanges (the SDK adds replace_on_changes triggers[*]); a change of create, update, environment, "
        "stdin or the rest runs `update` (or `create`) again in place, and its stdout is new",
        recomputed_on_update=True,
    ),
    "command:remote:Command": _rule(
        "triggers",
        "pulumi/pulumi-command v1.2.1 provider/pkg/provider/remote/command.go@7f3eb6f3: as command:local:Command; "
        "a new connection runs the command again on the new host, in place",
        recomputed_on_update=True,
    ),
    "pulumi-python:dynamic/power:Gate": _rule(
        "",
        "components/power_gate.py: PowerGateProvider.diff never asks for a replacement; the gate reads the "
        "instance's real state at every diff, so what it does is decided at apply (a dynamic provider previews "
        "no outputs: the engine knows them after the update)",
        recomputed_on_update=True,
        decided_at_apply=True,
    ),
    "pulumi:providers:docker": _rule(
        "",
        "pulumi/pulumi-terraform-bridge pkg/tfbridge/provider.go@59de6c66 (v3.136): DiffConfig replaces a provider "
        "only for a key marked ForcesProviderReplace, and pulumi-docker marks none: a new host updates the "
        "provider, and its containers are not re-created for it",
    ),
    "pulumi:providers:cloudflare": _rule(
        "", "the same bridge DiffConfig; pulumi-cloudflare marks no key ForcesProviderReplace"
    ),
}


def covers(kind: str) -> bool:
    return kind in RULES


RULE_SOURCES = ("cidrIpv4", "cidrIpv6", "prefixListId", "referencedSecurityGroupId")


def _conditional(kind: str, key: str, before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Replacements a provider decides from the values themselves (CustomizeDiff, ModifyPlan)."""
    if kind == "aws:ec2/instance:Instance" and key == "instanceType":
        old, new = before.get(key), after.get(key)
        if isinstance(old, str) and isinstance(new, str):
            return instance_architecture(old) != instance_architecture(new)
        return False
    if kind.startswith("aws:vpc/securityGroup") and key in RULE_SOURCES:
        return (before.get(key) is None) != (after.get(key) is None)  # the source changes kind
    return False


def forcing(
    kind: str,
    changed: list[str],
    replace_on_changes: list[str] | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    unknown: set[str] | frozenset[str] = frozenset(),
) -> list[str]:
    """The changed inputs that replace a resource of this type (raises KeyError for an unknown type).

    `replace_on_changes` is the resource option the program may set (`*` for every input); `before` and
    `after` (the inputs) decide the replacements that depend on the values.
    """
    rule = RULES[kind]
    program = set(replace_on_changes or [])
    before, after = before or {}, after or {}
    found = []
    for key in changed:
        if _conditional(kind, key, before, after):
            found.append(key)
            continue
        in_place = rule.in_place_only is not None and key in rule.in_place_only
        forced = not in_place if rule.in_place_only is not None else key in rule.replace_on
        fields = [entry.split(".", 1)[1] for entry in rule.replace_on if entry.startswith(f"{key}.")]
        if fields:  # only some fields of this object replace: unknown, it may be one of them
            old, new = before.get(key), after.get(key)
            old, new = (old if isinstance(old, dict) else {}), (new if isinstance(new, dict) else {})
            forced = key in unknown or any(old.get(field) != new.get(field) for field in fields)
        if forced or key in program or "*" in program:
            found.append(key)
    return sorted(found)


def recomputed_on_update(kind: str) -> bool:
    return RULES[kind].recomputed_on_update


def decided_at_apply(kind: str) -> bool:
    return RULES[kind].decided_at_apply


def deleted_before_replaced(kind: str, options: dict[str, Any]) -> bool:
    """Whether the old resource goes before its replacement exists (the option, or the provider's rule)."""
    return bool(options.get("deleteBeforeReplace")) or RULES[kind].delete_before_replace


def stops_and_starts(kind: str, changed: list[str]) -> list[str]:
    """The changed inputs updated in place by stopping and starting the resource."""
    return sorted(set(changed) & RULES[kind].stop_start_on)
