"""Mermaid diagrams of a stack: servers, the containers Pulumi declares and those the lab manager runs, DNS,
buckets (each drawn once), power, and, against a git ref, the servers added, removed and replaced.

Every diagram is one `flowchart`: several stacks make several diagrams, never one text (Mermaid reads one
diagram per block). `tests/test_diagrams.py` parses what this writes with Mermaid's own parser.
"""

from __future__ import annotations

import re
from typing import Any

CONTAINER = "docker:index/container:Container"
CONTAINER_SET = "constellab:containers:ContainerSet"
PROXIES = ("reverse_proxy", "traefik")
POWER_MARKS = {"parked": "⏸ parked (stopped)", "retired": "retired: data kept"}
CLASSES = {
    "managed": "stroke-dasharray: 4 3",
    "parked": "fill:#eeeeee,stroke:#888888,color:#555555",
    "sleeps": "fill:#f6f8fa,stroke:#8c959f",
    "added": "stroke:#1a7f37,stroke-width:3px",
    "removed": "stroke:#cf222e,stroke-width:3px,stroke-dasharray: 6 4",
    "replaced": "stroke:#9a6700,stroke-width:3px",
}


def node_id(kind: str, *parts: str) -> str:
    """A Mermaid id: its kind first (`srv`, `dns`, `ctr`...), then its parts, `__` apart. A name's own
    characters become single underscores, so no server, container or bucket name can make another's id."""
    return "__".join([kind, *(re.sub(r"[^A-Za-z0-9]", "_", part) for part in parts)])


def label(text: str) -> str:
    """Text safe inside a quoted Mermaid label."""
    return text.replace('"', "'").replace("\n", " ")


