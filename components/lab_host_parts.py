"""What a hub and a lab both declare around their lab host: its backups (unless on this machine), and the
`ServerHost` itself with the arguments they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pulumi

from components.host import ServerHost, ServerHostArgs
from components.identity import BucketGrant
from components.values import StackSecrets
from constellab.config import Hub, Lab, PlatformConfig

if TYPE_CHECKING:
    from components.bucket import AccessLogTarget
    from components.network import Network


@dataclass(frozen=True, kw_only=True)
class LabHostArgs:
    """What `DataHub` and `DataLab` are given besides their server."""

    stack: str
    platform: PlatformConfig
    secrets: StackSecrets
    region: str | None = None
    """The AWS region of the buckets."""
    network: Network | None = None
    cloudflare: pulumi.ProviderResource | None = None
    access_logs: AccessLogTarget | None = None
    """The stack's access-log bucket: the server's buckets log their requests to it."""


@dataclass
class LabHostExtras:
    """Outputs and secret outputs a hub or lab adds to its server's."""

    outputs: dict[str, pulumi.Input[object]] = field(default_factory=dict)
    credentials: dict[str, pulumi.Input[object]] = field(default_factory=dict)


def declare_backups(
    name: str, args: LabHostArgs, server: Hub | Lab, tags: dict[str, str], parent: pulumi.Resource
) -> LabHostExtras:
    """The server's backup buckets and their key, which the Space registers (none on this machine)."""
    extras = LabHostExtras()
    if server.placement.kind == "local":
        return extras
    from components.backups import LabBackups, LabBackupsArgs

    assert args.region is not None, "validated: servers with AWS buckets have a region"
    backups = LabBackups(
        f"{name}-backups",
        LabBackupsArgs(
            args.platform.customer,
            server.name,
            args.region,
            server.backup,
            tags,
            retired=server.retired,
            access_logs=args.access_logs,
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    extras.outputs |= {
        "backupBuckets": {frequency: bucket.name for frequency, bucket in backups.buckets.items()},
        "backupTarget": backups.target,
    }
    extras.credentials["backup"] = backups.credentials
    return extras


def lab_host(
    name: str,
    args: LabHostArgs,
    server: Hub | Lab,
    grants: list[BucketGrant],
    extras: LabHostExtras,
    parent: pulumi.Resource,
) -> ServerHost:
    """The server's `ServerHost` (`<name>-host`)."""
    return ServerHost(
        f"{name}-host",
        ServerHostArgs(
            stack=args.stack,
            platform=args.platform,
            server=server,
            grants=grants,
            secrets=args.secrets,
            network=args.network,
            region=args.region,
            cloudflare=args.cloudflare,
            extra_outputs=extras.outputs,
            extra_credentials=extras.credentials,
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
