"""`constellab/aws/iam.py`: the IAM policy documents and security group rules, without Pulumi."""

from __future__ import annotations

from constellab.aws import iam


def test_lab_policy_scopes_listing_to_its_prefix():
    document = iam.policy_document([iam.Grant("arn:aws:s3:::lake", "labs/lab1/", "write", "hub-results")])
    listing = next(s for s in document["Statement"] if s["Action"] == ["s3:ListBucket"])
    assert listing["Resource"] == "arn:aws:s3:::lake"
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["labs/lab1/", "labs/lab1/*"]}}
    objects = next(s for s in document["Statement"] if s is not listing)
    assert objects["Resource"] == "arn:aws:s3:::lake/labs/lab1/*"
    assert "s3:DeleteObject" not in objects["Action"]


def test_security_group_rules_never_open_admin_ports_to_the_world():
    rules = iam.ingress_rules(["198.51.100.0/24"])
    admin = [rule for rule in rules if rule.port in iam.ADMIN_PORTS]
    assert {(rule.port, rule.cidr) for rule in admin} == {(22, "198.51.100.0/24"), (2222, "198.51.100.0/24")}
    assert {rule.port for rule in rules} == {22, 80, 443, 2222}