def servers_of(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    servers = document.get("outputs", {}).get("servers", {})
    return servers if isinstance(servers, dict) else {}


def declared_containers(document: dict[str, Any], server: str) -> list[str]:
    """Container names of one server, from its ContainerSet's children."""
    sets = {
        r["urn"]
        for r in document["resources"]
        if r["type"] == CONTAINER_SET and r["name"].endswith(f"-{server}-host-containers")
    }
    return sorted(
        str(r["inputs"].get("name")) for r in document["resources"] if r["type"] == CONTAINER and r["parent"] in sets
    )


def _bucket_of(location: str) -> str:
    """`s3://bucket/prefix/` -> `bucket`."""
    return location.removeprefix("s3://").split("/", 1)[0]


def _power(summary: dict[str, Any]) -> str:
    power = str(summary.get("power", ""))
    if power in POWER_MARKS:
        return POWER_MARKS[power]
    return "" if power in ("", "always on") else f"⏱ {power}"


def _server_lines(document: dict[str, Any], name: str, server: dict[str, Any], lines: list[str]) -> dict[str, Any]:
    """Draws one server; returns the node ids others link to (its box, proxy, lab manager)."""
    stack = document["stack"]
    summary = document.get("servers", {}).get(name, {})
    host = str(server.get("host", name))
    box = node_id("srv", stack, name)
    power = _power(summary)
    role = str(server.get("role", summary.get("role", "?")))
    title = " · ".join(part for part in (name, role, str(summary.get("placement", "")), power) if part)
    lines.append(f'    subgraph {box}["{label(title)}"]')
    containers = declared_containers(document, name)
    if containers:
        lines.append(f'      subgraph {node_id("dcl", stack, name)}["declared by Pulumi"]')
        for container in containers:
            lines.append(f'        {node_id("ctr", stack, name, container)}["{label(container)}"]')
        lines.append("      end")
    managed = document.get("labManager", {}).get(name, {}).get("containers", [])
    managed_nodes = []
    if managed:
        lines.append(f'      subgraph {node_id("mgd", stack, name)}["run by the lab manager"]')
        for container in managed:
            networks = ", ".join(n.removeprefix("gencovery-network-") for n in container["networks"])
            managed_nodes.append(node_id("mgc", stack, name, container["name"]))
            lines.append(f'        {managed_nodes[-1]}["{label(container["name"])}<br/>{label(networks)}"]')
        lines.append("      end")
    lines.append("    end")
    dns = node_id("dns", stack, name)
    lines.append(f'    {dns}(["{label(host)}<br/>*.{label(host)}"])')
    proxy = next((c for c in containers if c in PROXIES), None)
    lines.append(f"    {dns} --> {node_id('ctr', stack, name, proxy) if proxy else box}")
    manager = node_id("ctr", stack, name, "lab_manager") if "lab_manager" in containers else box
    if managed and manager != box:
        lines.append(f"    {manager} -. runs .-> {node_id('mgd', stack, name)}")
    return {"box": box, "manager": manager, "managed": managed_nodes}


def mermaid(
    document: dict[str, Any], changes: dict[str, Any] | None = None, before: dict[str, Any] | None = None
) -> str:
    """One stack's diagram; with `changes` (its `offline.diff` result), servers added, removed and replaced stand out.

    `before` (the document at the git ref) draws the servers that the change removes.
    """
    stack = document["stack"]
    lines = ["flowchart LR", f'  subgraph {node_id("stk", stack)}["{label(stack)}"]']
    classes: dict[str, list[str]] = {name: [] for name in CLASSES}
    buckets: dict[str, str] = {}

    def bucket(name: str, what: str) -> str:
        if name not in buckets:
            buckets[name] = node_id("bkt", stack, name)
            lines.append(f'    {buckets[name]}[("{label(what)}<br/>{label(name)}")]')
        return buckets[name]

    servers = servers_of(document)
    drawn: dict[str, dict[str, str]] = {}
    for name, server in sorted(servers.items()):
        drawn[name] = _server_lines(document, name, server, lines)
        classes["managed"] += drawn[name]["managed"]
        power = document.get("servers", {}).get(name, {}).get("power", "")
        if power in ("parked", "retired"):
            classes["parked"].append(drawn[name]["box"])
        elif power not in ("", "always on"):
            classes["sleeps"].append(drawn[name]["box"])
    # Buckets once each: a hub's data lake, with the labs (and the space) writing to it.
    for name, server in sorted(servers.items()):
        if server.get("dataLakeBucket"):
            lake = bucket(str(server["dataLakeBucket"]), f"data lake of {name}")
            lines.append(f"    {drawn[name]['box']} --- {lake}")
    for name, server in sorted(servers.items()):
        backups = server.get("backupBuckets")
        for frequency, bucket_name in sorted(backups.items()) if isinstance(backups, dict) else []:
            lines.append(f"    {drawn[name]['manager']} --> {bucket(str(bucket_name), f'{frequency.lower()} backups')}")
        for key, verb in (("resultsLocation", "results"), ("storage", "documents")):
            if server.get(key):
                target = bucket(_bucket_of(str(server[key])), "storage" if key == "storage" else "data lake")
                prefix = str(server[key]).removeprefix(f"s3://{_bucket_of(str(server[key]))}")
                lines.append(f'    {drawn[name]["box"]} -. "{label(verb)}: {label(prefix or "/")}" .-> {target}')
    if changes is not None:
        touched = changes.get("servers", {})
        for name in touched.get("added", []):
            if name in drawn:
                classes["added"].append(drawn[name]["box"])
        for name in touched.get("replaced", []):
            if name in drawn:
                classes["replaced"].append(drawn[name]["box"])
        for name in touched.get("removed", []):
            box = node_id("srv", stack, name)
            gone = servers_of(before or {}).get(name, {})
            title = f"{name} · {gone.get('role', 'server')} · removed"
            lines.append(f'    {box}["{label(title)}"]')
            classes["removed"].append(box)
    lines.append("  end")
    for name, style in CLASSES.items():
        if classes[name]:
            lines.append(f"  classDef {name} {style}")
            lines.append(f"  class {','.join(classes[name])} {name}")
    return "\n".join(lines)


def markdown_blocks(diagrams: dict[str, str]) -> str:
    """Several diagrams for one text: a heading and a ```mermaid block each (GitHub renders every block)."""
    parts = []
    for stack, diagram in diagrams.items():
        parts.append(f"## {stack}\n\n```mermaid\n{diagram}\n```\n")
    return "\n".join(parts)
