"""DNS: wildcard records are DNS-only; every server has `<H>` and `*.<H>`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, ResourceValidationArgs, StackValidationArgs

from .common import Rule, as_list, of_type, report

RECORDS = ("cloudflare:index/dnsRecord:DnsRecord", "cloudflare:index/record:Record")
CONTAINER = "docker:index/container:Container"


def _name(props: Mapping[str, Any]) -> str:
    return str(props.get("name", ""))


def wildcard_dns_only(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type in RECORDS and _name(args.props).startswith("*.") and args.props.get("proxied") is True:
        report(
            report_violation,
            args.name,
            args.resource_type,
            f"{_name(args.props)} is proxied by Cloudflare, which breaks Traefik's certificates and Codelab SSH",
            "set proxied to false",
        )


def host_and_wildcard(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    records = of_type(args.resources, *RECORDS)
    names = {_name(record.props) for record in records}
    for record in records:
        name = _name(record.props)
        partner = name[2:] if name.startswith("*.") else f"*.{name}"
        if partner not in names:
            report(
                report_violation,
                record.name,
                record.resource_type,
                f"{name} has no {partner} beside it",
                "declare both records with the WildcardDns component",
                record.urn,
            )


def _server_host(container: PolicyResource) -> str | None:
    """The server's host `<H>`: the VIRTUAL_HOST of its lab manager (or of the space's application)."""
    env = dict(str(e).partition("=")[::2] for e in as_list(container.props.get("envs")))
    host = env.get("VIRTUAL_HOST", "")
    return host if container.props.get("name") in ("lab_manager", "space") and host else None


def every_server_has_dns(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    records = of_type(args.resources, *RECORDS)
    if not records:
        return  # customer-managed DNS: the records to create are a stack output
    names = {_name(record.props) for record in records}
    for container in of_type(args.resources, CONTAINER):
        host = _server_host(container)
        if host is None:
            continue
        missing = [name for name in (host, f"*.{host}") if name not in names]
        if missing:
            report(
                report_violation,
                container.name,
                container.resource_type,
                f"server {host} has no {' and no '.join(missing)} record",
                "declare the server's <H> and *.<H> records (WildcardDns)",
                container.urn,
            )


RULES = [
    Rule("dns-wildcard-dns-only", "Wildcard records are DNS-only (not proxied)", "mandatory", wildcard_dns_only),
    Rule("dns-host-and-wildcard", "Every server has both <H> and *.<H>", "mandatory", host_and_wildcard, scope="stack"),
    Rule(
        "dns-every-server-has-dns",
        "Every cloud server's address has DNS records",
        "mandatory",
        every_server_has_dns,
        scope="stack",
    ),
]
