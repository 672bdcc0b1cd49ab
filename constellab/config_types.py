"""Reusable validated types of the stack file, each with its own message, and the base of every model.

A bad value is reported with its field path and with what would be accepted instead.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

# ---------------------------------------------------------------------------------------------
# Reusable validated types
# ---------------------------------------------------------------------------------------------

DNS_LABEL_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
INSTANCE_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9-]*[0-9][a-z0-9-]*\.[a-z0-9-]+$")
_IMAGE = re.compile(
    r"^(?P<repository>[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"|[a-zA-Z0-9.-]+(?::[0-9]+)?/[a-z0-9]+(?:[._/-][a-z0-9]+)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
_INSTANCE_SIZE = re.compile(r"^(nano|micro|small|medium|large|xlarge|[1-9][0-9]*xlarge|metal(-[1-9][0-9]*xl)?)$")
"""EC2's instance sizes (`aws ec2 describe-instance-types`): nano to 48xlarge and beyond, metal, metal-24xl."""
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
_VERSION_TAG = re.compile(r"^v?[0-9]")
_ZONE_ID = re.compile(r"^[a-f0-9]{32}$")
_SSH_KEY = re.compile(r"^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/=]{40,}( .*)?$")


def fail(kind: str, message: str) -> PydanticCustomError:
    """A validation error of one kind with its message (pydantic reports it with the field's path)."""
    return PydanticCustomError(kind, message)


def _check_dns_label(value: str) -> str:
    if not DNS_LABEL_PATTERN.match(value):
        raise fail(
            "dns_label",
            f"{value!r} is not a DNS label: use 1-63 lowercase letters, digits and inner hyphens (e.g. 'lab1')",
        )
    return value


def _check_domain(value: str) -> str:
    labels = value.split(".")
    if len(value) > 200 or not all(DNS_LABEL_PATTERN.match(label) for label in labels):
        raise fail(
            "domain_name",
            f"{value!r} is not a domain name: use lowercase DNS labels joined by dots (e.g. 'acme.example.com')",
        )
    return value


def _check_image(value: str) -> str:
    match = _IMAGE.match(value)
    if not match:
        raise fail("image", f"{value!r} is not a container image reference (e.g. 'traefik:v3.5.3')")
    tag, digest = match.group("tag"), match.group("digest")
    if digest:
        return value
    if tag is None:
        raise fail(
            "image_unpinned",
            f"{value!r} has no tag: pin a version tag or a digest (e.g. '{value}:1.2.3' or '{value}@sha256:...')",
        )
    if not _VERSION_TAG.match(tag):
        raise fail(
            "image_unpinned",
            f"{value!r} uses the moving tag {tag!r}: pin a version tag that starts with a digit "
            "(optionally after 'v') or a sha256 digest",
        )
    return value


