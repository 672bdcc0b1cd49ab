"""`constellab/aws/iam.py`: the IAM policy documents and security group rules, without Pulumi."""

from __future__ import annotations

import pytest

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


def test_every_rule_description_is_one_ec2_takes():
    """EC2 refuses a rule description outside its character set (the guardrail's pattern): an apostrophe would
    fail `pulumi up` halfway."""
    from policies.rules.compute import RULE_DESCRIPTION

    descriptions = [rule.description for rule in iam.ingress_rules(["198.51.100.0/24", "2001:db8::/48"])]
    for description in [*descriptions, iam.OUTBOUND_DESCRIPTION]:
        assert RULE_DESCRIPTION.fullmatch(description), description


LOGS = "arn:aws:s3:::acme-access-logs-1"


def test_the_access_log_bucket_lets_only_s3s_log_delivery_of_its_sources_in_and_stays_tls_only():
    sources = ["acme-hub-data-1", "acme-hub-backup-daily-1", "acme-hub-data-1"]
    document = iam.access_log_bucket_policy(LOGS, sources, "1")

    delivery, deny = document["Statement"]
    assert deny == iam.deny_insecure_transport(LOGS)["Statement"][0], "a bucket has one policy: TLS only stays"
    assert delivery == {
        "Sid": "S3ServerAccessLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{LOGS}/*",
        "Condition": {
            # Each source once, in a stable order: the document does not change when the program's order does.
            "ArnLike": {"aws:SourceArn": ["arn:aws:s3:::acme-hub-backup-daily-1", "arn:aws:s3:::acme-hub-data-1"]},
            "StringEquals": {"aws:SourceAccount": "1"},
        },
    }
    assert iam.access_log_prefix("acme-hub-data-1") == "acme-hub-data-1/"


def test_an_access_log_bucket_without_sources_only_refuses_plain_http():
    assert iam.access_log_bucket_policy(LOGS, [], "1") == iam.deny_insecure_transport(LOGS)


def test_the_access_log_policy_stays_within_s3s_size_limit_or_says_so():
    longest = [f"{'c' * 37}{index:026d}" for index in range(200)]  # 63 characters, S3's longest bucket name
    assert len(iam.to_json(iam.access_log_bucket_policy(LOGS, longest, "123456789012"))) <= iam.BUCKET_POLICY_MAX_BYTES
    with pytest.raises(ValueError, match="over S3's limit of 20480: spread the servers over more stacks"):
        iam.access_log_bucket_policy(LOGS, [f"{'c' * 37}{index:026d}" for index in range(300)], "123456789012")
