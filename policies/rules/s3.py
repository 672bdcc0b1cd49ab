"""S3: private, owner-enforced, versioned, encrypted, lifecycle-managed, TLS-only, logged buckets."""

from __future__ import annotations

from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, ResourceValidationArgs, StackValidationArgs
from pulumi_policy.proxy import UnknownValueError

from .common import Rule, as_list, depends_on, dig, of_type, policy_document, report, statements, tags_of

BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
LIFECYCLE = (
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
)
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LOGGING = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")
ACCESS_LOG_ROLE = "access-logs"
"""The `constellab:role` tag of the stack's access-log bucket (naming.ACCESS_LOGS; a copy, the pack runs alone)."""
PUBLIC_ACCESS_SETTINGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def public_access_block_all(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != PUBLIC_ACCESS_BLOCK:
        return
    off = [key for key in PUBLIC_ACCESS_SETTINGS if args.props.get(key) is not True]
    if off:
        report(
            report_violation,
            args.name,
            args.resource_type,
            f"{', '.join(off)} not true",
            "set all four public-access settings to true",
        )


def ownership_enforced(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != OWNERSHIP:
        return
    ownership = dig(args.props, "rule", "objectOwnership")
    if ownership != "BucketOwnerEnforced":
        report(
            report_violation,
            args.name,
            args.resource_type,
            f"object ownership is {ownership!r}, so ACLs still apply",
            "set rule.objectOwnership to BucketOwnerEnforced",
        )


def versioning_enabled(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in VERSIONING:
        return
    status = dig(args.props, "versioningConfiguration", "status")
    if status != "Enabled":
        report(
            report_violation,
            args.name,
            args.resource_type,
            f"versioning is {status!r}",
            "set versioningConfiguration.status to Enabled",
        )


def encryption_enabled(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in ENCRYPTION:
        return
    algorithms = [
        dig(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm") for rule in as_list(args.props.get("rules"))
    ]
    if not any(algorithm in ("AES256", "aws:kms", "aws:kms:dsse") for algorithm in algorithms):
        report(
            report_violation,
            args.name,
            args.resource_type,
            "no default server-side encryption",
            "add a rule with applyServerSideEncryptionByDefault.sseAlgorithm AES256 or aws:kms",
        )


def lifecycle_aborts_uploads(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in LIFECYCLE:
        return
    rules = as_list(args.props.get("rules"))
    if not any(
        rule.get("status") == "Enabled" and dig(rule, "abortIncompleteMultipartUpload", "daysAfterInitiation")
        for rule in rules
        if isinstance(rule, dict)
    ):
        report(
            report_violation,
            args.name,
            args.resource_type,
            "incomplete multipart uploads are kept forever",
            "add an enabled rule with abortIncompleteMultipartUpload.daysAfterInitiation",
        )


def _denies_insecure_transport(statement: dict[str, Any]) -> bool:
    secure = dig(statement, "Condition", "Bool", "aws:SecureTransport")
    return statement.get("Effect") == "Deny" and str(secure).lower() == "false"


def policy_denies_insecure_transport(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != POLICY:
        return
    if not any(_denies_insecure_transport(s) for s in statements(policy_document(args.props.get("policy")))):
        report(
            report_violation,
            args.name,
            args.resource_type,
            "requests without TLS are not denied",
            'add a Deny statement for all principals with Condition Bool "aws:SecureTransport": "false"',
        )


def _public_principal(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    return isinstance(principal, dict) and "*" in as_list(principal.get("AWS"))


def no_public_bucket_policy(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != POLICY:
        return
    public = [
        s
        for s in statements(policy_document(args.props.get("policy")))
        if s.get("Effect") == "Allow" and _public_principal(s)
    ]
    if public:
        sids = ", ".join(str(s.get("Sid", "(no Sid)")) for s in public)
        report(
            report_violation,
            args.name,
            args.resource_type,
            f"statement {sids} allows everyone",
            "name the principals that need access instead of '*'",
        )


SETTINGS = {
    "a public access block": (PUBLIC_ACCESS_BLOCK,),
    "ownership controls": (OWNERSHIP,),
    "versioning": VERSIONING,
    "encryption": ENCRYPTION,
    "a lifecycle": LIFECYCLE,
    "a bucket policy": (POLICY,),
}


def _listing(items: list[str]) -> str:
    """`a, b and c`."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def bucket_fully_configured(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    buckets = of_type(args.resources, BUCKET)
    for bucket in buckets:
        missing = []
        for what, types in SETTINGS.items():
            if not any(
                bucket.urn in {d.urn for d in depends_on(setting, BUCKET)}
                for setting in of_type(args.resources, *types)
            ):
                missing.append(what)
        if missing:
            report(
                report_violation,
                bucket.name,
                bucket.resource_type,
                f"lacks {_listing(missing)}",
                "declare the bucket with the SecureBucket component",
                bucket.urn,
            )


def _is_access_log_bucket(bucket: PolicyResource) -> bool:
    return tags_of(bucket).get("constellab:role") == ACCESS_LOG_ROLE


def _ends(logging: PolicyResource, key: str) -> list[PolicyResource] | None:
    """The buckets the logging resource's `bucket` (source) or `targetBucket` takes its value from, where the
    engine says per input (CrossGuard does); None where it gives only the resource's dependencies."""
    by_input = logging.property_dependencies or {}
    if key not in by_input:
        return None
    return [dependency for dependency in by_input[key] if dependency.resource_type == BUCKET]


def _logged_buckets(logging: PolicyResource) -> list[PolicyResource]:
    """The source buckets of a logging resource: by input, or else its buckets but the access-log bucket it
    targets (a logging resource naming one bucket only logs it to itself, or to a bucket outside the stack)."""
    sources = _ends(logging, "bucket")
    if sources is not None:
        return sources
    buckets = depends_on(logging, BUCKET)
    return [bucket for bucket in buckets if not _is_access_log_bucket(bucket)] or buckets


def _targets_an_access_log_bucket(logging: PolicyResource) -> bool:
    """The logs go to the stack's access-log bucket: the bucket behind `targetBucket` (by input, or else among
    the logging resource's dependencies) carries its role. A name written as text has no bucket behind it."""
    targets = _ends(logging, "targetBucket")
    if targets is None:
        targets = depends_on(logging, BUCKET)
    return any(_is_access_log_bucket(bucket) for bucket in targets)


def _logs_to_itself(logging: PolicyResource) -> bool:
    """The source is the target: the same bucket resource behind both inputs, or the same name in both."""
    sources, targets = _ends(logging, "bucket"), _ends(logging, "targetBucket")
    if sources and targets and {bucket.urn for bucket in sources} & {bucket.urn for bucket in targets}:
        return True
    try:
        source, target = logging.props.get("bucket"), logging.props.get("targetBucket")
    except UnknownValueError:  # a name only known once created: the inputs' resources decided above
        return False
    return bool(source) and source == target


def access_logging_enabled(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    loggings = of_type(args.resources, *LOGGING)
    for logging in loggings:
        if _logs_to_itself(logging):
            report(
                report_violation,
                logging.name,
                logging.resource_type,
                "the bucket logs to itself: each delivery of logs would be logged again, without end",
                "target the stack's access-log bucket (SecureBucketArgs.access_logs)",
                logging.urn,
            )
        elif not _targets_an_access_log_bucket(logging):
            report(
                report_violation,
                logging.name,
                logging.resource_type,
                "the logs go to a bucket that is not the stack's access-log bucket (one outside the stack, or a "
                "data bucket)",
                "target the stack's access-log bucket (SecureBucketArgs.access_logs, from AccessLogs)",
                logging.urn,
            )
    log_buckets = [bucket for bucket in of_type(args.resources, BUCKET) if _is_access_log_bucket(bucket)]
    for extra in log_buckets[1:]:
        report(
            report_violation,
            extra.name,
            extra.resource_type,
            f"a second access-log bucket (the first is {log_buckets[0].name}): it would go unlogged as one",
            "keep one access-log bucket per stack (AccessLogs), tag no other bucket constellab:role=access-logs",
            extra.urn,
        )
    # A bucket with a logging resource is logged; where the logs go is that resource's own violation above.
    logged = {bucket.urn for logging in loggings for bucket in _logged_buckets(logging)}
    for bucket in of_type(args.resources, BUCKET):
        if bucket.urn not in logged and not _is_access_log_bucket(bucket):
            report(
                report_violation,
                bucket.name,
                bucket.resource_type,
                "its requests are not logged (no server access logging)",
                "log it to the stack's access-log bucket (SecureBucketArgs.access_logs, from AccessLogs)",
                bucket.urn,
            )


RULES = [
    Rule(
        "s3-public-access-block-all",
        "Block public ACLs and policies, all four settings",
        "mandatory",
        public_access_block_all,
    ),
    Rule("s3-ownership-enforced", "Buckets enforce object ownership (ACLs off)", "mandatory", ownership_enforced),
    Rule("s3-versioning-enabled", "Buckets are versioned", "mandatory", versioning_enabled),
    Rule("s3-encryption-enabled", "Buckets encrypt objects by default", "mandatory", encryption_enabled),
    Rule(
        "s3-lifecycle-aborts-incomplete-uploads",
        "Lifecycle aborts incomplete multipart uploads",
        "mandatory",
        lifecycle_aborts_uploads,
    ),
    Rule(
        "s3-deny-insecure-transport",
        "Bucket policies deny requests without TLS",
        "mandatory",
        policy_denies_insecure_transport,
    ),
    Rule("s3-no-public-bucket-policy", "No bucket policy allows everyone", "mandatory", no_public_bucket_policy),
    Rule(
        "s3-bucket-fully-configured",
        "Every bucket has all its security settings",
        "mandatory",
        bucket_fully_configured,
        scope="stack",
    ),
    Rule(
        "s3-access-logging-enabled",
        "Every bucket logs its requests (server access logging) to another bucket, the stack's access-log bucket; "
        "that one is exempt: logging it would log each delivery of logs again, without end (AWS: a target bucket "
        "should not have server access logging)",
        "mandatory",
        access_logging_enabled,
        scope="stack",
    ),
]
