"""Pull-request renderings of previews: one Markdown comment for all stacks, and Mermaid diagrams."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from ops.preview import short_type

MARKER = "<!-- constellab-preview -->"
CONTAINER = "docker:index/container:Container"
CONTAINER_SET = "constellab:containers:ContainerSet"
MAX_VALUE = 80


def _id(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9]", "_", part) for part in parts)


def _label(text: str) -> str:
    return text.replace('"', "'")


def servers_of(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    servers = document.get("outputs", {}).get("servers", {})
    return servers if isinstance(servers, dict) else {}


def containers_of(document: dict[str, Any], server: str) -> list[str]:
    """Container names of one server, from its ContainerSet's children."""
    sets = {
        r["urn"]
        for r in document["resources"]
        if r["type"] == CONTAINER_SET and r["name"].endswith(f"-{server}-host-containers")
    }
    return sorted(
        str(r["inputs"].get("name")) for r in document["resources"] if r["type"] == CONTAINER and r["parent"] in sets
    )


PROXIES = ("reverse_proxy", "traefik")


def mermaid(document: dict[str, Any]) -> str:
    """Servers with the containers Pulumi declares, those their lab manager runs (dashed), DNS and buckets."""
    stack = document["stack"]
    managed_sets = document.get("labManager", {})
    lines = ["flowchart LR", f'  subgraph {_id("stack", stack)}["{_label(stack)}"]']
    managed_nodes: list[str] = []
    for name, server in sorted(servers_of(document).items()):
        host = server.get("host", name)
        node = _id(stack, name)
        lines.append(f'    subgraph {node}["{_label(name)} · {server.get("role", "?")} · {_label(host)}"]')
        containers = containers_of(document, name)
        for container in containers:
            lines.append(f'      {_id(node, container)}["{_label(container)}"]')
        managed = managed_sets.get(name, {}).get("containers", [])
        if managed:
            inner = _id(node, "managed")
            lines.append(f'      subgraph {inner}["run by the lab manager"]')
            for container in managed:
                managed_id = _id(node, "managed", container["name"])
                managed_nodes.append(managed_id)
                networks = ", ".join(n.removeprefix("gencovery-network-") for n in container["networks"])
                lines.append(f'        {managed_id}["{_label(container["name"])}<br/>{_label(networks)}"]')
            lines.append("      end")
        lines.append("    end")
        dns = _id(node, "dns")
        lines.append(f'    {dns}(["{_label(host)}<br/>*.{_label(host)}"])')
        proxy = next((c for c in containers if c in PROXIES), None)
        lines.append(f"    {dns} --> {_id(node, proxy) if proxy else node}")
        manager = _id(node, "lab_manager") if "lab_manager" in containers else node
        if managed and "lab_manager" in containers:
            lines.append(f"    {manager} -. runs .-> {_id(node, 'managed')}")
        backups = server.get("backupBuckets")
        for frequency, name_of_bucket in sorted(backups.items()) if isinstance(backups, dict) else []:
            bucket = _id(node, "backup", frequency)
            lines.append(f'    {bucket}[("{frequency.lower()} backups: {_label(str(name_of_bucket))}")]')
            lines.append(f"    {manager} --> {bucket}")
        for key, what in (("dataLakeBucket", "data lake"), ("storage", "storage")):
            if server.get(key):
                bucket = _id(node, key)
                lines.append(f'    {bucket}[("{what}: {_label(str(server[key]))}")]')
                lines.append(f"    {node} --> {bucket}")
        if server.get("resultsLocation"):
            lines.append(f'    {node} -. "results: {_label(str(server["resultsLocation"]))}" .-> {_id(stack, "lake")}')
    if any(s.get("resultsLocation") for s in servers_of(document).values()):
        lines.append(f'    {_id(stack, "lake")}[("hub data lake")]')
    lines.append("  end")
    if managed_nodes:
        lines.append("  classDef managed stroke-dasharray: 4 3")
        lines.append(f"  class {','.join(managed_nodes)} managed")
    return "\n".join(lines)


