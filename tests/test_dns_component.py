"""`WildcardDns` (`components/dns.py`) under the mock engine: each server's DNS-only records, or the records to
create exported when the customer manages DNS."""

from __future__ import annotations

import pulumi

from tests.conftest import declared, of_type


@pulumi.runtime.test
def test_each_server_gets_dns_only_records_for_its_host_and_wildcard(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        addresses = {e.parent: e.outputs["publicIp"] for e in of_type(registrations, "aws:ec2/eip:Eip")}
        records = of_type(registrations, "cloudflare:index/dnsRecord:DnsRecord")
        names = {r.inputs["name"] for r in records}
        for _, server in engine.settings.platform.servers():
            host = f"{server.name}.acme.constellab.app"
            assert {host, f"*.{host}"} <= names
        assert all(r.inputs["proxied"] is False and r.inputs["type"] == "A" for r in records)
        assert {r.inputs["content"] for r in records} == set(addresses.values())
        assert all(r.provider.startswith("urn:pulumi:acme-cloud::constellab::") for r in records)

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_customer_managed_dns_exports_the_records_to_create(engine_for):
    engine = engine_for("pharma-onprem")
    registrations = declared(engine)
    exported = pulumi.runtime.get_root_resource().outputs["dnsRecords"]  # type: ignore[union-attr]

    def check(values):
        registered, records = values
        assert not of_type(registered, "cloudflare:index/dnsRecord:DnsRecord")
        assert not of_type(registered, "pulumi:providers:cloudflare")
        assert {(r["name"], r["content"]) for r in records} == {
            ("hub.constellab.pharma.example", "192.0.2.10"),
            ("*.hub.constellab.pharma.example", "192.0.2.10"),
            ("qc.constellab.pharma.example", "192.0.2.11"),
            ("*.qc.constellab.pharma.example", "192.0.2.11"),
        }

    return pulumi.Output.all(registrations, exported).apply(check)
