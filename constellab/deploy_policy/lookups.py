"""The IAM actions each lookup (invoke) of the program needs, and those of the provider itself."""

from __future__ import annotations

from constellab.deploy_policy.model import LookupPermissions

LOOKUPS: tuple[LookupPermissions, ...] = (
    LookupPermissions("aws:ec2/getAmi:getAmi", ("ec2:DescribeImages",)),
    LookupPermissions("aws:ec2/getSubnet:getSubnet", ("ec2:DescribeSubnets",)),
    LookupPermissions("aws:index/getAvailabilityZones:getAvailabilityZones", ("ec2:DescribeAvailabilityZones",)),
    # sts:GetCallerIdentity needs no permission and cannot be denied (STS API reference); listed so the
    # document says what the provider calls.
    LookupPermissions("aws:index/getCallerIdentity:getCallerIdentity", ("sts:GetCallerIdentity",)),
    # The partition and the region come from the provider's own endpoint data: no API call.
    LookupPermissions("aws:index/getPartition:getPartition", ()),
    LookupPermissions("aws:index/getRegion:getRegion", ()),
)

PROVIDER_ACTIONS = ("sts:GetCallerIdentity",)
"""The provider's configuration asks STS for the account it deploys to."""

LOOKUP_PERMISSIONS: dict[str, LookupPermissions] = {entry.token: entry for entry in LOOKUPS}
