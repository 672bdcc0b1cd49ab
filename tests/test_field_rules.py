"""A guardrail that is a rule about one stack-file field is also that field's validation, with the same limit:
`ops validate` refuses, on the field, exactly what `ops check` would refuse (issue 15). Each value below is
judged twice, by the guardrail on the resource the program would declare and by the stack file's validation,
and the two must agree, on both sides of each limit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from offline.engine import Registration
from policies.rules import field_limits
from tests.test_config_validation import problems, set_path, valid_platform
from tests.test_policies import CONTAINER, GOOD_CONTAINER, GOOD_INSTANCE, INGRESS, INSTANCE, messages, res


def ssh_ingress(cidr: str) -> list[Registration]:
    family = "cidrIpv6" if ":" in cidr else "cidrIpv4"
    return [res(INGRESS, "ssh", {"fromPort": 22, "toPort": 22, "ipProtocol": "tcp", family: cidr})]


FIELD_CASES: list[tuple[str, str, Callable[[str], list[Registration]], list[str]]] = [
    ("ec2-no-admin-or-database-port-to-world", "adminCidrs", ssh_ingress, ["0.0.0.0/0", "::/0", "203.0.113.0/24"]),
    (
        "ec2-admin-cidrs-narrow",
        "adminCidrs",
        ssh_ingress,
        ["0.0.0.0/1", "10.0.0.0/15", "10.0.0.0/16", "203.0.113.0/24", "2001:db8::/63", "2001:db8::/64"],
    ),
    (
        "ec2-allowed-instance-types",
        "labs[1].placement.instanceType",
        lambda value: [res(INSTANCE, "vm", {**GOOD_INSTANCE, "instanceType": value})],
        ["t3.large", "m7g.large", "r7i.metal-48xl", "m5.large", "t4g.micro", "p5.48xlarge", "x9.large"],
    ),
    (
        "docker-images-pinned",
        "images.traefik",
        lambda value: [res(CONTAINER, "c", {**GOOD_CONTAINER, "image": value})],
        ["traefik:v3.7.15", "traefik:3", "traefik@sha256:" + "b" * 64, "traefik", "traefik:latest", "traefik:v"],
    ),
]


def validation_refuses(path: str, value: str) -> bool:
    platform: dict[str, Any] = valid_platform()
    set_path(platform, path, [value] if path == "adminCidrs" else value)
    field = f"{path}[0]" if path == "adminCidrs" else path
    try:
        found = problems(platform)
    except pytest.fail.Exception:  # nothing refused at all
        return False
    return any(line.startswith(f"{field}: ") for line in found)


@pytest.mark.parametrize(
    ("rule", "path", "resources", "value"),
    [(rule, path, resources, value) for rule, path, resources, values in FIELD_CASES for value in values],
    ids=[f"{rule}={value}" for rule, _, _, values in FIELD_CASES for value in values],
)
def test_the_field_is_refused_exactly_when_its_guardrail_refuses(rule, path, resources, value):
    assert validation_refuses(path, value) == bool(messages(rule, *resources(value)))


def test_each_field_rule_is_judged_on_both_sides_of_its_limit():
    for rule, _, resources, values in FIELD_CASES:
        verdicts = {bool(messages(rule, *resources(value))) for value in values}
        assert verdicts == {True, False}, rule


def test_every_guardrail_about_one_field_is_listed_and_tried_here():
    from policies.rules import ALL_RULES

    assert set(field_limits.FIELD_RULES) <= {rule.name for rule in ALL_RULES}
    assert {rule for rule, *_ in FIELD_CASES} == set(field_limits.FIELD_RULES)
