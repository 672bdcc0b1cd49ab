"""What the stack hands its servers at deployment, keyed by `constellab.values.Configured`, never by strings.

`StackSecrets` holds the stack's configured secrets as the program reads them (a shared one, or one per
server); `ServerValues` what one server's containers and configuration are given: its share of those
secrets, the region, the space's bucket, a manual certificate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from constellab.values import Configured


@dataclass(frozen=True)
class StackSecrets:
    """The stack's configured secrets: `shared` ones, and those set `per_server` (a secret map's members)."""

    shared: Mapping[Configured, pulumi.Output[str]] = field(default_factory=dict)
    per_server: Mapping[Configured, Mapping[str, pulumi.Output[str]]] = field(default_factory=dict)


@dataclass(frozen=True)
class ServerValues:
    """The values one server is given, by name (`Ref.name`); a name it lacks is a `KeyError` naming it."""

    values: Mapping[Configured, pulumi.Input[str]]

    @classmethod
    def of(
        cls,
        secrets: StackSecrets,
        server: str,
        region: str | None = None,
        extra: Mapping[Configured, pulumi.Input[str]] | None = None,
    ) -> ServerValues:
        """The shared secrets, this server's members of the secret maps, the region and what else it needs."""
        values: dict[Configured, pulumi.Input[str]] = dict(secrets.shared)
        if region:
            values[Configured.AWS_REGION] = region
        values |= {ref: members[server] for ref, members in secrets.per_server.items() if server in members}
        values |= dict(extra or {})
        return cls(values)

    def __contains__(self, name: object) -> bool:
        return name in self.values

    def __getitem__(self, name: Configured) -> pulumi.Input[str]:
        if name not in self.values:
            raise KeyError(f"no value for {name.value!r}")
        return self.values[name]

    def get(self, name: Configured) -> pulumi.Input[str] | None:
        return self.values.get(name)
