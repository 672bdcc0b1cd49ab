"""ServerHost: one Docker host (cloud, on-prem or local) with its identity, containers, DNS and, for a lab
the stack configures, the lab's configuration handed to its lab manager."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_docker as docker

from components.containers import ContainerSet, ContainerSetArgs
from components.identity import BucketGrant
from components.lab_configuration import LabConfiguration, LabConfigurationArgs
from components.placement import PlacedHost, PlacementContext, placement_for
from components.values import ServerValues, StackSecrets
from constellab import lab_host, naming, topology
from constellab.config import (
    Hub,
    Lab,
    ManualCertificates,
    PlatformConfig,
    Space,
    StackConfiguration,
)
from constellab.values import Configured

if TYPE_CHECKING:
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
    """A server, wired: placed where its stack file says (`components.placement`), then its Docker provider,
    containers, the lab's configuration when the stack gives it, and its DNS records."""

    address: pulumi.Output[str]
    host: str
    urls: dict[str, str]

    def __init__(self, name: str, args: ServerHostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("constellab:host:ServerHost", name, None, opts)
        server = args.server
        platform = args.platform
        role = naming.role_of(server)
        tags = naming.server_tags(args.stack, server.name, role, retired=getattr(server, "retired", False))
        self.host = naming.server_host(server.name, platform.base_domain)
        certificate_mode = platform.certificate_mode(server)
        extra = dict(args.extra_values)
        if isinstance(server.certificates, ManualCertificates) and certificate_mode == "manual":
            extra[Configured.TLS_CERTIFICATE] = server.certificates.certificate_chain
        context = PlacementContext(
            name=name,
            parent=self,
            platform=platform,
            server=server,
            role=role,
            tags=tags,
            grants=args.grants,
            server_set=topology.server_set(platform, server),
            values=ServerValues.of(args.secrets, server.name, args.region, extra),
            network=args.network,
            region=args.region,
        )
        placement = placement_for(server.placement.kind)
        if not isinstance(server, Space) and server.retired:
            self._declare_retired(name, args, placement.retire(context))
            return

        placed = placement.place(context)
        self.address = placed.address
        credentials: dict[str, Any] = {**args.extra_credentials, **placed.credentials}
        provider = docker.Provider(
            f"{name}-docker",
            host=placed.docker_host,
            ssh_opts=placed.docker_ssh_options,
            disable_docker_daemon_check=None if placed.docker_daemon_check else True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        containers = ContainerSet(
            f"{name}-containers",
            ContainerSetArgs(server_set=context.server_set, values=context.values),
            opts=pulumi.ResourceOptions(parent=self, providers={"docker": provider}),
        )
        deployed: list[pulumi.Resource] = [containers]
        if not isinstance(server, Space) and isinstance(server.configuration, StackConfiguration):
            configured, api_key = self._configure(name, context, server, placed, containers, certificate_mode)
            deployed.append(configured)
            if api_key is not None:
                credentials["labManagerApiKey"] = api_key
        outputs: dict[str, pulumi.Input[object]] = {**placed.outputs, **placed.finish(deployed)}

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

    def _configure(
        self,
        name: str,
        context: PlacementContext,
        server: Hub | Lab,
        placed: PlacedHost,
        containers: ContainerSet,
        certificate_mode: str,
    ) -> tuple[LabConfiguration, pulumi.Input[str] | None]:
        """The lab's configuration handed to its lab manager; the lab manager's key when generated here."""
        assert isinstance(server.configuration, StackConfiguration)
        values = context.values
        generated = containers.passwords.get(Configured.LAB_MANAGER_API_KEY)  # a local lab's, generated here
        api_key: pulumi.Input[str] = (
            generated.result if generated is not None else values[Configured.LAB_MANAGER_API_KEY]
        )
        configured = LabConfiguration(
            f"{name}-configuration",
            LabConfigurationArgs(
                server_name=server.name,
                host=self.host,
                configuration=server.configuration,
                endpoints=context.platform.endpoints,
                access=placed.lab_manager_access,
                api_key=api_key,
                space_api_key=values[Configured.SPACE_API_KEY],
                community_api_key=values[Configured.COMMUNITY_API_KEY],
                codelab_token=values[Configured.CODELAB_TOKEN],
                openai_api_key=values.get(Configured.OPENAI_API_KEY),
                verify="pem" if certificate_mode == "manual" else "none" if certificate_mode == "default" else "system",
                trusted_chain=server.certificates.certificate_chain
                if isinstance(server.certificates, ManualCertificates)
                else None,
                lab_manager=containers.containers[lab_host.LAB_MANAGER].id,
                after=[containers, *placed.deploy_after],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return configured, generated.result if generated is not None else None

    def _declare_retired(self, name: str, args: ServerHostArgs, kept: Mapping[str, pulumi.Input[object]]) -> None:
        """A decommissioned hub or lab: its data volume and database passwords only, released but kept."""
        server = args.server
        assert not isinstance(server, Space)
        outputs: dict[str, pulumi.Input[object]] = {
            "role": naming.role_of(server),
            "host": self.host,
            "retired": True,
            **args.extra_outputs,
            **kept,
        }
        credentials: dict[str, Any] = {}
        if isinstance(server.configuration, StackConfiguration):
            from components.lab_configuration import RetiredLabConfiguration

            retired = RetiredLabConfiguration(f"{name}-configuration", opts=pulumi.ResourceOptions(parent=self))
            credentials["databasePasswords"] = retired.passwords
        self.address = pulumi.Output.from_input("")
        self.urls = {}
        self.outputs = outputs
        self.credentials = pulumi.Output.secret(credentials)
        self.register_outputs({**outputs, "credentials": self.credentials})
