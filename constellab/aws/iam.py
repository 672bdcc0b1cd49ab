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
