"""Pulumi components, one per module; each takes validated config, never raw dicts."""
