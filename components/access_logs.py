"""AccessLogs: the stack's access-log bucket, where S3 delivers the server access logs of every other bucket."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.bucket import SecureBucket, SecureBucketArgs
from constellab import naming
from constellab.aws import iam

RETENTION_DAYS = 365
"""How long an access log stays: a year, the audit-log history PCI DSS v4.0 asks for (requirement 10.5.1: at
least twelve months) and what one looks back over after a finding. A constant: no stack file sets it yet."""
DELETED_LOG_DAYS = 30
"""How long an expired or deleted log's last version is kept before it goes for good: a month to notice a log
deleted by hand (or by someone covering their tracks) and restore it."""


@dataclass(frozen=True)
class AccessLogsArgs:
    """Arguments of `AccessLogs`."""

    stack: str
    customer: str
    retention_days: int = RETENTION_DAYS
    deleted_log_days: int = DELETED_LOG_DAYS


class AccessLogs(pulumi.ComponentResource):
    """One access-log bucket per stack: a `SecureBucket` (private, ACLs off, versioned, SSE-S3, TLS only,
    protected and retained) whose logs expire after `retention_days`, and whose policy lets S3 deliver the logs
    of the buckets that name it (`SecureBucketArgs.access_logs`), each under `<source bucket name>/`.

    S3 delivers server access logs only to a bucket of the same account and region as the source ("Logging
    requests with server access logging", https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerLogs.html):
    this bucket and the stack's other buckets are made by the same (default) provider, so they are. Its own
    requests are not logged: a target bucket should not log (AWS, same page), and logging it to itself would log
    every delivery again, without end.

    The policy names the source buckets, so it is declared once all of them exist: call `seal` after the last
    one (`Platform` does); a bucket added after `seal` is refused. S3 checks the target's policy when logging is
    turned on (PutBucketLogging fails with InvalidTargetBucketForLogging until it lets the delivery in; moto
    checks it the same way), so `seal` also declares each source's logging, depending on the policy: `pulumi up`
    creates the policy first. A program that fails before `seal` declares neither, and ends with its own error.
    """

    def __init__(self, name: str, args: AccessLogsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("constellab:access_logs:AccessLogs", name, None, opts)
        self._name = name
        self._sources: list[tuple[aws.s3.Bucket, str, pulumi.ResourceOptions]] = []
        self._sealed = False
        self.target = SecureBucket(
            f"{name}-target",
            SecureBucketArgs(
                bucket_prefix=naming.stack_bucket_prefix(args.customer, naming.ACCESS_LOGS),
                tags=naming.shared_tags(args.stack, naming.ACCESS_LOGS),
                current_version_days=args.retention_days,
                noncurrent_version_days=args.deleted_log_days,
                access_logs=None,
                tls_only_policy=False,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def add_source(self, bucket: aws.s3.Bucket, logging_name: str, opts: pulumi.ResourceOptions) -> None:
        if self._sealed:
            raise RuntimeError(f"{self._name}: a bucket was added after the policy was declared: it could not log")
        self._sources.append((bucket, logging_name, opts))

    def seal(self) -> None:
        """Declares the target's policy, naming every source bucket, and the component's outputs."""
        if self._sealed:
            raise RuntimeError(f"{self._name}: sealed twice")
        self._sealed = True
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        sources = pulumi.Output.all(*[source.bucket for source, _, _ in self._sources])
        document = pulumi.Output.all(self.target.arn, sources, account).apply(
            lambda found: iam.access_log_bucket_policy(found[0], list(found[1]), found[2])
        )
        policy = self.target.declare_policy(f"{self._name}-target-policy", document)
        for source, logging_name, opts in self._sources:
            # pulumi-aws 7's BucketLogging (BucketLoggingV2 is its deprecated alias): PutBucketLogging on the
            # source. No target grants: ACLs are off on the target, its policy lets the delivery in.
            aws.s3.BucketLogging(
                logging_name,
                bucket=source.id,
                target_bucket=self.target.name,
                target_prefix=source.bucket.apply(iam.access_log_prefix),
                opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[policy])),
            )
        self.register_outputs({"bucket": self.target.name, "sources": sources})
