"""Fuzzed stacks through the program: what validation accepts builds under Pulumi's mock engine without an
exception, and the offline preview's document and guardrails follow (issue 16).

A program run takes about a second, so the documents here are the shipped stacks changed in ways that keep them
valid-looking (new names, sizes, schedules, placements, certificates, configurations, networks, keys): most are
accepted and reach the program. Refused ones are checked as `test_fuzz_stack_files` checks them.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import zoneinfo
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from constellab.settings import StackConfigError, load_stack_file
from offline.documents import stack_document
from offline.engine import run_program
from tests.conftest import STACK_NAMES
from tests.test_fuzz_stack_files import (
    FUZZ,
    Outcome,
    as_yaml,
    check_refusal,
    shipped_documents,
    validate_file,
    write_stack_file,
)

# ---------------------------------------------------------------------------------------------
# Values that look right
# ---------------------------------------------------------------------------------------------

labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", fullmatch=True)
short_labels = st.from_regex(r"[a-z]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
domains = st.lists(short_labels, min_size=2, max_size=4).map(".".join)
FAMILIES = ("t3", "t3a", "m6i", "m7i", "m6a", "m7a", "m7g", "c6i", "c7i", "c7g", "r6i", "r7i", "r7g", "m5d", "x2idn")
SIZES = (
    "nano",
    "micro",
    "small",
    "medium",
    "large",
    "xlarge",
    "2xlarge",
    "12xlarge",
    "48xlarge",
    "metal",
    "metal-24xl",
)
instance_types = st.builds("{}.{}".format, st.sampled_from(FAMILIES), st.sampled_from(SIZES))
disk_sizes = st.integers(20, 16384) | st.sampled_from([20, 49, 50, 16384])
public_addresses = st.ip_addresses(v=4).map(str)
networks = st.builds(
    lambda address, prefix: str(ipaddress.ip_network(f"{address}/{prefix}", strict=False)),
    st.ip_addresses(v=4),
    st.integers(16, 32),
)
clock_times = st.builds("{:02d}:{:02d}".format, st.integers(0, 23), st.integers(0, 59))
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@cache
def time_zones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


periods = st.fixed_dictionaries(
    {"days": st.lists(st.sampled_from(DAYS), min_size=1, max_size=7, unique=True), "start": clock_times,
     "stop": clock_times}
)  # fmt: skip
schedules = st.fixed_dictionaries(
    {"timezone": st.sampled_from(time_zones()) if time_zones() else st.just("UTC"),
     "periods": st.lists(periods, min_size=1, max_size=3)}
)  # fmt: skip
versions = st.from_regex(r"v?[0-9][A-Za-z0-9._+-]{0,20}", fullmatch=True)
https_urls = st.builds("https://{}{}".format, domains, st.sampled_from(["", "/api", "/dns-challenge", ":8443/x"]))
ssh_keys = st.builds(
    "ssh-ed25519 {} {}".format,
    st.binary(min_size=32, max_size=51).map(lambda raw: base64.b64encode(raw).decode()),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs", "Zl", "Zp"]), max_size=20),
).map(str.strip)
images = st.builds("{}/{}:{}".format, short_labels, short_labels, versions)
any_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=100)
variable_names = st.from_regex(r"[A-Z_][A-Z0-9_]{0,20}", fullmatch=True).filter(
    lambda name: not any(word in name for word in ("PASS", "SECRET", "TOKEN", "KEY"))
)

placements = st.one_of(
    st.fixed_dictionaries({"kind": st.just("cloud")},
                          optional={"instanceType": instance_types, "dataDiskGb": disk_sizes}),
    st.fixed_dictionaries(
        {"kind": st.just("onPrem"), "sshHost": domains | public_addresses, "publicAddress": public_addresses},
        optional={"sshUser": labels, "sshPort": st.integers(1, 65535), "firewall": st.sampled_from(["ufw", "none"])},
    ),
)  # fmt: skip
certificates = st.one_of(
    st.just({"mode": "acme"}),
    st.just({"mode": "default"}),
    https_urls.map(lambda url: {"mode": "httpreq", "endpoint": url}),
)
stack_configurations = st.fixed_dictionaries(
    {
        "mode": st.just("stack"),
        "labId": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", fullmatch=True),
        "frontVersion": versions,
        "glabTag": versions,
        "bricks": st.lists(
            st.fixed_dictionaries({"name": st.from_regex(r"gws_[a-z0-9_]{1,12}", fullmatch=True), "version": versions}),
            max_size=3,
            unique_by=lambda brick: brick["name"],
        ).map(lambda bricks: [{"name": "gws_core", "version": "0.18.4"}, *bricks]),
    },
    optional={
        "labName": any_text,
        "variables": st.dictionaries(variable_names, st.text(max_size=30), max_size=4),
        "backup": st.booleans(),
        "openai": st.booleans(),
        "captchaSiteKey": st.from_regex(r"[A-Za-z0-9_-]{10,40}", fullmatch=True),
        "upTimeoutMinutes": st.integers(5, 720),
        "git": st.lists(
            st.fixed_dictionaries(
                {
                    "source": https_urls,
                    "packages": st.lists(
                        st.fixed_dictionaries(
                            {
                                "name": labels,
                                "branch": st.sampled_from(["main", "release/1.2"]),
                                "commit": st.from_regex(r"[0-9a-f]{7,40}", fullmatch=True),
                                "version": versions,
                            }
                        ),
                        min_size=1,
                        max_size=2,
                    ),
                }
            ),
            max_size=2,
        ),
    },
)

# ---------------------------------------------------------------------------------------------
# Changes that keep a stack valid-looking
# ---------------------------------------------------------------------------------------------

Change = Callable[[st.DrawFn, dict[str, Any]], None]


def _servers(platform: dict[str, Any], kinds: tuple[str, ...] = ("hubs", "labs")) -> list[dict[str, Any]]:
    return [server for kind in kinds for server in platform.get(kind, [])]


def _one(draw: st.DrawFn, platform: dict[str, Any], kinds: tuple[str, ...] = ("hubs", "labs")) -> dict[str, Any]:
    servers = _servers(platform, kinds)
    return draw(st.sampled_from(servers)) if servers else {}


def rename(draw: st.DrawFn, platform: dict[str, Any]) -> None:
    server = _one(draw, platform)
    if not server:
        return
    old, new = server.get("name"), draw(labels)
    server["name"] = new
    for lab in platform.get("labs", []):
        if lab.get("hub") == old:
            lab["hub"] = new
    storage = platform.get("space", {}).get("storage", {})
    if storage.get("hub") == old:
        storage["hub"] = new


def resize(draw: st.DrawFn, platform: dict[str, Any]) -> None:
    server = _one(draw, platform, ("hubs", "labs")) or platform.get("space", {})
    placement = server.get("placement", {})
    if placement.get("kind") == "cloud":
        placement["instanceType"] = draw(instance_types)
        placement["dataDiskGb"] = draw(disk_sizes)


def schedule(draw: st.DrawFn, platform: dict[str, Any]) -> None:
    lab = _one(draw, platform, ("labs",))
    if lab:
        lab["schedule"] = draw(schedules)


def power(draw: st.DrawFn, platform: dict[str, Any]) -> None:
    lab = _one(draw, platform, ("labs",))
    if lab:
        lab["idleStop"] = draw(st.fixed_dictionaries({"minutes": st.integers(10, 1440)},
                                                     optional={"cpuBelowPercent": st.floats(0.5, 50)}))  # fmt: skip
        lab["state"] = draw(st.sampled_from(["running", "stopped"]))


def backup(draw: st.DrawFn, platform: dict[str, Any]) -> None:
    server = _one(draw, platform)
    if server:
        daily = draw(st.integers(1, 365))
        server["backup"] = {"dailyDays": daily, "weeklyDays": draw(st.integers(max(7, daily), 3650))}


def place(draw: st.DrawFn, platform: dict[str, Any]) -> None:
    server = _one(draw, platform)
    if server and server.get("placement", {}).get("kind") != "local":
        server["placement"] = draw(placements)


def certify(draw: st.DrawFn, platform: dict[str, Any]) -> None:
    server = _one(draw, platform, ("hubs", "labs")) or platform.get("space", {})
    if server:
        server["certificates"] = draw(certificates)


def retire(draw: st.DrawFn, platform: dict[str, Any]) -> None:
    server = _one(draw, platform)
    if server:
        server["retired"] = True


def add_lab(draw: st.DrawFn, platform: dict[str, Any]) -> None:
    labs = platform.get("labs", [])
    if not labs:
        return
    lab = copy.deepcopy(draw(st.sampled_from(labs)))
    taken = {server.get("name") for server in _servers(platform)} | {"space"}
    lab["name"] = draw(labels.filter(lambda name: name not in taken))
    labs.append(lab)


def configure(draw: st.DrawFn, platform: dict[str, Any]) -> None:
    server = _one(draw, platform)
    if server:
        server["configuration"] = draw(stack_configurations)
        server.pop("bricks", None)


def customer(draw: st.DrawFn, platform: dict[str, Any]) -> None:
    platform["customer"] = draw(labels)
    platform["baseDomain"] = draw(domains)


def network(draw: st.DrawFn, platform: dict[str, Any]) -> None:
    if draw(st.booleans()):
        vpc = ipaddress.ip_network(draw(networks)).supernet(new_prefix=16)
        subnet = draw(st.sampled_from(list(vpc.subnets(new_prefix=24))[:8]))
        platform["network"] = {"mode": "create", "vpcCidr": str(vpc), "subnetCidr": str(subnet)}
        if draw(st.booleans()):
            platform["network"]["availabilityZone"] = draw(st.sampled_from(["eu-west-3a", "us-east-1f", ""]) | any_text)
    else:
        ids = st.from_regex(r"[0-9a-f]{8,17}", fullmatch=True)
        platform["network"] = {"mode": "existing", "vpcId": f"vpc-{draw(ids)}", "subnetId": f"subnet-{draw(ids)}"}


def dns(draw: st.DrawFn, platform: dict[str, Any]) -> None:
    zone = draw(st.from_regex(r"[a-f0-9]{32}", fullmatch=True))
    platform["dns"] = draw(st.sampled_from([{"provider": "none"}, {"provider": "cloudflare", "zoneId": zone}]))


def access(draw: st.DrawFn, platform: dict[str, Any]) -> None:
    platform["adminCidrs"] = draw(st.lists(networks, min_size=1, max_size=3))
    platform["sshPublicKeys"] = draw(st.lists(ssh_keys, min_size=1, max_size=3))


def sources(draw: st.DrawFn, platform: dict[str, Any]) -> None:
    hub = _one(draw, platform, ("hubs",))
    if hub:
        prefix = st.from_regex(r"([a-z0-9-]{1,10}/){0,3}", fullmatch=True)
        bucket = st.from_regex(r"[a-z0-9][a-z0-9-]{2,30}[a-z0-9]", fullmatch=True)
        hub["externalSources"] = draw(st.lists(st.fixed_dictionaries({"bucket": bucket, "prefix": prefix}), max_size=3))


def endpoints(draw: st.DrawFn, platform: dict[str, Any]) -> None:
    platform["endpoints"] = {"spaceApiUrl": draw(https_urls), "spaceFrontUrl": draw(https_urls)}
    platform["images"] = {**platform.get("images", {}), "labManager": draw(images), "traefik": draw(images)}
    platform["environmentProfile"] = draw(st.sampled_from(["prod", "pre-prod"]))
    platform["acmeEmail"] = f"{draw(short_labels)}@{draw(domains)}"


CHANGES: tuple[Change, ...] = (
    rename, resize, schedule, power, backup, place, certify, retire, add_lab, configure, customer, network, dns,
    access, sources, endpoints,
)  # fmt: skip


@st.composite
def valid_looking_documents(draw: st.DrawFn) -> Any:
    """A shipped stack with one to four changes that keep it looking valid."""
    document = copy.deepcopy(shipped_documents()[draw(st.sampled_from(STACK_NAMES))])
    platform = document["config"]["constellab:platform"]
    for _ in range(draw(st.integers(1, 4))):
        draw(st.sampled_from(CHANGES))(draw, platform)
    return document


# ---------------------------------------------------------------------------------------------
# The oracle and the test
# ---------------------------------------------------------------------------------------------


def build_file(path: Path) -> Outcome:
    """Refused in the file's terms, or accepted and then built, previewed and checked without an exception."""
    try:
        load_stack_file(path, require_secrets=False)
    except StackConfigError as error:
        check_refusal(error)
        return "refused"
    run = run_program(path)
    urns = [registration.urn for registration in run.registrations]
    assert len(urns) == len(set(urns)), "two resources with one URN: a real deployment refuses the stack"
    stack_document(run)  # the preview's document, with the guardrails' verdicts
    return "accepted"


@settings(FUZZ, max_examples=40)
@given(document=valid_looking_documents())
def test_a_stack_validation_accepts_builds_and_previews_without_an_exception(tmp_path, document):
    build_file(write_stack_file(tmp_path, as_yaml(document)))


@settings(FUZZ, max_examples=300)
@given(document=valid_looking_documents())
def test_a_valid_looking_stack_is_validated_or_refused_field_by_field(tmp_path, document):
    validate_file(write_stack_file(tmp_path, as_yaml(document)))


def test_most_valid_looking_stacks_are_accepted_so_the_program_is_reached(tmp_path):
    # Were the changes to break every stack, the test above would only ever see refusals.
    outcomes: list[Outcome] = []

    @settings(FUZZ, max_examples=60, phases=[Phase.generate])
    @given(document=valid_looking_documents())
    def validate_only(document: Any) -> None:
        path = write_stack_file(tmp_path, as_yaml(document))
        try:
            load_stack_file(path, require_secrets=False)
            outcomes.append("accepted")
        except StackConfigError:
            outcomes.append("refused")

    validate_only()
    assert outcomes.count("accepted") >= len(outcomes) // 3, outcomes
