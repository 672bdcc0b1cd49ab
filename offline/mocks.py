"""The mock engine's answers: the program's lookups (AMI, availability zones, subnet, account) and what a provider
computes for each resource (ids, ARNs, addresses, generated passwords), deterministic from names; a lookup it
does not know is refused, so a new one is noticed."""

from __future__ import annotations

import hashlib
import string
from typing import Any

import pulumi

import sdk_internals
from sdk_internals import MockCallArgs, MockResourceArgs

MOCK_REGION_ZONES = ["a", "b", "c"]
MOCK_ACCOUNT = "123456789012"


class UnknownLookupError(Exception):
    """The program made a lookup the mocks do not know: teach `RecordingMocks.call` to answer it."""


def _digest(text: str, length: int = 17) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _mock_ip(text: str) -> str:
    """A stable address in TEST-NET-3 (RFC 5737), never a real host."""
    return f"203.0.113.{int(_digest(text, 4), 16) % 250 + 1}"


def _mock_password(name: str, inputs: dict[str, Any]) -> str:
    """A stable password with the requested length and character set, like the random provider's."""
    alphabet = string.ascii_letters + string.digits
    if inputs.get("special", True):
        alphabet += inputs.get("overrideSpecial") or "!@#$%&*()-_=+[]{}<>:?"
    seed = hashlib.sha256(name.encode()).digest()
    length = int(inputs.get("length", 16))
    stream = (seed * (length // len(seed) + 1))[:length]
    return "".join(alphabet[(byte + index) % len(alphabet)] for index, byte in enumerate(stream))


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers the program's lookups and computes provider outputs, deterministically.

    `renewed` names resources (type, name) that a deployment would create anew (added or replaced): what
    the provider computes for them (id, ARN, addresses, generated values) is unknown until it does;
    `recomputed` those it updates in a way that computes their outputs again (a command that runs again),
    whose id stays. In a preview run the mocks answer those values as unknown, so the program sees them as
    in `pulumi preview`, through every `apply`: that is how `offline.diff` finds what is unknown until apply.
    """

    def __init__(
        self,
        region: str = "eu-west-3",
        renewed: frozenset[tuple[str, str]] = frozenset(),
        recomputed: frozenset[tuple[str, str]] = frozenset(),
    ) -> None:
        self.region = region
        self.renewed = renewed
        self.recomputed = recomputed
        self.calls: list[MockCallArgs] = []

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.calls.append(args)
        token = args.token
        if token == "aws:ec2/getAmi:getAmi":
            names = next((f["values"][0] for f in args.args.get("filters", []) if f["name"] == "name"), "image-*")
            return {
                "id": f"ami-{_digest(names)}",
                "name": names.replace("*", "20261101-1234"),
                "architecture": "x86_64",
            }, []
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {"names": [f"{self.region}{zone}" for zone in MOCK_REGION_ZONES], "id": self.region}, []
        if token == "aws:ec2/getSubnet:getSubnet":
            return {"id": args.args["id"], "availabilityZone": f"{self.region}a", "vpcId": "vpc-0mock"}, []
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}, []
        if token == "aws:index/getRegion:getRegion":
            return {"region": self.region, "name": self.region, "id": self.region}, []
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": MOCK_ACCOUNT,
                "arn": f"arn:aws:iam::{MOCK_ACCOUNT}:user/offline",
                "id": MOCK_ACCOUNT,
            }, []
        raise UnknownLookupError(f"the mocks do not answer {token}: add it to RecordingMocks.call")

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        resource_id, state = self._computed(args)
        key = (args.typ, args.name)
        if key not in self.renewed and key not in self.recomputed:
            return resource_id, state
        inputs = dict(args.inputs)
        computed = {name: value for name, value in state.items() if name not in inputs or inputs[name] != value}
        # In a preview the engine knows none of these: the program sees them unknown, through every `apply`.
        return (None if key in self.renewed else resource_id), state | dict.fromkeys(computed, sdk_internals.UNKNOWN)

    def _computed(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        kind = args.typ
        if args.custom is False:
            return None, inputs
        resource_id = f"{args.name}-{_digest(kind + args.name, 8)}"
        state: dict[str, Any] = dict(inputs)
        if kind == "aws:s3/bucket:Bucket":
            name = f"{inputs.get('bucketPrefix', args.name + '-')}{_digest(args.name, 12)}"
            resource_id = name
            state |= {"bucket": name, "arn": f"arn:aws:s3:::{name}"}
        elif kind == "aws:ec2/instance:Instance":
            resource_id = f"i-{_digest(args.name)}"
            state |= {
                "privateIp": "10.40.1.10",
                "arn": f"arn:aws:ec2:{self.region}:123456789012:instance/{resource_id}",
            }
        elif kind == "aws:ebs/volume:Volume":
            resource_id = f"vol-{_digest(args.name)}"
        elif kind == "aws:ec2/eip:Eip":
            resource_id = f"eipalloc-{_digest(args.name)}"
            state |= {"publicIp": _mock_ip(args.name), "allocationId": resource_id}
        elif kind == "aws:ec2/vpc:Vpc":
            resource_id = f"vpc-{_digest(args.name)}"
        elif kind == "aws:ec2/subnet:Subnet":
            resource_id = f"subnet-{_digest(args.name)}"
        elif kind == "aws:ec2/securityGroup:SecurityGroup":
            resource_id = f"sg-{_digest(args.name)}"
        elif kind in ("aws:iam/role:Role", "aws:iam/user:User", "aws:iam/instanceProfile:InstanceProfile"):
            name = f"{args.name}-{_digest(args.name, 7)}"
            resource_id = name
            noun = kind.split(":")[-1].lower().replace("instanceprofile", "instance-profile")
            state |= {"name": name, "arn": f"arn:aws:iam::123456789012:{noun}/{name}"}
        elif kind == "aws:iam/accessKey:AccessKey":
            resource_id = f"AKIA{_digest(args.name, 16).upper()}"
            state |= {"secret": sdk_internals.wrap_secret(f"mock-secret-{_digest(args.name, 24)}")}
        elif kind == "random:index/randomPassword:RandomPassword":
            state |= {"result": sdk_internals.wrap_secret(_mock_password(args.name, inputs))}
        elif kind == "docker:index/remoteImage:RemoteImage":
            state |= {"imageId": f"sha256:{_digest(str(inputs.get('name')), 64)}", "repoDigest": inputs.get("name")}
        elif kind == "pulumi-python:dynamic/power:Gate":
            state |= {"woken_at": inputs.get("woken_at") or ""}  # what `PowerGateProvider` records
        elif kind == "command:remote:Command":
            state |= {"stdout": "28.2.2", "stderr": ""}
        elif kind == "cloudflare:index/dnsRecord:DnsRecord":
            resource_id = _digest(args.name, 32)
        return resource_id, state
