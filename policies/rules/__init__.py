"""The Constellab guardrails, by topic. Importing this builds no policy pack and starts nothing."""

from . import compute, dns, docker, iam, s3, scheduling, stack, traefik
from .common import Rule

ALL_RULES: list[Rule] = [
    *s3.RULES,
    *compute.RULES,
    *iam.RULES,
    *scheduling.RULES,
    *dns.RULES,
    *docker.RULES,
    *traefik.RULES,
    *stack.RULES,
]

__all__ = ["ALL_RULES", "Rule"]
