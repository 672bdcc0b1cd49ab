"""ServerIdentity: the least-privilege AWS identity a server uses for its buckets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi

from constellab.aws import iam


@dataclass(frozen=True)
class BucketGrant:
    """Access to `prefix` of a bucket whose ARN comes from another resource."""

    bucket_arn: pulumi.Input[str]
    prefix: str
    access: iam.Access
    sid: str


@dataclass(frozen=True)
class ServerIdentityArgs:
    """Arguments of `ServerIdentity`."""

    kind: Literal["instance-role", "access-key"]
    """An instance role (cloud servers) or an IAM user with an access key (on-prem servers)."""
    grants: list[BucketGrant]
    tags: dict[str, str]


def _policy_json(grants: list[BucketGrant]) -> pulumi.Output[str]:
    arns = pulumi.Output.all(*[grant.bucket_arn for grant in grants])
    return arns.apply(
        lambda resolved: iam.to_json(
            iam.policy_document(
                [
                    iam.Grant(str(arn), grant.prefix, grant.access, grant.sid)
                    for arn, grant in zip(resolved, grants, strict=True)
                ]
            )
        )
    )


class ServerIdentity(pulumi.ComponentResource):
    """An instance profile, or an IAM user and access key (secret), allowed exactly its grants."""

    instance_profile_name: pulumi.Output[str] | None = None
    access_key_id: pulumi.Output[str] | None = None
    secret_access_key: pulumi.Output[str] | None = None

    def __init__(self, name: str, args: ServerIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("constellab:identity:ServerIdentity", name, None, opts)
        import pulumi_aws as aws  # only stacks with AWS pay for importing it

        child = pulumi.ResourceOptions(parent=self)
        policy = _policy_json(args.grants) if args.grants else None
        outputs: dict[str, object] = {}
        if args.kind == "instance-role":
            role = aws.iam.Role(
                f"{name}-role",
                assume_role_policy=iam.to_json(iam.assume_role_policy("ec2.amazonaws.com")),
                tags=args.tags,
                opts=child,
            )
            if policy is not None:
                aws.iam.RolePolicy(f"{name}-buckets", role=role.id, policy=policy, opts=child)
            profile = aws.iam.InstanceProfile(f"{name}-profile", role=role.name, tags=args.tags, opts=child)
            self.instance_profile_name = profile.name
            outputs["instanceProfile"] = profile.name
        else:
            user = aws.iam.User(f"{name}-user", tags=args.tags, opts=child)
            if policy is not None:
                aws.iam.UserPolicy(f"{name}-buckets", user=user.name, policy=policy, opts=child)
            key = aws.iam.AccessKey(f"{name}-key", user=user.name, opts=child)
            self.access_key_id = key.id
            self.secret_access_key = pulumi.Output.secret(key.secret)
            outputs |= {"accessKeyId": key.id, "secretAccessKey": self.secret_access_key}
        self.register_outputs(outputs)
