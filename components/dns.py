"""WildcardDns: `<H>` and `*.<H>` pointing at a server, DNS-only, in a Cloudflare zone."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_cloudflare as cloudflare

AUTOMATIC_TTL = 1
"""Cloudflare's value for 'automatic' TTL."""


def record_names(host: str) -> list[str]:
    """The two records every server needs: its host and the wildcard under it."""
    return [host, f"*.{host}"]


@dataclass(frozen=True)
class WildcardDnsArgs:
    """Arguments of `WildcardDns`."""

    zone_id: str
    host: str
    address: pulumi.Input[str]


class WildcardDns(pulumi.ComponentResource):
    """Two A records; never proxied, since Traefik terminates TLS and Codelab's SSH is not HTTP.

    Pass the Cloudflare provider through `opts.providers`.
    """

    def __init__(self, name: str, args: WildcardDnsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("constellab:dns:WildcardDns", name, None, opts)
        records = [
            cloudflare.DnsRecord(
                f"{name}-{'wildcard' if record.startswith('*') else 'host'}",
                zone_id=args.zone_id,
                name=record,
                type="A",
                content=args.address,
                ttl=AUTOMATIC_TTL,
                proxied=False,
                comment="Managed by Pulumi (constellab)",
                opts=pulumi.ResourceOptions(parent=self),
            )
            for record in record_names(args.host)
        ]
        self.names = [record.name for record in records]
        self.register_outputs({"names": self.names})
