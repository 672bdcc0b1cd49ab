"""Least-privilege IAM policy documents and security-group rules, built as plain data.

A server's access is a list of `Grant`s (a bucket, a key prefix, an access level); the same grants
produce the instance role's policy for cloud servers and the IAM user's policy for on-prem ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

Access = Literal["read", "write", "sync", "readwrite"]

_OBJECT_ACTIONS: dict[Access, list[str]] = {
    "read": ["s3:GetObject", "s3:GetObjectVersion"],
    # Writers read back what they wrote (sync, restore) but never delete: retention is the lifecycle's job.
    "write": ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
    # The lab manager's backups are `rclone sync`, which deletes what the source no longer has. In a
    # versioned bucket a delete only hides the object (versions are not deletable here): the lifecycle
    # keeps the previous version for its noncurrent days.
    "sync": [
        "s3:PutObject",
        "s3:GetObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
    ],
    "readwrite": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
}


@dataclass(frozen=True)
class Grant:
    """Access to the objects under `prefix` ("" = the whole bucket) of one bucket."""

    bucket_arn: str
    prefix: str
    access: Access
    sid: str


def policy_document(grants: list[Grant]) -> dict[str, Any]:
    """An identity policy allowing exactly the grants: object actions on the prefix, listing within it."""
    statements: list[dict[str, Any]] = []
    for grant in grants:
        sid = "".join(part.capitalize() for part in grant.sid.replace("_", "-").split("-"))
        statements.append(
            {
                "Sid": f"{sid}Objects",
                "Effect": "Allow",
                "Action": _OBJECT_ACTIONS[grant.access],
                "Resource": f"{grant.bucket_arn}/{grant.prefix}*",
            }
        )
        listing: dict[str, Any] = {
            "Sid": f"{sid}List",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": grant.bucket_arn,
        }
        if grant.prefix:
            listing["Condition"] = {"StringLike": {"s3:prefix": [grant.prefix, f"{grant.prefix}*"]}}
        statements.append(listing)
    return {"Version": "2012-10-17", "Statement": statements}


def deny_insecure_transport(bucket_arn: str) -> dict[str, Any]:
    """A bucket policy refusing every request that does not use TLS."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


# ---------------------------------------------------------------------------------------------
# Server access logs
# ---------------------------------------------------------------------------------------------

LOG_DELIVERY_SERVICE = "logging.s3.amazonaws.com"
"""The service principal that writes S3 server access logs. With Object Ownership "bucket owner enforced" (ACLs
off, as on every bucket here) a bucket policy is the only way to let it write: "Enabling Amazon S3 server access
logging", Permissions for log delivery (https://docs.aws.amazon.com/AmazonS3/latest/userguide/
enable-server-access-logging.html#grant-log-delivery-permissions-general)."""
BUCKET_POLICY_MAX_BYTES = 20 * 1024
"""A bucket policy's size limit (Amazon S3 User Guide, "Bucket policies for Amazon S3": 20 KB)."""


def access_log_prefix(source_bucket: str) -> str:
    """Where a bucket's server access logs go in the access-log bucket: under its own name, so each source's
    logs can be found, kept apart and allowed separately (S3 appends `YYYY-mm-DD-HH-MM-SS-<unique>`)."""
    return f"{source_bucket}/"


