"""EC2 and EBS: IMDSv2, encryption, no world-open admin or database ports, profiles, tags, protection."""

from __future__ import annotations

import re
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from . import field_limits
from .common import Rule, config, depends_on, dig, kept_on_delete, of_type, report, tags_of

INSTANCE = "aws:ec2/instance:Instance"
VOLUME = "aws:ebs/volume:Volume"
EIP = "aws:ec2/eip:Eip"
EIP_ASSOCIATION = "aws:ec2/eipAssociation:EipAssociation"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
LEGACY_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
BUCKET = "aws:s3/bucket:Bucket"
ADMIN_AND_DATABASE_PORTS = {
    22: "SSH",
    2222: "Codelab SSH",
    3306: "MySQL/MariaDB",
    5432: "PostgreSQL",
    1433: "SQL Server",
    1521: "Oracle",
    27017: "MongoDB",
    6379: "Redis",
    9200: "Elasticsearch",
}

ALLOWED_TYPES_DEFAULT = list(field_limits.ALLOWED_INSTANCE_TYPES)
REQUIRED_TAGS_DEFAULT = ["constellab:stack", "constellab:server", "constellab:role"]


def _ingress(args: ResourceValidationArgs) -> list[dict[str, Any]]:
    """Ingress rules of the resource as {fromPort, toPort, protocol, cidr}."""
    props = args.props
    found = []
    if args.resource_type == INGRESS_RULE:
        for cidr in (props.get("cidrIpv4"), props.get("cidrIpv6")):
            if cidr:
                found.append(
                    {
                        "from": props.get("fromPort"),
                        "to": props.get("toPort"),
                        "protocol": props.get("ipProtocol"),
                        "cidr": cidr,
                    }
                )
    elif args.resource_type == LEGACY_RULE and props.get("type") == "ingress":
        for cidr in [*(props.get("cidrBlocks") or []), *(props.get("ipv6CidrBlocks") or [])]:
            found.append(
                {
                    "from": props.get("fromPort"),
                    "to": props.get("toPort"),
                    "protocol": props.get("protocol"),
                    "cidr": cidr,
                }
            )
    elif args.resource_type == SECURITY_GROUP:
        for rule in props.get("ingress") or []:
            for cidr in [*(rule.get("cidrBlocks") or []), *(rule.get("ipv6CidrBlocks") or [])]:
                found.append(
                    {
                        "from": rule.get("fromPort"),
                        "to": rule.get("toPort"),
                        "protocol": rule.get("protocol"),
                        "cidr": cidr,
                    }
                )
    return found


def _all_ports(rule: dict[str, Any]) -> bool:
    return str(rule["protocol"]) in ("-1", "all") or (int(rule["from"] or 0) <= 0 and int(rule["to"] or 0) >= 65535)


