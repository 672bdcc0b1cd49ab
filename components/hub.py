"""DataHub: the company's data lake, its backups and an always-on lab host."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.bucket import SecureBucket, SecureBucketArgs
from components.host import ServerHost, ServerHostArgs
from components.identity import BucketGrant
from components.network import Network
from components.values import StackSecrets
from constellab import naming
from constellab.aws import iam
from constellab.config import Hub, PlatformConfig


@dataclass(frozen=True)
class DataHubArgs:
    """Arguments of `DataHub`."""

    stack: str
    platform: PlatformConfig
    hub: Hub
    secrets: StackSecrets
    region: str | None = None
    """The AWS region of the buckets."""
    network: Network | None = None
    cloudflare: pulumi.ProviderResource | None = None


class DataHub(pulumi.ComponentResource):
    """A data hub: reads and writes its data lake and reads its external sources; its lab manager backs
    it up with the backup target's own key."""

    data_lake: SecureBucket

    def __init__(self, name: str, args: DataHubArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("constellab:hub:DataHub", name, None, opts)
        hub = args.hub
        tags = naming.server_tags(args.stack, hub.name, "hub", retired=hub.retired)
        self.data_lake = SecureBucket(
            f"{name}-data-lake",
            SecureBucketArgs(
                bucket_prefix=naming.bucket_prefix(args.platform.customer, hub.name, "data"),
                tags=tags,
                noncurrent_version_days=90,
                retired=hub.retired,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        grants = [BucketGrant(self.data_lake.arn, "", "readwrite", "data-lake")]
        grants += [
            BucketGrant(iam.bucket_arn_of(source.bucket), source.prefix, "read", f"source-{index}")
            for index, source in enumerate(hub.external_sources)
        ]
        extra: dict[str, pulumi.Input[object]] = {"dataLakeBucket": self.data_lake.name}
        credentials: dict[str, pulumi.Input[object]] = {}
        if hub.placement.kind != "local":
            from components.backups import LabBackups, LabBackupsArgs

            assert args.region is not None, "validated: servers with AWS buckets have a region"
            backups = LabBackups(
                f"{name}-backups",
                LabBackupsArgs(args.platform.customer, hub.name, args.region, hub.backup, tags, retired=hub.retired),
                opts=pulumi.ResourceOptions(parent=self),
            )
            extra |= {
                "backupBuckets": {frequency: bucket.name for frequency, bucket in backups.buckets.items()},
                "backupTarget": backups.target,
            }
            credentials["backup"] = backups.credentials
        self.host = ServerHost(
            f"{name}-host",
            ServerHostArgs(
                stack=args.stack,
                platform=args.platform,
                server=hub,
                grants=grants,
                secrets=args.secrets,
                network=args.network,
                region=args.region,
                cloudflare=args.cloudflare,
                extra_outputs=extra,
                extra_credentials=credentials,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.outputs = self.host.outputs
        self.register_outputs({"host": self.host.host, "dataLakeBucket": self.data_lake.name})
