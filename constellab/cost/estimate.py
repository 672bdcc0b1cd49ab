"""Monthly cost of what a stack declares on AWS, from its preview document and a price table.

Pure functions over the preview document (`offline.documents.stack_document`: resources with their type
and inputs, `servers`, `schedules`, outputs) and a `PriceTable`; no Pulumi. Each AWS resource belongs to
the server its `constellab:server` tag names (the rest to "shared"), and becomes lines:

- fixed: a price that does not depend on usage, times a quantity the program declares (instance hours,
  GB-months of EBS, public IPv4 hours, alarm-months): in the total;
- usage: billed by use (S3 storage and requests, data transfer out, scheduler invocations): listed with the
  unit price the table has, never in the total;
- unknown: a fixed cost whose price the table does not have (or a resource the estimator does not know):
  "price unknown", never zero, and the total is then a lower bound.

Instance hours: an always-on server runs 730 h a month (AWS's billing month); a scheduled lab its
scheduled weekly hours (the preview's `weeklyRunningHours`) times 52/12, the weeks of a year over its
months; a parked lab (state: stopped) none. Volumes and addresses are billed all month whatever the
instance does.

A schedule's saving is the always-on month (730 h) less its hours, in dollars and as a share of the
always-on cost. The two conventions differ by the day a 365-day year has beyond 52 weeks: 168 h a week ×
52/12 is 728 h, not 730, so the share of the month a schedule saves is up to 0.3 points above the share
of the week it does not run (the preview's `savingPercent`, 1 − weekly hours / 168). A schedule
running every hour of the week never stops its instance: it is billed the always-on 730 h and saves nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from constellab.cost.prices import Price, PriceTable

HOURS_PER_MONTH = 730.0
"""AWS's billing month: 365 days × 24 h / 12."""

HOURS_PER_WEEK = 168.0
"""7 × 24: the week a schedule's `weeklyRunningHours` and its `savingPercent` are counted in."""

WEEKS_PER_MONTH = 52 / 12
"""A scheduled lab's weekly hours become monthly hours at 52/12 (about 4.333) weeks a month."""

SHARED = "shared"
"""Resources no server owns (the network, the access-logs bucket)."""

GP3_BASELINE_IOPS = 3000
GP3_BASELINE_THROUGHPUT = 125
"""What a gp3 volume includes for free: 3,000 IOPS and 125 MiB/s; more is billed per provisioned unit."""

DETAILED_MONITORING_METRICS = 7
"""The metrics EC2 detailed monitoring bills per instance, as custom metrics: AWS's CloudWatch pricing page
(https://aws.amazon.com/cloudwatch/pricing/, "Example 1 - EC2 Detailed Monitoring") counts 7 per instance
and prorates them by the hour the instance sends them."""

FREE_TYPES = frozenset(
    {
        "aws:ec2/vpc:Vpc",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        "aws:ec2/eipAssociation:EipAssociation",
        "aws:ec2/volumeAttachment:VolumeAttachment",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketLogging:BucketLogging",
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketVersioning:BucketVersioning",
    }
)
"""AWS resource types the program declares that AWS does not charge for (configuration, not capacity)."""

FREE_PREFIXES = ("aws:iam/",)
"""IAM (users, roles, policies, access keys, instance profiles) is free."""


@dataclass(frozen=True)
class Line:
    """One priced (or unpriceable) item of a server's month."""

    item: str
    kind: str  # "fixed", "usage" or "unknown"
    unit: str
    quantity: float | None = None
    unit_price: float | None = None
    source: str | None = None
    note: str = ""

    @property
    def monthly(self) -> float | None:
        """In cents, as a bill shows a line: a server's month is the sum of its lines as shown."""
        if self.kind != "fixed" or self.quantity is None:
            return None
        if self.quantity == 0:
            return 0.0
        return None if self.unit_price is None else round(self.quantity * self.unit_price, 2)

    def as_dict(self) -> dict[str, Any]:
        monthly = self.monthly
        return {
            "item": self.item,
            "kind": self.kind,
            "quantity": _rounded(self.quantity, 4),
            "unit": self.unit,
            "unitPriceUsd": self.unit_price,
            "monthlyUsd": _rounded(monthly, 2),
            "source": self.source,
            "note": self.note,
        }


