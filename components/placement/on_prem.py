"""A server reached over SSH (`kind: onPrem`): prepared there first, then Docker over the same SSH; its buckets
through an IAM user's access key."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from components.identity import ServerIdentity, ServerIdentityArgs
from components.lab_configuration import LabManagerAccess
from components.placement import PlacedHost, PlacementContext, docker_firewall
from constellab import ssh_options
from constellab.config import OnPremPlacement


def place(context: PlacementContext) -> PlacedHost:
    from components.host_preparation import HostPreparation, HostPreparationArgs

    placement = context.server.placement
    assert isinstance(placement, OnPremPlacement)
    name = context.name
    identity = ServerIdentity(
        f"{name}-identity",
        ServerIdentityArgs(kind="access-key", grants=context.grants, tags=context.tags),
        opts=context.child(),
    )
    assert identity.access_key_id is not None and identity.secret_access_key is not None
    prepared = HostPreparation(
        f"{name}-preparation",
        HostPreparationArgs(
            ssh_host=placement.ssh_host,
            ssh_user=placement.ssh_user,
            ssh_port=placement.ssh_port,
            firewall=placement.firewall,
            docker_firewall=docker_firewall(context.platform, context.server, context.server_set, cloud=False),
            docker_api_proxy=True,
        ),
        opts=context.child(),
    )
    ssh_options.ensure_control_directory()
    return PlacedHost(
        address=pulumi.Output.from_input(placement.public_address),
        # Derived from the preparation's output: Docker is reached only once the host is prepared.
        docker_host=prepared.ready.apply(
            lambda _: f"ssh://{placement.ssh_user}@{placement.ssh_host}:{placement.ssh_port}"
        ),
        lab_manager_access=LabManagerAccess(
            "ssh",
            f"{placement.ssh_user}@{placement.ssh_host}",
            placement.ssh_port,
            ssh_options.tunnel_options(cloud=False),
        ),
        docker_ssh_options=ssh_options.docker_options(cloud=False),
        credentials={
            "awsAccessKeyId": identity.access_key_id,
            "awsSecretAccessKey": identity.secret_access_key,
        },
    )


def retire(context: PlacementContext) -> Mapping[str, pulumi.Input[object]]:
    return {}
