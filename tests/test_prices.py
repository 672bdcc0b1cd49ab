"""The price table (`constellab/cost/prices.json`, `prices.py`) and `ops prices refresh`, which rebuilds it from
the Price List bulk API: here a local HTTP server serves a small offer index, region indexes and CSV offer
files in the bulk API's real format."""

from __future__ import annotations

import fnmatch
import http.server
import json
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from constellab.cost import price_list, prices
from ops.cli import main
from policies.rules.field_limits import ALLOWED_INSTANCE_TYPES

# ---------------------------------------------------------------------------------------------
# The shipped table
# ---------------------------------------------------------------------------------------------


def test_the_shipped_table_has_the_regions_of_the_shipped_stacks_and_those_users_pick():
    table = prices.load()
    assert table.regions == ["eu-central-1", "eu-west-1", "eu-west-3", "us-east-1"]


def test_every_instance_type_the_shipped_table_prices_is_one_the_validation_accepts():
    table = prices.load()
    for region in table.regions:
        for instance_type in table.data["regions"][region]["ec2"]["hourly"]:
            assert any(fnmatch.fnmatchcase(instance_type, pattern) for pattern in ALLOWED_INSTANCE_TYPES), instance_type


def test_us_east_1_prices_every_accepted_family_and_every_price_names_a_dated_source():
    table = prices.load()
    hourly = table.data["regions"]["us-east-1"]["ec2"]["hourly"]
    families = {pattern.removesuffix(".*") for pattern in ALLOWED_INSTANCE_TYPES}
    assert families == {instance_type.split(".")[0] for instance_type in hourly}
    for key, source in table.data["sources"].items():
        assert source["url"].startswith("https://") and source["date"], key
    assert table.instance_hour("us-east-1", "t3.large") == prices.Price(0.0832, "karpenter")
    assert table.instance_hour("eu-west-3", "t3.large") == prices.Price(0.0944, "skypilot")
    assert table.public_ipv4_hour("eu-west-1") == prices.Price(0.005, "ipv4")
    assert table.volume_gb_month("eu-west-3", "gp3") == prices.Price(0.0928, "aws-offers-eu-west-3")
    assert table.alarm_month("eu-west-1") == prices.Price(0.1, "aws-offers-eu-west-1-cloudwatch")


def test_a_price_the_table_does_not_have_is_none_not_zero():
    table = prices.load()
    assert table.instance_hour("eu-west-3", "t3.enormous") is None
    assert table.instance_hour("ap-south-2", "t3.large") is None
    assert table.volume_gb_month("eu-west-1", "io2") is None
    assert table.scheduler_per_million("eu-west-1") is None  # not sourced: AWS prices it per region


def test_every_region_of_the_shipped_table_prices_every_fixed_cost_the_program_declares():
    table = prices.load()
    for region in table.regions:
        for price in (
            table.volume_gb_month(region, "gp3"),
            table.public_ipv4_hour(region),
            table.alarm_month(region),
            table.metric_month(region),
            table.s3_standard_gb_month(region),
            table.s3_put_per_1000(region),
            table.s3_get_per_1000(region),
        ):
            assert price is not None and price.source in table.data["sources"], region


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.update(schema=2), "not a price table of schema 1"),
        (lambda t: t.update(currency="EUR"), "prices must be in USD"),
        (lambda t: t["regions"]["us-east-1"]["ec2"]["hourly"].update({"t3.large": "cheap"}), "t3.large has no price"),
        (lambda t: t["sources"].pop("karpenter"), "source 'karpenter' is not described"),
        (lambda t: t["regions"]["us-east-1"]["ec2"].pop("source"), "region us-east-1: ec2 names no source"),
        (
            lambda t: t["regions"]["eu-west-3"]["cloudwatch"]["alarmMonth"].pop("source"),
            "region eu-west-3: cloudwatch.alarmMonth names no source",
        ),
        (lambda t: t["sources"]["karpenter"].update(date="2026"), "source 'karpenter': its date is not a date"),
        (lambda t: t["sources"]["karpenter"].update(date="2026-13-45"), "source 'karpenter': its date is not a date"),
        (lambda t: t["sources"]["karpenter"].pop("url"), "source 'karpenter': no address (url)"),
    ],
)
def test_a_table_that_is_not_one_is_refused_with_the_reason(tmp_path, change, message):
    table = json.loads(prices.SHIPPED.read_text())
    change(table)
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(table))
    with pytest.raises(prices.PriceTableError, match=re.escape(message)):
        prices.load(path)


