"""Which EC2 instance types can be recovered onto healthy hardware, for the always-on servers.

Hubs and the space carry a CloudWatch alarm whose action is EC2's `recover`: on a failed system
status check, EC2 moves the instance, with its id, addresses and EBS volumes, to a healthy host.
Creating the alarm fails for a type the action does not support, so such a type is refused when the
stack is validated. AWS documents the limits (EC2 user guide, "Recover your instance", and
"Simplified automatic recovery"; `aws ec2 describe-instance-types --filters
Name=auto-recovery-supported,Values=true` lists the current set):
- no instance store volumes (a `d` in the family's attributes: `m5d`, `c6id`, `r6gd`; and the
  storage families `d`, `h`, `i`, `im`, `is`, `z1d`);
- no bare metal (`.metal` sizes, `mac*`);
- the families listed: A1, T1-T4g, C/M/R 4 and newer without instance store, G3, G5g, Inf1, P2,
  P3, VT1, Hpc6a. AWS also lists C3, M3, R3, X1 and X1e when launched without their instance store,
  which a stack file cannot say: those are refused too.
"""

from __future__ import annotations

import re

_STORAGE_FAMILIES = re.compile(r"^(d\d|h\d|i\d|im\d|is\d|z\d)")
_SUPPORTED = re.compile(r"^(a1|t[1-4][a-z]*|[cmr]([4-9]|\d\d)[a-z]*(-flex)?|g3|g5g|inf1|p2|p3|vt1|hpc6a)$")


def _family_and_attributes(instance_type: str) -> tuple[str, str]:
    family = instance_type.split(".", 1)[0]
    digits = next((i for i, ch in enumerate(family) if ch.isdigit()), len(family))
    return family, family[digits:].lstrip("0123456789").removesuffix("-flex")


def recovery_refusal(instance_type: str) -> str | None:
    """Why EC2 cannot recover an instance of this type, or None when it can."""
    family, attributes = _family_and_attributes(instance_type)
    size = instance_type.split(".", 1)[1] if "." in instance_type else ""
    if size.startswith("metal") or family.startswith("mac"):
        return "bare metal instances cannot be recovered"
    if _STORAGE_FAMILIES.match(family) or "d" in attributes:
        return "instances with instance store volumes cannot be recovered"
    if not _SUPPORTED.match(family):
        return f"EC2 does not recover {family} instances"
    return None
