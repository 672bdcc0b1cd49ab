"""The Constellab guardrails, by topic. Importing this package builds no policy pack, starts nothing and loads
no rule: the stack file's validation takes the limits of the field rules from `field_limits` (standard library
only) without loading the policy SDK. `ALL_RULES` and `Rule` load the rules when first asked for."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .common import Rule

    ALL_RULES: list[Rule]


def __getattr__(name: str) -> Any:
    if name == "Rule":
        from .common import Rule

        return Rule
    if name == "ALL_RULES":
        from . import compute, dns, docker, iam, s3, scheduling, stack, traefik

        rules = [
            *s3.RULES,
            *compute.RULES,
            *iam.RULES,
            *scheduling.RULES,
            *dns.RULES,
            *docker.RULES,
            *traefik.RULES,
            *stack.RULES,
        ]
        globals()["ALL_RULES"] = rules  # one list, the same at every access
        return rules
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ALL_RULES", "Rule"]
