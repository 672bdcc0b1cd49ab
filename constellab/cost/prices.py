"""The price table the cost estimate multiplies: `prices.json` beside this module, or a file given.

The table holds, per region, the unit prices of what the program declares that has a price that does not
depend on usage (EC2 on-demand hours, EBS gp3 GB-months, public IPv4 hours, CloudWatch alarms and metrics)
and the unit prices of the usage-based ones it lists (S3 Standard, data transfer out, EventBridge
Scheduler). Every price names its source, described once under `sources` with its address and date. A
price not in the table is unknown: callers say "price unknown", never zero.

Standard library only.
"""

from __future__ import annotations

import datetime
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = 1
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
"""A source's `date` starts with the day (an offer file's publication time is a full timestamp)."""
SHIPPED = Path(__file__).with_name("prices.json")
"""The table shipped with the toolkit (rebuilt by `./run ops prices refresh`)."""


class PriceTableError(Exception):
    """The table cannot be read or is not a price table (the message says why, in one line)."""


@dataclass(frozen=True)
class Price:
    """One unit price and where it comes from."""

    value: float
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "source": self.source}


@dataclass(frozen=True)
class PriceTable:
    """A validated price table (`load` reads one)."""

    data: dict[str, Any]

    @property
    def built(self) -> str:
        return str(self.data.get("built", "unknown"))

    @property
    def regions(self) -> list[str]:
        return sorted(self.data["regions"])

    def source(self, key: str) -> dict[str, Any]:
        """A source's address, date and description (empty when the table does not describe it)."""
        found = self.data.get("sources", {}).get(key)
        return found if isinstance(found, dict) else {}

    def _region(self, region: str) -> dict[str, Any]:
        found = self.data["regions"].get(region)
        return found if isinstance(found, dict) else {}

    def instance_hour(self, region: str, instance_type: str) -> Price | None:
        """The on-demand Linux price of one instance hour, if the table has it."""
        ec2 = self._region(region).get("ec2", {})
        value = ec2.get("hourly", {}).get(instance_type)
        return Price(float(value), str(ec2.get("source", ""))) if _is_price(value) else None

    def _single(self, region: str, *path: str) -> Price | None:
        node: Any = self._region(region)
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and _is_price(node.get("value")):
            return Price(float(node["value"]), str(node.get("source", "")))
        return None

    def volume_gb_month(self, region: str, volume_type: str) -> Price | None:
        return self._single(region, "ebs", volume_type, "gbMonth")

    def volume_iops_month(self, region: str, volume_type: str) -> Price | None:
        """Per provisioned IOPS-month above the type's free baseline."""
        return self._single(region, "ebs", volume_type, "iopsMonth")

    def volume_throughput_month(self, region: str, volume_type: str) -> Price | None:
        """Per provisioned MiB/s-month above the type's free baseline."""
        return self._single(region, "ebs", volume_type, "throughputMonth")

    def public_ipv4_hour(self, region: str) -> Price | None:
        return self._single(region, "publicIpv4Hourly")

    def alarm_month(self, region: str) -> Price | None:
        return self._single(region, "cloudwatch", "alarmMonth")

    def metric_month(self, region: str) -> Price | None:
        """A detailed-monitoring (or custom) metric per month, first tier."""
        return self._single(region, "cloudwatch", "metricMonth")

    def s3_standard_gb_month(self, region: str) -> Price | None:
        return self._single(region, "s3", "standardGbMonth")

    def s3_put_per_1000(self, region: str) -> Price | None:
        return self._single(region, "s3", "putPer1000")

    def s3_get_per_1000(self, region: str) -> Price | None:
        return self._single(region, "s3", "getPer1000")

    def data_transfer_out_gb(self, region: str) -> Price | None:
        """Data transfer out to the internet, per GB, first paid tier (the first 10 TB a month)."""
        return self._single(region, "dataTransfer", "outToInternetGb")

    def scheduler_per_million(self, region: str) -> Price | None:
        """EventBridge Scheduler, per million invocations beyond the account's free ones."""
        return self._single(region, "scheduler", "invocationsPerMillion")


