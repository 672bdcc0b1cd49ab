"""SecureBucket: an S3 bucket that is private, versioned, encrypted, TLS-only and kept on delete."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from constellab.aws import iam


@dataclass(frozen=True)
class SecureBucketArgs:
    """Arguments of `SecureBucket`."""

    bucket_prefix: str
    """Readable start of the bucket's name; AWS appends a unique suffix."""
    tags: dict[str, str]
    noncurrent_version_days: int = 30
    """How long an overwritten or deleted object's previous version is kept."""
    abort_incomplete_upload_days: int = 7
    retired: bool = False
    """Its server is decommissioned: the bucket is no longer protected, and it and its settings are kept in
    AWS when they leave the stack (so the data stays private, versioned, encrypted and TLS-only)."""


class SecureBucket(pulumi.ComponentResource):
    """A bucket with all four public-access blocks, ACLs off, versioning, SSE, lifecycle and a TLS-only policy.

    The bucket itself is protected and retained on delete: removing it from a stack never deletes data.
    """

    bucket: aws.s3.Bucket

    def __init__(self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("constellab:bucket:SecureBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, retain_on_delete=args.retired or None)
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
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket_id,
            policy=self.bucket.arn.apply(lambda arn: iam.to_json(iam.deny_insecure_transport(arn))),
            # A bucket policy is refused while the public-access block is being applied.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[public_access])),
        )
        self.name = self.bucket.bucket
        self.arn = self.bucket.arn
        self.register_outputs({"name": self.name, "arn": self.arn})
