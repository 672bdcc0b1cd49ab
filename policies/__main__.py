"""The CrossGuard entry point: builds the pack (its constructor starts the policy server)."""

from pulumi_policy import EnforcementLevel, PolicyPack
from rules import ALL_RULES

PolicyPack(
    name="constellab-guardrails",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[rule.policy() for rule in ALL_RULES],
)
