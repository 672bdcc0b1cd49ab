"""`SecureBucket` (`components/bucket.py`) under the mock engine: every bucket private, versioned, encrypted,
TLS-only, with a lifecycle, logged (but the access-log bucket)."""

from __future__ import annotations

import json

import pulumi

from tests.conftest import declared, of_type


@pulumi.runtime.test
def test_buckets_are_private_versioned_encrypted_tls_only_logged_with_lifecycle(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        buckets = of_type(registrations, "aws:s3/bucket:Bucket")

        def settings_of(token):
            return {r.parent: r for r in of_type(registrations, token)}

        for bucket in buckets:
            component = bucket.parent
            block = settings_of("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")[component].inputs
            assert all(
                block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
            )
            ownership = settings_of("aws:s3/bucketOwnershipControls:BucketOwnershipControls")[component].inputs
            assert ownership["rule"]["objectOwnership"] == "BucketOwnerEnforced"
            versioning = settings_of("aws:s3/bucketVersioning:BucketVersioning")[component].inputs
            assert versioning["versioningConfiguration"]["status"] == "Enabled"
            encryption = settings_of(
                "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
            )[component].inputs
            assert encryption["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] in ("AES256", "aws:kms")
            lifecycle = settings_of("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")[component]
            assert any("abortIncompleteMultipartUpload" in rule for rule in lifecycle.inputs["rules"])
            policy = json.loads(settings_of("aws:s3/bucketPolicy:BucketPolicy")[component].inputs["policy"])
            (deny,) = [statement for statement in policy["Statement"] if statement["Effect"] == "Deny"]
            assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            assert bucket.outputs["arn"] in deny["Resource"]
            # Every bucket logs its requests, but the access-log bucket, which would log its own deliveries.
            logging = settings_of("aws:s3/bucketLogging:BucketLogging").get(component)
            access_log_bucket = bucket.inputs["tags"]["constellab:role"] == "access-logs"
            assert (logging is None) == access_log_bucket, bucket.name

    return declared(engine).apply(check)
