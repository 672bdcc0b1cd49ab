"""The servers of a stack file: where each runs (placement), its certificates, its power (schedule, idle stop,
parked), its backups and outside sources, and the hub, lab and space models.

Part of the stack file's models (`constellab.config` is the entry point).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from constellab.config_types import (
    BucketName,
    CertificateChain,
    ClockTime,
    DataDiskGb,
    DnsLabel,
    HostName,
    HttpsUrl,
    InstanceType,
    IPv4,
    KeyPrefix,
    Model,
    Port,
    TimeZone,
    number,
)
from constellab.lab_config import LabConfiguration, SpaceConfiguration, StackConfiguration

# ---------------------------------------------------------------------------------------------
# Placement: cloud, on-prem, local
# ---------------------------------------------------------------------------------------------


class CloudPlacement(Model):
    """An EC2 instance with a separate encrypted data volume mounted at /app."""

    kind: Literal["cloud"]
    instance_type: InstanceType = "t3.large"
    data_disk_gb: DataDiskGb = 100
    """Size of the data volume that holds /app (databases, lab data, Docker's data root)."""


class OnPremPlacement(Model):
    """A customer machine running Docker, reached over SSH (`ssh://user@host:port`)."""

    kind: Literal["onPrem"]
    ssh_host: HostName
    ssh_user: DnsLabel = "constellab"
    ssh_port: Port = 22
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

    minutes: Annotated[int, Field(ge=10, le=1440), number("a whole number of minutes")] = 60
    cpu_below_percent: Annotated[float, Field(gt=0, le=50), number("a percentage (e.g. 5)", whole=False)] = 5.0


BIOTA_MIN_DISK_GB = 50
"""The Biota database's pre-built data directory is about 10 GB and grows; below this it does not fit."""


class BackupRetention(Model):
    """How long the lab manager's backups are kept, by prefix of the backup bucket."""

    daily_days: Annotated[int, Field(ge=1, le=365), number("a whole number of days")] = 7
    weekly_days: Annotated[int, Field(ge=7, le=3650), number("a whole number of days")] = 35

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
