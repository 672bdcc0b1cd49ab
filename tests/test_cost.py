"""The monthly cost estimate (`constellab/cost/estimate.py`): pure functions over a preview document and the
price table shipped in `constellab/cost/prices.json`. Every expectation states its arithmetic with the shipped
table's prices, so a reader can check it; the shipped stacks are previewed once for the last tests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from constellab.cost import estimate, prices, render
from constellab.cost.estimate import HOURS_PER_MONTH, WEEKS_PER_MONTH
from offline.diff import cost_delta
from offline.report import cost_moves as render_cost_moves
from offline.report import delta_cell
from tests.conftest import STACKS
from tests.preview_documents import resource

TABLE = prices.load()

# The shipped table's prices used below (USD), with where each comes from.
T3_LARGE_US = 0.0832  # us-east-1, Karpenter's table generated 2026-07-20
T3_XLARGE_US = 0.1664  # us-east-1, Karpenter
GP3_US = 0.08  # us-east-1 gp3 GB-month
IPV4 = 0.005  # every public IPv4 address, per hour
ALARM_US = 0.10  # us-east-1 standard alarm-month
S3_US = 0.023  # us-east-1 S3 Standard GB-month
S3_PUT_US = 0.005  # us-east-1 S3 PUT, COPY, POST, LIST per 1,000 requests
S3_GET_US = 0.0004  # us-east-1 S3 GET and other requests per 1,000
METRIC = 0.30  # a CloudWatch metric-month (first 10,000), the same in the four regions of the table
IOPS_US = 0.005  # us-east-1 gp3 IOPS-month above 3,000
THROUGHPUT_US = 0.04  # us-east-1 gp3 MiB/s-month above 125 ($40.96 per GiB/s-month / 1,024)
SCHEDULER_US = 1.00  # us-east-1 EventBridge Scheduler, per million invocations beyond the free 14 million


def aws(kind: str, name: str, server: str, **inputs: Any) -> dict[str, Any]:
    """One AWS resource of the preview document, tagged for `server` as the program tags it."""
    return resource(kind, name, {**inputs, "tags": {"constellab:server": server}})


def cloud_server(server: str, instance_type: str, data_gb: float = 100, alarm: bool = True) -> list[dict[str, Any]]:
    """What the program declares for a cloud server: instance (30 GB gp3 root), data volume, address, alarm."""
    root = {"volumeSize": 30.0, "volumeType": "gp3"}
    resources = [
        aws(
            "aws:ec2/instance:Instance", f"{server}-instance", server, instanceType=instance_type, rootBlockDevice=root
        ),
        aws("aws:ebs/volume:Volume", f"{server}-data", server, size=data_gb, type="gp3"),
        aws("aws:ec2/eip:Eip", f"{server}-eip", server, domain="vpc"),
        aws("aws:ec2/eipAssociation:EipAssociation", f"{server}-eip-association", server),
    ]
    if alarm:
        resources.append(aws("aws:cloudwatch/metricAlarm:MetricAlarm", f"{server}-alarm", server, period=60.0))
    return resources


def document(
    servers: dict[str, dict[str, Any]],
    resources: list[dict[str, Any]],
    schedules: dict[str, float] | None = None,
    region: str = "us-east-1",
) -> dict[str, Any]:
    return {
        "stack": "s",
        "region": region,
        "resources": resources,
        "servers": servers,
        "schedules": {name: {"weeklyRunningHours": hours} for name, hours in (schedules or {}).items()},
        "outputs": {},
    }


ALWAYS_ON = {"role": "hub", "placement": "cloud", "power": "always on"}
SCHEDULED = {"role": "lab", "placement": "cloud", "power": "scheduled"}
PARKED = {"role": "lab", "placement": "cloud", "power": "parked"}


def test_an_always_on_server_pays_730_hours_its_volumes_its_address_and_its_alarm():
    cost = estimate.estimate(document({"hub": ALWAYS_ON}, cloud_server("hub", "t3.large")), TABLE)
    hub = cost.server("hub")
    assert hub.instance_hours == 730
    # each line in cents, as a bill shows it: 730 h × $0.0832 = 60.74, 30 GB × $0.08 = 2.40 (root),
    # 100 GB × $0.08 = 8.00 (data), 730 h × $0.005 = 3.65 (address), 1 alarm × $0.10: 74.89
    assert [line.monthly for line in hub.lines if line.kind == "fixed"] == [60.74, 2.40, 0.10, 8.00, 3.65]
    assert hub.monthly == 74.89
    # the stack's month is the sum of its servers' months as shown
    assert cost.complete and cost.monthly == 74.89
    assert hub.saving is None


def test_a_scheduled_lab_runs_its_weekly_hours_times_52_over_12_and_shows_its_saving_in_dollars():
    doc = document({"lab": SCHEDULED}, cloud_server("lab", "t3.xlarge", alarm=False), schedules={"lab": 55})
    lab = estimate.estimate(doc, TABLE).server("lab")
    # 55 h/week × 52/12 = 238.333 h/month
    assert lab.instance_hours == pytest.approx(238.3333, abs=1e-4)
    instance = lab.lines[0]
    assert instance.item == "EC2 t3.xlarge (Linux, on-demand)"
    # 238.333 h × $0.1664 = $39.659, $39.66 in cents
    assert instance.monthly == round(55 * 52 / 12 * T3_XLARGE_US, 2) == 39.66
    # always on: 730 h × $0.1664 = $121.472; saving = (730 − 238.333) × $0.1664 = $81.813
    assert lab.saving is not None
    assert lab.saving.always_on_monthly == pytest.approx(121.472)
    assert lab.saving.monthly == pytest.approx(81.8133, abs=1e-4)
    # the share of the always-on cost saved, 491.667 / 730 = 67.4%, is a little above the share of the week
    # stopped (the preview's savingPercent, 1 − 55/168 = 67.3%): a full week × 52/12 is 728 h, not 730
    assert round(lab.saving.percent, 1) == 67.4 and round(100 * (1 - 55 / 168), 1) == 67.3
    assert "55 h/week × 52/12 = 238.33 h/month" in lab.hours_basis


def test_a_schedule_change_moves_the_estimate_by_the_changed_hours():
    servers = {"lab": SCHEDULED}
    before = estimate.estimate(document(servers, cloud_server("lab", "t3.xlarge"), schedules={"lab": 55}), TABLE)
    after = estimate.estimate(document(servers, cloud_server("lab", "t3.xlarge"), schedules={"lab": 60}), TABLE)
    # 5 more hours a week: 5 × 52/12 = 21.667 h × $0.1664 = $3.605 more a month, nothing else moves: the instance
    # line goes from 238.333 h × $0.1664 = 39.66 to 260 h × $0.1664 = 43.26 (in cents)
    moved = after.server("lab").monthly - before.server("lab").monthly
    assert round(moved, 2) == 3.60
    assert round(5 * WEEKS_PER_MONTH * T3_XLARGE_US, 4) == 3.6053
    # the stacks' months: 39.66 + 2.40 + 8.00 + 3.65 + 0.10 = 53.81 before, 43.26 + 14.15 = 57.41 after
    assert (before.monthly, after.monthly) == (53.81, 57.41)


def test_a_parked_lab_has_no_instance_hours_but_pays_its_volumes_and_its_address():
    doc = document({"lab": PARKED}, cloud_server("lab", "t3.xlarge", alarm=False), schedules={"lab": 16})
    lab = estimate.estimate(doc, TABLE).server("lab")
    assert lab.instance_hours == 0 and "parked" in lab.hours_basis
    assert lab.lines[0].monthly == 0
    # (30 + 100) GB × $0.08 + 730 h × $0.005 = 10.40 + 3.65 = 14.05
    assert lab.monthly == pytest.approx(14.05)
    # parking saves the whole instance: 730 h × $0.1664 = $121.472
    assert lab.saving is not None and lab.saving.monthly == pytest.approx(121.472)


def test_a_lab_whose_state_output_is_stopped_is_parked_too():
    doc = document({"lab": SCHEDULED}, cloud_server("lab", "t3.large"), schedules={"lab": 40})
    doc["outputs"] = {"servers": {"lab": {"state": "stopped"}}}
    assert estimate.estimate(doc, TABLE).server("lab").instance_hours == 0


def test_an_instance_type_the_table_does_not_have_is_price_unknown_never_zero():
    cost = estimate.estimate(document({"hub": ALWAYS_ON}, cloud_server("hub", "t3.enormous")), TABLE)
    hub = cost.server("hub")
    instance = hub.lines[0]
    assert instance.kind == "unknown" and instance.monthly is None and "price unknown" in instance.note
    assert instance.as_dict()["monthlyUsd"] is None
    # the rest is still priced: 130 GB × $0.08 + $3.65 + $0.10 = $14.15, a lower bound
    assert hub.monthly == pytest.approx(14.15)
    assert not cost.complete and cost.unknown == 1
    assert render.total(cost) == "at least $14.15/month (1 item price unknown)"


def test_a_region_the_table_does_not_have_makes_every_fixed_price_unknown():
    cost = estimate.estimate(document({"hub": ALWAYS_ON}, cloud_server("hub", "t3.large"), region="ap-south-2"), TABLE)
    assert cost.monthly == 0
    assert cost.unknown == 5  # instance, root volume, data volume, address, alarm


def test_provisioned_iops_and_throughput_above_the_gp3_baseline_are_billed_and_other_volume_types_unknown():
    resources = [
        aws("aws:ebs/volume:Volume", "v", "hub", size=10, type="gp3", iops=6000, throughput=250),
        aws("aws:ebs/volume:Volume", "w", "hub", size=10, type="io2", iops=6000),
    ]
    hub = estimate.estimate(document({"hub": ALWAYS_ON}, resources), TABLE).server("hub")
    # 10 GB × $0.08 = $0.80; (6,000 − 3,000) IOPS × $0.005 = $15; (250 − 125) MiB/s × $0.04 = $5
    assert [(line.kind, line.quantity) for line in hub.lines] == [
        ("fixed", 10),
        ("fixed", 3000),
        ("fixed", 125),
        ("unknown", 10),  # io2: not in the shipped table
    ]
    assert hub.monthly == pytest.approx(10 * GP3_US + 3000 * IOPS_US + 125 * THROUGHPUT_US) == pytest.approx(20.8)
    assert hub.unknown == 1


def test_detailed_monitoring_bills_seven_metrics_for_the_hours_the_instance_runs():
    def monitored(power: dict[str, Any], schedules: dict[str, float] | None = None, region: str = "us-east-1"):
        resources = cloud_server("lab", "t3.large", alarm=False)
        resources[0]["inputs"]["monitoring"] = True
        return estimate.estimate(document({"lab": power}, resources, schedules, region), TABLE).server("lab")

    def monitoring(server: estimate.ServerCost) -> estimate.Line:
        return next(line for line in server.lines if line.item.startswith("CloudWatch detailed monitoring"))

    # always on: 7 metrics × $0.30 = $2.10 a month (AWS's own example)
    assert monitoring(monitored(ALWAYS_ON)).monthly == pytest.approx(7 * METRIC) == pytest.approx(2.10)
    # scheduled 55 h/week: 7 × 238.333 h / 730 h × $0.30 = $0.6856, prorated by the hour like the instance: $0.69
    line = monitoring(monitored(SCHEDULED, {"lab": 55}))
    assert line.monthly == round(7 * 55 * WEEKS_PER_MONTH / 730 * METRIC, 2) == 0.69
    # its schedule saves the instance and the metrics for the hours it does not run:
    # (730 − 238.333) h × ($0.0832 + 7 × $0.30 / 730) = 491.667 × 0.086077 = $42.32
    saving = monitored(SCHEDULED, {"lab": 55}).saving
    assert saving is not None and round(saving.monthly, 2) == round(491.6667 * (T3_LARGE_US + 7 * METRIC / 730), 2)
    assert round(saving.monthly, 2) == 42.32
    # parked: no metric is sent, nothing billed, even where the price is unknown
    parked = monitored(PARKED, {"lab": 16}, region="ap-south-2")
    assert monitoring(parked).monthly == 0 and monitoring(parked).kind == "fixed"
    # running where the table has no price: unknown, never zero
    unknown = monitoring(monitored(ALWAYS_ON, region="ap-south-2"))
    assert unknown.kind == "unknown" and unknown.monthly is None and unknown.note.startswith("price unknown")


def test_usage_based_costs_are_listed_with_their_unit_price_and_never_totalled():
    resources = [
        aws("aws:s3/bucket:Bucket", "data", "hub"),
        aws("aws:s3/bucket:Bucket", "backup", "hub"),
        aws("aws:scheduler/schedule:Schedule", "start", "hub"),
    ]
    hub = estimate.estimate(document({"hub": ALWAYS_ON}, resources), TABLE).server("hub")
    storage = hub.lines[0]
    assert (storage.item, storage.kind, storage.unit, storage.unit_price) == (
        "S3 Standard storage (2 buckets)",
        "usage",
        "GB-month",
        S3_US,
    )
    assert [(line.item, line.unit, line.unit_price) for line in hub.lines[1:]] == [
        ("S3 PUT requests", "1,000 requests", S3_PUT_US),
        ("S3 GET requests", "1,000 requests", S3_GET_US),
        ("EventBridge Scheduler invocations (1 schedule)", "1,000,000 invocations", SCHEDULER_US),
    ]
    assert all(line.note.startswith("depends on usage") and line.monthly is None for line in hub.lines)
    assert hub.monthly == 0 and hub.unknown == 0
    # AWS prices the Scheduler per region; where the table has no price, the line says so and still counts nothing
    eu = estimate.estimate(document({"hub": ALWAYS_ON}, resources, region="eu-west-1"), TABLE).server("hub")
    assert eu.lines[-1].unit_price is None and eu.monthly == 0 and eu.unknown == 0


def test_a_cloud_server_lists_its_data_transfer_out_as_depending_on_usage_with_the_unit_price_where_known():
    def egress(region: str) -> estimate.Line:
        hub = estimate.estimate(document({"hub": ALWAYS_ON}, cloud_server("hub", "t3.large"), region=region), TABLE)
        return next(line for line in hub.server("hub").lines if line.item == "Data transfer out to the internet")

    # eu-west-3: $0.09 per GB for the first 10 TB (AWS's eu-west-3 AWSDataTransfer offer, in the shipped table)
    paris = egress("eu-west-3")
    assert (paris.kind, paris.unit, paris.unit_price, paris.monthly) == ("usage", "GB", 0.09, None)
    assert paris.note.startswith("depends on usage")
    # us-east-1 has no sourced price in the shipped table: listed all the same, its unit price unknown
    assert egress("us-east-1").unit_price is None and egress("us-east-1").kind == "usage"


def test_on_prem_and_local_servers_cost_nothing_here_and_say_so():
    servers = {
        "hub": {"role": "hub", "placement": "onPrem", "power": "always on"},
        "lab": {"role": "lab", "placement": "local", "power": "always on"},
    }
    cost = estimate.estimate(document(servers, [aws("aws:s3/bucket:Bucket", "backup", "hub")]), TABLE)
    assert cost.monthly == 0 and cost.complete
    assert (
        cost.server("hub").note == "on-prem: the host is not in AWS, nothing to price; its S3 buckets depend on usage"
    )
    assert cost.server("lab").note == "on this machine: the host is not in AWS, nothing to price"


def test_an_aws_resource_the_estimator_does_not_know_is_price_unknown_and_free_ones_are_left_out():
    resources = [
        aws("aws:ec2/natGateway:NatGateway", "nat", "hub"),
        aws("aws:iam/role:Role", "role", "hub"),
        aws("aws:ec2/securityGroup:SecurityGroup", "sg", "hub"),
    ]
    hub = estimate.estimate(document({"hub": ALWAYS_ON}, resources), TABLE).server("hub")
    assert [(line.item, line.kind) for line in hub.lines] == [("aws:ec2/natGateway:NatGateway", "unknown")]


def test_a_new_lab_in_a_pull_request_shows_its_monthly_delta():
    base = document({"hub": ALWAYS_ON}, cloud_server("hub", "t3.large"))
    head = document(
        {"hub": ALWAYS_ON, "lab": SCHEDULED},
        cloud_server("hub", "t3.large") + cloud_server("lab", "t3.xlarge", alarm=False),
        schedules={"lab": 55},
    )
    # as the preview does it: each side's document carries its estimate, offline.diff compares them
    delta = cost_delta(
        {"cost": estimate.estimate(base, TABLE).brief("t")}, {"cost": estimate.estimate(head, TABLE).brief("t")}
    )
    # the new lab: 238.333 h × $0.1664 + 130 GB × $0.08 + 730 h × $0.005 = 39.659 + 10.40 + 3.65 = 53.709
    assert delta["deltaMonthlyUsd"] == round(55 * 52 / 12 * T3_XLARGE_US + 130 * GP3_US + 730 * IPV4, 2) == 53.71
    assert delta["servers"] == [
        {
            "name": "lab",
            "beforeMonthlyUsd": None,
            "afterMonthlyUsd": 53.71,
            "deltaMonthlyUsd": 53.71,
            "complete": True,
            "bound": "exact",
        }
    ]


def cost_of(
    server: str,
    instance_type: str,
    power: dict[str, Any] | None = None,
    schedules: dict[str, float] | None = None,
    region: str = "us-east-1",
) -> dict[str, Any]:
    """A preview document's region and `cost`, with one server of this instance type (the shipped table)."""
    doc = document({server: power or ALWAYS_ON}, cloud_server(server, instance_type), schedules, region)
    return {"region": region, "cost": estimate.estimate(doc, TABLE).brief("t")}


