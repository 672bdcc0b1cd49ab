"""DataLab: a lab's backups and its lab host; results go to a hub's data lake."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi

from components.host import ServerHost, ServerHostArgs
from components.identity import BucketGrant
from components.values import StackSecrets
from constellab import naming
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
    secrets: StackSecrets
    region: str | None = None
    """The AWS region of the buckets."""
    hub_lake: HubLake | None = None
    network: Network | None = None
    cloudflare: pulumi.ProviderResource | None = None


def lab_results_prefix(lab_name: str) -> str:
    return f"labs/{lab_name}/"


class DataLab(pulumi.ComponentResource):
    """A data lab: may write its results in its hub, nothing else; its lab manager backs it up with the
    backup target's own key."""

    def __init__(self, name: str, args: DataLabArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("constellab:lab:DataLab", name, None, opts)
        lab = args.lab
        tags = naming.server_tags(args.stack, lab.name, "lab", retired=lab.retired)
        grants: list[BucketGrant] = []
        extra: dict[str, pulumi.Input[object]] = {}
        credentials: dict[str, pulumi.Input[object]] = {}
        if lab.placement.kind != "local":
            from components.backups import LabBackups, LabBackupsArgs

            assert args.region is not None, "validated: servers with AWS buckets have a region"
            backups = LabBackups(
                f"{name}-backups",
                LabBackupsArgs(args.platform.customer, lab.name, args.region, lab.backup, tags, retired=lab.retired),
                opts=pulumi.ResourceOptions(parent=self),
            )
            extra |= {
                "backupBuckets": {frequency: bucket.name for frequency, bucket in backups.buckets.items()},
                "backupTarget": backups.target,
            }
            credentials["backup"] = backups.credentials
        if args.hub_lake is not None:
            prefix = lab_results_prefix(lab.name)
            extra["resultsLocation"] = pulumi.Output.concat("s3://", args.hub_lake.bucket_name, "/", prefix)
            grants.append(BucketGrant(args.hub_lake.bucket_arn, prefix, "write", "hub-results"))

        self.host = ServerHost(
            f"{name}-host",
            ServerHostArgs(
                stack=args.stack,
                platform=args.platform,
                server=lab,
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
        self.register_outputs({"host": self.host.host})
