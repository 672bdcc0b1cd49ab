"""Network: the VPC and public subnet the cloud servers live in, created or looked up."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from constellab.config import ExistingNetwork, NewNetwork


@dataclass(frozen=True)
class NetworkArgs:
    """Arguments of `Network`."""

    config: NewNetwork | ExistingNetwork
    tags: dict[str, str]


class Network(pulumi.ComponentResource):
    """A dedicated VPC with an internet gateway and one public subnet, or an existing pair.

    `availability_zone` is the subnet's zone: data volumes must be created in it. `internet` is what a
    server's first boot needs before it starts: the gateway and the subnet's default route (a created
    VPC's only; an existing subnet is routed already).
    """

    vpc_id: pulumi.Output[str]
    subnet_id: pulumi.Output[str]
    availability_zone: pulumi.Output[str]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("constellab:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        config = args.config
        self.internet: list[pulumi.Resource] = []
        if isinstance(config, ExistingNetwork):
            subnet = aws.ec2.get_subnet_output(id=config.subnet_id, opts=pulumi.InvokeOutputOptions(parent=self))
            self.vpc_id = pulumi.Output.from_input(config.vpc_id)
            self.subnet_id = pulumi.Output.from_input(config.subnet_id)
            self.availability_zone = subnet.availability_zone
        else:
            if config.availability_zone:
                zone: pulumi.Output[str] = pulumi.Output.from_input(config.availability_zone)
            else:
                zones = aws.get_availability_zones_output(
                    state="available", opts=pulumi.InvokeOutputOptions(parent=self)
                )
                zone = zones.names[0]
            vpc = aws.ec2.Vpc(
                f"{name}-vpc",
                cidr_block=config.vpc_cidr,
                enable_dns_hostnames=True,
                enable_dns_support=True,
                tags={**args.tags, "Name": f"{name}-vpc"},
                opts=child,
            )
            gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=args.tags, opts=child)
            subnet_resource = aws.ec2.Subnet(
                f"{name}-public",
                vpc_id=vpc.id,
                cidr_block=config.subnet_cidr,
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={**args.tags, "Name": f"{name}-public"},
                opts=child,
            )
            routes = aws.ec2.RouteTable(
                f"{name}-public-routes",
                vpc_id=vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
                tags=args.tags,
                opts=child,
            )
            association = aws.ec2.RouteTableAssociation(
                f"{name}-public-routes", subnet_id=subnet_resource.id, route_table_id=routes.id, opts=child
            )
            # Nothing references these from an instance: without them as dependencies, a new server boots
            # (and cloud-init installs its packages) while the subnet has no route out yet.
            self.internet = [gateway, routes, association]
            self.vpc_id = vpc.id
            self.subnet_id = subnet_resource.id
            self.availability_zone = subnet_resource.availability_zone
        self.register_outputs(
            {"vpcId": self.vpc_id, "subnetId": self.subnet_id, "availabilityZone": self.availability_zone}
        )