def access_log_bucket_policy(log_bucket_arn: str, source_buckets: list[str], account_id: str) -> dict[str, Any]:
    """The access-log bucket's one policy (a bucket has one): TLS only, and S3's log delivery may put the logs
    of exactly these source buckets of this account.

    The delivery statement is AWS's recommended one (the page cited at `LOG_DELIVERY_SERVICE`): the service
    principal, `s3:PutObject` on the bucket's objects, `aws:SourceArn` naming the source buckets and
    `aws:SourceAccount` the account, so no other bucket (another account's included) can deliver logs here.
    The objects are all logs, each source's under `access_log_prefix`, which its own logging configuration
    sets: the conditions decide whose logs come in, a list of prefixes would add nothing but size (one
    statement for all sources keeps about 200 of them within S3's 20 KB; one each, about 40).
    The TLS-only statement does not stop the delivery (AWS's own CloudFormation CLI keeps both on its log
    bucket: aws-cloudformation/cloudformation-cli pull requests 863 and 986); a statement denying uploads
    without an `x-amz-server-side-encryption` header would (aws-quickstart/quickstart-compliance-common
    issue 29): the default encryption (SSE-S3) encrypts the logs instead.
    """
    document = deny_insecure_transport(log_bucket_arn)
    sources = sorted(set(source_buckets))
    if sources:
        # First, though the order means nothing to IAM: moto's PutBucketLogging check reads the statements in
        # order and fails on a principal that is not a map, like the TLS-only statement's `*`.
        document["Statement"].insert(
            0,
            {
                "Sid": "S3ServerAccessLogDelivery",
                "Effect": "Allow",
                "Principal": {"Service": LOG_DELIVERY_SERVICE},
                "Action": "s3:PutObject",
                "Resource": f"{log_bucket_arn}/*",
                "Condition": {
                    "ArnLike": {"aws:SourceArn": [bucket_arn_of(source) for source in sources]},
                    "StringEquals": {"aws:SourceAccount": account_id},
                },
            },
        )
    size = len(to_json(document).encode())
    if size > BUCKET_POLICY_MAX_BYTES:
        raise ValueError(
            f"the access-log bucket's policy for {len(sources)} buckets is {size} bytes, over S3's limit of "
            f"{BUCKET_POLICY_MAX_BYTES}: spread the servers over more stacks"
        )
    return document


def assume_role_policy(service: str) -> dict[str, Any]:
    """A trust policy naming exactly one AWS service."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }


def to_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False)


def bucket_arn_of(name: str) -> str:
    return f"arn:aws:s3:::{name}"


def s3_endpoint(region: str) -> str:
    """The regional S3 endpoint (rclone, as the lab manager runs it, takes it as `--s3-endpoint`)."""
    suffix = ".com.cn" if region.startswith("cn-") else ".com"
    return f"https://s3.{region}.amazonaws{suffix}"


# ---------------------------------------------------------------------------------------------
# Security group
# ---------------------------------------------------------------------------------------------

PUBLIC_PORTS = (80, 443)
ADMIN_PORTS = (22, 2222)
"""SSH to the host (Docker over SSH) and SSH into Codelab."""


@dataclass(frozen=True)
class IngressRule:
    """One TCP port a server's security group opens to one network."""

    port: int
    cidr: str
    description: str

    @property
    def is_ipv6(self) -> bool:
        return ":" in self.cidr


OUTBOUND_DESCRIPTION = "Outbound to anywhere: packages, images, certificates (ACME, DNS API), the Space, S3"
"""What the one egress rule is for. EC2 takes only a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=;{}!$* in a rule's
description (EC2 API reference, IpRange and UserIdGroupPair: Description), so no apostrophe."""


def ingress_rules(admin_cidrs: list[str]) -> list[IngressRule]:
    """Inbound rules of a cloud server: web to everyone, SSH to administrators, nothing else."""
    rules = [
        IngressRule(port, cidr, f"HTTP{'S' if port == 443 else ''} from anywhere")
        for port in PUBLIC_PORTS
        for cidr in ("0.0.0.0/0", "::/0")
    ]
    for port in ADMIN_PORTS:
        label = "SSH" if port == 22 else "Codelab SSH"
        rules += [IngressRule(port, cidr, f"{label} from administrators") for cidr in admin_cidrs]
    return rules


# ---------------------------------------------------------------------------------------------
# Power control
# ---------------------------------------------------------------------------------------------

SCHEDULER_SERVICE = "scheduler.amazonaws.com"
START_TARGET = "arn:aws:scheduler:::aws-sdk:ec2:startInstances"
STOP_TARGET = "arn:aws:scheduler:::aws-sdk:ec2:stopInstances"


def scheduler_trust_policy(account_id: str) -> dict[str, Any]:
    """EventBridge Scheduler, and only on behalf of schedules of this account, may assume the role."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": SCHEDULER_SERVICE},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            }
        ],
    }


def power_policy(instance_arn: str) -> dict[str, Any]:
    """Start and stop one instance, nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "StartAndStopThisInstance",
                "Effect": "Allow",
                "Action": ["ec2:StartInstances", "ec2:StopInstances"],
                "Resource": instance_arn,
            }
        ],
    }


def alarm_action(partition: str, region: str, action: Literal["stop", "recover"]) -> str:
    """CloudWatch's built-in EC2 action: no code, no role of ours."""
    return f"arn:{partition}:automate:{region}:ec2:{action}"
