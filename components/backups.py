"""LabBackups: a hub's or lab's backup buckets, and what the Space needs to register them as backup targets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi

from components.bucket import AccessLogTarget, SecureBucket, SecureBucketArgs
from components.identity import BucketGrant, ServerIdentity, ServerIdentityArgs
from constellab import naming
from constellab.aws import iam
from constellab.config import BackupRetention

Frequency = Literal["DAILY", "WEEKLY"]
FREQUENCIES: tuple[Frequency, ...] = ("DAILY", "WEEKLY")


@dataclass(frozen=True)
class LabBackupsArgs:
    """Arguments of `LabBackups`."""

    customer: str
    server_name: str
    region: str
    retention: BackupRetention
    tags: dict[str, str]
    retired: bool = False
    """The server is decommissioned: its buckets are kept (unprotected), its backup key removed."""
    access_logs: AccessLogTarget | None = None
    """The stack's access-log bucket, where both buckets log their requests (a retired server's too: its data
    is still there)."""


def retention_days(retention: BackupRetention, frequency: Frequency) -> int:
    return retention.daily_days if frequency == "DAILY" else retention.weekly_days


def backup_target(buckets: dict[Frequency, str], region: str, retention: BackupRetention) -> dict[str, object]:
    """What the Space registers for the lab manager's backups: per frequency, a bucket (the lab manager's
    `BucketConfig`: endpoint, region, bucket); the credentials are a separate, secret output."""
    return {
        "endpoint": iam.s3_endpoint(region),
        "region": region,
        "targets": [
            {
                "frequency": frequency,
                "bucket": buckets[frequency],
                "retentionDays": retention_days(retention, frequency),
            }
            for frequency in FREQUENCIES
        ],
    }


class LabBackups(pulumi.ComponentResource):
    """One bucket per backup frequency and an access key that may only sync them.

    The lab manager backs up with `rclone sync` into `<s3Prefix>/data` and `<s3Prefix>/db` of each
    target bucket (its `backup.service.ts`): a mirror, where every run overwrites and deletes. So a
    bucket's history is its object versions, and the retention is how long a previous version is kept
    (`dailyDays`, `weeklyDays`); current objects never expire, or a file unchanged for longer than the
    retention would vanish from the backup. Both frequencies in one bucket would mirror to the same keys.
    """

    def __init__(self, name: str, args: LabBackupsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("constellab:backups:LabBackups", name, None, opts)
        self.buckets: dict[Frequency, SecureBucket] = {}
        for frequency in FREQUENCIES:
            label = frequency.lower()
            # The daily bucket takes over the single backup bucket earlier versions declared (the hub's or
            # lab's own child, named like this component), with its data, instead of replacing it.
            aliases = [pulumi.Alias(name=name, parent=opts.parent if opts is not None else None)]
            self.buckets[frequency] = SecureBucket(
                f"{name}-{label}",
                SecureBucketArgs(
                    bucket_prefix=naming.bucket_prefix(args.customer, args.server_name, f"backup-{label}"),
                    tags=args.tags,
                    noncurrent_version_days=retention_days(args.retention, frequency),
                    retired=args.retired,
                    access_logs=args.access_logs,
                ),
                opts=pulumi.ResourceOptions(parent=self, aliases=aliases if frequency == "DAILY" else None),
            )
        self.target: pulumi.Output[dict[str, object]]
        self.credentials: pulumi.Output[dict[str, str]]
        if args.retired:
            # Nothing backs up any more: the key goes, the buckets and their versions stay.
            self.target = pulumi.Output.from_input({})
            self.credentials = pulumi.Output.secret({})
            self.register_outputs({})
            return
        identity = ServerIdentity(
            f"{name}-identity",
            ServerIdentityArgs(
                kind="access-key",
                # The Space chooses the prefix (its s3Prefix): the key reaches these two buckets, nothing else.
                grants=[
                    BucketGrant(bucket.arn, "", "sync", f"backup-{frequency.lower()}")
                    for frequency, bucket in self.buckets.items()
                ],
                tags=args.tags,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        assert identity.access_key_id is not None and identity.secret_access_key is not None
        names = [self.buckets[frequency].name for frequency in FREQUENCIES]
        self.target = pulumi.Output.all(*names).apply(
            lambda found: backup_target(dict(zip(FREQUENCIES, found, strict=True)), args.region, args.retention)
        )
        self.credentials = pulumi.Output.secret(
            pulumi.Output.all(accessKeyId=identity.access_key_id, secretAccessKey=identity.secret_access_key)
        )
        self.register_outputs({"target": self.target, "credentials": self.credentials})
