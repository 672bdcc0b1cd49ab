"""DataLab: a lab's backups and its lab host; results go to a hub's data lake."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi

from components.identity import BucketGrant
from components.lab_host_parts import LabHostArgs, declare_backups, lab_host
from constellab import naming
from constellab.config import Lab

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class HubLake:
    """Where a hub keeps its data: labs write their results under `labs/<lab>/`."""

    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]


@dataclass(frozen=True, kw_only=True)
class DataLabArgs(LabHostArgs):
    """Arguments of `DataLab`."""

    lab: Lab
    hub_lake: HubLake | None = None


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
        extras = declare_backups(name, args, lab, tags, parent=self)
        if args.hub_lake is not None:
            prefix = lab_results_prefix(lab.name)
            extras.outputs["resultsLocation"] = pulumi.Output.concat("s3://", args.hub_lake.bucket_name, "/", prefix)
            grants.append(BucketGrant(args.hub_lake.bucket_arn, prefix, "write", "hub-results"))

        self.host = lab_host(name, args, lab, grants, extras, parent=self)
        self.outputs = self.host.outputs
        self.register_outputs({"host": self.host.host})