# ---------------------------------------------------------------------------------------------
# ops prices refresh, against a local Price List
# ---------------------------------------------------------------------------------------------

PUBLICATION = "2026-12-01T00:00:00Z"
HEADER = (
    '"SKU","OfferTermCode","RateCode","TermType","PriceDescription","EffectiveDate","StartingRange",'
    '"EndingRange","Unit","PricePerUnit","Currency","Product Family","serviceCode","Location","Instance Type",'
    '"Tenancy","Operating System","License Model","usageType","CapacityStatus","Pre Installed S/W",'
    '"Volume API Name","Volume Type","Location Type","From Location Type"'
)


def offer_csv(service: str, rows: list[str]) -> str:
    """A CSV offer file as the bulk API serves it: five `"Name","value"` lines, the header, the rows."""
    preamble = [
        '"FormatVersion","v1.0"',
        '"Disclaimer","This pricing list is for informational purposes only."',
        f'"Publication Date","{PUBLICATION}"',
        '"Version","20261201000000"',
        f'"OfferCode","{service}"',
    ]
    return "\n".join([*preamble, HEADER, *rows]) + "\n"


def row(term: str, unit: str, price: str, family: str, **columns: str) -> str:
    values = {
        "SKU": "SKU1",
        "TermType": term,
        "Unit": unit,
        "PricePerUnit": price,
        "Currency": "USD",
        "Product Family": family,
        "StartingRange": columns.pop("StartingRange", "0"),
        "Location Type": columns.pop("LocationType", "AWS Region"),
        **columns,
    }
    names = [name.strip('"') for name in HEADER.split(",")]
    return ",".join(f'"{values.get(name, "")}"' for name in names)


def linux(instance_type: str, price: str, **overrides: str) -> str:
    columns = {
        "Instance Type": instance_type,
        "Tenancy": "Shared",
        "Operating System": "Linux",
        "License Model": "No License required",
        "CapacityStatus": "Used",
        "Pre Installed S/W": "NA",
        **overrides,
    }
    return row("OnDemand", "Hrs", price, "Compute Instance", **columns)


