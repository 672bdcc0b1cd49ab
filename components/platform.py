"""Platform: a customer's whole Constellab platform, composed from its validated stack settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi

from components.lab import DataLab, DataLabArgs, HubLake
from components.values import StackSecrets
from constellab import naming
from constellab.config import CloudPlacement, HubStorage, PlatformConfig
from constellab.settings import StackSettings
from constellab.values import Configured

if TYPE_CHECKING:
    from components.access_logs import AccessLogs


@dataclass(frozen=True)
class PlatformArgs:
    """Arguments of `Platform`."""

    stack: str
    settings: StackSettings
    secrets: StackSecrets
    """The stack's configured secrets."""


def dns_records(platform: PlatformConfig, addresses: Mapping[str, str]) -> list[dict[str, str]]:
    """The records a customer creates by hand when DNS is customer-managed: `<H>` and `*.<H>` per server."""
    records = []
    for _, server in platform.servers():
        if getattr(server, "retired", False):
            continue  # decommissioned: nothing answers at its address any more
        host = naming.server_host(server.name, platform.base_domain)
        records += [{"name": name, "type": "A", "content": addresses[server.name]} for name in (host, f"*.{host}")]
    return records


def declares_buckets(platform: PlatformConfig) -> bool:
    """Whether the stack declares a bucket, so needs an access-log bucket: every hub has a data lake, every hub
    and lab but a local one has backup buckets, and the space is in the cloud. A stack of local labs has none."""
    return bool(platform.hubs) or platform.uses_aws


class Platform(pulumi.ComponentResource):
    """The network, hubs, labs and space of one customer, the Cloudflare provider for their DNS, and the access-log
    bucket their buckets log to (none in a stack without buckets)."""

    servers: dict[str, Mapping[str, Any]]

    def __init__(self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("constellab:platform:Platform", name, None, opts)
        config = args.settings.platform
        network = None
        if any(isinstance(server.placement, CloudPlacement) for _, server in config.servers()):
            from components.network import Network, NetworkArgs

            network = Network(
                f"{name}-network",
                NetworkArgs(config=config.network, tags={naming.TAG_STACK: args.stack}),
                opts=pulumi.ResourceOptions(parent=self),
            )

        access_logs: AccessLogs | None = None
        if declares_buckets(config):
            from components.access_logs import AccessLogs, AccessLogsArgs

            access_logs = AccessLogs(
                f"{name}-access-logs",
                AccessLogsArgs(stack=args.stack, customer=config.customer),
                opts=pulumi.ResourceOptions(parent=self),
            )

        cloudflare = None
        if config.dns.provider == "cloudflare":
            import pulumi_cloudflare

            cloudflare = pulumi_cloudflare.Provider(
                f"{name}-cloudflare",
                api_token=args.secrets.shared[Configured.CLOUDFLARE_TOKEN],
                opts=pulumi.ResourceOptions(parent=self),
            )

        hosts = {}
        lakes: dict[str, HubLake] = {}
        for hub in config.hubs:
            from components.hub import DataHub, DataHubArgs

            data_hub = DataHub(
                f"{name}-{hub.name}",
                DataHubArgs(
                    stack=args.stack,
                    platform=config,
                    hub=hub,
                    secrets=args.secrets,
                    region=args.settings.aws_region,
                    network=network,
                    cloudflare=cloudflare,
                    access_logs=access_logs,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            lakes[hub.name] = HubLake(bucket_name=data_hub.data_lake.name, bucket_arn=data_hub.data_lake.arn)
            hosts[hub.name] = data_hub.host
        for lab in config.labs:
            data_lab = DataLab(
                f"{name}-{lab.name}",
                DataLabArgs(
                    stack=args.stack,
                    platform=config,
                    lab=lab,
                    secrets=args.secrets,
                    region=args.settings.aws_region,
                    hub_lake=lakes[lab.hub] if lab.hub else None,
                    network=network,
                    cloudflare=cloudflare,
                    access_logs=access_logs,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            hosts[lab.name] = data_lab.host
        if config.space is not None:
            assert network is not None and args.settings.aws_region, "validated: the space is in the cloud"
            from components.space import CollaborativeSpace, CollaborativeSpaceArgs

            storage = config.space.storage
            space = CollaborativeSpace(
                f"{name}-{config.space.name}",
                CollaborativeSpaceArgs(
                    stack=args.stack,
                    platform=config,
                    space=config.space,
                    secrets=args.secrets,
                    network=network,
                    region=args.settings.aws_region,
                    hub_lake=lakes[storage.hub] if isinstance(storage, HubStorage) else None,
                    cloudflare=cloudflare,
                    access_logs=access_logs,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            hosts[config.space.name] = space.host
        if access_logs is not None:
            access_logs.seal()  # every bucket is declared: the access-log bucket's policy names them

        self.servers = {server_name: host.outputs for server_name, host in hosts.items()}
        self.credentials = pulumi.Output.secret({server_name: host.credentials for server_name, host in hosts.items()})
        self.dns_records: pulumi.Output[list[dict[str, str]]] | None = None
        if config.dns.provider == "none" and not all(s.placement.kind == "local" for _, s in config.servers()):
            names = list(hosts)
            self.dns_records = pulumi.Output.all(*[hosts[n].address for n in names]).apply(
                lambda addresses: dns_records(config, dict(zip(names, addresses, strict=True)))
            )
        self.register_outputs(
            {"servers": self.servers, "credentials": self.credentials, "dnsRecords": self.dns_records}
        )
