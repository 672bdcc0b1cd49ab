"""The limits of the guardrails that are rules about one stack-file field, each defined once.

The rules apply them to what the program declares; the stack file's validation (`constellab.config_types`)
refuses the same values on the field itself, so `ops validate` never passes what `ops check` then refuses.
Standard library only: the toolkit imports this module without loading the policy SDK (the package's
`__init__` loads no rule until `ALL_RULES` is asked for).

A pack configuration may move a rule's limit (`minimumAdminPrefixLength`, `allowedInstanceTypes`); the
stack file's validation knows only these defaults.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Iterable

FIELD_RULES: dict[str, str] = {
    "ec2-no-admin-or-database-port-to-world": "adminCidrs[i]",
    "ec2-admin-cidrs-narrow": "adminCidrs[i]",
    "ec2-allowed-instance-types": "<server>.placement.instanceType",
    "docker-images-pinned": "images.<image>",
}
"""The guardrails that are rules about one stack-file field, and that field: its validation refuses what the
rule refuses, with the limit defined here (tests/test_field_rules.py holds them to it)."""

# ---------------------------------------------------------------------------------------------
# Administrator networks: ec2-no-admin-or-database-port-to-world, ec2-admin-cidrs-narrow (adminCidrs[i])
# ---------------------------------------------------------------------------------------------

MINIMUM_ADMIN_PREFIX_LENGTH = 16
"""An IPv4 administrator network spans at most a /16 (65,536 addresses); an IPv6 one at most a /64."""


def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None


def opens_to_world(cidr: str) -> bool:
    """Whether the network is the whole internet (`0.0.0.0/0`, `::/0`, however written)."""
    network = _network(cidr)
    return network is not None and network.prefixlen == 0


def admin_prefix_limit(cidr: str, minimum: int = MINIMUM_ADMIN_PREFIX_LENGTH) -> int:
    """The shortest prefix an administrator network of this address family may have (IPv6: four times longer)."""
    network = _network(cidr)
    return minimum * 4 if network is not None and network.version == 6 else minimum


def too_wide_for_admins(cidr: str, minimum: int = MINIMUM_ADMIN_PREFIX_LENGTH) -> bool:
    """Whether the network is wider than an administrator network may be (the world included)."""
    network = _network(cidr)
    return network is not None and network.prefixlen < admin_prefix_limit(cidr, minimum)


# ---------------------------------------------------------------------------------------------
# Instance types: ec2-allowed-instance-types (placement.instanceType)
# ---------------------------------------------------------------------------------------------

ALLOWED_INSTANCE_TYPES: tuple[str, ...] = (
    "t3.*",
    "t3a.*",
    "m6i.*",
    "m7i.*",
    "m6a.*",
    "m7a.*",
    "m7g.*",
    "c6i.*",
    "c7i.*",
    "c7g.*",
    "r6i.*",
    "r7i.*",
    "r7g.*",
)
"""Shell patterns of the instance types a server may use."""


def instance_type_allowed(instance_type: str, allowed: Iterable[str] = ALLOWED_INSTANCE_TYPES) -> bool:
    return any(fnmatch.fnmatchcase(instance_type, pattern) for pattern in allowed)


# ---------------------------------------------------------------------------------------------
# Images: docker-images-pinned (images.*)
# ---------------------------------------------------------------------------------------------

_IMAGE = re.compile(
    r"^(?P<name>[^@]+?)(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]*))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
_VERSION_TAG = re.compile(r"^v?[0-9]")
"""A version tag starts with a digit, optionally after `v` (`1.2.3`, `v3.7.15`); any other tag moves."""


def unpinned(reference: str) -> str | None:
    """Why an image reference is not pinned to a version tag or a digest, or None when it is."""
    if reference.startswith("sha256:"):
        return None  # an image id from a RemoteImage, itself checked
    match = _IMAGE.match(reference)
    if not match:
        return "is not an image reference"
    if match.group("digest"):
        return None
    tag = match.group("tag")
    if tag is None:
        return "has no tag"
    if not _VERSION_TAG.match(tag):
        return f"uses the moving tag {tag!r}"
    return None
