"""`constellab/aws/instance_types.py`: an instance type's architecture, read from its family."""

from __future__ import annotations

import pytest

from constellab.aws import instance_types


@pytest.mark.parametrize(
    ("instance_type", "architecture"),
    [("t3.large", "x86_64"), ("m7g.large", "arm64"), ("c6gn.xlarge", "arm64"), ("g5.xlarge", "x86_64"),
     ("m6idn.large", "x86_64"), ("r8gd.2xlarge", "arm64"), ("a1.medium", "arm64")],
)  # fmt: skip
def test_instance_architecture_is_read_from_the_family(instance_type, architecture):
    assert instance_types.instance_architecture(instance_type) == architecture