EC2_ROWS = [
    linux("t3.large", "0.0944000000"),
    linux("m7g.large", "0.0952000000"),
    linux("c5.large", "0.1010000000"),  # a family the validation refuses
    linux("t3.large", "0.1312000000", **{"Operating System": "Windows", "License Model": "License Included"}),
    linux("t3.large", "0.0000000000", CapacityStatus="UnusedCapacityReservation"),
    linux("t3.large", "0.0900000000", Tenancy="Dedicated"),
    linux("t3.large", "0.1100000000", LocationType="AWS Local Zone"),  # in the region's offer, not the region's price
    row("Reserved", "Hrs", "0.0600000000", "Compute Instance", **{"Instance Type": "t3.large"}),
    row("OnDemand", "GB-Mo", "0.0928000000", "Storage", **{"Volume API Name": "gp3", "usageType": "EU-EBS:gp3"}),
    row("OnDemand", "GB-Mo", "0.1160000000", "Storage", **{"Volume API Name": "gp2", "usageType": "EU-EBS:gp2"}),
    row("OnDemand", "IOPS-Mo", "0.0058000000", "System Operation", **{"Volume API Name": "gp3"}),
    row("OnDemand", "GiBps-mo", "47.5136000000", "Provisioned Throughput", **{"Volume API Name": "gp3"}),
]  # fmt: skip
SERVICE_ROWS = {
    "AmazonEC2": EC2_ROWS,
    "AmazonVPC": [
        row("OnDemand", "Hrs", "0.0050000000", "VPC Public IPv4 Address", usageType="EUW3-PublicIPv4:InUseAddress"),
        row("OnDemand", "Hrs", "0.0050000000", "VPC Public IPv4 Address", usageType="EUW3-PublicIPv4:IdleAddress"),
    ],
    "AmazonCloudWatch": [
        row("OnDemand", "Alarms", "0.1000000000", "Alarm", usageType="EUW3-CW:AlarmMonitorUsage"),
        row("OnDemand", "Metrics", "0.3000000000", "Metric", usageType="EUW3-CW:MetricMonitorUsage"),
        row(
            "OnDemand",
            "Metrics",
            "0.1000000000",
            "Metric",
            usageType="EUW3-CW:MetricMonitorUsage",
            StartingRange="10000",
        ),
    ],
    "AmazonS3": [
        row(
            "OnDemand",
            "GB-Mo",
            "0.0240000000",
            "Storage",
            usageType="EUW3-TimedStorage-ByteHrs",
            **{"Volume Type": "Standard"},
        ),
        row(
            "OnDemand",
            "GB-Mo",
            "0.0230000000",
            "Storage",
            usageType="EUW3-TimedStorage-ByteHrs",
            StartingRange="51200",
            **{"Volume Type": "Standard"},
        ),
        row("OnDemand", "Requests", "0.0000053000", "API Request", usageType="EUW3-Requests-Tier1"),
        row("OnDemand", "Requests", "0.0000004200", "API Request", usageType="EUW3-Requests-Tier2"),
    ],
    # As AWS's AWSEvents offer has them: the Scheduler's free first 14 million a month, then its price
    "AWSEvents": [
        row("OnDemand", "Invocations", "0.0000000000", "EventBridge", usageType="EUW3-ScheduledInvocation"),
        row(
            "OnDemand",
            "Invocations",
            "0.0000012000",
            "EventBridge",
            usageType="EUW3-ScheduledInvocation",
            StartingRange="14000000",
        ),
        row("OnDemand", "Events", "0.0000010000", "EventBridge", usageType="EUW3-Event-64K-Chunks"),
    ],
    # Out to the internet: AWS's free allowance (its own `Global-` rows), then 0-10 TB, then the next tier
    "AWSDataTransfer": [
        row("OnDemand", "GB", "0.0000000000", "Data Transfer", usageType="Global-DataTransfer-Out-Bytes"),
        row("OnDemand", "GB", "0.0900000000", "Data Transfer", usageType="EUW3-DataTransfer-Out-Bytes"),
        row(
            "OnDemand",
            "GB",
            "0.0850000000",
            "Data Transfer",
            usageType="EUW3-DataTransfer-Out-Bytes",
            StartingRange="10240",
        ),
        row("OnDemand", "GB", "0.0200000000", "Data Transfer", usageType="EUW3-EUC1-AWS-Out-Bytes"),
        # the data transfer offer names where a price applies in `From Location Type`, and has no `Location Type`
        row(
            "OnDemand",
            "GB",
            "0.1100000000",
            "Data Transfer",
            usageType="EUW3-DataTransfer-Out-Bytes",
            LocationType="",
            **{"From Location Type": "AWS Local Zone"},
        ),
    ],
}


def price_list_files(region: str = "eu-west-3") -> dict[str, bytes]:
    """The bulk API's files for one region: offer index, a region index and a CSV offer per service."""
    files: dict[str, bytes] = {}
    offers = {}
    for service, rows in SERVICE_ROWS.items():
        base = f"/offers/v1.0/aws/{service}"
        offers[service] = {
            "offerCode": service,
            "versionIndexUrl": f"{base}/index.json",
            "currentVersionUrl": f"{base}/current/index.json",
            "currentRegionIndexUrl": f"{base}/current/region_index.json",
        }
        version = f"{base}/20261201000000/{region}/index.json"
        files[f"{base}/current/region_index.json"] = json.dumps(
            {
                "formatVersion": "v1.0",
                "publicationDate": PUBLICATION,
                "regions": {region: {"regionCode": region, "currentVersionUrl": version}},
            }
        ).encode()
        files[version.removesuffix(".json") + ".csv"] = offer_csv(service, rows).encode()
    files[price_list.INDEX_PATH] = json.dumps(
        {"formatVersion": "v1.0", "publicationDate": PUBLICATION, "offers": offers}
    ).encode()
    return files


