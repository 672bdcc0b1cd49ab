"""`AccessLogs` (`components/access_logs.py`) under the mock engine: one access-log bucket per stack with buckets,
every other bucket logging into it under its own name, its one policy letting exactly those buckets' logs in;
and the rendered settings taken by moto's S3 (in process), the way `pulumi up` would send them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pulumi
import pytest

from components.access_logs import DELETED_LOG_DAYS, RETENTION_DAYS, AccessLogs, AccessLogsArgs
from constellab.aws import iam
from offline.engine import Registration, configure, quiescent
from offline.mocks import MOCK_ACCOUNT
from tests.conftest import ROOT, STACKS, declared, of_type, stack_file

BUCKET = "aws:s3/bucket:Bucket"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"


def is_access_log_bucket(bucket: Registration) -> bool:
    return bucket.inputs["tags"].get("constellab:role") == "access-logs"


def split(registrations: list[Registration]) -> tuple[Registration, list[Registration]]:
    """The stack's one access-log bucket, and the others."""
    buckets = of_type(registrations, BUCKET)
    (logs,) = [bucket for bucket in buckets if is_access_log_bucket(bucket)]
    return logs, [bucket for bucket in buckets if bucket is not logs]


def setting_of(registrations: list[Registration], token: str, bucket: Registration) -> list[Registration]:
    """The settings of this type declared beside the bucket (children of its SecureBucket)."""
    return [r for r in of_type(registrations, token) if r.parent == bucket.parent]