def test_a_delta_says_how_it_bounds_the_real_change_when_costs_have_no_price():
    # t3.large → t3.enormous (no price): the priced costs drop by the t3.large hours (730 h × $0.0832 = $60.74);
    # the real change adds the unknown hours to that, so it is at least −$60.74
    delta = cost_delta(cost_of("hub", "t3.large"), cost_of("hub", "t3.enormous"))
    [hub] = delta["servers"]
    assert (hub["beforeMonthlyUsd"], hub["afterMonthlyUsd"], hub["deltaMonthlyUsd"]) == (74.89, 14.15, -60.74)
    assert (hub["complete"], hub["bound"], delta["complete"], delta["bound"]) == (False, "atLeast", False, "atLeast")
    assert render_cost_moves({"cost": delta}) == [
        "hub: $74.89 → $14.15 (−$60.74; at least: the change adds costs without a price)"
    ]
    assert delta_cell({"cost": delta}) == "≥ −$60.74"
    # the other way: the base had the unknown hours, so the real change is at most +$60.74
    back = cost_delta(cost_of("hub", "t3.enormous"), cost_of("hub", "t3.large"))
    assert (back["bound"], delta_cell({"cost": back})) == ("atMost", "≤ +$60.74")
    # one unknown type for another: only the priced part is known, in neither direction
    other = cost_delta(cost_of("hub", "t3.enormous"), cost_of("hub", "t3.gigantic"))
    assert (other["bound"], delta_cell({"cost": other})) == ("approximate", "~ $0.00")
    # the same unknown on both sides, nothing else moving: the change is exactly nothing, and not listed
    same = cost_delta(cost_of("hub", "t3.enormous"), cost_of("hub", "t3.enormous"))
    assert (same["bound"], same["servers"], delta_cell({"cost": same})) == ("exact", [], "$0.00")
    # the same unknown type running more hours: the change adds to what has no price, at least the priced part
    scheduled = cost_delta(
        cost_of("lab", "t3.enormous", SCHEDULED, {"lab": 55}), cost_of("lab", "t3.enormous", SCHEDULED, {"lab": 75})
    )
    assert (scheduled["bound"], delta_cell({"cost": scheduled})) == ("atLeast", "≥ $0.00")
    # the same unknown costs in another region are not the same costs
    moved = cost_delta(cost_of("hub", "t3.enormous", region="ap-south-2"), cost_of("hub", "t3.enormous"))
    assert moved["bound"] == "approximate"
    # two volumes of a type without a price, then one: the change takes from what has no price
    io2 = [aws("aws:ebs/volume:Volume", f"v{n}", "hub", size=10, type="io2") for n in (1, 2)]
    two = {"cost": estimate.estimate(document({"hub": ALWAYS_ON}, io2), TABLE).brief("t")}
    one = {"cost": estimate.estimate(document({"hub": ALWAYS_ON}, io2[:1]), TABLE).brief("t")}
    assert cost_delta(two, one)["bound"] == "atMost" and cost_delta(one, two)["bound"] == "atLeast"
    # a base previewed before the unknown costs were listed: provable only when the change has none left
    cost: dict[str, Any] = cost_of("hub", "t3.enormous")["cost"]
    servers = {
        name: {k: v for k, v in server.items() if k != "unknownItems"} for name, server in cost["servers"].items()
    }
    old_base = {"region": "us-east-1", "cost": {**cost, "servers": servers}}
    assert cost_delta(old_base, cost_of("hub", "t3.large"))["bound"] == "atMost"
    assert cost_delta(old_base, cost_of("hub", "t3.enormous"))["bound"] == "approximate"
    # an on-prem server coming with a new stack moves nothing: it is not listed
    onprem = {"role": "hub", "placement": "onPrem", "power": "always on"}
    new_stack = cost_delta(None, {"cost": estimate.estimate(document({"hub": onprem}, []), TABLE).brief("t")})
    assert new_stack["servers"] == [] and new_stack["deltaMonthlyUsd"] == 0


