"""CollaborativeSpace: the space's cloud host and its storage, a bucket of its own or a hub's lake."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.bucket import AccessLogTarget, SecureBucket, SecureBucketArgs
from components.host import ServerHost, ServerHostArgs
from components.identity import BucketGrant
from components.lab import HubLake
from components.network import Network
from components.values import StackSecrets
from constellab import naming
from constellab.config import PlatformConfig, Space
from constellab.values import Configured

HUB_STORAGE_PREFIX = "space/"


@dataclass(frozen=True)
class CollaborativeSpaceArgs:
    """Arguments of `CollaborativeSpace`."""

    stack: str
    platform: PlatformConfig
    space: Space
    secrets: StackSecrets
    network: Network
    region: str
    """The AWS region (the space is always in the cloud)."""
    hub_lake: HubLake | None = None
    """The hub whose data lake stores the space's documents, when `storage.kind` is `hub`."""
    cloudflare: pulumi.ProviderResource | None = None
    access_logs: AccessLogTarget | None = None
    """The stack's access-log bucket: the space's own bucket logs its requests to it."""


class CollaborativeSpace(pulumi.ComponentResource):
    """The collaborative space: uses its storage (read and write), nothing else."""

    def __init__(self, name: str, args: CollaborativeSpaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("constellab:space:CollaborativeSpace", name, None, opts)
        space = args.space
        tags = naming.server_tags(args.stack, space.name, "space")
        if args.hub_lake is not None:
            bucket_name, bucket_arn, prefix = args.hub_lake.bucket_name, args.hub_lake.bucket_arn, HUB_STORAGE_PREFIX
        else:
            storage = SecureBucket(
                f"{name}-storage",
                SecureBucketArgs(
                    bucket_prefix=naming.bucket_prefix(args.platform.customer, space.name, "storage"),
                    tags=tags,
                    noncurrent_version_days=90,
                    access_logs=args.access_logs,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            bucket_name, bucket_arn, prefix = storage.name, storage.arn, ""
        self.host = ServerHost(
            f"{name}-host",
            ServerHostArgs(
                stack=args.stack,
                platform=args.platform,
                server=space,
                grants=[BucketGrant(bucket_arn, prefix, "readwrite", "space-storage")],
                secrets=args.secrets,
                extra_values={Configured.SPACE_BUCKET: bucket_name, Configured.SPACE_PREFIX: prefix},
                network=args.network,
                region=args.region,
                cloudflare=args.cloudflare,
                extra_outputs={"storage": pulumi.Output.concat("s3://", bucket_name, "/", prefix)},
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.outputs = self.host.outputs
        self.register_outputs({"host": self.host.host})