@pytest.mark.parametrize(("stack", "sources"), [("acme-cloud", 8), ("biolab-hybrid", 5), ("pharma-onprem", 5)])
@pulumi.runtime.test
def test_every_other_bucket_logs_into_the_access_log_bucket_under_its_own_name(engine_for, stack, sources):
    """Cloud and on-prem servers alike: their buckets are in the stack's AWS account and region."""
    engine = engine_for(stack)

    def check(registrations):
        logs, others = split(registrations)
        assert len(others) == sources
        customer = engine.settings.platform.customer
        assert logs.outputs["bucket"].startswith(f"{customer}-access-logs-")
        loggings = of_type(registrations, LOGGING)
        assert len(loggings) == len(others), "one per other bucket, none for the access-log bucket"
        (policy,) = setting_of(registrations, POLICY, logs)
        for bucket in others:
            (logging,) = setting_of(registrations, LOGGING, bucket)
            name = bucket.outputs["bucket"]
            assert logging.inputs == {
                "bucket": name,
                "targetBucket": logs.outputs["bucket"],
                "targetPrefix": f"{name}/",
            }
            assert logging.input_dependencies["bucket"] == [bucket.urn]
            assert logging.input_dependencies["targetBucket"] == [logs.urn]
            # Declared after the policy, and depending on it: S3 turns logging on only once the delivery is let in.
            assert policy.urn in logging.dependencies
        assert setting_of(registrations, LOGGING, logs) == [], "it would log its own deliveries, without end"

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_the_access_log_bucket_is_private_kept_sse_s3_and_keeps_logs_a_year(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        logs, _ = split(registrations)
        assert logs.protect and logs.retain_on_delete
        assert logs.inputs["tags"] == {
            "constellab:stack": "acme-cloud",
            "constellab:server": "shared",
            "constellab:role": "access-logs",
            "Name": "acme-cloud-access-logs",
        }
        (encryption,) = setting_of(
            registrations,
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            logs,
        )
        # S3 delivers server access logs only to a bucket whose default encryption is SSE-S3.
        assert [rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] for rule in encryption.inputs["rules"]] == [
            "AES256"
        ]
        (ownership,) = setting_of(registrations, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", logs)
        assert ownership.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
        (lifecycle,) = setting_of(
            registrations, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", logs
        )
        rules = {rule["id"]: rule for rule in lifecycle.inputs["rules"]}
        assert rules["expire-current-objects"]["expiration"] == {"days": RETENTION_DAYS} == {"days": 365}
        kept = rules["abort-incomplete-uploads-and-expire-old-versions"]
        assert kept["noncurrentVersionExpiration"] == {"noncurrentDays": DELETED_LOG_DAYS}
        assert kept["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}
        # Data and backups never expire: the current-version expiry is the access-log bucket's alone.
        others = of_type(registrations, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
        assert [r.name for r in others if any("days" in rule.get("expiration", {}) for rule in r.inputs["rules"])] == [
            lifecycle.name
        ]

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_its_one_policy_stays_tls_only_and_lets_in_exactly_the_stacks_buckets(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        logs, others = split(registrations)
        (policy,) = setting_of(registrations, POLICY, logs)
        expected = iam.access_log_bucket_policy(
            logs.outputs["arn"], [bucket.outputs["bucket"] for bucket in others], MOCK_ACCOUNT
        )
        assert json.loads(policy.inputs["policy"]) == expected
        assert policy.inputs["bucket"] == logs.outputs["bucket"]
        # Declared once every source exists (it names them), after the public-access block (S3 refuses it before).
        assert {bucket.urn for bucket in others} <= set(policy.input_dependencies["policy"])
        (block,) = setting_of(registrations, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", logs)
        assert block.urn in policy.dependencies

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_a_stack_without_buckets_has_no_access_log_bucket(engine_for):
    engine = engine_for("local")

    def check(registrations):
        assert [r.type for r in registrations if r.type.startswith("aws:") or "access_logs" in r.type] == []

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_a_retired_servers_kept_buckets_still_log_and_keep_their_logging_when_they_leave():
    from tests.test_decommissioning import with_lab1

    engine = configure(stack_file("acme-cloud"), with_lab1(True))

    def check(registrations):
        logs, others = split(registrations)
        lab1 = [bucket for bucket in others if bucket.name.startswith("acme-lab1-")]
        assert len(lab1) == 2
        for bucket in lab1:
            (logging,) = setting_of(registrations, LOGGING, bucket)
            assert logging.retain_on_delete and logging.inputs["targetBucket"] == logs.outputs["bucket"]
        (policy,) = setting_of(registrations, POLICY, logs)
        allowed = json.loads(policy.inputs["policy"])["Statement"][0]["Condition"]["ArnLike"]["aws:SourceArn"]
        assert {iam.bucket_arn_of(bucket.outputs["bucket"]) for bucket in lab1} <= set(allowed)

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_a_bucket_added_once_the_policy_is_declared_is_refused(engine_for):
    """Its logs would be refused by the policy: the program stops instead."""
    engine_for("acme-cloud")
    logs = AccessLogs("t-access-logs", AccessLogsArgs(stack="t", customer="t"))
    logs.seal()
    with pytest.raises(RuntimeError, match="added after the policy was declared"):
        logs.add_source(logs.target.bucket, "t-access-logging", pulumi.ResourceOptions())
    with pytest.raises(RuntimeError, match="sealed twice"):
        logs.seal()
    return quiescent()


FAILING_PROGRAM = """
import sys
from pathlib import Path

import components.space

def broken(self, *args, **kwargs):
    raise RuntimeError("a bug in the space component")

components.space.CollaborativeSpace.__init__ = broken
from offline.engine import run_program

try:
    run_program(Path(sys.argv[1]))
except RuntimeError as error:
    print(error)
"""


def test_a_program_failing_among_its_buckets_ends_with_its_own_error_rather_than_waiting(tmp_path):
    """The buckets' logging is declared once the policy is, after the last bucket: a program failing before that
    leaves nothing waiting on it (a logging waiting for a policy never declared kept the run from ending)."""
    script = tmp_path / "failing.py"
    script.write_text(FAILING_PROGRAM)
    result = subprocess.run(
        [sys.executable, str(script), str(STACKS / "Pulumi.acme-cloud.yaml")],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.stdout.strip() == "a bug in the space component", result.stderr[-2000:]


# ---------------------------------------------------------------------------------------------
# moto's S3: the rendered settings, sent as the provider sends them
# ---------------------------------------------------------------------------------------------


API_NAMES = {"id": "ID", "sseAlgorithm": "SSEAlgorithm", "kmsMasterKeyId": "KMSMasterKeyID"}
"""The S3 API's names that are not the engine's with a capital first letter."""


def api_shape(value: Any) -> Any:
    """An engine (camelCase) input as the S3 API takes it: `daysAfterInitiation: 7.0` -> `DaysAfterInitiation: 7`."""
    if isinstance(value, dict):
        return {API_NAMES.get(key, key[0].upper() + key[1:]): api_shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [api_shape(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def apply_to_s3(s3: Any, registrations: list[Registration], region: str) -> None:
    """Creates every bucket and puts every setting the program declares, settings before logging."""
    for bucket in of_type(registrations, BUCKET):
        s3.create_bucket(Bucket=bucket.outputs["bucket"], CreateBucketConfiguration={"LocationConstraint": region})
    for r in registrations:
        name = r.inputs.get("bucket")
        if r.type == "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":
            keys = ("blockPublicAcls", "ignorePublicAcls", "blockPublicPolicy", "restrictPublicBuckets")
            s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=api_shape({key: r.inputs[key] for key in keys})
            )
        elif r.type == "aws:s3/bucketOwnershipControls:BucketOwnershipControls":
            s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls={"Rules": [api_shape(r.inputs["rule"])]})
        elif r.type == "aws:s3/bucketVersioning:BucketVersioning":
            s3.put_bucket_versioning(
                Bucket=name, VersioningConfiguration={"Status": r.inputs["versioningConfiguration"]["status"]}
            )
        elif r.type == "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
            s3.put_bucket_encryption(
                Bucket=name, ServerSideEncryptionConfiguration={"Rules": api_shape(r.inputs["rules"])}
            )
        elif r.type == "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration":
            s3.put_bucket_lifecycle_configuration(
                Bucket=name, LifecycleConfiguration={"Rules": api_shape(r.inputs["rules"])}
            )
        elif r.type == POLICY:
            s3.put_bucket_policy(Bucket=name, Policy=r.inputs["policy"])
    for logging in of_type(registrations, LOGGING):
        enabled = {"TargetBucket": logging.inputs["targetBucket"], "TargetPrefix": logging.inputs["targetPrefix"]}
        s3.put_bucket_logging(Bucket=logging.inputs["bucket"], BucketLoggingStatus={"LoggingEnabled": enabled})


@pulumi.runtime.test
def test_s3_takes_every_rendered_setting_and_the_logging_into_the_access_log_bucket(engine_for, monkeypatch):
    """moto checks what S3 checks at PutBucketLogging: the target exists, in the same region, and its policy lets
    `logging.s3.amazonaws.com` put objects there. Real delivery, hours later, cannot be emulated."""
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    engine = engine_for("acme-cloud")
    region = engine.settings.aws_region

    def check(registrations):
        logs, others = split(registrations)
        with moto.mock_aws():
            s3 = boto3.client("s3", region_name=region)
            apply_to_s3(s3, registrations, region)
            for bucket in others:
                name = bucket.outputs["bucket"]
                enabled = s3.get_bucket_logging(Bucket=name)["LoggingEnabled"]
                assert enabled == {"TargetBucket": logs.outputs["bucket"], "TargetPrefix": f"{name}/"}
            assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=logs.outputs["bucket"])
            # The check is real: a bucket whose policy does not let the delivery in takes no logs.
            s3.create_bucket(Bucket="no-delivery", CreateBucketConfiguration={"LocationConstraint": region})
            with pytest.raises(s3.exceptions.ClientError, match=re.escape("InvalidTargetBucketForLogging")):
                s3.put_bucket_logging(
                    Bucket=others[0].outputs["bucket"],
                    BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": "no-delivery", "TargetPrefix": "x/"}},
                )

    return declared(engine).apply(check)