def test_every_bound_has_a_mark_words_and_its_place_in_the_schema():
    from offline.diff import BOUNDS
    from offline.report import BOUND_MARKS, BOUND_WORDS

    schema = json.loads((STACKS.parent / "docs" / "preview.schema.json").read_text())
    assert schema["$defs"]["costBound"]["enum"] == list(BOUNDS) == list(BOUND_MARKS)
    assert set(BOUND_WORDS) == set(BOUNDS) - {"exact"}


def test_the_region_comes_from_the_document_when_it_is_not_given():
    doc = document({}, [])
    del doc["region"]
    doc["outputs"] = {"servers": {"hub": {"backupTarget": {"region": "eu-central-1"}}}}
    assert estimate.region_of(doc) == "eu-central-1"
    doc["outputs"] = {}
    doc["resources"] = [aws("aws:ec2/subnet:Subnet", "public", "shared", availabilityZone="eu-west-3a")]
    assert estimate.region_of(doc) == "eu-west-3"


def test_the_month_is_730_hours_and_a_week_of_every_hour_costs_exactly_always_on():
    assert HOURS_PER_MONTH == 365 * 24 / 12
    assert WEEKS_PER_MONTH == 52 / 12
    # a schedule running all 168 h never stops its instance: 730 h, not 168 × 52/12 = 728
    doc = document({"lab": SCHEDULED}, cloud_server("lab", "t3.xlarge"), schedules={"lab": 168})
    lab = estimate.estimate(doc, TABLE).server("lab")
    assert lab.instance_hours == pytest.approx(HOURS_PER_MONTH) and lab.saving is None


