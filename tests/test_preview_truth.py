"""The pull-request preview tells the truth: replacements spread as in the engine, what the offline engine
cannot know is unknown until apply, and dangerous (data) and disruptive (downtime) changes come first.

Each scenario previews a shipped stack as it is (before) and changed (after), exactly as `ops preview
--against` does, then compares them with `offline.diff` and its re-runs of the changed program.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from offline import diagram, replacements
from offline.diff import diff_stack
from offline.documents import renewed_resources, stack_document
from offline.engine import RecordingMocks, configure, run_program
from offline.report import decided_at_apply, verdict
from tests.conftest import ROOT, STACK_NAMES, stack_file
from tests.preview_documents import document, resource

Platform = dict[str, Any]


def changed_stack(folder: Path, stack: str, change: Callable[[Platform], None]) -> Path:
    document = yaml.safe_load(stack_file(stack).read_text())
    change(document["config"]["constellab:platform"])
    path = folder / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.fixture(scope="module", autouse=True)
def no_preview_mode_left_behind() -> Iterator[None]:
    """`offline.diff`'s re-runs are previews (`run_program(preview=True)`), and Pulumi keeps that mode for the
    process: whatever runs next in this worker (test_sdk_internals) would see unknown values kept. A plain
    engine, as every other program test leaves it, once this module is done."""
    yield
    configure(stack_file("local"))


@pytest.fixture(scope="module")
def shipped() -> dict[str, dict[str, Any]]:
    return {name: stack_document(run_program(stack_file(name))) for name in STACK_NAMES}


def compare(shipped: dict[str, Any], path: Path) -> dict[str, Any]:
    before = shipped[path.name.removeprefix("Pulumi.").removesuffix(".yaml")]
    after = stack_document(run_program(path))
    return diff_stack(before, after, lambda renewed, recomputed: renewed_resources(path, renewed, recomputed))


def by_name(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in result["changed"]}


def test_every_resource_type_the_program_declares_has_its_replacement_rules_and_their_source(shipped):
    declared = {r["type"] for document in shipped.values() for r in document["resources"] if r["custom"]}

    missing = sorted(kind for kind in declared if not replacements.covers(kind))

    assert missing == [], f"add these types to ops/replacements.py RULES, with the provider source: {missing}"
    assert all(rule.source for rule in replacements.RULES.values())


def test_a_type_missing_from_the_table_is_refused_not_guessed():
    with pytest.raises(KeyError):
        replacements.forcing("aws:rds/instance:Instance", ["engineVersion"])


def test_a_new_vpc_and_subnet_replace_the_subnet_groups_and_every_server_in_it_and_hubs_go_down(shipped, tmp_path):
    def new_network(platform: Platform) -> None:
        platform["network"] |= {"vpcCidr": "10.50.0.0/16", "subnetCidr": "10.50.1.0/24"}

    path = changed_stack(tmp_path, "acme-cloud", new_network)
    result = compare(shipped, path)

    changed = by_name(result)
    replaced = {name for name, item in changed.items() if item["replace"]}
    assert {"acme-network-vpc", "acme-network-public", "acme-network-public-routes"} <= replaced
    for server in ("hub", "lab1", "lab2", "space"):
        assert {
            f"acme-{server}-host-server-sg",
            f"acme-{server}-host-server-instance",
            f"acme-{server}-host-server-data-attachment",
            f"acme-{server}-host-server-eip-association",
            f"acme-{server}-host-server-in-22-203_0_113_0-24",
        } <= replaced, server
        instance = changed[f"acme-{server}-host-server-instance"]
        assert {c["input"]: c.get("unknown") for c in instance["changes"]}["subnetId"] is True
    assert changed["acme-network-public"]["replaceBecause"] == ["cidrBlock", "vpcId"]
    assert not any(item["replace"] for name, item in changed.items() if name.endswith("-server-data"))
    assert result["dangerous"] == [], "the data volumes stay: the subnet keeps its availability zone"
    down = [(d["server"], d["role"], d["action"]) for d in result["disruptive"]]
    assert down[:2] == [("hub", "hub", "replace"), ("space", "space", "replace")], "always-on servers first"
    assert {("lab1", "lab", "replace"), ("lab2", "lab", "replace")} <= set(down)
    assert verdict(result).startswith("🔌 4 disruptive: hub (downtime), space (downtime)")
    assert result["servers"]["replaced"] == ["hub", "lab1", "lab2", "space"]
    # What the replaced preparation reports is unknown, so is the Docker host derived from it (through an apply).
    assert [(c["input"], c.get("unknown")) for c in changed["acme-hub-host-docker"]["changes"]] == [("host", True)]
    drawn = diagram.mermaid(stack_document(run_program(path)), result, shipped["acme-cloud"])
    assert (
        "class srv__acme_cloud__hub,srv__acme_cloud__lab1,srv__acme_cloud__lab2,srv__acme_cloud__space replaced"
        in drawn
    )


def test_a_newer_image_that_the_program_ignores_replaces_nothing(shipped, tmp_path, monkeypatch):
    path = changed_stack(tmp_path, "acme-cloud", lambda platform: None)
    answer = RecordingMocks.call

    def newer_image(self: RecordingMocks, args: Any) -> Any:
        found, failures = answer(self, args)
        if args.token == "aws:ec2/getAmi:getAmi":
            found = found | {"id": "ami-0newerdebian13"}
        return found, failures

    monkeypatch.setattr(RecordingMocks, "call", newer_image)
    result = compare(shipped, path)

    assert {(item["name"], tuple(item["inputs"])) for item in result["ignored"]} == {
        (f"acme-{server}-host-server-instance", ("ami",)) for server in ("hub", "lab1", "lab2", "space")
    }
    assert result["changed"] == [], "an ignored input changes nothing"
    assert result["dangerous"] == [] and result["disruptive"] == []
    assert verdict(result) == "no change"


def test_a_larger_instance_type_stops_and_starts_that_lab_without_replacing_it(shipped, tmp_path):
    def larger(platform: Platform) -> None:
        platform["labs"][0]["placement"]["instanceType"] = "t3.2xlarge"

    result = compare(shipped, changed_stack(tmp_path, "acme-cloud", larger))

    instance = by_name(result)["acme-lab1-host-server-instance"]
    assert instance["replace"] is False and instance["stopStart"] == ["instanceType"]
    assert [(d["server"], d["action"]) for d in result["disruptive"]] == [("lab1", "restart")]
    assert result["dangerous"] == []
    assert not any(item["replace"] for item in result["changed"])


def test_a_new_schedule_is_neither_dangerous_nor_disruptive(shipped, tmp_path):
    def later(platform: Platform) -> None:
        platform["labs"][0]["schedule"]["periods"][0]["stop"] = "20:00"

    result = compare(shipped, changed_stack(tmp_path, "acme-cloud", later))

    changed = by_name(result)
    assert "scheduleExpression" in {c["input"] for c in changed["acme-lab1-host-power-period0-stop"]["changes"]}
    assert result["dangerous"] == [] and result["disruptive"] == []
    assert not any(item["replace"] for item in result["changed"])
    assert verdict(result) == "no dangerous or disruptive change"
    # Its gates take the new schedule: whether they start or stop it reads its real state, at apply.
    assert decided_at_apply(result) == ["lab1"]
    assert changed["acme-lab1-host-settle"]["decidedAtApply"] is True


def test_what_a_new_resource_gets_on_create_is_unknown_until_apply_where_others_take_it(shipped, tmp_path):
    def second_hub(platform: Platform) -> None:
        hub = copy.deepcopy(platform["hubs"][0]) | {"name": "hub2"}
        hub.pop("externalSources")
        platform["hubs"].append(hub)
        platform["labs"][0]["hub"] = "hub2"  # lab1's results go to the new hub's lake

    path = changed_stack(tmp_path, "acme-cloud", second_hub)
    document = yaml.safe_load(path.read_text())
    keys = document["config"]["constellab:labManagerApiKeys"]
    keys["hub2"] = keys["hub"]
    path.write_text(yaml.safe_dump(document, sort_keys=False))

    result = compare(shipped, path)

    assert ("aws:s3/bucket:Bucket", "acme-hub2-data-lake-bucket") in {(i["type"], i["name"]) for i in result["added"]}
    [policy] = [item for item in result["changed"] if item["name"].startswith("acme-lab1-host-identity")]
    assert [(c["input"], c.get("unknown"), c["after"]) for c in policy["changes"]] == [("policy", True, None)]
    assert policy["replace"] is False
    assert result["servers"]["added"] == ["hub2"]
    assert result["dangerous"] == [] and result["disruptive"] == []


def test_a_new_lab_manager_version_recreates_it_on_every_host_and_reconfigures_stack_labs(shipped, tmp_path):
    def upgrade(platform: Platform) -> None:
        platform["images"]["labManager"] = "constellab/lab-manager:2.5.0"

    result = compare(shipped, changed_stack(tmp_path, "pharma-onprem", upgrade))

    changed = by_name(result)
    manager = changed["pharma-hub-host-containers-lab-manager"]
    assert manager["replace"] is True
    assert manager["changes"] == [{"input": "image", "before": manager["changes"][0]["before"], "after": None,
                                   "unknown": True}], "the new image's id is known once it is pulled"  # fmt: skip
    disrupted = {(d["server"], d["type"].split(":")[-1]) for d in result["disruptive"]}
    assert ("hub", "Container") in disrupted and ("qc", "Command") in disrupted
    assert result["disruptive"][0]["role"] == "hub", "a hub's downtime comes first"
    assert result["dangerous"] == []


# ---------------------------------------------------------------------------------------------
# The rules one resource at a time (documents as `ops preview --format json` writes them)
# ---------------------------------------------------------------------------------------------


def test_a_bucket_whose_prefix_forces_a_new_one_is_dangerous_unless_the_program_ignores_it():
    bucket = resource("aws:s3/bucket:Bucket", "lake", {"bucketPrefix": "acme-hub-data-"}, protect=True)
    renamed = copy.deepcopy(bucket)
    renamed["inputs"]["bucketPrefix"] = "acme-hub-lake-"

    result = diff_stack(document(bucket), document(renamed))

    assert by_name(result)["lake"]["replaceBecause"] == ["bucketPrefix"]
    assert [(d["name"], d["action"]) for d in result["dangerous"]] == [("lake", "replace")]
    assert "replaced by an empty bucket" in result["dangerous"][0]["reason"]
    ignored = copy.deepcopy(renamed)
    ignored["options"]["ignoreChanges"] = ["bucketPrefix"]
    kept = diff_stack(document(bucket), document(ignored))
    assert by_name(kept)["lake"]["ignored"] == ["bucketPrefix"] and kept["dangerous"] == []


def test_a_new_database_password_or_a_moved_data_folder_is_dangerous():
    password = resource("random:index/randomPassword:RandomPassword", "db-prod", {"length": 32})
    longer = copy.deepcopy(password)
    longer["inputs"]["length"] = 40
    manager = resource(
        "docker:index/container:Container", "lm", {"volumes": [{"hostPath": "/app", "containerPath": "/app"}]}
    )
    moved = copy.deepcopy(manager)
    moved["inputs"]["volumes"][0]["hostPath"] = "/data/app"

    result = diff_stack(document(password, manager), document(longer, moved))

    assert sorted((d["name"], d["action"]) for d in result["dangerous"]) == [("db-prod", "replace"), ("lm", "move")]
    assert "locks the data out" in next(d["reason"] for d in result["dangerous"] if d["name"] == "db-prod")


def test_a_container_setting_updated_in_place_restarts_nothing():
    proxy = resource("docker:index/container:Container", "proxy", {"restart": "unless-stopped", "image": "traefik"})
    always = copy.deepcopy(proxy)
    always["inputs"]["restart"] = "always"

    result = diff_stack(document(proxy), document(always))

    assert by_name(result)["proxy"]["replace"] is False and result["disruptive"] == []


def test_removing_protection_or_a_data_volume_is_dangerous():
    volume = resource("aws:ebs/volume:Volume", "data", {"size": 100}, protect=True, retainOnDelete=True)
    released = copy.deepcopy(volume)
    released["options"]["protect"] = False

    assert [d["action"] for d in diff_stack(document(volume), document(released))["dangerous"]] == ["unprotect"]
    removed = diff_stack(document(volume), document())["dangerous"]
    assert [(d["action"], "retain on delete" in d["reason"]) for d in removed] == [("remove", True)]


def test_a_type_of_another_cpu_architecture_replaces_the_server_and_says_the_old_image_would_be_refused(
    shipped, tmp_path
):
    def graviton(platform: Platform) -> None:
        platform["labs"][0]["placement"]["instanceType"] = "m7g.xlarge"

    result = compare(shipped, changed_stack(tmp_path, "acme-cloud", graviton))

    instance = by_name(result)["acme-lab1-host-server-instance"]
    assert instance["replace"] is True and instance["replaceBecause"] == ["instanceType"]
    [down] = [d for d in result["disruptive"] if d["type"] == "aws:ec2/instance:Instance"]
    assert down["server"] == "lab1" and "which EC2 refuses: retire the server" in down["reason"]


def test_the_readmes_example_comment_is_what_the_preview_writes_for_its_change():
    import runpy

    example = runpy.run_path(str(ROOT / "docs" / "example_comment.py"))

    assert example["current"]() == example["readme_block"](example["render"]()), (
        "run: .venv/bin/python docs/example_comment.py --write"
    )


def test_a_new_customer_name_makes_every_server_a_new_one(shipped, tmp_path):
    def renamed(platform: Platform) -> None:
        platform["customer"] = "acmecorp"

    path = changed_stack(tmp_path, "acme-cloud", renamed)
    document = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump(document, sort_keys=False))

    result = compare(shipped, path)

    assert result["servers"]["replaced"] == ["hub", "lab1", "lab2", "space"]
    assert {d["action"] for d in result["dangerous"]} == {"remove"}
    assert all("Pulumi refuses to delete a protected resource" in d["reason"] for d in result["dangerous"]
               if d["type"] in ("aws:s3/bucket:Bucket", "aws:ebs/volume:Volume"))  # fmt: skip


def instance(**inputs: Any) -> dict[str, Any]:
    return resource("aws:ec2/instance:Instance", "vm", {"instanceType": "t3.large", **inputs})


def test_only_the_fields_of_an_object_input_that_force_a_new_resource_replace_it():
    root = {"volumeSize": 20, "volumeType": "gp3", "encrypted": True}
    bigger = diff_stack(
        document(instance(rootBlockDevice=root)), document(instance(rootBlockDevice=root | {"volumeSize": 30}))
    )
    plain = diff_stack(
        document(instance(rootBlockDevice=root)), document(instance(rootBlockDevice=root | {"encrypted": False}))
    )

    assert by_name(bigger)["vm"]["replace"] is False and bigger["disruptive"] == []
    assert by_name(plain)["vm"]["replaceBecause"] == ["rootBlockDevice"]


def test_a_delete_before_replace_resource_replaces_the_dependents_that_take_its_outputs():
    network = resource("docker:index/network:Network", "net", {"name": "gencovery-network-dev", "internal": False},
                       deleteBeforeReplace=True)  # fmt: skip
    proxy = resource(
        "docker:index/container:Container", "proxy", {"networksAdvanced": [{"name": "gencovery-network-dev"}]}
    )
    proxy["inputDependencies"] = {"networksAdvanced": [network["urn"]]}
    internal = copy.deepcopy(network)
    internal["inputs"]["internal"] = True

    result = diff_stack(document(network, proxy), document(internal, proxy))

    assert by_name(result)["proxy"]["replaceBecause"] == ["networksAdvanced"], "it goes before the network"
    assert {d["name"] for d in result["disruptive"]} == {"net", "proxy"}


def test_a_program_path_in_replace_on_changes_and_a_new_provider_replace_the_resource():
    tagged = resource("aws:ebs/volume:Volume", "data", {"tags": {"Name": "a"}}, replaceOnChanges=["tags.Name"])
    renamed = copy.deepcopy(tagged)
    renamed["inputs"]["tags"] = {"Name": "b"}
    moved = copy.deepcopy(tagged)
    moved["options"]["provider"] = "urn:pulumi:s::constellab::pulumi:providers:aws::eu-central-1"

    assert by_name(diff_stack(document(tagged), document(renamed)))["data"]["replaceBecause"] == ["tags"]
    assert by_name(diff_stack(document(tagged), document(moved)))["data"]["replaceBecause"] == ["provider"]


def test_a_smaller_data_volume_is_refused_by_ebs_and_said_so():
    volume = resource("aws:ebs/volume:Volume", "data", {"size": 500}, protect=True)
    smaller = copy.deepcopy(volume)
    smaller["inputs"]["size"] = 100

    result = diff_stack(document(volume), document(smaller))

    assert [(d["action"], d["reason"]) for d in result["dangerous"]] == [
        ("shrink", "EBS cannot shrink a volume (500 -> 100 GiB): the up fails at it")
    ]


def test_a_new_lab_in_a_pull_request_shows_its_monthly_delta_in_json_text_and_markdown(shipped, tmp_path):
    from offline.report import markdown, render_diff_text

    def new_lab(platform: Platform) -> None:
        platform["labs"].append(
            {"name": "lab3", "hub": "hub", "placement": {"kind": "cloud", "instanceType": "t3.large", "dataDiskGb": 50}}
        )

    path = changed_stack(tmp_path, "acme-cloud", new_lab)
    result = compare(shipped, path)

    # lab3, always on in eu-west-3: 730 h × $0.0944 (t3.large) + (30 GB root + 50 GB data) × $0.0928 (gp3) + 730 h ×
    # $0.005 (its address) + 7 metrics × $0.30 (detailed monitoring) = 68.91 + 2.78 + 4.64 + 3.65 + 2.10 = 82.08,
    # each line in cents
    cost = result["cost"]
    assert cost["servers"] == [
        {
            "name": "lab3",
            "beforeMonthlyUsd": None,
            "afterMonthlyUsd": 82.08,
            "deltaMonthlyUsd": 82.08,
            "complete": True,
            "bound": "exact",
        }
    ]
    # the stack's month is the sum of its servers' months in cents: 305.46 before, 305.46 + 82.08 = 387.54 after
    assert (cost["beforeMonthlyUsd"], cost["afterMonthlyUsd"]) == (305.46, 387.54)
    assert cost["deltaMonthlyUsd"] == 82.08 and cost["complete"] is True
    text = render_diff_text({"against": "origin/main", "stacks": [result]})
    assert "    cost: $305.46 → $387.54 a month, +$82.08\n" in text
    assert "      lab3: – → $82.08 (+$82.08)" in text
    comment = markdown([stack_document(run_program(path))], {"against": "origin/main", "stacks": [result]})
    assert "| verdict | cost/month | Δ cost/month |" in comment
    assert " | $387.54 | +$82.08 |" in comment
    assert "**Monthly cost (estimate, USD):** $387.54/month (+$82.08 a month)" in comment
    assert "- lab3: – → $82.08 (+$82.08)" in comment


def test_a_schedule_change_moves_the_estimate_by_the_changed_hours_times_the_hourly_price(shipped, tmp_path):
    def one_hour_later(platform: Platform) -> None:
        platform["labs"][0]["schedule"]["periods"][0]["stop"] = "20:00"

    result = compare(shipped, changed_stack(tmp_path, "acme-cloud", one_hour_later))

    # Mon-Fri one hour more: 5 h a week × 52/12 weeks a month = 21.667 h × $0.1888 (t3.xlarge, eu-west-3) = $4.091,
    # and its detailed monitoring for those hours, 7 × 21.667 h / 730 h × $0.30 = $0.0623: $4.153; lab1
    # (test_cost.py::test_acme_cloud_by_hand) moves from 70.777 to 74.930, whose rounded figures are 4.15 apart
    assert result["cost"]["servers"] == [
        {
            "name": "lab1",
            "beforeMonthlyUsd": 70.78,
            "afterMonthlyUsd": 74.93,
            "deltaMonthlyUsd": 4.15,
            "complete": True,
            "bound": "exact",
        }
    ]
    extra_hours = 5 * 52 / 12
    assert result["cost"]["deltaMonthlyUsd"] == pytest.approx(extra_hours * (0.1888 + 7 / 730 * 0.30), abs=0.01)