def _is_price(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def validate(data: object) -> PriceTable:
    """The table, or PriceTableError naming the first thing that makes it no price table."""
    if not isinstance(data, dict):
        raise PriceTableError("not a price table: the file holds no JSON object")
    if data.get("schema") != SCHEMA:
        raise PriceTableError(f"not a price table of schema {SCHEMA} (schema: {data.get('schema')!r})")
    if data.get("currency") != "USD":
        raise PriceTableError(f"prices must be in USD (currency: {data.get('currency')!r})")
    regions = data.get("regions")
    if not isinstance(regions, dict) or not regions:
        raise PriceTableError("the table lists no region")
    sources = data.get("sources")
    if not isinstance(sources, dict):
        raise PriceTableError("the table describes no source ('sources')")
    for key, source in sources.items():
        if not isinstance(source, dict) or not str(source.get("url", "")).startswith(("http://", "https://")):
            raise PriceTableError(f"source {key!r}: no address (url)")
        if not _is_date(str(source.get("date", ""))):
            raise PriceTableError(f"source {key!r}: its date is not a date (YYYY-MM-DD): {source.get('date')!r}")
    for region, section in regions.items():
        if not isinstance(section, dict):
            raise PriceTableError(f"region {region}: not an object")
        if unsourced := _unsourced(section):
            raise PriceTableError(f"region {region}: {unsourced} names no source")
        hourly = section.get("ec2", {}).get("hourly", {}) if isinstance(section.get("ec2"), dict) else {}
        if not isinstance(hourly, dict):
            raise PriceTableError(f"region {region}: ec2.hourly is not an object")
        for instance_type, value in hourly.items():
            if not _is_price(value):
                raise PriceTableError(f"region {region}: {instance_type} has no price ({value!r})")
        for source in _sources_named(section):
            if source not in sources:
                raise PriceTableError(f"region {region}: source {source!r} is not described under 'sources'")
    return PriceTable(data)


def _is_date(text: str) -> bool:
    """Whether `text` starts with a real day, YYYY-MM-DD (an offer file's publication time is a timestamp)."""
    if not ISO_DATE.match(text):
        return False
    try:
        datetime.date.fromisoformat(text[:10])
    except ValueError:
        return False
    return text[10:11] in ("", "T", " ")


def _unsourced(section: dict[str, Any], path: str = "") -> str | None:
    """The first price of a region's section (an object with a `value`, or the EC2 hours) without a source."""
    if "hourly" in section.get("ec2", {}) and not isinstance(section["ec2"].get("source"), str):
        return f"{path}ec2"
    for key, node in section.items():
        if not isinstance(node, dict) or key == "ec2":
            continue
        if "value" in node and not isinstance(node.get("source"), str):
            return f"{path}{key}"
        if found := _unsourced(node, f"{path}{key}."):
            return found
    return None


def _sources_named(node: object) -> set[str]:
    if not isinstance(node, dict):
        return set()
    found = {node["source"]} if isinstance(node.get("source"), str) else set()
    for value in node.values():
        found |= _sources_named(value)
    return found


@functools.cache
def shipped() -> PriceTable:
    """The shipped table, read once per process (the preview documents' estimates use it)."""
    return load()


def load(path: Path | None = None) -> PriceTable:
    """The shipped table, or the one at `path`."""
    path = path or SHIPPED
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise PriceTableError(f"{path}: {error.strerror or error}") from None
    except json.JSONDecodeError as error:
        raise PriceTableError(f"{path}: not JSON ({error.msg}, line {error.lineno})") from None
    try:
        return validate(data)
    except PriceTableError as error:
        raise PriceTableError(f"{path}: {error}") from None
