"""`constellab/naming.py`: the names the program gives AWS resources."""

from __future__ import annotations

from constellab import naming


def test_bucket_prefixes_fit_aws_limits_and_stay_readable():
    prefix = naming.bucket_prefix("a-very-long-customer-name", "an-even-longer-lab-name", "backups")
    assert len(prefix) <= 37 and prefix.endswith("-backups-") and prefix.startswith("a-very-long")
    assert naming.bucket_prefix("acme", "lab1", "data") == "acme-lab1-data-"


def test_the_access_log_bucket_is_the_stacks_and_carries_every_required_tag():
    assert naming.stack_bucket_prefix("acme", naming.ACCESS_LOGS) == "acme-access-logs-"
    prefix = naming.stack_bucket_prefix("a-very-long-customer-name-indeed-yes", naming.ACCESS_LOGS)
    assert len(prefix) <= 37 and prefix.endswith("-access-logs-")
    assert naming.shared_tags("acme-cloud", naming.ACCESS_LOGS) == {
        "constellab:stack": "acme-cloud",
        "constellab:server": "shared",
        "constellab:role": "access-logs",
        "Name": "acme-cloud-access-logs",
    }