@pytest.fixture
def price_list_server() -> Iterator[tuple[str, dict[str, bytes]]]:
    files: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body if body is not None else b"not found")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", files
    finally:
        server.shutdown()
        server.server_close()


def test_refresh_builds_the_table_from_the_bulk_api_keeping_only_what_the_estimate_needs(
    price_list_server, tmp_path, capsys
):
    endpoint, files = price_list_server
    files.update(price_list_files())
    out = tmp_path / "prices.json"

    assert main(["prices", "refresh", "--endpoint", endpoint, "--region", "eu-west-3", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == f"wrote {out}: eu-west-3"
    assert "[1/6] AmazonEC2 eu-west-3: reading " in captured.err
    assert "[1/6] AmazonEC2 eu-west-3: 12 rows, 5 prices kept" in captured.err
    assert "[5/6] AWSEvents eu-west-3: 3 rows, 1 prices kept" in captured.err
    assert "[6/6] AWSDataTransfer eu-west-3: 5 rows, 1 prices kept" in captured.err

    table = prices.load(out)
    section = table.data["regions"]["eu-west-3"]
    # on-demand Linux shared-tenancy used capacity of the accepted families, in the region itself only: not c5,
    # Windows, Dedicated, Reserved, nor a Local Zone's price
    assert section["ec2"] == {"source": "AmazonEC2 eu-west-3", "hourly": {"t3.large": 0.0944, "m7g.large": 0.0952}}
    assert table.volume_gb_month("eu-west-3", "gp3") == prices.Price(0.0928, "AmazonEC2 eu-west-3")
    assert table.volume_iops_month("eu-west-3", "gp3") == prices.Price(0.0058, "AmazonEC2 eu-west-3")
    throughput = table.volume_throughput_month("eu-west-3", "gp3")  # AWS's GiB/s-month as MiB/s-month
    assert throughput is not None and throughput.value == pytest.approx(47.5136 / 1024)
    scheduler = table.scheduler_per_million("eu-west-3")  # the paid tier, per million
    assert scheduler is not None and scheduler.value == pytest.approx(1.2)
    assert table.data_transfer_out_gb("eu-west-3") == prices.Price(0.09, "AWSDataTransfer eu-west-3")  # first paid tier
    assert table.public_ipv4_hour("eu-west-3") == prices.Price(0.005, "AmazonVPC eu-west-3")
    assert table.alarm_month("eu-west-3") == prices.Price(0.1, "AmazonCloudWatch eu-west-3")
    assert table.metric_month("eu-west-3") == prices.Price(0.3, "AmazonCloudWatch eu-west-3")  # the first tier
    assert table.s3_standard_gb_month("eu-west-3") == prices.Price(0.024, "AmazonS3 eu-west-3")  # the first tier
    put, get = table.s3_put_per_1000("eu-west-3"), table.s3_get_per_1000("eu-west-3")  # priced per request
    assert put is not None and put.value == pytest.approx(0.0053)  # 1,000 × $0.0000053
    assert get is not None and get.value == pytest.approx(0.00042)  # 1,000 × $0.00000042
    source = table.source("AmazonEC2 eu-west-3")
    assert source["date"] == PUBLICATION and source["url"].endswith("/AmazonEC2/20261201000000/eu-west-3/index.csv")
    assert not list(tmp_path.glob(".*.tmp")), "no temporary file left behind"


def test_refresh_takes_the_regions_of_the_current_table_when_none_is_given(price_list_server, tmp_path):
    endpoint, files = price_list_server
    files.update(price_list_files())
    out = tmp_path / "prices.json"
    assert main(["prices", "refresh", "--endpoint", endpoint, "--region", "eu-west-3", "--out", str(out)]) == 0
    first = out.read_text()
    assert main(["prices", "refresh", "--endpoint", endpoint, "--out", str(out)]) == 0
    assert json.loads(out.read_text())["regions"] == json.loads(first)["regions"]


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda files: files.pop("/offers/v1.0/aws/AmazonS3/20261201000000/eu-west-3/index.csv"), "HTTP 404"),
        (lambda files: files.update({price_list.INDEX_PATH: b"<html>maintenance</html>"}), "not JSON"),
        (lambda files: files.update({price_list.INDEX_PATH: b"{}"}), "no 'offers' (not the Price List's offer index)"),
        (
            lambda files: files.update(
                {"/offers/v1.0/aws/AmazonVPC/20261201000000/eu-west-3/index.csv": b"<html>\nmaintenance\n</html>\n"}
            ),
            "not a Price List CSV offer",
        ),
    ],
)
def test_a_bad_response_is_one_line_and_leaves_the_old_table_as_it_was(
    price_list_server, tmp_path, capsys, damage, expected
):
    endpoint, files = price_list_server
    files.update(price_list_files())
    damage(files)
    out = tmp_path / "prices.json"
    out.write_text(prices.SHIPPED.read_text())
    before = out.read_bytes()

    assert main(["prices", "refresh", "--endpoint", endpoint, "--region", "eu-west-3", "--out", str(out)]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and expected in errors[0], errors
    assert errors[0].endswith(f"(the table at {out} is unchanged)")
    assert out.read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_region_the_price_list_does_not_offer_is_named(price_list_server, tmp_path, capsys):
    endpoint, files = price_list_server
    files.update(price_list_files())
    out = tmp_path / "prices.json"
    assert main(["prices", "refresh", "--endpoint", endpoint, "--region", "eu-south-2", "--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert "AmazonEC2 lists no region 'eu-south-2'" in error and f"(nothing was written to {out})" in error
    assert not out.exists()


def test_show_names_the_out_option_when_the_table_it_gives_cannot_be_read(tmp_path, capsys):
    assert main(["prices", "show", "--out", str(tmp_path / "missing.json")]) == 1
    assert capsys.readouterr().err.startswith(f"error: --out {tmp_path / 'missing.json'}: ")


def test_refresh_refuses_a_region_that_is_no_region_before_any_request(capsys):
    assert main(["prices", "refresh", "--region", "paris", "--endpoint", "http://127.0.0.1:9"]) == 2
    assert "--region 'paris': not an AWS region" in capsys.readouterr().err


def test_show_describes_the_table(capsys):
    assert main(["prices", "show"]) == 0
    out = capsys.readouterr().out
    # 77 types, and since issue 17's second pass every m7i (10), r6i (10), r7g (9) and r7i size but metal-24xl (6)
    assert "eu-west-3: 112 instance types; cloudwatch, dataTransfer, ebs, publicIpv4Hourly, s3" in out
    assert "karpenter: 2026-07-20, https://github.com/aws/karpenter-provider-aws/" in out


def test_the_csv_reader_streams_rows_and_keeps_the_preamble(tmp_path: Path):
    metadata: dict[str, str] = {}
    text = offer_csv("AmazonVPC", SERVICE_ROWS["AmazonVPC"]).splitlines(keepends=True)
    rows = list(price_list.read_csv_offer(iter(text), "file", metadata))
    assert metadata["Publication Date"] == PUBLICATION and metadata["OfferCode"] == "AmazonVPC"
    assert [r["usageType"] for r in rows] == ["EUW3-PublicIPv4:InUseAddress", "EUW3-PublicIPv4:IdleAddress"]


def test_a_rewritten_table_keeps_its_permissions_and_a_new_one_is_readable_by_all(tmp_path: Path):
    table = {"schema": 1}
    existing = tmp_path / "prices.json"
    existing.write_text("{}")
    existing.chmod(0o664)
    price_list.write_table(existing, table)
    assert existing.stat().st_mode & 0o777 == 0o664 and json.loads(existing.read_text()) == table
    new = tmp_path / "new.json"
    umask = os.umask(0o022)
    try:
        price_list.write_table(new, table)
    finally:
        os.umask(umask)
    assert new.stat().st_mode & 0o777 == 0o644  # as the umask has it
