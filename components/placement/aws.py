"""A server on AWS (`kind: cloud`): an EC2 instance with its instance role, data volume and Elastic IP.

Docker over SSH fails on a stopped server and until it is prepared, so the server has two power gates: `wake`
starts it when something is to be deployed on it (or it must run now) and waits until it takes Docker calls;
the preparation runs (cloud-init's first boot, then the same preparation over SSH on every new instance and
every change of it); after everything is deployed, `settle` puts it back as declared. Its schedules, idle stop
or auto-recover alarm come with it (`PowerControl`).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

import pulumi

from components.identity import ServerIdentity, ServerIdentityArgs
from components.lab_configuration import LabManagerAccess
from components.placement import PlacedHost, PlacementContext, docker_firewall
from components.power import PowerControl, PowerControlArgs
from components.power_gate import PowerGate, PowerGateArgs
from components.values import ServerValues
from constellab import host_setup, power_state, ssh_options, topology
from constellab.cloud_init import ADMIN_USER
from constellab.config import CloudPlacement, Hub, Lab, Space, StackConfiguration
from constellab.values import Configured

if TYPE_CHECKING:
    from components.host_preparation import HostPreparationArgs


def place(context: PlacementContext) -> PlacedHost:
    # Imported here: a local stack never loads the AWS and command providers.
    from components.cloud_server import CloudServer, CloudServerArgs
    from components.host_preparation import HostPreparation, HostPreparationArgs

    server, platform, name = context.server, context.platform, context.name
    placement = server.placement
    assert isinstance(placement, CloudPlacement)
    if context.network is None:
        raise ValueError(f"{name}: a cloud server needs the network")
    if context.region is None:
        raise ValueError(f"{name}: a cloud server needs the region")
    identity = ServerIdentity(
        f"{name}-identity",
        ServerIdentityArgs(kind="instance-role", grants=context.grants, tags=context.tags),
        opts=context.child(),
    )
    assert identity.instance_profile_name is not None
    machine = CloudServer(
        f"{name}-server",
        CloudServerArgs(
            server_name=server.name,
            placement=placement,
            admin_cidrs=list(platform.admin_cidrs),
            ssh_public_keys=list(platform.ssh_public_keys),
            tags=context.tags,
            vpc_id=context.network.vpc_id,
            subnet_id=context.network.subnet_id,
            availability_zone=context.network.availability_zone,
            instance_profile_name=identity.instance_profile_name,
            internet=context.network.internet,
        ),
        opts=context.child(),
    )
    lab = None if isinstance(server, Space) else server
    power_args = PowerControlArgs(
        server_name=server.name,
        role=context.role,
        instance_id=machine.instance_id,
        instance_arn=machine.instance_arn,
        tags=context.tags,
        schedule=None if lab is None else lab.schedule,
        idle_stop=None if lab is None else lab.idle_stop,
        state="running" if lab is None else lab.state,
    )
    gate_args = PowerGateArgs(
        role="wake",
        server_name=server.name,
        region=context.region,
        instance_id=machine.instance_id,
        declared="running" if lab is None else lab.state,
        schedule=None if lab is None else lab.schedule,
        idle_stop=None if lab is None else lab.idle_stop,
    )
    preparation = HostPreparationArgs(
        ssh_host=machine.public_ip,
        ssh_user=ADMIN_USER,
        authorized_keys=list(platform.ssh_public_keys),
        docker_firewall=docker_firewall(platform, server, context.server_set, cloud=True),
        docker_api_proxy=not isinstance(server, Space),
        after_cloud_init=True,
        triggers=[machine.instance_id],
        after=list(machine.reachable),
    )
    wake = PowerGate(
        f"{name}-wake",
        dataclasses.replace(
            gate_args,
            fingerprint=deployment_fingerprint(context.server_set, context.values, preparation, server),
            # A server it starts is booting: it waits until the server takes Docker calls.
            ssh_destination=pulumi.Output.concat(ADMIN_USER, "@", machine.public_ip),
        ),
        opts=context.child(depends_on=machine.reachable),
    )
    prepared = HostPreparation(
        f"{name}-preparation",
        dataclasses.replace(preparation, after=[*machine.reachable, wake]),
        opts=context.child(),
    )
    docker_host = pulumi.Output.concat("ssh://", ADMIN_USER, "@", machine.public_ip, ":22")

    def finish(deployed: list[pulumi.Resource]) -> Mapping[str, pulumi.Input[object]]:
        PowerGate(
            f"{name}-settle",
            dataclasses.replace(gate_args, role="settle", woken_at=wake.woken_at),
            opts=context.child(depends_on=[wake, prepared, *deployed]),
        )
        power = PowerControl(f"{name}-power", power_args, opts=context.child())
        return {**power.outputs, **({} if lab is None else {"state": lab.state})}

    ssh_options.ensure_control_directory()
    return PlacedHost(
        address=machine.public_ip,
        # Derived from the gate's and the preparation's outputs: the provider connects after both.
        docker_host=pulumi.Output.all(docker_host, prepared.ready, wake.id).apply(lambda found: str(found[0])),
        lab_manager_access=LabManagerAccess(
            "ssh",
            pulumi.Output.concat(ADMIN_USER, "@", machine.public_ip),
            22,
            ssh_options.tunnel_options(cloud=True),
        ),
        docker_ssh_options=ssh_options.docker_options(cloud=True),
        # A sleeping lab that this `up` does not touch is never woken: no check of the engine when the
        # provider is configured (older upstream versions ping it there), only when a resource needs it.
        docker_daemon_check=False,
        outputs={"instanceId": machine.instance_id, "dataVolumeId": machine.data_volume_id},
        deploy_after=[wake],
        finish=finish,
    )


def retire(context: PlacementContext) -> Mapping[str, pulumi.Input[object]]:
    """A retired server keeps its data volume only (released from protection, kept in AWS)."""
    from components.cloud_server import CloudServer, CloudServerArgs

    server, name = context.server, context.name
    assert isinstance(server.placement, CloudPlacement)
    if context.network is None:
        raise ValueError(f"{name}: a cloud server needs the network")
    machine = CloudServer(
        f"{name}-server",
        CloudServerArgs(
            server_name=server.name,
            placement=server.placement,
            admin_cidrs=[],
            ssh_public_keys=[],
            tags=context.tags,
            vpc_id=context.network.vpc_id,
            subnet_id=context.network.subnet_id,
            availability_zone=context.network.availability_zone,
            instance_profile_name="",
            retired=True,
        ),
        opts=context.child(),
    )
    return {"dataVolumeId": machine.data_volume_id}


CONFIGURATION_SECRETS = (
    Configured.SPACE_API_KEY,
    Configured.COMMUNITY_API_KEY,
    Configured.CODELAB_TOKEN,
    Configured.OPENAI_API_KEY,
)
"""The configured values a lab the stack configures hands to its lab manager."""


def deployment_fingerprint(
    server_set: topology.ServerSet,
    values: ServerValues,
    preparation: HostPreparationArgs,
    server: Space | Hub | Lab,
) -> pulumi.Output[str]:
    """What the steps that reach a server act on: its containers, the values they are given, its preparation,
    its configuration and the providers' versions. A change wakes a stopped server to deploy it."""
    static = [
        json.dumps(dataclasses.asdict(server_set), sort_keys=True, default=str),
        host_setup.remote_command(
            preparation.ssh_user, preparation.ssh_port, preparation.firewall, after_cloud_init=True
        ),
        host_setup.prepare_script(
            preparation.authorized_keys, preparation.docker_firewall, preparation.docker_api_proxy
        ),
        *(importlib.metadata.version(package) for package in ("pulumi-docker", "pulumi-command")),
    ]
    names = {
        ref.name
        for spec in server_set.containers
        for ref in spec.refs
        if not ref.generated and isinstance(ref.name, Configured)
    }
    if not isinstance(server, Space) and isinstance(server.configuration, StackConfiguration):
        static.append(server.configuration.model_dump_json())
        names |= {key for key in CONFIGURATION_SECRETS if key in values}
    ordered = sorted(names)
    found_values = [pulumi.Output.from_input(values[key]) for key in ordered]
    return pulumi.Output.all(*found_values).apply(
        lambda found: power_state.fingerprint([*static, *(f"{k}={v}" for k, v in zip(ordered, found, strict=True))])
    )