@dataclass(frozen=True)
class Saving:
    """What a schedule (or parking) saves against running the same instance all month: its hours, and its
    detailed monitoring's metrics, billed for the same hours (`hourly_price` is both, per running hour)."""

    weekly_hours: float | None
    instance_hours: float
    hourly_price: float

    @property
    def always_on_monthly(self) -> float:
        return HOURS_PER_MONTH * self.hourly_price

    @property
    def monthly(self) -> float:
        return (HOURS_PER_MONTH - self.instance_hours) * self.hourly_price

    @property
    def percent(self) -> float:
        """The share of the always-on cost of running the instance saved: of the 730 h month (see the module's
        docstring for how it relates to the preview's `savingPercent`, a share of the week)."""
        return 100 * (HOURS_PER_MONTH - self.instance_hours) / HOURS_PER_MONTH

    def as_dict(self) -> dict[str, Any]:
        return {
            "weeklyRunningHours": self.weekly_hours,
            "instanceHours": _rounded(self.instance_hours, 4),
            "alwaysOnMonthlyUsd": _rounded(self.always_on_monthly, 2),
            "savingMonthlyUsd": _rounded(self.monthly, 2),
            "savingPercent": _rounded(self.percent, 1),
        }


@dataclass(frozen=True)
class ServerCost:
    """One server's month: its lines, the hours its instance runs, what its schedule saves."""

    name: str
    role: str
    placement: str
    power: str
    instance_hours: float | None
    hours_basis: str
    lines: tuple[Line, ...]
    saving: Saving | None = None
    note: str = ""

    @property
    def monthly(self) -> float:
        return round(sum(line.monthly or 0.0 for line in self.lines), 2)

    @property
    def unknown(self) -> int:
        return sum(1 for line in self.lines if line.kind == "unknown")

    @property
    def unknown_items(self) -> list[dict[str, Any]]:
        """What has no price, and how much of it: a change that keeps the same unknown items in the same
        quantities changes the month by exactly its priced part."""
        found = [
            {"item": line.item, "quantity": _rounded(line.quantity, 4), "unit": line.unit}
            for line in self.lines
            if line.kind == "unknown"
        ]
        return sorted(found, key=lambda entry: (entry["item"], entry["unit"], entry["quantity"] or 0))

    @property
    def in_aws(self) -> bool:
        return any(line.kind in ("fixed", "unknown") for line in self.lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "placement": self.placement,
            "power": self.power,
            "instanceHours": _rounded(self.instance_hours, 4),
            "hoursBasis": self.hours_basis,
            "monthlyUsd": _rounded(self.monthly, 2),
            "priceUnknown": self.unknown,
            "unknownItems": self.unknown_items,
            "saving": self.saving.as_dict() if self.saving else None,
            "note": self.note,
            "lines": [line.as_dict() for line in self.lines],
        }

    def brief(self) -> dict[str, Any]:
        """`as_dict` without the lines: what the preview document carries per server."""
        return {key: value for key, value in self.as_dict().items() if key != "lines"}


