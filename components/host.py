"""ServerHost: one Docker host (cloud, on-prem or local) with its identity, containers, DNS and, for a lab
the stack configures, the lab's configuration handed to its lab manager."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_docker as docker

from components.containers import ContainerSet, ContainerSetArgs
from components.identity import BucketGrant, ServerIdentity, ServerIdentityArgs
from components.lab_configuration import LabConfiguration, LabConfigurationArgs, LabManagerAccess
from components.power import PowerControl, PowerControlArgs
from components.power_gate import PowerGate, PowerGateArgs
from components.values import ServerValues, StackSecrets
from constellab import host_firewall, host_setup, lab_host, naming, power_state, ssh_options, topology
from constellab.cloud_init import ADMIN_USER
from constellab.config import (
    CloudPlacement,
    Hub,
    Lab,
    LocalPlacement,
    ManualCertificates,
    OnPremPlacement,
    PlatformConfig,
    Space,
    StackConfiguration,
)
from constellab.values import Configured

if TYPE_CHECKING:
    from components.host_preparation import HostPreparationArgs
    from components.network import Network


@dataclass(frozen=True)
class ServerHostArgs:
    """Arguments of `ServerHost`."""

    stack: str
    platform: PlatformConfig
    server: naming.Server
    grants: list[BucketGrant]
    secrets: StackSecrets
    """The stack's configured secrets; the server takes the shared ones and its own members."""
    network: Network | None = None
    """The VPC and subnet; required for cloud servers."""
    region: str | None = None
    """The AWS region; required for cloud servers (their power gates call EC2 there)."""
    cloudflare: pulumi.ProviderResource | None = None
    """The Cloudflare provider; records are created only when it is given."""
    extra_values: Mapping[Configured, pulumi.Input[str]] = field(default_factory=dict)
    """What else its containers are given (the space's bucket and prefix)."""
    extra_outputs: Mapping[str, pulumi.Input[object]] = field(default_factory=dict)
    extra_credentials: Mapping[str, pulumi.Input[object]] = field(default_factory=dict)
    """Secret outputs of the server besides its own (the backup identity's key)."""