def _value(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    text = text.replace("\n", "⏎").replace("|", "\\|").replace("`", "'")
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _counts(stack_diff: dict[str, Any] | None) -> tuple[str, str, str, str, str]:
    if stack_diff is None:
        return ("–", "–", "–", "–", "–")
    replaced = sum(1 for c in stack_diff["changed"] if c["replace"])
    return (
        str(len(stack_diff["added"])),
        str(len(stack_diff["changed"]) - replaced),
        str(replaced),
        str(len(stack_diff["removed"])),
        str(len(stack_diff["dangerous"])),
    )


def markdown(documents: list[dict[str, Any]], diff: dict[str, Any] | None = None) -> str:
    """One pull-request comment for every selected stack; dangerous changes first."""
    diffs = {d["stack"]: d for d in (diff or {}).get("stacks", [])}
    against = f" against `{diff['against']}`" if diff else ""
    lines = [
        MARKER,
        "## Constellab preview",
        "",
        f"Offline preview of {len(documents)} stack(s){against}, under Pulumi's mock engine: nothing was created.",
        "",
        "| stack | resources | added | changed | replaced | removed | dangerous | mandatory violations |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for document in documents:
        mandatory = sum(1 for v in document["policies"] if v["level"] == "mandatory")
        counts = _counts(diffs.get(document["stack"]))
        lines.append(
            f"| {document['stack']} | {document['summary']['resources']} | " + " | ".join(counts) + f" | {mandatory} |"
        )
    dangerous = [(stack, item) for stack, d in diffs.items() for item in d["dangerous"]]
    if dangerous:
        lines += ["", "### ⚠️ Dangerous changes", ""]
        lines += [
            f"- **{stack}**: `{item['name']}` ({short_type(item['type'])}) — {item['action']}: {item['reason']}"
            for stack, item in dangerous
        ]
    violations = [(d["stack"], v) for d in documents for v in d["policies"] if v["level"] == "mandatory"]
    if violations:
        lines += ["", "### ❌ Mandatory guardrail violations", ""]
        lines += [f"- **{stack}** `{v['rule']}`: {v['message']}" for stack, v in violations]
    for document in documents:
        lines += _stack_section(document, diffs.get(document["stack"]))
    return "\n".join(lines) + "\n"


def _stack_section(document: dict[str, Any], stack_diff: dict[str, Any] | None) -> list[str]:
    lines = ["", f"### {document['stack']}", "", "```mermaid", mermaid(document), "```"]
    if stack_diff is not None:
        total = len(stack_diff["added"]) + len(stack_diff["changed"]) + len(stack_diff["removed"])
        lines += ["", f"<details><summary>Changes ({total})</summary>", ""]
        if stack_diff["new"]:
            lines.append("_New stack: every resource is added._")
        for item in stack_diff["added"]:
            lines.append(f"- ➕ `{item['name']}` ({short_type(item['type'])})")
        for item in stack_diff["removed"]:
            lines.append(f"- ➖ `{item['name']}` ({short_type(item['type'])})")
        for item in stack_diff["changed"]:
            verb = "🔁 replace" if item["replace"] else "✏️ update"
            because = f" (because of {', '.join(item['replaceBecause'])})" if item["replace"] else ""
            lines.append(f"- {verb} `{item['name']}` ({short_type(item['type'])}){because}")
            lines += [f"  - `{c['input']}`: `{_value(c['before'])}` → `{_value(c['after'])}`" for c in item["changes"]]
            lines += [
                f"  - option `{k}`: `{_value(v['before'])}` → `{_value(v['after'])}`"
                for k, v in item["options"].items()
            ]
        if total == 0:
            lines.append("No change.")
        lines += ["", "</details>"]
    if document["schedules"]:
        lines += ["", "| scheduled lab | weekly hours | saving |", "|---|---:|---:|"]
        lines += [
            f"| {lab} | {u['weeklyRunningHours']} | {u['savingPercent']}% |" for lab, u in document["schedules"].items()
        ]
    lines += ["", f"<details><summary>Guardrails ({len(document['policies'])} violation(s))</summary>", ""]
    lines += [f"- [{v['level']}] `{v['rule']}`: {v['message']}" for v in document["policies"]] or [
        "All guardrails pass."
    ]
    lines += [
        "",
        "</details>",
        "",
        "<details><summary>Resources by type</summary>",
        "",
        "| type | count |",
        "|---|---:|",
    ]
    lines += [f"| `{kind}` | {count} |" for kind, count in document["summary"]["byType"].items()]
    outputs = yaml.safe_dump(document["outputs"], sort_keys=True, default_flow_style=False, width=120).rstrip()
    lines += [
        "",
        "</details>",
        "",
        "<details><summary>Outputs (secrets masked)</summary>",
        "",
        "```yaml",
        outputs,
        "```",
        "",
        "</details>",
    ]
    return lines


def render_diff_text(diff: dict[str, Any]) -> str:
    lines = [f"Difference against {diff['against']}:"]
    for stack in diff["stacks"]:
        lines.append(
            f"  {stack['stack']}: "
            + ", ".join(
                f"{n} {w}" for n, w in zip(_counts(stack)[:4], ("added", "changed", "replaced", "removed"), strict=True)
            )
        )
        for item in stack["dangerous"]:
            lines.append(f"    DANGER {item['name']} ({short_type(item['type'])}): {item['action']}: {item['reason']}")
        for item in stack["changed"]:
            verb = "replace" if item["replace"] else "update"
            lines.append(f"    {verb} {item['name']}: {', '.join(c['input'] for c in item['changes']) or 'options'}")
    return "\n".join(lines)
