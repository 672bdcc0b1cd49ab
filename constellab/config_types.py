"""Reusable validated types of the stack file, each with its own message, and the base of every model.

A bad value is reported with its field path and with what would be accepted instead.
"""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from constellab.secrets import TLS_PRIVATE_KEYS
from policies.rules import field_limits

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
_ZONE_ID = re.compile(r"^[a-f0-9]{32}$")
_SSH_KEY = re.compile(r"^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/=]{40,}( .*)?$")


def fail(kind: str, message: str) -> PydanticCustomError:
    """A validation error of one kind with its message (pydantic reports it with the field's path)."""
    return PydanticCustomError(kind, message)


def yaml_text(value: object) -> str:
    """A value as the stack file shows it: a YAML boolean (`yes`, `true`, `on`...) is yes/true or no/false."""
    if isinstance(value, bool):
        return "yes/true" if value else "no/false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "empty"
    return repr(value)


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
    problem = field_limits.unpinned(value)  # the guardrail docker-images-pinned
    if problem is not None:
        example = f"{match.group('repository')}:1.2.3"
        raise fail(
            "image_unpinned",
            f"{value!r} {problem}: pin a version tag that starts with a digit (optionally after 'v'), "
            f"or a sha256 digest (e.g. '{example}')",
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
    if field_limits.opens_to_world(value):  # the guardrail ec2-no-admin-or-database-port-to-world
        raise fail(
            "cidr_world",
            f"{value!r} opens SSH to the whole internet: list your administrators' networks instead",
        )
    if field_limits.too_wide_for_admins(value):  # the guardrail ec2-admin-cidrs-narrow
        limit = field_limits.admin_prefix_limit(value)
        span = "half the internet" if network.prefixlen == 1 else f"a /{network.prefixlen}"
        if network.version == 4 and network.prefixlen > 1:
            span += f" ({network.num_addresses:,} addresses)"
        raise fail(
            "cidr_too_wide",
            f"{value!r} opens SSH to {span}, wider than the /{limit} an administrator network may span: "
            f"list your administrators' networks (each /{limit} or narrower)",
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
    if not field_limits.instance_type_allowed(value):  # the guardrail ec2-allowed-instance-types
        families = ", ".join(pattern.removesuffix(".*") for pattern in field_limits.ALLOWED_INSTANCE_TYPES)
        raise fail(
            "instance_type_not_allowed",
            f"{value!r} is not an instance type the guardrails allow: pick one of the families {families} "
            "(e.g. 't3.large', 'm7i.xlarge')",
        )
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
            "holds a private key in plain text: remove it, and store the key as the server's secret with "
            f"`{TLS_PRIVATE_KEYS.set_command()}`",
        )
    if "-----BEGIN CERTIFICATE-----" not in value or "-----END CERTIFICATE-----" not in value:
        raise fail("certificate_chain", "not a PEM certificate chain: paste the server certificate then its issuers")
    return value.strip() + "\n"


def _check_time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise fail(
            "time_zone", f"{value!r} is not an IANA time zone (e.g. 'Europe/Paris', 'America/New_York')"
        ) from None
    return value


def _clock_time_read_as_number(value: object) -> object:
    """YAML 1.1, as PyYAML reads it, takes an unquoted `19:00` for a number in base 60: 19 * 60 + 0 = 1140."""
    if isinstance(value, bool) or not isinstance(value, int):
        return value
    hours, minutes = divmod(value, 60)
    if 1 <= hours <= 23:
        raise fail(
            "clock_time_number",
            f'{hours}:{minutes:02d} was read by YAML as the number {value}: quote it ("{hours:02d}:{minutes:02d}")',
        )
    read_as = f" (YAML reads an unquoted {hours}:{minutes:02d} as {value})" if hours else ""
    raise fail(
        "clock_time_number",
        f'the number {value} is not a time of day{read_as}: write it as "HH:MM", quoted (e.g. "19:00")',
    )


def _check_clock_time(value: str) -> str:
    if not re.match(r"^([01][0-9]|2[0-3]):([0-5][0-9])$", value):
        raise fail("clock_time", f"{value!r} is not a time of day as HH:MM (e.g. '08:30')")
    return value


_WHOLE = re.compile(r"^\s*[+-]?[0-9]+\s*$")
_DECIMAL = re.compile(r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)\s*$")


def number(what: str, *, whole: bool = True) -> BeforeValidator:
    """Refuses, as `must be <what>`, what YAML read as something else: a boolean (`yes`), a fraction for a whole
    number, text that is no number. Put it after the field's bounds: `Annotated[int, Field(ge=1), number(...)]`
    (before them, pydantic no longer writes the bounds into the JSON schema as minimum and maximum)."""

    def check(value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and (value.is_integer() or not whole):
            return value
        if isinstance(value, str) and (_WHOLE if whole else _DECIMAL).match(value):
            return value
        raise fail("number", f"must be {what}, not {yaml_text(value)}")

    return BeforeValidator(check)


DnsLabel = Annotated[str, AfterValidator(_check_dns_label)]
"""A single lowercase DNS label: a server name, a customer name."""
DomainName = Annotated[str, AfterValidator(_check_domain)]
"""A lowercase domain name under which every server gets `<server>.<domain>`."""
PinnedImage = Annotated[str, AfterValidator(_check_image)]
"""A container image pinned to a version tag or a digest; `latest` and untagged are refused."""
Cidr = Annotated[str, AfterValidator(_check_cidr)]
"""A network in CIDR notation, host bits clear."""
AdminCidr = Annotated[str, AfterValidator(_check_admin_cidr)]
"""An administrator network: at most as wide as the guardrails allow (`field_limits`), never the internet."""
IPv4 = Annotated[str, AfterValidator(_check_ip)]
HostName = Annotated[str, AfterValidator(_check_host)]
InstanceType = Annotated[str, AfterValidator(_check_instance_type)]
"""An EC2 instance type of a family the guardrails allow (`field_limits`)."""
HttpsUrl = Annotated[str, AfterValidator(_check_https_url)]
SshPublicKey = Annotated[str, AfterValidator(_check_ssh_key)]
ZoneId = Annotated[str, AfterValidator(_check_zone_id)]
BucketName = Annotated[str, AfterValidator(_check_bucket_name)]
KeyPrefix = Annotated[str, AfterValidator(_check_prefix)]
CertificateChain = Annotated[str, AfterValidator(_check_certificate_chain)]
Email = Annotated[str, AfterValidator(_check_email)]
TimeZone = Annotated[str, AfterValidator(_check_time_zone)]
"""An IANA time zone, as EventBridge Scheduler reads it."""
ClockTime = Annotated[str, BeforeValidator(_clock_time_read_as_number), AfterValidator(_check_clock_time)]
"""A time of day, `HH:MM`, quoted in the stack file (unquoted, YAML reads `19:00` as 1140)."""
DataDiskGb = Annotated[int, Field(ge=20, le=16384), number("a whole number of GB")]
"""The size of a data volume, in GB."""
Port = Annotated[int, Field(ge=1, le=65535), number("a port number (1 to 65535)")]


class Model(BaseModel):
    """Base of every config model: frozen, no unknown fields, camelCase in the stack file."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        str_strip_whitespace=True,
    )
