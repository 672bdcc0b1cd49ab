"""`constellab/aws/recovery.py`: which instance types EC2 can recover, as an always-on server needs."""

from __future__ import annotations

import pytest

from constellab.aws import recovery


@pytest.mark.parametrize(
    ("instance_type", "refusal"),
    [("t3.large", None), ("m6i.large", None), ("m7g.xlarge", None), ("r7iz.large", None), ("m7i-flex.large", None),
     ("c8g.large", None), ("t4g.small", None), ("hpc6a.48xlarge", None),
     ("m5d.large", "instance store"), ("c6id.xlarge", "instance store"), ("r6gd.large", "instance store"),
     ("i4i.large", "instance store"), ("d3.xlarge", "instance store"), ("z1d.large", "instance store"),
     ("g4dn.xlarge", "instance store"), ("m5.metal", "bare metal"), ("mac2.metal", "bare metal"),
     ("g5.xlarge", "does not recover g5"), ("inf2.xlarge", "does not recover inf2"), ("x1e.xlarge", "does not")],
)  # fmt: skip
def test_always_on_servers_need_a_type_ec2_can_recover(instance_type, refusal):
    found = recovery.recovery_refusal(instance_type)
    assert found is None if refusal is None else refusal in (found or "")