# ---------------------------------------------------------------------------------------------
# The shipped stacks, from their real preview documents and the shipped table
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> dict[str, estimate.StackCost]:
    from constellab.settings import load_stack_file
    from offline.documents import stack_document
    from offline.engine import run_program

    costs = {}
    for path in sorted(STACKS.glob("Pulumi.*.yaml")):
        doc = stack_document(run_program(path))
        costs[doc["stack"]] = estimate.estimate(doc, TABLE, load_stack_file(path, require_secrets=False).aws_region)
    return costs


def test_acme_cloud_by_hand(shipped):
    cost = shipped["acme-cloud"]
    assert cost.region == "eu-west-3"
    # eu-west-3 (SkyPilot's catalog of the Price List): t3.large $0.0944, m6i.large $0.112, t3.xlarge $0.1888,
    # m7g.large $0.0952 an hour; every public IPv4 address 730 h × $0.005 = $3.65; from AWS's eu-west-3 offer
    # files: gp3 $0.0928 per GB-month, a standard alarm $0.10 a month. Every cloud server has a 30 GB gp3 root
    # (30 × 0.0928 = 2.784 → 2.78) and detailed monitoring: 7 metrics × $0.30 = $2.10 a month when always on,
    # prorated by running hours. Each line is in cents, as a bill shows it, and a server's month is their sum.
    space = [
        round(730 * 0.0944, 2),  # 68.91
        2.78,
        2.10,
        0.10,
        round(50 * 0.0928, 2),  # 4.64
        3.65,
    ]  # 82.18
    hub = [round(730 * 0.112, 2), 2.78, 2.10, 0.10, round(500 * 0.0928, 2), 3.65]  # 81.76 + … + 46.40 = 136.79
    # Mon-Fri 08:00-19:00 = 55 h/week × 52/12 = 238.333 h: 238.333 × 0.1888 = 45.00; monitoring 7 × 238.333/730
    # × $0.30 = 0.69; 200 GB × $0.0928 = 18.56
    lab1 = [round(55 * 52 / 12 * 0.1888, 2), 2.78, round(7 * (55 * 52 / 12) / 730 * 0.30, 2), 0.10, 18.56, 3.65]
    # parked: no instance hours, no alarm, no metrics; its volumes and address are still billed: 100 GB = 9.28
    lab2 = [0.0, 2.78, 0.0, round(100 * 0.0928, 2), 3.65]
    for name, lines in (("space", space), ("hub", hub), ("lab1", lab1), ("lab2", lab2)):
        assert [line.monthly for line in cost.server(name).lines if line.kind == "fixed"] == lines, name
    assert [cost.server(name).monthly for name in ("space", "hub", "lab1", "lab2")] == [82.18, 136.79, 70.78, 15.71]
    assert cost.monthly == 305.46  # 82.18 + 136.79 + 70.78 + 15.71
    assert cost.unknown == 0 and cost.complete
    # lab1's schedule saves its instance and metrics for (730 − 238.333) h: 491.667 × ($0.1888 + 7 × $0.30 / 730)
    # = $94.24; parking lab2 saves 730 h × ($0.0952 + 7 × $0.30 / 730) = 69.50 + 2.10 = $71.60
    assert round(cost.server("lab1").saving.monthly, 2) == round((730 - 55 * 52 / 12) * (0.1888 + 2.1 / 730), 2)
    assert round(cost.server("lab1").saving.monthly, 2) == 94.24
    assert round(cost.server("lab2").saving.monthly, 2) == 71.60


