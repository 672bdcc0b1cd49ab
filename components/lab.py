"""DataLab: a lab's backup bucket and its Docker host; results go to a hub's data lake."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi

from components.host import ServerHost, ServerHostArgs
from components.identity import BucketGrant
from constellab import naming, topology
from constellab.config import Lab, PlatformConfig

if TYPE_CHECKING:
    from components.network import Network


@dataclass(frozen=True)
class HubLake:
    """Where a hub keeps its data: labs write their results under `labs/<lab>/`."""

    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]


@dataclass(frozen=True)
class DataLabArgs:
    """Arguments of `DataLab`."""

    stack: str
    platform: PlatformConfig
    lab: Lab
    values: Mapping[str, pulumi.Input[str]]
    """Configured secrets and the region, by `Ref` name."""
    hub_lake: HubLake | None = None
    network: Network | None = None
    cloudflare: pulumi.ProviderResource | None = None


def lab_results_prefix(lab_name: str) -> str:
    return f"labs/{lab_name}/"


class DataLab(pulumi.ComponentResource):
    """A data lab: may write its backups and its results in its hub, nothing else."""

    def __init__(self, name: str, args: DataLabArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("constellab:lab:DataLab", name, None, opts)
        lab = args.lab
        tags = naming.server_tags(args.stack, lab.name, "lab")
        values: dict[str, pulumi.Input[str]] = dict(args.values)
        grants: list[BucketGrant] = []
        extra: dict[str, pulumi.Input[str]] = {}
        if lab.placement.kind != "local":
            from components.bucket import BACKUP_PREFIXES, SecureBucket, backup_bucket_args

            backups = SecureBucket(
                f"{name}-backups",
                backup_bucket_args(
                    args.platform.customer, lab.name, lab.backup.daily_days, lab.backup.weekly_days, tags
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            values["backup-bucket"] = backups.name
            extra["backupBucket"] = backups.name
            grants += [
                BucketGrant(backups.arn, prefix, "write", f"backup-{prefix.rstrip('/')}") for prefix in BACKUP_PREFIXES
            ]
        if args.hub_lake is not None:
            prefix = lab_results_prefix(lab.name)
            values["data-lake-bucket"] = args.hub_lake.bucket_name
            values["data-lake-prefix"] = prefix
            extra["resultsLocation"] = pulumi.Output.concat("s3://", args.hub_lake.bucket_name, "/", prefix)
            grants.append(BucketGrant(args.hub_lake.bucket_arn, prefix, "write", "hub-results"))

        self.host = ServerHost(
            f"{name}-host",
            ServerHostArgs(
                stack=args.stack,
                platform=args.platform,
                server=lab,
                specs=topology.containers_for(args.platform, lab),
                grants=grants,
                values=values,
                network=args.network,
                cloudflare=args.cloudflare,
                extra_outputs=extra,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.outputs = self.host.outputs
        self.register_outputs({"host": self.host.host})
