"""Rebuild the price table from AWS's Price List bulk API (no credentials), streaming its offer files.

The bulk API (https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/using-ppslong.html) is three
levels of files under one endpoint:

1. `/offers/v1.0/aws/index.json`: every service's offer, with `currentRegionIndexUrl`;
2. the service's region index: `regions.<region>.currentVersionUrl`, the region's current offer file;
3. the offer file itself, as JSON or, at the same address ending in `.csv`, as CSV: a few
   `"Name","value"` lines (`Publication Date` among them), a header row, then one row per price
   (SKU, TermType, Unit, PricePerUnit, StartingRange and the product's attributes as columns).

The EC2 offer of one region is hundreds of megabytes: the CSV form is read a row at a time, keeping only
the few prices the table needs (`keep`), so memory stays flat.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import json
import os
import stat
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from constellab.cost.prices import SCHEMA, validate

DEFAULT_ENDPOINT = "https://pricing.us-east-1.amazonaws.com"
INDEX_PATH = "/offers/v1.0/aws/index.json"
SERVICES = ("AmazonEC2", "AmazonVPC", "AmazonCloudWatch", "AmazonS3", "AWSEvents", "AWSDataTransfer")
DEFAULT_REGIONS = ("eu-central-1", "eu-west-1", "eu-west-3", "us-east-1")
PROGRESS_EVERY = 250_000
LOCATION_COLUMNS = ("Location Type", "From Location Type")
"""Where a row's price applies: the EC2 offer's `Location Type`, the data transfer offer's `From Location Type`
(an empty or absent column is the region's own price)."""
TIMEOUT = 120.0

Progress = Callable[[str], None]


class PriceListError(Exception):
    """The Price List could not be read (the message says what and where, in one line)."""


def _url(endpoint: str, path: str) -> str:
    return path if path.startswith(("http://", "https://")) else endpoint.rstrip("/") + path


def _open(url: str) -> Any:
    try:
        return urllib.request.urlopen(url, timeout=TIMEOUT)
    except urllib.error.HTTPError as error:
        raise PriceListError(f"{url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise PriceListError(f"{url}: {reason}") from None


def fetch_json(url: str) -> dict[str, Any]:
    with _open(url) as response:
        try:
            data = json.loads(response.read())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise PriceListError(f"{url}: not JSON ({error})") from None
    if not isinstance(data, dict):
        raise PriceListError(f"{url}: not a JSON object")
    return data


def read_csv_offer(lines: Iterable[str], url: str, metadata: dict[str, str]) -> Iterator[dict[str, str]]:
    """The offer file's rows as {column: value}; its leading `"Name","value"` lines go into `metadata`."""
    reader = csv.reader(lines)
    header: list[str] | None = None
    for row in reader:
        if header is None:
            if row and row[0] == "SKU":
                header = row
            elif len(row) >= 2:
                metadata[row[0]] = row[1]
            elif row:
                raise PriceListError(f"{url}: not a Price List CSV offer (line {reader.line_num}: {row[0][:40]!r})")
            continue
        yield dict(zip(header, row, strict=False))
    if header is None:
        raise PriceListError(f"{url}: no header row (a Price List CSV offer starts its rows with a SKU column)")


def stream_csv_offer(url: str, metadata: dict[str, str]) -> Iterator[dict[str, str]]:
    with _open(url) as response:
        text = io.TextIOWrapper(response, encoding="utf-8", newline="")
        try:
            yield from read_csv_offer(text, url, metadata)
        except (csv.Error, UnicodeDecodeError) as error:
            raise PriceListError(f"{url}: unreadable CSV ({error})") from None


def _price(row: dict[str, str]) -> float | None:
    try:
        value = float(row.get("PricePerUnit", ""))
    except ValueError:
        return None
    return value if value >= 0 else None


def _usage(row: dict[str, str]) -> str:
    return row.get("usageType", "")


def keep(service: str, row: dict[str, str], families: tuple[str, ...]) -> tuple[tuple[str, ...], float] | None:
    """Where in a region's section a row's price goes, and the price, if the table needs it.

    Only on-demand rows: Linux, shared tenancy, no pre-installed software, capacity used (the same
    filter AWS's own EC2 price page applies), gp3 storage, IOPS and throughput, in-use public IPv4, standard
    alarms and the first tier of metrics, S3 Standard storage's first tier and its two request tiers,
    EventBridge Scheduler's paid tier and data transfer out to the internet's first paid tier. Rows of a
    region's Local Zones and Wavelength Zones (in the same offer file) are left out.
    """
    if row.get("TermType") != "OnDemand":
        return None
    price = _price(row)
    if price is None:
        return None
    family, unit, usage = row.get("Product Family", ""), row.get("Unit", ""), _usage(row)
    if any(row.get(column) not in (None, "", "AWS Region") for column in LOCATION_COLUMNS):
        return None  # a region's offer also prices its Local Zones and Wavelength Zones: not where we deploy
    if service == "AmazonEC2":
        instance_type = row.get("Instance Type", "")
        if (
            family == "Compute Instance"
            and unit == "Hrs"
            and row.get("Operating System") == "Linux"
            and row.get("Tenancy") == "Shared"
            and row.get("Pre Installed S/W") in ("NA", "")
            and row.get("CapacityStatus") == "Used"
            and price > 0
            and any(fnmatch.fnmatchcase(instance_type, pattern) for pattern in families)
        ):
            return ("ec2", "hourly", instance_type), price
        if row.get("Volume API Name") == "gp3" and family == "Storage" and unit == "GB-Mo":
            return ("ebs", "gp3", "gbMonth"), price
        if row.get("Volume API Name") == "gp3" and unit == "IOPS-Mo":
            return ("ebs", "gp3", "iopsMonth"), price
        if row.get("Volume API Name") == "gp3" and unit == "GiBps-mo":
            # AWS prices provisioned throughput per GiB/s-month; the program provisions it in MiB/s
            return ("ebs", "gp3", "throughputMonth"), price / 1024
    elif service == "AmazonVPC":
        if "PublicIPv4:InUseAddress" in usage and unit == "Hrs":
            return ("publicIpv4Hourly",), price
    elif service == "AmazonCloudWatch":
        if usage.endswith("CW:AlarmMonitorUsage"):
            return ("cloudwatch", "alarmMonth"), price
        if usage.endswith("CW:MetricMonitorUsage") and row.get("StartingRange") in ("0", "0.0"):
            return ("cloudwatch", "metricMonth"), price
    elif service == "AmazonS3":
        if usage.endswith("TimedStorage-ByteHrs") and row.get("Volume Type") == "Standard":
            if row.get("StartingRange") in ("0", "0.0") and unit == "GB-Mo":
                return ("s3", "standardGbMonth"), price
        elif usage.endswith("Requests-Tier1") and unit == "Requests":
            return ("s3", "putPer1000"), price * 1000
        elif usage.endswith("Requests-Tier2") and unit == "Requests":
            return ("s3", "getPer1000"), price * 1000
    elif service == "AWSEvents" and usage.endswith("ScheduledInvocation") and unit == "Invocations" and price > 0:
        # EventBridge Scheduler: a free first tier (0 to 14 million a month), then the price kept here
        return ("scheduler", "invocationsPerMillion"), price * 1_000_000
    elif service == "AWSDataTransfer" and _internet_egress_first_tier(usage, unit, row) and price > 0:
        return ("dataTransfer", "outToInternetGb"), price
    return None


def _internet_egress_first_tier(usage: str, unit: str, row: dict[str, str]) -> bool:
    """Data transfer out to the internet (`DataTransfer-Out-Bytes`, with the region's prefix but in us-east-1),
    its first paid tier (0 to 10 TB a month); `Global-` rows are AWS's free allowance."""
    out = usage == "DataTransfer-Out-Bytes" or (
        usage.endswith("-DataTransfer-Out-Bytes") and not usage.startswith("Global-")
    )
    return out and unit == "GB" and row.get("StartingRange") in ("0", "0.0")


def _store(section: dict[str, Any], path: tuple[str, ...], price: float, source: str) -> None:
    if path[0] == "ec2":
        ec2 = section.setdefault("ec2", {"source": source, "hourly": {}})
        ec2["hourly"][path[2]] = price
        return
    node = section
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = {"value": price, "source": source}


def build_table(
    endpoint: str, regions: Iterable[str], families: tuple[str, ...], progress: Progress | None = None
) -> dict[str, Any]:
    """A new price table for `regions`, read from the bulk API at `endpoint` (PriceListError if it cannot be)."""
    say = progress or (lambda _message: None)
    regions = sorted(set(regions))
    index_url = _url(endpoint, INDEX_PATH)
    offers = fetch_json(index_url).get("offers")
    if not isinstance(offers, dict):
        raise PriceListError(f"{index_url}: no 'offers' (not the Price List's offer index)")
    table: dict[str, Any] = {
        "schema": SCHEMA,
        "currency": "USD",
        "built": datetime.now(UTC).strftime("%Y-%m-%d"),
        "note": (
            "Built by `./run ops prices refresh` from AWS's Price List bulk API; a price not in this table "
            "is 'price unknown', never zero."
        ),
        "sources": {},
        "regions": {region: {} for region in regions},
    }
    step, steps = 0, len(SERVICES) * len(regions)
    for service in SERVICES:
        offer = offers.get(service)
        if not isinstance(offer, dict) or not isinstance(offer.get("currentRegionIndexUrl"), str):
            raise PriceListError(f"{index_url}: no region index for {service}")
        region_index_url = _url(endpoint, offer["currentRegionIndexUrl"])
        available = fetch_json(region_index_url).get("regions")
        if not isinstance(available, dict):
            raise PriceListError(f"{region_index_url}: no 'regions' (not a region index)")
        for region in regions:
            step += 1
            entry = available.get(region)
            if not isinstance(entry, dict) or not isinstance(entry.get("currentVersionUrl"), str):
                raise PriceListError(f"{region_index_url}: {service} lists no region {region!r}")
            url = _url(endpoint, entry["currentVersionUrl"].removesuffix(".json") + ".csv")
            say(f"[{step}/{steps}] {service} {region}: reading {url}")
            metadata: dict[str, str] = {}
            source = f"{service} {region}"
            kept = rows = 0
            for row in stream_csv_offer(url, metadata):
                rows += 1
                if rows % PROGRESS_EVERY == 0:
                    say(f"[{step}/{steps}] {service} {region}: {rows:,} rows read")
                found = keep(service, row, families)
                if found is not None:
                    _store(table["regions"][region], found[0], found[1], source)
                    kept += 1
            table["sources"][source] = {
                "url": url,
                # an offer names its publication time; without one, the day it was read
                "date": metadata.get("Publication Date") or table["built"],
                "what": f"AWS Price List bulk API: {service} in {region}, version {metadata.get('Version', '?')}",
            }
            say(f"[{step}/{steps}] {service} {region}: {rows:,} rows, {kept} prices kept")
    for region in regions:
        if not table["regions"][region].get("ec2", {}).get("hourly"):
            raise PriceListError(f"the EC2 offer for {region} has no on-demand Linux price of an allowed instance type")
    validate(table)
    return table


def write_table(path: Path, table: dict[str, Any]) -> None:
    """Writes the table atomically: a temporary file beside it, then a rename (the old one stays until then).
    The new file keeps the old one's permissions (a new one gets the umask's, as any file the user writes):
    mkstemp makes its file private."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(table, handle, indent=1)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
