"""Pure, Pulumi-free core of the toolkit: validated configuration and everything rendered from it.

Nothing in this package registers a resource, so all of it is testable without a Pulumi engine.
"""