def test_biolab_hybrid_by_hand(shipped):
    cost = shipped["biolab-hybrid"]
    assert cost.region == "eu-central-1"
    # analysis: c6i.2xlarge $0.388/h × 73 h/week × 52/12 = 316.333 h → 122.74; gp3 $0.0952 × 30 GB root = 2.86
    # (2.856); detailed monitoring 7 × 316.333/730 × $0.30 = 0.91; its alarm $0.10; 150 GB data = 14.28;
    # 730 h × $0.005 = 3.65
    lines = [round(73 * 52 / 12 * 0.388, 2), 2.86, round(7 * (73 * 52 / 12) / 730 * 0.30, 2), 0.10, 14.28, 3.65]
    assert [line.monthly for line in cost.server("analysis").lines if line.kind == "fixed"] == lines
    assert cost.server("analysis").monthly == 144.54  # 122.74 + 2.86 + 0.91 + 0.10 + 14.28 + 3.65
    assert cost.monthly == 144.54
    assert cost.unknown == 0 and cost.complete
    assert cost.server("hub").monthly == 0 and cost.server("hub").note.startswith("on-prem")


def test_pharma_onprem_and_local_cost_nothing_in_aws(shipped):
    pharma = shipped["pharma-onprem"]
    assert pharma.monthly == 0 and pharma.complete
    assert all(server.note.startswith("on-prem") for server in pharma.servers if server.name != "shared")
    assert any(line.kind == "usage" for server in pharma.servers for line in server.lines)  # its S3 buckets
    local = shipped["local"]
    assert local.monthly == 0 and local.complete
    assert local.notes == ("nothing in AWS: this stack declares no AWS resource",)


def test_the_json_form_holds_every_line_with_its_arithmetic(shipped):
    data = json.loads(render.render_json([shipped["acme-cloud"]], TABLE))
    stack = data["stacks"][0]
    assert (stack["monthlyUsd"], stack["priceUnknown"], stack["complete"]) == (305.46, 0, True)
    lab1 = next(server for server in stack["servers"] if server["name"] == "lab1")
    instance = lab1["lines"][0]
    assert (instance["quantity"], instance["unit"], instance["unitPriceUsd"], instance["monthlyUsd"]) == (
        238.3333,
        "h",
        0.1888,
        45.0,
    )
    assert lab1["saving"]["savingMonthlyUsd"] == 94.24
    assert data["prices"]["sources"]["skypilot"]["url"].startswith("https://github.com/skypilot-org/")
