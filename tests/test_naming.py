"""`constellab/naming.py`: the names the program gives AWS resources."""

from __future__ import annotations

from constellab import naming


def test_bucket_prefixes_fit_aws_limits_and_stay_readable():
    prefix = naming.bucket_prefix("a-very-long-customer-name", "an-even-longer-lab-name", "backups")
    assert len(prefix) <= 37 and prefix.endswith("-backups-") and prefix.startswith("a-very-long")
    assert naming.bucket_prefix("acme", "lab1", "data") == "acme-lab1-data-"
