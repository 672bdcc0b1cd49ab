"""DataHub: the company's data lake, a backup bucket and an always-on Docker host."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from components.bucket import BACKUP_PREFIXES, SecureBucket, SecureBucketArgs, backup_bucket_args
from components.host import ServerHost, ServerHostArgs
from components.identity import BucketGrant
from components.network import Network
from constellab import iam, naming, topology
from constellab.config import Hub, PlatformConfig


@dataclass(frozen=True)
class DataHubArgs:
    """Arguments of `DataHub`."""

    stack: str
    platform: PlatformConfig
    hub: Hub
    values: Mapping[str, pulumi.Input[str]]
    """Configured secrets and the region, by `Ref` name."""
    network: Network | None = None
    cloudflare: pulumi.ProviderResource | None = None


class DataHub(pulumi.ComponentResource):
    """A data hub: reads and writes its data lake, reads its external sources, writes its backups."""

    data_lake: SecureBucket

    def __init__(self, name: str, args: DataHubArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("constellab:hub:DataHub", name, None, opts)
        hub = args.hub
        tags = naming.server_tags(args.stack, hub.name, "hub")
        self.data_lake = SecureBucket(
            f"{name}-data-lake",
            SecureBucketArgs(
                bucket_prefix=naming.bucket_prefix(args.platform.customer, hub.name, "data"),
                tags=tags,
                noncurrent_version_days=90,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        backups = SecureBucket(
            f"{name}-backups",
            backup_bucket_args(args.platform.customer, hub.name, hub.backup.daily_days, hub.backup.weekly_days, tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        grants = [BucketGrant(self.data_lake.arn, "", "readwrite", "data-lake")]
        grants += [
            BucketGrant(backups.arn, prefix, "write", f"backup-{prefix.rstrip('/')}") for prefix in BACKUP_PREFIXES
        ]
        grants += [
            BucketGrant(iam.bucket_arn_of(source.bucket), source.prefix, "read", f"source-{index}")
            for index, source in enumerate(hub.external_sources)
        ]
        values: dict[str, pulumi.Input[str]] = {
            **args.values,
            "backup-bucket": backups.name,
            "data-lake-bucket": self.data_lake.name,
            "data-lake-prefix": "",
        }
        self.host = ServerHost(
            f"{name}-host",
            ServerHostArgs(
                stack=args.stack,
                platform=args.platform,
                server=hub,
                specs=topology.containers_for(args.platform, hub),
                grants=grants,
                values=values,
                network=args.network,
                cloudflare=args.cloudflare,
                extra_outputs={"dataLakeBucket": self.data_lake.name, "backupBucket": backups.name},
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.outputs = self.host.outputs
        self.register_outputs({"host": self.host.host, "dataLakeBucket": self.data_lake.name})
