"""LabBackups: a hub's or lab's backup bucket, and what the Space needs to register it as a backup target."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.bucket import BACKUP_PREFIXES, SecureBucket, backup_bucket_args
from components.identity import BucketGrant, ServerIdentity, ServerIdentityArgs
from constellab import iam
from constellab.config import BackupRetention

FREQUENCIES = {"daily/": "DAILY", "weekly/": "WEEKLY"}
"""The lab manager's backup frequencies, by the prefix of the bucket that keeps them."""


@dataclass(frozen=True)
class LabBackupsArgs:
    """Arguments of `LabBackups`."""

    customer: str
    server_name: str
    region: str
    retention: BackupRetention
    tags: dict[str, str]


def backup_target(bucket: str, region: str, retention: BackupRetention) -> dict[str, object]:
    """What the Space registers for the lab manager's backups (its `BucketConfig`: endpoint, region,
    bucket, and per frequency the prefix); the credentials are a separate, secret output."""
    days = {"daily/": retention.daily_days, "weekly/": retention.weekly_days}
    return {
        "endpoint": iam.s3_endpoint(region),
        "region": region,
        "bucket": bucket,
        "targets": [
            {"frequency": FREQUENCIES[prefix], "prefix": prefix, "retentionDays": days[prefix]}
            for prefix in BACKUP_PREFIXES
        ],
    }


class LabBackups(pulumi.ComponentResource):
    """The backup bucket (`daily/` and `weekly/`, each with its retention) and an access key that may only
    sync those prefixes: the lab manager backs up with `rclone sync` and the keys the Space hands it.

    `target` is the bucket's description; `credentials` (secret) is the access key.
    """

    def __init__(self, name: str, args: LabBackupsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("constellab:backups:LabBackups", name, None, opts)
        # The bucket was the hub's or lab's own child, named like this component: the alias keeps it (and
        # its data) in place rather than replacing a protected bucket.
        previous = pulumi.Alias(name=name, parent=opts.parent if opts is not None else None)
        self.bucket = SecureBucket(
            f"{name}-bucket",
            backup_bucket_args(
                args.customer, args.server_name, args.retention.daily_days, args.retention.weekly_days, args.tags
            ),
            opts=pulumi.ResourceOptions(parent=self, aliases=[previous]),
        )
        identity = ServerIdentity(
            f"{name}-identity",
            ServerIdentityArgs(
                kind="access-key",
                grants=[
                    BucketGrant(self.bucket.arn, prefix, "sync", f"backup-{prefix.rstrip('/')}")
                    for prefix in BACKUP_PREFIXES
                ],
                tags=args.tags,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        assert identity.access_key_id is not None and identity.secret_access_key is not None
        self.target: pulumi.Output[dict[str, object]] = self.bucket.name.apply(
            lambda bucket: backup_target(bucket, args.region, args.retention)
        )
        self.credentials = pulumi.Output.secret(
            {"accessKeyId": identity.access_key_id, "secretAccessKey": identity.secret_access_key}
        )
        self.register_outputs({"target": self.target, "credentials": self.credentials})
