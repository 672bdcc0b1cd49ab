"""SecureBucket: an S3 bucket that is private, versioned, encrypted, TLS-only, logged and kept on delete."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import pulumi
import pulumi_aws as aws

from constellab.aws import iam


class AccessLogTarget(Protocol):
    """Where a bucket's server access logs go: the stack's access-log bucket (`components.access_logs`)."""

    def add_source(self, bucket: aws.s3.Bucket, logging_name: str, opts: pulumi.ResourceOptions) -> None:
        """Lets S3 deliver this bucket's logs (the target's policy names each source) and turns its logging on,
        as `logging_name` with `opts`, once the policy exists."""
        ...


@dataclass(frozen=True)
class SecureBucketArgs:
    """Arguments of `SecureBucket`."""

    bucket_prefix: str
    """Readable start of the bucket's name; AWS appends a unique suffix."""
    tags: dict[str, str]
    noncurrent_version_days: int = 30
    """How long an overwritten or deleted object's previous version is kept."""
    abort_incomplete_upload_days: int = 7
    current_version_days: int | None = None
    """How long an object stays current before it expires (its last version then kept `noncurrent_version_days`);
    None, the default: never (data and backups). The access-log bucket's retention."""
    access_logs: AccessLogTarget | None = None
    """Where S3 delivers the bucket's server access logs, under `<bucket name>/`. None only for the access-log
    bucket itself (AWS: a target bucket should not have server access logging enabled; logging it to itself would
    log each delivery of logs, without end)."""
    tls_only_policy: bool = True
    """Declare the bucket's policy, TLS only. False: its owner declares it with `declare_policy` (a bucket has
    one policy: the access-log bucket's adds the log delivery to the TLS-only statement)."""
    retired: bool = False
    """Its server is decommissioned: the bucket is no longer protected, and it and its settings are kept in
    AWS when they leave the stack (so the data stays private, versioned, encrypted and TLS-only)."""


class SecureBucket(pulumi.ComponentResource):
    """A bucket with all four public-access blocks, ACLs off, versioning, SSE, lifecycle, a TLS-only policy and
    server access logging.

    The bucket itself is protected and retained on delete: removing it from a stack never deletes data. Its
    default encryption is SSE-S3 (AES256), the only one S3 delivers server access logs to ("Enabling Amazon S3
    server access logging": default encryption on the target bucket only with SSE-S3), so any of these buckets
    can be the access-log bucket.
    """

    bucket: aws.s3.Bucket

    def __init__(self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("constellab:bucket:SecureBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, retain_on_delete=args.retired or None)
        self._child = child
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket_prefix=args.bucket_prefix,
            tags=args.tags,
            # A bucket's name never changes: a new prefix (a renamed purpose) must not replace the data.
            opts=pulumi.ResourceOptions(
                parent=self, protect=not args.retired, retain_on_delete=True, ignore_changes=["bucketPrefix"]
            ),
        )
        bucket_id = self.bucket.id
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket_id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket_id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket_id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket_id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    ),
                    bucket_key_enabled=True,
                )
            ],
            opts=child,
        )
        rules = [
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="abort-incomplete-uploads-and-expire-old-versions",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=args.abort_incomplete_upload_days
                ),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=args.noncurrent_version_days
                ),
            ),
            *self._expiry(args),
            # Once its versions have expired, a deleted object's marker is all that is left of it.
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="remove-expired-delete-markers",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(expired_object_delete_marker=True),
            ),
        ]
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket_id,
            rules=rules,
            # Lifecycle rules on a versioned bucket act on versions: versioning must exist first.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[versioning])),
        )
        self._public_access = public_access
        if args.tls_only_policy:
            self.declare_policy(f"{name}-tls-only", self.bucket.arn.apply(iam.deny_insecure_transport))
        if args.access_logs is not None:
            # Its logging (a child of this bucket) is declared by the target once its policy exists.
            args.access_logs.add_source(self.bucket, f"{name}-access-logging", child)
        self.name = self.bucket.bucket
        self.arn = self.bucket.arn
        self.register_outputs({"name": self.name, "arn": self.arn})

    @staticmethod
    def _expiry(args: SecureBucketArgs) -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
        """The rule expiring current objects after `current_version_days`, if set. On a versioned bucket the
        expiry adds a delete marker: the object's version becomes noncurrent and goes `noncurrent_version_days`
        later (S3 User Guide, "Lifecycle configuration elements": Expiration on a versioning-enabled bucket)."""
        if args.current_version_days is None:
            return []
        return [
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-current-objects",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=args.current_version_days),
            )
        ]

    def declare_policy(self, name: str, document: pulumi.Input[dict[str, Any]]) -> aws.s3.BucketPolicy:
        """The bucket's one policy (`name`, a child of this bucket). It must deny requests without TLS
        (`iam.deny_insecure_transport`; the s3-deny-insecure-transport guardrail)."""
        return aws.s3.BucketPolicy(
            name,
            bucket=self.bucket.id,
            policy=pulumi.Output.from_input(document).apply(iam.to_json),
            # A bucket policy is refused while the public-access block is being applied.
            opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(depends_on=[self._public_access])),
        )