@dataclass(frozen=True)
class StackCost:
    """A stack's month: per server, then what no server owns."""

    stack: str
    region: str | None
    servers: tuple[ServerCost, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def monthly(self) -> float:
        """The sum of the servers' months as shown (in cents), so that the stack's total, and its change in a
        pull request, are the sums of the servers' figures and their changes."""
        return round(sum(round(server.monthly, 2) for server in self.servers), 2)

    @property
    def unknown(self) -> int:
        return sum(server.unknown for server in self.servers)

    @property
    def complete(self) -> bool:
        """Whether every fixed cost has a price (the total is then the estimate, not a lower bound)."""
        return self.unknown == 0

    def server(self, name: str) -> ServerCost:
        return next(server for server in self.servers if server.name == name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "region": self.region,
            "currency": "USD",
            "hoursPerMonth": HOURS_PER_MONTH,
            "monthlyUsd": _rounded(self.monthly, 2),
            "complete": self.complete,
            "priceUnknown": self.unknown,
            "notes": list(self.notes),
            "servers": [server.as_dict() for server in self.servers],
        }

    def brief(self, prices_built: str) -> dict[str, Any]:
        """The preview document's `cost`: the totals and each server's month, without the lines."""
        return {
            "currency": "USD",
            "pricesBuilt": prices_built,
            "monthlyUsd": _rounded(self.monthly, 2),
            "complete": self.complete,
            "priceUnknown": self.unknown,
            "notes": list(self.notes),
            "servers": {server.name: server.brief() for server in self.servers},
        }


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def region_of(document: Mapping[str, Any]) -> str | None:
    """The stack's AWS region as the preview document shows it (its own field, a backup target, a zone)."""
    if isinstance(document.get("region"), str):
        return str(document["region"])
    servers = document.get("outputs", {}).get("servers")
    for server in (servers or {}).values() if isinstance(servers, dict) else ():
        target = server.get("backupTarget") if isinstance(server, dict) else None
        if isinstance(target, dict) and isinstance(target.get("region"), str):
            return str(target["region"])
    for resource in document.get("resources", []):
        zone = resource.get("inputs", {}).get("availabilityZone")
        if isinstance(zone, str) and zone[-1:].isalpha():
            return zone[:-1]
    return None


def running_hours(document: Mapping[str, Any], server: str) -> tuple[float, str, float | None]:
    """Hours a month the server's instance runs, why, and the schedule's weekly hours (if scheduled)."""
    summary = document.get("servers", {}).get(server, {})
    outputs = document.get("outputs", {}).get("servers", {})
    state = outputs.get(server, {}).get("state") if isinstance(outputs, dict) else None
    if summary.get("power") == "parked" or state == "stopped":
        return 0.0, "parked (state: stopped): no instance hours", None
    schedule = document.get("schedules", {}).get(server)
    if isinstance(schedule, dict) and isinstance(schedule.get("weeklyRunningHours"), int | float):
        weekly = float(schedule["weeklyRunningHours"])
        idle = " (idle stop may run it less)" if "idle stop" in str(summary.get("power", "")) else ""
        if weekly >= HOURS_PER_WEEK:
            return HOURS_PER_MONTH, f"scheduled every hour of the week, never stopped: 730 h/month{idle}", weekly
        basis = f"scheduled: {_number(weekly)} h/week × 52/12 = {_number(weekly * WEEKS_PER_MONTH)} h/month"
        return weekly * WEEKS_PER_MONTH, basis + idle, weekly
    return HOURS_PER_MONTH, "always on: 730 h/month", None


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _price_line(item: str, unit: str, quantity: float, price: Price | None, note: str = "") -> Line:
    if price is None and quantity == 0:
        # nothing of it is billed this month (a parked lab's hours): $0.00 whatever the unit price
        return Line(item, "fixed", unit, 0.0, None, None, note)
    if price is None:
        unknown = "price unknown: not in the price table"
        return Line(item, "unknown", unit, quantity, note=f"{unknown}; {note}" if note else unknown)
    return Line(item, "fixed", unit, quantity, price.value, price.source, note)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def volume_lines(
    table: PriceTable, region: str, name: str, volume_type: object, size: object, iops: object, throughput: object
) -> list[Line]:
    """A volume's GB-months, and its IOPS and throughput above the free baseline (billed while stopped)."""
    if not isinstance(volume_type, str) or not _is_number(size):
        return [Line(f"EBS {name}", "unknown", "GB-month", note="price unknown: type or size unknown until apply")]
    gb = float(size)  # type: ignore[arg-type]
    lines = [
        _price_line(
            f"EBS {volume_type} {name}, {_number(gb)} GB", "GB-month", gb, table.volume_gb_month(region, volume_type)
        )
    ]
    if volume_type == "gp3" and _is_number(iops) and float(iops) > GP3_BASELINE_IOPS:  # type: ignore[arg-type]
        extra = float(iops) - GP3_BASELINE_IOPS  # type: ignore[arg-type]
        lines.append(
            _price_line(
                f"EBS gp3 {name}, IOPS above 3,000", "IOPS-month", extra, table.volume_iops_month(region, "gp3")
            )
        )
    if volume_type == "gp3" and _is_number(throughput) and float(throughput) > GP3_BASELINE_THROUGHPUT:  # type: ignore[arg-type]
        extra = float(throughput) - GP3_BASELINE_THROUGHPUT  # type: ignore[arg-type]
        lines.append(
            _price_line(
                f"EBS gp3 {name}, throughput above 125 MiB/s",
                "MiB/s-month",
                extra,
                table.volume_throughput_month(region, "gp3"),
            )
        )
    return lines


def detailed_monitoring_line(table: PriceTable, region: str, hours: float) -> Line:
    """EC2 detailed monitoring: its metrics are billed as custom metrics, prorated by the hour and only while
    the instance sends them (runs), so a scheduled lab pays for its running hours and a parked one nothing."""
    metric_months = DETAILED_MONITORING_METRICS * hours / HOURS_PER_MONTH
    return _price_line(
        f"CloudWatch detailed monitoring ({DETAILED_MONITORING_METRICS} metrics)",
        "metric-month",
        metric_months,
        table.metric_month(region),
        note=f"{DETAILED_MONITORING_METRICS} metrics × {_number(hours)} h/730 h: billed while the instance runs",
    )


def _resource_lines(
    resource: Mapping[str, Any], table: PriceTable, region: str, hours: float
) -> tuple[list[Line], list[str]]:
    """A resource's fixed and unknown lines, and the usage items it adds (counted per server)."""
    kind, inputs = resource["type"], resource.get("inputs", {})
    if kind in FREE_TYPES or kind.startswith(FREE_PREFIXES):
        return [], []
    if kind == "aws:ec2/instance:Instance":
        instance_type = inputs.get("instanceType")
        lines: list[Line] = []
        if isinstance(instance_type, str):
            lines.append(
                _price_line(
                    f"EC2 {instance_type} (Linux, on-demand)", "h", hours, table.instance_hour(region, instance_type)
                )
            )
        else:
            lines.append(Line("EC2 instance", "unknown", "h", hours, note="price unknown: instance type unknown"))
        root = inputs.get("rootBlockDevice") if isinstance(inputs.get("rootBlockDevice"), dict) else {}
        lines += volume_lines(
            table,
            region,
            "root volume",
            root.get("volumeType"),
            root.get("volumeSize"),
            root.get("iops"),
            root.get("throughput"),
        )
        if inputs.get("monitoring") is True:
            lines.append(detailed_monitoring_line(table, region, hours))
        return lines, ["egress"]
    if kind == "aws:ebs/volume:Volume":
        name = "data volume"
        return volume_lines(
            table, region, name, inputs.get("type"), inputs.get("size"), inputs.get("iops"), inputs.get("throughput")
        ), []
    if kind == "aws:ec2/eip:Eip":
        return [
            _price_line(
                "Public IPv4 address (Elastic IP)",
                "h",
                HOURS_PER_MONTH,
                table.public_ipv4_hour(region),
                note="billed every hour, the instance running or not",
            )
        ], []
    if kind == "aws:cloudwatch/metricAlarm:MetricAlarm":
        period = inputs.get("period")
        metric = inputs.get("metricName", "metric")
        if _is_number(period) and float(period) < 60:
            return [Line(f"CloudWatch high-resolution alarm ({metric})", "unknown", "alarm-month", 1)], []
        return [_price_line(f"CloudWatch alarm ({metric})", "alarm-month", 1, table.alarm_month(region))], []
    if kind == "aws:s3/bucket:Bucket":
        return [], ["s3"]
    if kind == "aws:scheduler/schedule:Schedule":
        return [], ["scheduler"]
    if kind.startswith("aws:"):
        return [Line(kind, "unknown", "resource", 1, note="price unknown: the estimator does not price this type")], []
    return [], []


def _usage_line(item: str, unit: str, price: Price | None, note: str = "depends on usage") -> Line:
    """A cost billed by use: its unit price where the table has one, never a quantity nor a total."""
    return Line(item, "usage", unit, unit_price=price.value if price else None, source=price.source if price else None,
                note=note)  # fmt: skip


def _usage_lines(counts: Mapping[str, int], table: PriceTable, region: str) -> list[Line]:
    lines = []
    if buckets := counts.get("s3"):
        storage = f"S3 Standard storage ({buckets} bucket{'s' if buckets > 1 else ''})"
        lines += [
            _usage_line(storage, "GB-month", table.s3_standard_gb_month(region)),
            _usage_line("S3 PUT requests", "1,000 requests", table.s3_put_per_1000(region)),
            _usage_line("S3 GET requests", "1,000 requests", table.s3_get_per_1000(region)),
        ]
    if counts.get("egress"):
        lines.append(
            _usage_line(
                "Data transfer out to the internet",
                "GB",
                table.data_transfer_out_gb(region),
                "depends on usage: the first 10 TB a month, after AWS's free allowance",
            )
        )
    if schedules := counts.get("scheduler"):
        lines.append(
            _usage_line(
                f"EventBridge Scheduler invocations ({schedules} schedule{'s' if schedules > 1 else ''})",
                "1,000,000 invocations",
                table.scheduler_per_million(region),
                "depends on usage: one invocation per start or stop; the first 14 million a month are free",
            )
        )
    return lines


def _tags(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    tags = resource.get("inputs", {}).get("tags")
    return tags if isinstance(tags, dict) else {}


def _owner(resource: Mapping[str, Any], servers: Iterable[str]) -> str:
    owner = _tags(resource).get("constellab:server")
    if isinstance(owner, str):
        return owner
    parent = resource.get("parent") or ""
    # Untagged children of a server's component (its schedules) belong to that server.
    for name in servers:
        if f"-{name}-host" in parent:
            return name
    return SHARED


def estimate(document: Mapping[str, Any], table: PriceTable, region: str | None = None) -> StackCost:
    """The stack's monthly cost in USD, per server, from its preview document and the price table."""
    region = region or region_of(document)
    summaries: Mapping[str, Any] = document.get("servers", {})
    names = sorted(summaries)
    aws = [r for r in document.get("resources", []) if r.get("custom") and str(r.get("type", "")).startswith("aws:")]
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for resource in aws:
        groups.setdefault(_owner(resource, names), []).append(resource)
    notes: list[str] = []
    if region is None and aws:
        notes.append("the stack's AWS region is unknown: every AWS price is unknown")
    if not aws:
        notes.append("nothing in AWS: this stack declares no AWS resource")
    costs = [
        _server_cost(name, summaries.get(name, {}), groups.get(name, []), document, table, region or "")
        for name in [*names, *sorted(set(groups) - set(names) - {SHARED})]
    ]
    if SHARED in groups:
        costs.append(_server_cost(SHARED, {"role": "shared"}, groups[SHARED], document, table, region or ""))
    return StackCost(str(document.get("stack", "")), region, tuple(costs), tuple(notes))


def _server_cost(
    name: str,
    summary: Mapping[str, Any],
    resources: list[Mapping[str, Any]],
    document: Mapping[str, Any],
    table: PriceTable,
    region: str,
) -> ServerCost:
    placement = str(summary.get("placement", "-"))
    power = str(summary.get("power", "-"))
    has_instance = any(r["type"] == "aws:ec2/instance:Instance" for r in resources)
    hours, basis, weekly = running_hours(document, name) if has_instance else (None, "no instance in AWS", None)
    lines: list[Line] = []
    usage: dict[str, int] = {}
    for resource in sorted(resources, key=lambda r: (r["type"] != "aws:ec2/instance:Instance", r["type"], r["name"])):
        fixed, used = _resource_lines(resource, table, region, hours or 0.0)
        lines += fixed
        for item in used:
            usage[item] = usage.get(item, 0) + 1
    lines += _usage_lines(usage, table, region)
    note = ""
    if placement in ("onPrem", "local"):
        where = "on-prem" if placement == "onPrem" else "on this machine"
        note = f"{where}: the host is not in AWS, nothing to price" + (
            "; its S3 buckets depend on usage" if usage else ""
        )
    saving = None
    instance = next((line for line in lines if line.item.startswith("EC2 ") and line.unit == "h"), None)
    if hours is not None and hours < HOURS_PER_MONTH and instance is not None and instance.unit_price is not None:
        hourly = instance.unit_price
        metrics = next((line for line in lines if line.item.startswith("CloudWatch detailed monitoring")), None)
        if metrics is not None and metrics.unit_price is not None:
            hourly += DETAILED_MONITORING_METRICS * metrics.unit_price / HOURS_PER_MONTH
        saving = Saving(weekly, hours, hourly)
    return ServerCost(name, str(summary.get("role", "-")), placement, power, hours, basis, tuple(lines), saving, note)
