"""ServerHost: one Docker host (cloud, on-prem or local) with its identity, containers and DNS."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.containers import ContainerSet, ContainerSetArgs
from components.identity import BucketGrant, ServerIdentity, ServerIdentityArgs
from components.power import PowerControl, PowerControlArgs
from constellab import iam, naming, topology, traefik
from constellab.config import (
    CloudPlacement,
    LocalPlacement,
    ManualCertificates,
    OnPremPlacement,
    PlatformConfig,
    Space,
)

if TYPE_CHECKING:
    from components.network import Network

SSH_OPTIONS = ["-o", "StrictHostKeyChecking=accept-new", "-o", "ServerAliveInterval=30"]
# A replaced instance keeps its Elastic IP but not its host keys: a remembered key would block Docker.
CLOUD_SSH_OPTIONS = [
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "ServerAliveInterval=30",
]


@dataclass(frozen=True)
class ServerHostArgs:
    """Arguments of `ServerHost`."""

    stack: str
    platform: PlatformConfig
    server: naming.Server
    specs: list[topology.ContainerSpec]
    grants: list[BucketGrant]
    values: Mapping[str, pulumi.Input[str]]
    """Values for the specs' `Ref`s: configured secrets, bucket names, region."""
    network: Network | None = None
    """The VPC and subnet; required for cloud servers."""
    cloudflare: pulumi.ProviderResource | None = None
    """The Cloudflare provider; records are created only when it is given."""
    extra_outputs: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


class ServerHost(pulumi.ComponentResource):
    """The machine, the identity that reaches its buckets, its Docker provider, containers and DNS."""

    address: pulumi.Output[str]
    host: str

    def __init__(self, name: str, args: ServerHostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("constellab:host:ServerHost", name, None, opts)
        server = args.server
        platform = args.platform
        placement = server.placement
        role = naming.role_of(server)
        tags = naming.server_tags(args.stack, server.name, role)
        self.host = naming.server_host(server.name, platform.base_domain)
        values: dict[str, pulumi.Input[str]] = dict(args.values)
        outputs: dict[str, pulumi.Input[object]] = {}
        credentials: dict[str, Any] = {}

        power_args: PowerControlArgs | None = None
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
                    manager_subnet=topology.MANAGER_SUBNET,
                    tags=tags,
                    vpc_id=args.network.vpc_id,
                    subnet_id=args.network.subnet_id,
                    availability_zone=args.network.availability_zone,
                    instance_profile_name=identity.instance_profile_name,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.address = machine.public_ip
            docker_host: pulumi.Input[str] = machine.docker_host
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
            values["aws-credentials-file"] = pulumi.Output.secret(
                pulumi.Output.all(identity.access_key_id, identity.secret_access_key).apply(
                    lambda key: iam.shared_credentials_file(str(key[0]), str(key[1]))
                )
            )
            credentials["awsAccessKeyId"] = identity.access_key_id
            credentials["awsSecretAccessKey"] = identity.secret_access_key
            self.address = pulumi.Output.from_input(placement.public_address)
            docker_host = f"ssh://{placement.ssh_user}@{placement.ssh_host}:{placement.ssh_port}"
        else:
            assert isinstance(placement, LocalPlacement)
            self.address = pulumi.Output.from_input("127.0.0.1")
            docker_host = placement.docker_host

        if platform.certificate_mode(server) == "manual":
            assert isinstance(server.certificates, ManualCertificates)
            values["tls-certificate"] = server.certificates.certificate_chain
            values["tls-private-key"] = values[f"tls-private-key:{server.name}"]
        if not isinstance(server, Space) and server.dev_environment:
            values["codelab-htpasswd"] = self._codelab_htpasswd(name, values["codelab-password"])

        provider = docker.Provider(
            f"{name}-docker",
            host=docker_host,
            ssh_opts=(
                CLOUD_SSH_OPTIONS
                if isinstance(placement, CloudPlacement)
                else SSH_OPTIONS
                if isinstance(placement, OnPremPlacement)
                else None
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        containers = ContainerSet(
            f"{name}-containers",
            ContainerSetArgs(
                specs=args.specs,
                values=values,
                manager_subnet=topology.MANAGER_SUBNET if isinstance(placement, CloudPlacement) else None,
            ),
            opts=pulumi.ResourceOptions(parent=self, providers={"docker": provider}),
        )

        if power_args is not None:
            power = PowerControl(
                f"{name}-power",
                dataclasses.replace(power_args, after=[containers]),
                opts=pulumi.ResourceOptions(parent=self),
            )
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

        self.urls = naming.urls(self.host, role, not isinstance(server, Space) and server.dev_environment)
        if "lab-manager-api-key" in containers.passwords:
            credentials["labManagerApiKey"] = containers.passwords["lab-manager-api-key"].result
        outputs |= {"role": role, "host": self.host, "address": self.address, "urls": self.urls, **args.extra_outputs}
        self.outputs = outputs
        """What people need to reach the server; nothing secret."""
        self.credentials: pulumi.Output[dict[str, str]] = pulumi.Output.secret(credentials)
        """Secret credentials of the server (lab manager API key, on-prem access key)."""
        self.register_outputs({**outputs, "credentials": self.credentials})

    def _codelab_htpasswd(self, name: str, password: pulumi.Input[str]) -> pulumi.Output[str]:
        """Codelab's htpasswd line: bcrypt with a salt kept in state, so it changes only with the password."""
        salt = random.RandomPassword(
            f"{name}-codelab-htpasswd-salt",
            length=22,
            special=True,
            override_special="./",
            opts=pulumi.ResourceOptions(parent=self),
        )
        line = pulumi.Output.all(password, salt.result).apply(
            lambda found: traefik.htpasswd(traefik.CODELAB_USER, str(found[0]), traefik.bcrypt_salt(str(found[1])))
        )
        return pulumi.Output.secret(line)
