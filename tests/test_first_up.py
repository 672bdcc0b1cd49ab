"""The real program under mocks: what a first `pulumi up` on AWS needs that the mock engine never checks."""

from __future__ import annotations

import pulumi

from tests.conftest import declared, of_type

INSTANCE = "aws:ec2/instance:Instance"
EIP_ASSOCIATION = "aws:ec2/eipAssociation:EipAssociation"


@pulumi.runtime.test
def test_servers_boot_and_take_their_address_only_once_the_subnet_routes_to_the_internet(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        # AWS documents it for aws_eip and the instance's packages need it: nothing else orders these.
        route_out = {
            r.urn
            for r in registrations
            if r.type
            in (
                "aws:ec2/internetGateway:InternetGateway",
                "aws:ec2/routeTable:RouteTable",
                "aws:ec2/routeTableAssociation:RouteTableAssociation",
            )
        }
        assert len(route_out) == 3
        waiting = of_type(registrations, INSTANCE) + of_type(registrations, EIP_ASSOCIATION)
        assert len(waiting) == 8, "four cloud servers"
        late = [r.name for r in waiting if not route_out <= set(r.dependencies)]
        assert late == []

    return declared(engine).apply(check)