class ServerHost(pulumi.ComponentResource):
    """The machine, the identity that reaches its buckets, its Docker provider, containers and DNS."""

    address: pulumi.Output[str]
    host: str
    urls: dict[str, str]

    def __init__(self, name: str, args: ServerHostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("constellab:host:ServerHost", name, None, opts)
        server = args.server
        platform = args.platform
        placement = server.placement
        role = naming.role_of(server)
        tags = naming.server_tags(args.stack, server.name, role, retired=getattr(server, "retired", False))
        self.host = naming.server_host(server.name, platform.base_domain)
        extra = dict(args.extra_values)
        outputs: dict[str, pulumi.Input[object]] = {}
        credentials: dict[str, Any] = dict(args.extra_credentials)
        server_set = topology.server_set(platform, server)

        if not isinstance(server, Space) and server.retired:
            self._declare_retired(name, args, tags)
            return

        power_args: PowerControlArgs | None = None
        machine = None
        if isinstance(placement, CloudPlacement):
            # Imported here: a local stack never loads the AWS and command providers.
            from components.cloud_server import CloudServer, CloudServerArgs

            if args.network is None:
                raise ValueError(f"{name}: a cloud server needs the network")
            identity = ServerIdentity(
                f"{name}-identity",
                ServerIdentityArgs(kind="instance-role", grants=args.grants, tags=tags),
                opts=pulumi.ResourceOptions(parent=self),
            )
            assert identity.instance_profile_name is not None
            machine = CloudServer(
                f"{name}-server",
                CloudServerArgs(
                    server_name=server.name,
                    placement=placement,
                    admin_cidrs=list(platform.admin_cidrs),
                    ssh_public_keys=list(platform.ssh_public_keys),
                    tags=tags,
                    vpc_id=args.network.vpc_id,
                    subnet_id=args.network.subnet_id,
                    availability_zone=args.network.availability_zone,
                    instance_profile_name=identity.instance_profile_name,
                    internet=args.network.internet,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.address = machine.public_ip
            docker_host: pulumi.Input[str] = pulumi.Output.concat("ssh://", ADMIN_USER, "@", machine.public_ip, ":22")
            access = LabManagerAccess(
                "ssh",
                pulumi.Output.concat(ADMIN_USER, "@", machine.public_ip),
                22,
                ssh_options.tunnel_options(cloud=True),
            )
            power_args = PowerControlArgs(
                server_name=server.name,
                role=role,
                instance_id=machine.instance_id,
                instance_arn=machine.instance_arn,
                tags=tags,
                schedule=None if isinstance(server, Space) else server.schedule,
                idle_stop=None if isinstance(server, Space) else server.idle_stop,
                state="running" if isinstance(server, Space) else server.state,
            )
            outputs["instanceId"] = machine.instance_id
            outputs["dataVolumeId"] = machine.data_volume_id
        elif isinstance(placement, OnPremPlacement):
            identity = ServerIdentity(
                f"{name}-identity",
                ServerIdentityArgs(kind="access-key", grants=args.grants, tags=tags),
                opts=pulumi.ResourceOptions(parent=self),
            )
            assert identity.access_key_id is not None and identity.secret_access_key is not None
            credentials["awsAccessKeyId"] = identity.access_key_id
            credentials["awsSecretAccessKey"] = identity.secret_access_key
            self.address = pulumi.Output.from_input(placement.public_address)
            from components.host_preparation import HostPreparation, HostPreparationArgs

            prepared = HostPreparation(
                f"{name}-preparation",
                HostPreparationArgs(
                    ssh_host=placement.ssh_host,
                    ssh_user=placement.ssh_user,
                    ssh_port=placement.ssh_port,
                    firewall=placement.firewall,
                    docker_firewall=docker_firewall(platform, server, server_set, cloud=False),
                    docker_api_proxy=True,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            # Derived from the preparation's output: Docker is reached only once the host is prepared.
            docker_host = prepared.ready.apply(
                lambda _: f"ssh://{placement.ssh_user}@{placement.ssh_host}:{placement.ssh_port}"
            )
            access = LabManagerAccess(
                "ssh",
                f"{placement.ssh_user}@{placement.ssh_host}",
                placement.ssh_port,
                ssh_options.tunnel_options(cloud=False),
            )
        else:
            assert isinstance(placement, LocalPlacement)
            self.address = pulumi.Output.from_input("127.0.0.1")
            docker_host = placement.docker_host
            access = LabManagerAccess("direct", "127.0.0.1", 443)

        certificate_mode = platform.certificate_mode(server)
        if certificate_mode == "manual":
            assert isinstance(server.certificates, ManualCertificates)
            extra[Configured.TLS_CERTIFICATE] = server.certificates.certificate_chain
        values = ServerValues.of(args.secrets, server.name, args.region, extra)

        wake = None
        gate_args: PowerGateArgs | None = None
        prepared_over_ssh: list[pulumi.Resource] = []
        if machine is not None:
            # Docker over SSH fails on a stopped server and until it is prepared: the server is woken when
            # something is to be deployed on it, then prepared (cloud-init's first boot, then the same
            # preparation over SSH on every new instance and every change of it).
            from components.host_preparation import HostPreparation, HostPreparationArgs

            if args.region is None:
                raise ValueError(f"{name}: a cloud server needs the region")
            lab = None if isinstance(server, Space) else server
            gate_args = PowerGateArgs(
                role="wake",
                server_name=server.name,
                region=args.region,
                instance_id=machine.instance_id,
                declared="running" if lab is None else lab.state,
                schedule=None if lab is None else lab.schedule,
                idle_stop=None if lab is None else lab.idle_stop,
            )
            preparation = HostPreparationArgs(
                ssh_host=machine.public_ip,
                ssh_user=ADMIN_USER,
                authorized_keys=list(platform.ssh_public_keys),
                docker_firewall=docker_firewall(platform, server, server_set, cloud=True),
                docker_api_proxy=not isinstance(server, Space),
                after_cloud_init=True,
                triggers=[machine.instance_id],
                after=list(machine.reachable),
            )
            wake = PowerGate(
                f"{name}-wake",
                dataclasses.replace(
                    gate_args,
                    fingerprint=deployment_fingerprint(server_set, values, preparation, server),
                    # A server it starts is booting: it waits until the server takes Docker calls.
                    ssh_destination=pulumi.Output.concat(ADMIN_USER, "@", machine.public_ip),
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=machine.reachable),
            )
            prepared = HostPreparation(
                f"{name}-preparation",
                dataclasses.replace(preparation, after=[*machine.reachable, wake]),
                opts=pulumi.ResourceOptions(parent=self),
            )
            prepared_over_ssh.append(prepared)
            # Derived from the gate's and the preparation's outputs: the provider connects after both.
            docker_host = pulumi.Output.all(docker_host, prepared.ready, wake.id).apply(lambda found: str(found[0]))

        docker_ssh_options = None
        if not isinstance(placement, LocalPlacement):
            ssh_options.ensure_control_directory()
            docker_ssh_options = ssh_options.docker_options(cloud=isinstance(placement, CloudPlacement))
        provider = docker.Provider(
            f"{name}-docker",
            host=docker_host,
            ssh_opts=docker_ssh_options,
            # A sleeping lab that this `up` does not touch is never woken: no check of the engine when the
            # provider is configured (older upstream versions ping it there), only when a resource needs it.
            disable_docker_daemon_check=True if machine is not None else None,
            opts=pulumi.ResourceOptions(parent=self),
        )
        containers = ContainerSet(
            f"{name}-containers",
            ContainerSetArgs(server_set=server_set, values=values),
            opts=pulumi.ResourceOptions(parent=self, providers={"docker": provider}),
        )
        deployed: list[pulumi.Resource] = [containers]

        if not isinstance(server, Space) and isinstance(server.configuration, StackConfiguration):
            if Configured.LAB_MANAGER_API_KEY in containers.passwords:  # a local lab's, generated here
                api_key: pulumi.Input[str] = containers.passwords[Configured.LAB_MANAGER_API_KEY].result
                credentials["labManagerApiKey"] = api_key
            else:
                api_key = values[Configured.LAB_MANAGER_API_KEY]
            configured = LabConfiguration(
                f"{name}-configuration",
                LabConfigurationArgs(
                    server_name=server.name,
                    host=self.host,
                    configuration=server.configuration,
                    endpoints=platform.endpoints,
                    access=access,
                    api_key=api_key,
                    space_api_key=values[Configured.SPACE_API_KEY],
                    community_api_key=values[Configured.COMMUNITY_API_KEY],
                    codelab_token=values[Configured.CODELAB_TOKEN],
                    openai_api_key=values.get(Configured.OPENAI_API_KEY),
                    verify="pem"
                    if certificate_mode == "manual"
                    else "none"
                    if certificate_mode == "default"
                    else "system",
                    trusted_chain=server.certificates.certificate_chain
                    if isinstance(server.certificates, ManualCertificates)
                    else None,
                    lab_manager=containers.containers[lab_host.LAB_MANAGER].id,
                    after=[containers, *([wake] if wake is not None else [])],
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            deployed.append(configured)

        if gate_args is not None:
            assert wake is not None
            PowerGate(
                f"{name}-settle",
                dataclasses.replace(gate_args, role="settle", woken_at=wake.woken_at),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[wake, *prepared_over_ssh, *deployed]),
            )
        power = (
            PowerControl(f"{name}-power", power_args, opts=pulumi.ResourceOptions(parent=self))
            if power_args is not None
            else None
        )
        if power is not None:
            outputs |= power.outputs
            if not isinstance(server, Space):
                outputs["state"] = server.state

        if args.cloudflare is not None:
            from components.dns import WildcardDns, WildcardDnsArgs

            assert platform.dns.provider == "cloudflare"
            WildcardDns(
                f"{name}-dns",
                WildcardDnsArgs(zone_id=platform.dns.zone_id, host=self.host, address=self.address),
                opts=pulumi.ResourceOptions(parent=self, providers={"cloudflare": args.cloudflare}),
            )

        self.urls = naming.urls(self.host, role)
        outputs |= {"role": role, "host": self.host, "address": self.address, "urls": self.urls, **args.extra_outputs}
        self.outputs = outputs
        """What people need to reach the server; nothing secret."""
        self.credentials: pulumi.Output[dict[str, str]] = pulumi.Output.secret(credentials)
        """Secret credentials of the server (lab manager API key, on-prem access key)."""
        self.register_outputs({**outputs, "credentials": self.credentials})

    def _declare_retired(self, name: str, args: ServerHostArgs, tags: dict[str, str]) -> None:
        """A decommissioned hub or lab: its data volume and database passwords only, released but kept."""
        server = args.server
        assert not isinstance(server, Space)
        outputs: dict[str, pulumi.Input[object]] = {
            "role": naming.role_of(server),
            "host": self.host,
            "retired": True,
            **args.extra_outputs,
        }
        credentials: dict[str, Any] = {}
        if isinstance(server.placement, CloudPlacement):
            from components.cloud_server import CloudServer, CloudServerArgs

            if args.network is None:
                raise ValueError(f"{name}: a cloud server needs the network")
            machine = CloudServer(
                f"{name}-server",
                CloudServerArgs(
                    server_name=server.name,
                    placement=server.placement,
                    admin_cidrs=[],
                    ssh_public_keys=[],
                    tags=tags,
                    vpc_id=args.network.vpc_id,
                    subnet_id=args.network.subnet_id,
                    availability_zone=args.network.availability_zone,
                    instance_profile_name="",
                    retired=True,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            outputs["dataVolumeId"] = machine.data_volume_id
        if isinstance(server.configuration, StackConfiguration):
            from components.lab_configuration import RetiredLabConfiguration

            kept = RetiredLabConfiguration(f"{name}-configuration", opts=pulumi.ResourceOptions(parent=self))
            credentials["databasePasswords"] = kept.passwords
        self.address = pulumi.Output.from_input("")
        self.urls = {}
        self.outputs = outputs
        self.credentials = pulumi.Output.secret(credentials)
        self.register_outputs({**outputs, "credentials": self.credentials})


def docker_firewall(
    platform: PlatformConfig, server: Space | Hub | Lab, server_set: topology.ServerSet, *, cloud: bool
) -> host_firewall.DockerFirewall:
    """A server's limits on Docker's traffic: Codelab's published SSH for administrators (a lab host), and
    on a cloud server the instance role for the containers that use it only."""
    return host_firewall.DockerFirewall(
        admin_cidrs=tuple(platform.admin_cidrs),
        admin_ports=() if isinstance(server, Space) else (lab_host.CODELAB_SSH_PORT,),
        imds=host_firewall.imds_access(server_set) if cloud else None,
    )


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
