"""DataHub: the company's data lake, its backups and an always-on lab host."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.bucket import SecureBucket, SecureBucketArgs
from components.identity import BucketGrant
from components.lab_host_parts import LabHostArgs, declare_backups, lab_host
from constellab import naming
from constellab.aws import iam
from constellab.config import Hub


@dataclass(frozen=True, kw_only=True)
class DataHubArgs(LabHostArgs):
    """Arguments of `DataHub`."""

    hub: Hub


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
                access_logs=args.access_logs,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        grants = [BucketGrant(self.data_lake.arn, "", "readwrite", "data-lake")]
        grants += [
            BucketGrant(iam.bucket_arn_of(source.bucket), source.prefix, "read", f"source-{index}")
            for index, source in enumerate(hub.external_sources)
        ]
        extras = declare_backups(name, args, hub, tags, parent=self)
        extras.outputs["dataLakeBucket"] = self.data_lake.name
        self.host = lab_host(name, args, hub, grants, extras, parent=self)
        self.outputs = self.host.outputs
        self.register_outputs({"host": self.host.host, "dataLakeBucket": self.data_lake.name})
