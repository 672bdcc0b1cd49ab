"""EC2 instance types: their CPU architecture and the Debian image that runs on it."""

from __future__ import annotations

from typing import Literal


def instance_architecture(instance_type: str) -> Literal["x86_64", "arm64"]:
    """EC2 architecture of an instance type: Graviton families carry a `g` after the generation digit."""
    family = instance_type.split(".", 1)[0]
    if family == "a1":
        return "arm64"
    digits = next((i for i, ch in enumerate(family) if ch.isdigit()), len(family))
    attributes = family[digits:].lstrip("0123456789")
    return "arm64" if "g" in attributes else "x86_64"


DEBIAN_AMI_OWNER = "136693071363"
"""The Debian project's AWS account, publisher of the official Debian cloud images."""


def debian_ami_name_pattern(architecture: str) -> str:
    """Name pattern of the current Debian stable (13, trixie) images for an architecture."""
    return f"debian-13-{'arm64' if architecture == 'arm64' else 'amd64'}-*"
