"""An offline preview as text, and the JSON report (schema version 1) of several stacks."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

import yaml

from offline.documents import SCHEMA_VERSION
from policies.rules.common import short_type

# Components in the order a reader expects them: the network, then hubs, labs and the space.
_COMPONENT_ORDER = {
    "constellab:network:Network": 0,
    "constellab:hub:DataHub": 1,
    "constellab:lab:DataLab": 2,
    "constellab:space:CollaborativeSpace": 3,
}


def render_tree(resources: list[dict[str, Any]]) -> list[str]:
    """Components as a tree; the plain resources of each component as counts per type."""
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for resource in resources:
        children[resource["parent"]].append(resource)
    urns = {resource["urn"] for resource in resources}
    roots = [r for r in resources if r["parent"] not in urns and not r["custom"]]
    lines: list[str] = []

    def walk(node: dict[str, Any], prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if last else "├─ ")
        kids = children.get(node["urn"], [])
        counts = Counter(short_type(kid["type"]) for kid in kids if kid["custom"])
        summary = ", ".join(f"{kind} ×{n}" if n > 1 else kind for kind, n in sorted(counts.items()))
        lines.append(
            f"{prefix}{branch}{node['type'].rsplit(':', 1)[-1]} {node['name']}" + (f"  [{summary}]" if summary else "")
        )
        components = sorted(
            (kid for kid in kids if not kid["custom"]),
            key=lambda kid: (_COMPONENT_ORDER.get(kid["type"], 9), kid["name"]),
        )
        inner = prefix + ("" if top else ("   " if last else "│  "))
        for index, kid in enumerate(components):
            walk(kid, inner, index == len(components) - 1, False)

    for root in roots:
        walk(root, "", True, True)
    return lines


def usd(value: float) -> str:
    return f"${value:,.2f}"


def cost_total(cost: dict[str, Any]) -> str:
    """A stack's (or a server's) month: `$X/month`, or `at least $X/month, N price unknown` (a lower bound)."""
    total = f"{usd(cost['monthlyUsd'])}/month"
    return total if not cost["priceUnknown"] else f"at least {total}, {cost['priceUnknown']} price unknown"


def cost_lines(cost: dict[str, Any]) -> list[str]:
    """The document's `cost`: the stack's month, then each server's (those in AWS, and those that are not,
    saying so)."""
    lines = [
        f"Monthly cost on AWS (estimate, USD, {cost['pricesBuilt']} prices; usage-based S3, data transfer and "
        f"scheduler costs not included): {cost_total(cost)}"
    ]
    if cost.get("budgetMonthlyUsd") is not None:
        lines.append(f"  budget: {usd(cost['budgetMonthlyUsd'])}/month (budget.monthlyUsd; see the guardrails)")
    lines += [f"  note: {note}" for note in cost["notes"]]
    for name, server in cost["servers"].items():
        if server["monthlyUsd"] or server["priceUnknown"]:
            lines.append(f"  {name:<12} {cost_total(server)}  ({server['hoursBasis']})")
        elif server["note"]:  # on-prem or local: nothing in AWS to price
            lines.append(f"  {name:<12} {cost_total(server)}  ({server['note'].split(';')[0]})")
    return lines


def saving_usd(cost: dict[str, Any] | None, server: str) -> str:
    """What a scheduled lab's schedule saves a month, in dollars (empty when its price is unknown)."""
    saving = ((cost or {}).get("servers", {}).get(server) or {}).get("saving")
    return f" ({usd(saving['savingMonthlyUsd'])}/month)" if saving else ""


def render_text(document: dict[str, Any], pack_config: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    from offline.guardrails import Violation, render, rule_counts

    summary = document["summary"]
    lines = [
        f"Stack {document['stack']}: {summary['resources']} resources "
        "(offline preview under Pulumi's mock engine; nothing was created)",
        "",
        *render_tree(document["resources"]),
        "",
        "Resources by type:",
    ]
    lines += [f"  {count:4d}  {kind}" for kind, count in sorted(summary["byType"].items(), key=lambda i: (-i[1], i[0]))]
    if document.get("labManager"):
        lines += ["", "Run by each lab manager (its own template; not declared by this program):"]
        for server, managed in document["labManager"].items():
            lines.append(f"  {server} ({managed['host']}, configured by the {managed['configuredBy']}):")
            for container in managed["containers"]:
                routes = [f"{r['host']} → :{r['port']}" + (" (basic auth)" if r["basicAuth"] else "")
                          for r in container["routes"]]  # fmt: skip
                published = [f"publishes {port}" for port in container["publishedPorts"]]
                networks = ", ".join(network.removeprefix("gencovery-network-") for network in container["networks"])
                where = "; ".join([", ".join(routes) or "no route", *published])
                lines.append(f"    {container['name']:<17} {container['role']} [{networks}]: {where}")
    cost = document.get("cost")
    if cost is not None:
        lines += ["", *cost_lines(cost)]
    if document["schedules"]:
        lines += ["", "Scheduled labs (weekly running hours, share of the week stopped, saving a month vs always-on):"]
        lines += [
            f"  {lab}: {usage['weeklyRunningHours']} h, {usage['savingPercent']}%{saving_usd(cost, lab)} saved"
            for lab, usage in document["schedules"].items()
        ]
    lines += ["", "Guardrails:"]
    violations = [Violation(**item) for item in document["policies"]]
    counts = rule_counts(pack_config, budget=(document.get("cost") or {}).get("budgetMonthlyUsd") is not None)
    lines += ["  " + line for line in render(document["stack"], violations, counts).splitlines()]
    lines += ["", "Outputs (secrets masked):"]
    rendered = yaml.safe_dump(document["outputs"], sort_keys=True, default_flow_style=False, width=120)
    lines += ["  " + line for line in rendered.rstrip().splitlines()]
    return "\n".join(lines)


def render_json(documents: list[dict[str, Any]], diff: dict[str, Any] | None = None) -> str:
    report: dict[str, Any] = {"schemaVersion": SCHEMA_VERSION, "stacks": documents}
    if diff is not None:
        report["diff"] = diff
    return json.dumps(report, indent=2, sort_keys=True)
