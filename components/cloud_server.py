"""CloudServer: an EC2 Docker host with its data on a separate, protected EBS volume at /app."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from constellab import cloud_init, ssh_keys
from constellab.aws import iam, instance_types
from constellab.config import CloudPlacement

DATA_DEVICE = "/dev/sdf"
ROOT_DISK_GB = 30


@dataclass(frozen=True)
class CloudServerArgs:
    """Arguments of `CloudServer`."""

    server_name: str
    placement: CloudPlacement
    admin_cidrs: list[str]
    ssh_public_keys: list[str]
    tags: dict[str, str]
    vpc_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    availability_zone: pulumi.Input[str]
    instance_profile_name: pulumi.Input[str]
    retired: bool = False
    """The server is decommissioned: only its data volume is declared, no longer protected, kept in AWS."""
    internet: list[pulumi.Resource] = field(default_factory=list)
    """What gives the subnet its way out (`Network.internet`): the instance boots, and its address is
    associated, only once it exists."""


class CloudServer(pulumi.ComponentResource):
    """Security group, EC2 instance, data volume, Elastic IP, and a wait for Docker to be ready.

    Data lives on the data volume (protected, retained on delete) and survives any replacement of
    the instance; the Elastic IP keeps the address through stop and start, so DNS stays valid.
    The server is prepared over SSH by its `ServerHost` (after its power state), once `reachable` exists.
    """

    public_ip: pulumi.Output[str]
    instance_id: pulumi.Output[str]
    instance_arn: pulumi.Output[str]
    data_volume_id: pulumi.Output[str]

    def __init__(self, name: str, args: CloudServerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("constellab:cloud_server:CloudServer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = args.tags

        if args.retired:
            self.data_volume_id = self._data_volume(name, args, protect=False).id
            self.register_outputs({"dataVolumeId": self.data_volume_id})
            return
        group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description=f"Constellab {args.server_name}: web from anywhere, SSH from administrators",
            tags=tags,
            opts=child,
        )
        for rule in iam.ingress_rules(args.admin_cidrs):
            rule_name = f"{name}-in-{rule.port}-{rule.cidr.replace('/', '-').replace(':', '_').replace('.', '_')}"
            aws.vpc.SecurityGroupIngressRule(
                rule_name,
                security_group_id=group.id,
                ip_protocol="tcp",
                from_port=rule.port,
                to_port=rule.port,
                cidr_ipv4=None if rule.is_ipv6 else rule.cidr,
                cidr_ipv6=rule.cidr if rule.is_ipv6 else None,
                description=rule.description,
                tags=tags,
                opts=child,
            )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-out-all",
            security_group_id=group.id,
            ip_protocol="-1",
            cidr_ipv4="0.0.0.0/0",
            # A rule's description changes in place (ModifySecurityGroupRules), without replacing the rule:
            # terraform-provider-aws internal/service/ec2/vpc_security_group_ingress_rule.go, which egress shares.
            description=iam.OUTBOUND_DESCRIPTION,
            tags=tags,
            opts=child,
        )

        data_volume = self._data_volume(name, args, protect=True)

        architecture = instance_types.instance_architecture(args.placement.instance_type)
        image = aws.ec2.get_ami_output(
            most_recent=True,
            owners=[instance_types.DEBIAN_AMI_OWNER],
            filters=[
                aws.ec2.GetAmiFilterArgs(name="name", values=[instance_types.debian_ami_name_pattern(architecture)]),
                aws.ec2.GetAmiFilterArgs(name="architecture", values=[architecture]),
                aws.ec2.GetAmiFilterArgs(name="virtualization-type", values=["hvm"]),
            ],
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        # The user data depends on nothing that changes: the data volume's id reaches the instance as a tag,
        # which its mount script reads from the metadata service.
        user_data = cloud_init.render_user_data(server_name=args.server_name, ssh_public_keys=args.ssh_public_keys)
        instance = aws.ec2.Instance(
            f"{name}-instance",
            ami=image.id,
            instance_type=args.placement.instance_type,
            subnet_id=args.subnet_id,
            vpc_security_group_ids=[group.id],
            iam_instance_profile=args.instance_profile_name,
            user_data=user_data,
            metadata_options=aws.ec2.InstanceMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                # Two hops: glab and Codelab reach the instance role from inside their containers; the
                # host's firewall keeps every other container away from it (`host_firewall`).
                http_put_response_hop_limit=2,
                instance_metadata_tags="enabled",
            ),
            root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(
                encrypted=True,
                volume_type="gp3",
                volume_size=ROOT_DISK_GB,
                delete_on_termination=True,
                tags={**tags, "Name": f"{tags.get('Name', name)}-root"},
            ),
            ebs_optimized=True,
            monitoring=True,
            # Tags change in place: the keys reach a running server's boots, and a replacement's first one.
            tags={**tags, **ssh_keys.key_tags(args.ssh_public_keys), cloud_init.DATA_VOLUME_TAG: data_volume.id},
            # A newer Debian image must not replace a running server: new images apply to new servers. The
            # user data is read at an instance's first boot only: a change would stop and start the server
            # for nothing, so the preparation reaches running servers over SSH instead (`HostPreparation`).
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["ami", "userData"], depends_on=args.internet),
        )
        attachment = aws.ec2.VolumeAttachment(
            f"{name}-data-attachment",
            device_name=DATA_DEVICE,
            volume_id=data_volume.id,
            instance_id=instance.id,
            stop_instance_before_detaching=True,
            # AWS attaches a volume to one instance at a time: detach from the old one first.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        address = aws.ec2.Eip(f"{name}-eip", domain="vpc", tags=tags, opts=child)
        association = aws.ec2.EipAssociation(
            f"{name}-eip-association",
            allocation_id=address.allocation_id,
            instance_id=instance.id,
            # An Elastic IP needs the VPC's gateway attached before it can be associated.
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.internet),
        )

        self.public_ip = address.public_ip
        self.instance_id = instance.id
        self.instance_arn = instance.arn
        self.data_volume_id = data_volume.id
        self.reachable: list[pulumi.Resource] = [association, attachment]
        """What must exist before the server is reached over SSH at its address, with its data volume."""
        self.register_outputs(
            {"publicIp": self.public_ip, "instanceId": self.instance_id, "dataVolumeId": self.data_volume_id}
        )

    def _data_volume(self, name: str, args: CloudServerArgs, *, protect: bool) -> aws.ebs.Volume:
        """The encrypted gp3 data volume, always retained on delete; unprotected only once retired,
        so that removing the retired server from the stack leaves the volume in the account."""
        tags = args.tags
        return aws.ebs.Volume(
            f"{name}-data",
            availability_zone=args.availability_zone,
            size=args.placement.data_disk_gb,
            type="gp3",
            encrypted=True,
            tags={**tags, "Name": f"{tags.get('Name', name)}-data"},
            opts=pulumi.ResourceOptions(parent=self, protect=protect, retain_on_delete=True),
        )