def imdsv2_required(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == INSTANCE and dig(args.props, "metadataOptions", "httpTokens") != "required":
        report(
            report_violation,
            args.name,
            args.resource_type,
            "the metadata service accepts IMDSv1 requests",
            'set metadataOptions.httpTokens to "required"',
        )


def root_volume_encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == INSTANCE and dig(args.props, "rootBlockDevice", "encrypted") is not True:
        report(
            report_violation,
            args.name,
            args.resource_type,
            "the root volume is not encrypted",
            "set rootBlockDevice.encrypted to true",
        )


def data_volume_encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == VOLUME and args.props.get("encrypted") is not True:
        report(report_violation, args.name, args.resource_type, "the volume is not encrypted", "set encrypted to true")


def no_admin_port_open_to_world(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for rule in _ingress(args):
        if not field_limits.opens_to_world(str(rule["cidr"])) or _all_ports(rule):
            continue
        low, high = int(rule["from"] or 0), int(rule["to"] or 0)
        opened = [f"{port} ({name})" for port, name in ADMIN_AND_DATABASE_PORTS.items() if low <= port <= high]
        if opened:
            report(
                report_violation,
                args.name,
                args.resource_type,
                f"opens {', '.join(opened)} to {rule['cidr']}",
                "allow only the administrator networks (adminCidrs)",
            )


def no_all_ports_rule(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for rule in _ingress(args):
        if _all_ports(rule):
            report(
                report_violation,
                args.name,
                args.resource_type,
                f"opens every port to {rule['cidr']}",
                "open only the ports the server serves (80, 443) and SSH to administrators",
            )


ADMIN_CIDR_DEFAULTS = {"minimumAdminPrefixLength": field_limits.MINIMUM_ADMIN_PREFIX_LENGTH}


def admin_cidrs_narrow(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    minimum = int(config(args, ADMIN_CIDR_DEFAULTS)["minimumAdminPrefixLength"])
    for rule in _ingress(args):
        low, high = int(rule["from"] or 0), int(rule["to"] or 0)
        cidr = str(rule["cidr"])
        if field_limits.opens_to_world(cidr) or not any(low <= port <= high for port in (22, 2222)):
            continue
        if field_limits.too_wide_for_admins(cidr, minimum):
            limit = field_limits.admin_prefix_limit(cidr, minimum)
            report(
                report_violation,
                args.name,
                args.resource_type,
                f"SSH is open to {cidr}, wider than /{limit}",
                f"list narrower administrator networks (at least /{limit})",
            )


def instance_profile_attached(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == INSTANCE and not args.props.get("iamInstanceProfile"):
        report(
            report_violation,
            args.name,
            args.resource_type,
            "no instance profile",
            "attach the server's least-privilege instance profile (iamInstanceProfile)",
        )


INSTANCE_TYPE_DEFAULTS = {"allowedInstanceTypes": ALLOWED_TYPES_DEFAULT}


def allowed_instance_types(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != INSTANCE:
        return
    allowed = config(args, INSTANCE_TYPE_DEFAULTS)["allowedInstanceTypes"]
    instance_type = str(args.props.get("instanceType"))
    if not field_limits.instance_type_allowed(instance_type, allowed):
        report(
            report_violation,
            args.name,
            args.resource_type,
            f"instance type {instance_type} is not allowed",
            f"pick one of {', '.join(allowed)} (policy config allowedInstanceTypes)",
        )


TAG_DEFAULTS = {"requiredTags": REQUIRED_TAGS_DEFAULT}


def required_tags(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in (INSTANCE, VOLUME, EIP, SECURITY_GROUP, BUCKET):
        return
    missing = [tag for tag in config(args, TAG_DEFAULTS)["requiredTags"] if not tags_of(args).get(tag)]
    if missing:
        report(
            report_violation,
            args.name,
            args.resource_type,
            f"missing tags {', '.join(missing)}",
            "tag it like the rest of its server (naming.server_tags)",
        )


RULE_DESCRIPTION = re.compile(r"[a-zA-Z0-9 ._\-:/()#,@\[\]+=;{}!$*]{1,255}")
"""What EC2 takes as a rule's description: up to 255 of a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=;{}!$* (EC2 API
reference, IpRange, Ipv6Range, PrefixListId and UserIdGroupPair: Description; `&` only in some of them)."""


def _rule_descriptions(args: ResourceValidationArgs) -> list[tuple[str, Any]]:
    """(which rule, its description) for each rule the resource declares: itself, or a group's inline rules."""
    props = args.props
    if args.resource_type in (INGRESS_RULE, EGRESS_RULE):
        return [("the rule", props.get("description"))]
    if args.resource_type == LEGACY_RULE:
        return [(f"the {props.get('type') or 'group'} rule", props.get("description"))]
    if args.resource_type == SECURITY_GROUP:
        return [
            (f"{direction} rule {index}", rule.get("description") if isinstance(rule, dict) else None)
            for direction in ("ingress", "egress")
            for index, rule in enumerate(props.get(direction) or [])
        ]
    return []


def security_group_rules_described(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for which, description in _rule_descriptions(args):
        if not str(description or "").strip():
            problem = f"{which} has no description"
        elif not RULE_DESCRIPTION.fullmatch(str(description)):
            problem = f"{which} has a description EC2 refuses: {description!r}"
        else:
            continue
        report(
            report_violation,
            args.name,
            args.resource_type,
            problem,
            "say what the rule is for, in up to 255 of a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=;{}!$*",
        )


def data_volume_protected(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != VOLUME:
        return
    if not kept_on_delete(args):
        report(
            report_violation,
            args.name,
            args.resource_type,
            "the data volume can be deleted with its stack",
            "declare it with protect=True and retain_on_delete=True (retain_on_delete alone for a retired server)",
        )


def monitored_and_ebs_optimized(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != INSTANCE:
        return
    off = [key for key in ("monitoring", "ebsOptimized") if args.props.get(key) is not True]
    if off:
        report(
            report_violation,
            args.name,
            args.resource_type,
            f"{' and '.join(off)} off",
            "set monitoring and ebsOptimized to true (idle stop reads one-minute metrics)",
        )


def behind_elastic_ip(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    associated = set()
    for association in of_type(args.resources, EIP_ASSOCIATION):
        associated |= {instance.urn for instance in depends_on(association, INSTANCE)}
    for eip in of_type(args.resources, EIP):
        associated |= {instance.urn for instance in depends_on(eip, INSTANCE)}
    for instance in of_type(args.resources, INSTANCE):
        if instance.urn not in associated:
            report(
                report_violation,
                instance.name,
                instance.resource_type,
                "no Elastic IP: its address changes at every stop and start, and DNS breaks",
                "associate an Elastic IP (CloudServer does)",
                instance.urn,
            )


RULES = [
    Rule("ec2-imdsv2-required", "Instances require IMDSv2 tokens", "mandatory", imdsv2_required),
    Rule("ec2-root-volume-encrypted", "Instance root volumes are encrypted", "mandatory", root_volume_encrypted),
    Rule("ebs-volume-encrypted", "EBS data volumes are encrypted", "mandatory", data_volume_encrypted),
    Rule(
        "ec2-no-admin-or-database-port-to-world",
        "SSH, Codelab SSH and database ports are never open to the world",
        "mandatory",
        no_admin_port_open_to_world,
    ),
    Rule("ec2-no-all-ports-rule", "No ingress rule opens every port", "mandatory", no_all_ports_rule),
    Rule(
        "ec2-admin-cidrs-narrow",
        "SSH is only open to administrator networks of bounded size",
        "mandatory",
        admin_cidrs_narrow,
        config={
            "minimumAdminPrefixLength": {
                "type": "integer",
                "minimum": 1,
                "maximum": 32,
                "default": field_limits.MINIMUM_ADMIN_PREFIX_LENGTH,
            }
        },
    ),
    Rule(
        "ec2-instance-profile-attached", "Instances carry an instance profile", "mandatory", instance_profile_attached
    ),
    Rule(
        "ec2-allowed-instance-types",
        "Instances use an allowed instance type",
        "mandatory",
        allowed_instance_types,
        config={
            "allowedInstanceTypes": {"type": "array", "items": {"type": "string"}, "default": ALLOWED_TYPES_DEFAULT}
        },
    ),
    Rule(
        "aws-required-tags",
        "Servers' instances, volumes, addresses, groups and buckets carry the required tags",
        "mandatory",
        required_tags,
        config={"requiredTags": {"type": "array", "items": {"type": "string"}, "default": REQUIRED_TAGS_DEFAULT}},
    ),
    Rule(
        "ebs-data-volume-protected",
        "Data volumes are protected and retained on delete",
        "mandatory",
        data_volume_protected,
    ),
    Rule(
        "ec2-security-group-rules-described",
        "Every security group rule says what it is for, in characters EC2 takes",
        "mandatory",
        security_group_rules_described,
    ),
    Rule(
        "ec2-monitored-and-ebs-optimized",
        "Instances have detailed monitoring and are EBS-optimized",
        "advisory",
        monitored_and_ebs_optimized,
    ),
    Rule(
        "ec2-behind-elastic-ip",
        "Cloud servers keep their address through stop and start",
        "mandatory",
        behind_elastic_ip,
        scope="stack",
    ),
]
