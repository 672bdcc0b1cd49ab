"""DNS: wildcard records are DNS-only; every server has `<H>` and `*.<H>`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from .common import Rule, depends_on, of_type, report

RECORDS = ("cloudflare:index/dnsRecord:DnsRecord", "cloudflare:index/record:Record")
EIP = "aws:ec2/eip:Eip"
INSTANCE = "aws:ec2/instance:Instance"


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


def every_server_has_dns(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    records = of_type(args.resources, *RECORDS)
    if not records:
        return  # customer-managed DNS: the records to create are a stack output
    pointed = {eip.urn for record in records for eip in depends_on(record, EIP)}
    for eip in of_type(args.resources, EIP):
        if eip.urn not in pointed:
            servers = ", ".join(
                i.name for i in of_type(args.resources, INSTANCE) if i.urn in {d.urn for d in depends_on(eip, INSTANCE)}
            )
            report(
                report_violation,
                eip.name,
                eip.resource_type,
                f"no DNS record points at this address {servers}".rstrip(),
                "declare the server's <H> and *.<H> records",
                eip.urn,
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