def _check_cidr(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as error:
        raise fail("cidr", f"{value!r} is not a network in CIDR notation (e.g. '203.0.113.0/24'): {error}") from None
    return str(network)


def _check_admin_cidr(value: str) -> str:
    network = ipaddress.ip_network(_check_cidr(value))
    if network.prefixlen == 0:
        raise fail(
            "cidr_world",
            f"{value!r} opens SSH to the whole internet: list your administrators' networks instead",
        )
    return value


def _check_ip(value: str) -> str:
    try:
        address = ipaddress.IPv4Address(value)
    except ValueError:
        raise fail("ipv4", f"{value!r} is not an IPv4 address (e.g. '198.51.100.20')") from None
    return str(address)


def _check_host(value: str) -> str:
    try:
        return _check_ip(value)
    except PydanticCustomError:
        pass
    if all(DNS_LABEL_PATTERN.match(label) for label in value.split(".")):
        return value
    raise fail("host", f"{value!r} is neither an IPv4 address nor a host name (e.g. 'hub.acme.internal')")


def _check_instance_type(value: str) -> str:
    size = value.split(".", 1)[1] if "." in value else ""
    if not INSTANCE_TYPE_PATTERN.match(value) or not _INSTANCE_SIZE.match(size):
        raise fail("instance_type", f"{value!r} is not an EC2 instance type (e.g. 't3.large' or 'm7g.xlarge')")
    return value


def _check_email(value: str) -> str:
    if not _EMAIL.match(value):
        raise fail("email", f"{value!r} is not an email address (e.g. 'platform@acme.example')")
    return value


def _check_https_url(value: str) -> str:
    if not re.match(r"^https://[a-z0-9.-]+(:[0-9]+)?(/[^\s]*)?$", value) or value.endswith("/"):
        raise fail(
            "https_url", f"{value!r} is not an https URL without a trailing slash (e.g. 'https://api.example.com')"
        )
    return value


def _check_ssh_key(value: str) -> str:
    if not _SSH_KEY.match(value.strip()):
        raise fail("ssh_key", "not an OpenSSH public key: paste one line such as 'ssh-ed25519 AAAA... you@host'")
    return value.strip()


def _check_zone_id(value: str) -> str:
    if not _ZONE_ID.match(value):
        raise fail("zone_id", f"{value!r} is not a Cloudflare zone id: 32 lowercase hex characters")
    return value


def _check_bucket_name(value: str) -> str:
    if not re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", value) or ".." in value:
        raise fail("bucket_name", f"{value!r} is not an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)")
    return value


def _check_prefix(value: str) -> str:
    if value.startswith("/") or (value and not value.endswith("/")) or "*" in value:
        raise fail("s3_prefix", f"{value!r} is not a key prefix: no leading slash, no '*', end with '/' (e.g. 'raw/')")
    return value


def _check_certificate_chain(value: str) -> str:
    if "PRIVATE KEY" in value:
        raise fail(
            "private_key_in_plain_config",
            "holds a private key in plain text: remove it, and store the key with "
            "`pulumi config set --secret --path tlsPrivateKeys.<server> < key.pem`",
        )
    if "-----BEGIN CERTIFICATE-----" not in value or "-----END CERTIFICATE-----" not in value:
        raise fail("certificate_chain", "not a PEM certificate chain: paste the server certificate then its issuers")
    return value.strip() + "\n"


DnsLabel = Annotated[str, AfterValidator(_check_dns_label)]
"""A single lowercase DNS label: a server name, a customer name."""
DomainName = Annotated[str, AfterValidator(_check_domain)]
"""A lowercase domain name under which every server gets `<server>.<domain>`."""
PinnedImage = Annotated[str, AfterValidator(_check_image)]
"""A container image pinned to a version tag or a digest; `latest` and untagged are refused."""
Cidr = Annotated[str, AfterValidator(_check_cidr)]
"""A network in CIDR notation, host bits clear."""
AdminCidr = Annotated[str, AfterValidator(_check_admin_cidr)]
"""An administrator network: any CIDR except one that spans the whole internet."""
IPv4 = Annotated[str, AfterValidator(_check_ip)]
HostName = Annotated[str, AfterValidator(_check_host)]
InstanceType = Annotated[str, AfterValidator(_check_instance_type)]
HttpsUrl = Annotated[str, AfterValidator(_check_https_url)]
SshPublicKey = Annotated[str, AfterValidator(_check_ssh_key)]
ZoneId = Annotated[str, AfterValidator(_check_zone_id)]
BucketName = Annotated[str, AfterValidator(_check_bucket_name)]
KeyPrefix = Annotated[str, AfterValidator(_check_prefix)]
CertificateChain = Annotated[str, AfterValidator(_check_certificate_chain)]
Email = Annotated[str, AfterValidator(_check_email)]


class Model(BaseModel):
    """Base of every config model: frozen, no unknown fields, camelCase in the stack file."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        str_strip_whitespace=True,
    )
