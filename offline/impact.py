"""What a reviewer must see first in a difference: what loses data, and what interrupts a server.

- Dangerous: anything that removes or replaces data: buckets, data volumes (and their attachment), a
  server's data folders (the bind mounts of `/app` and of the ACME store), the generated database
  passwords the lab manager created its databases with, and data losing `protect` or `retain_on_delete`.
- Disruptive: anything that replaces, stops or restarts a running server or its system containers, with
  the server named; a hub's or the space's is downtime for everyone, so it comes first.

Pure functions over the preview documents and the resource-level difference of `offline.diff`.
"""

from __future__ import annotations

from typing import Any

BUCKET = "aws:s3/bucket:Bucket"
VOLUME = "aws:ebs/volume:Volume"
ATTACHMENT = "aws:ec2/volumeAttachment:VolumeAttachment"
PASSWORD = "random:index/randomPassword:RandomPassword"
INSTANCE = "aws:ec2/instance:Instance"
EIP = "aws:ec2/eip:Eip"
EIP_ASSOCIATION = "aws:ec2/eipAssociation:EipAssociation"
CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
DNS_RECORD = "cloudflare:index/dnsRecord:DnsRecord"
PREPARATION = "command:remote:Command"
CONFIGURATION = "command:local:Command"
STATEFUL = {BUCKET: "bucket", VOLUME: "data volume", PASSWORD: "database password"}
DATA_FOLDERS = ("/app", "/srv/letsencrypt")
"""Host folders that hold a server's data: the lab's data root and lab-configurer's ACME store."""
SERVER_COMPONENTS = {"constellab:hub:DataHub": "hub", "constellab:lab:DataLab": "lab"}
SERVER_COMPONENTS["constellab:space:CollaborativeSpace"] = "space"
ALWAYS_ON = ("hub", "space")


def _all(document: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {r["urn"]: r for r in (document or {}).get("resources", [])}


def servers_by_urn(*documents: dict[str, Any] | None) -> dict[str, tuple[str, str]]:
    """Each resource's server (name, role), found through its parents (the hub, lab or space component)."""
    resources: dict[str, dict[str, Any]] = {}
    for document in documents:
        resources |= _all(document)
    customers = {r["urn"]: r["name"] for r in resources.values() if r["type"] == "constellab:platform:Platform"}
    found: dict[str, tuple[str, str]] = {}
    for urn in resources:
        node: dict[str, Any] | None = resources[urn]
        while node is not None:
            role = SERVER_COMPONENTS.get(node["type"])
            if role is not None:
                customer = customers.get(node["parent"] or "", "")
                found[urn] = (node["name"].removeprefix(f"{customer}-"), role)
                break
            node = resources.get(node["parent"] or "")
    return found


def _data_mounts(resource: dict[str, Any] | None) -> dict[str, str]:
    """A container's bind mounts of data folders: container path -> host path."""
    found = {}
    for volume in (resource or {}).get("inputs", {}).get("volumes") or []:
        if not isinstance(volume, dict):
            continue
        host = str(volume.get("hostPath") or "")
        if any(host == root or host.startswith(root + "/") for root in DATA_FOLDERS):
            found[str(volume.get("containerPath"))] = host
    return found


def _entry(
    resource: dict[str, Any], server: tuple[str, str] | None, action: str, reason: str, *, downtime: bool = False
) -> dict[str, Any]:
    """One item for the reviewer; `downtime`: the server, or a system container of it, stops."""
    entry = {"urn": resource["urn"], "type": resource["type"], "name": resource["name"], "action": action}
    if server is not None:
        entry |= {"server": server[0], "role": server[1]}
    return entry | {"reason": reason, "downtime": downtime}


BLOCKED = "; it is protected, so `pulumi up` stops there (Pulumi refuses to delete a protected resource)"


def _dangerous(
    change: dict[str, Any] | None, was: dict[str, Any], now: dict[str, Any] | None, server: tuple[str, str] | None
) -> list[dict[str, Any]]:
    found = []
    kind = was["type"]
    what = STATEFUL.get(kind)
    blocked = BLOCKED if was["options"].get("protect") else ""
    if now is None:
        if what == "database password":
            found.append(_entry(was, server, "remove", f"its database was created with this password{blocked}"))
        elif what is not None:
            kept = " (AWS keeps it: retain on delete)" if was["options"].get("retainOnDelete") else ""
            found.append(_entry(was, server, "remove", f"this {what} and its data leave the stack{kept}{blocked}"))
        elif kind == ATTACHMENT:
            found.append(_entry(was, server, "remove", "the data volume is detached from its server"))
        elif kind == CONTAINER and _data_mounts(was):
            folders = ", ".join(sorted(_data_mounts(was).values()))
            found.append(_entry(was, server, "remove", f"the container using the data folders {folders} is removed"))
        return found
    assert change is not None
    because = ", ".join(change["replaceBecause"])
    if change["replace"] and what == "database password":
        reason = f"a new password ({because}) locks the data out: its database was created with the old one{blocked}"
        found.append(_entry(now, server, "replace", reason))
    elif change["replace"] and what is not None:
        reason = f"replaced by an empty {what} ({because}): its data stays behind{blocked}"
        found.append(_entry(now, server, "replace", reason))
    elif change["replace"] and kind == ATTACHMENT and "volumeId" in change["replaceBecause"]:
        found.append(_entry(now, server, "replace", "the server gets another data volume"))
    if kind == VOLUME and not change["replace"]:
        old_size, new_size = was["inputs"].get("size"), now["inputs"].get("size")
        if isinstance(old_size, int) and isinstance(new_size, int) and new_size < old_size:
            reason = f"EBS cannot shrink a volume ({old_size} -> {new_size} GiB): the up fails at it"
            found.append(_entry(now, server, "shrink", reason))
    if kind == CONTAINER:
        old_mounts, new_mounts = _data_mounts(was), _data_mounts(now)
        for inside, host in sorted(old_mounts.items()):
            if new_mounts.get(inside) != host:
                moved = f"moves to {new_mounts[inside]}" if inside in new_mounts else "is no longer mounted"
                found.append(_entry(now, server, "move", f"the data folder {host} (at {inside}) {moved}"))
    if what is not None:
        for option, words in (("protect", "protection"), ("retainOnDelete", "retain on delete")):
            if was["options"].get(option) and not now["options"].get(option):
                found.append(_entry(now, server, "unprotect", f"{words} is removed from this {what}"))
    return found


def _disruptive(
    change: dict[str, Any] | None, was: dict[str, Any], now: dict[str, Any] | None, server: tuple[str, str] | None
) -> list[dict[str, Any]]:
    kind = was["type"]
    subject = now or was
    replace = change is not None and change["replace"]
    because = f" ({', '.join(change['replaceBecause'])})" if change is not None and change["replace"] else ""
    name = str(subject["inputs"].get("name", subject["name"]))
    if kind == INSTANCE:
        if now is None:
            return [_entry(subject, server, "remove", "the server is removed", downtime=True)]
        because_inputs = change["replaceBecause"] if change is not None else []
        if replace and "instanceType" in because_inputs and "ami" in now["options"].get("ignoreChanges", []):
            # The engine reuses an ignored input's old value, even for a replacement: the old image.
            reason = (
                f"the server is replaced: {was['inputs'].get('instanceType')} -> {now['inputs'].get('instanceType')} "
                "changes the CPU architecture, and Pulumi would boot the new instance with the old image "
                "(ignore_changes on ami), which EC2 refuses: retire the server (`retired: true`), run the up, "
                "then bring it back with the new type"
            )
            return [_entry(subject, server, "replace", reason, downtime=True)]
        if replace:
            reason = f"the server is replaced{because}: down until the new one runs"
            return [_entry(subject, server, "replace", reason, downtime=True)]
        stop_start = (change or {}).get("stopStart") or []
        if stop_start:
            reason = f"the server is stopped and started ({', '.join(stop_start)})"
            return [_entry(subject, server, "restart", reason, downtime=True)]
        return []
    if kind in (EIP, EIP_ASSOCIATION) and (now is None or replace):
        what = "its public address changes" if kind == EIP else "its public address is detached and attached again"
        return [_entry(subject, server, "remove" if now is None else "replace", f"{what}{because}", downtime=True)]
    if kind == CONTAINER and (now is None or replace):
        verb = "removed" if now is None else f"re-created{because}"
        reason = f"the container {name} is {verb}"
        return [_entry(subject, server, "remove" if now is None else "replace", reason, downtime=True)]
    if kind == NETWORK and now is None:
        return [_entry(subject, server, "remove", f"the Docker network {name} is removed", downtime=True)]
    if kind == NETWORK and replace:
        reason = (
            f"the Docker network {name} is re-created{because}: Docker refuses while containers use it, the lab "
            "manager's too (stop the lab first: `docker compose down` in /app/conf)"
        )
        return [_entry(subject, server, "replace", reason, downtime=True)]
    if kind == DNS_RECORD and (now is None or replace):
        verb = "removed" if now is None else "re-created"
        return [_entry(subject, server, "remove" if now is None else "replace", f"the DNS record {name} is {verb}")]
    if kind == PREPARATION and now is not None and change is not None:
        reason = "the host preparation runs again (it restarts Docker only if daemon.json or the docker group change)"
        return [_entry(subject, server, "replace" if replace else "update", reason)]
    if kind == CONFIGURATION and now is not None and change is not None:
        reason = "the lab is configured again: its lab manager restarts it"
        return [_entry(subject, server, "update", reason, downtime=True)]
    return []


def assess(result: dict[str, Any], before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """`dangerous`, `disruptive` (always-on servers first) and the servers added, removed or replaced."""
    old, new = _all(before), _all(after)
    servers = servers_by_urn(before, after)
    changes = {change["urn"]: change for change in result["changed"]}
    aliases = {urn: urn for urn in new}
    for urn, resource in new.items():
        for alias in resource.get("aliases") or []:
            aliases.setdefault(alias, urn)
    dangerous: list[dict[str, Any]] = []
    disruptive: list[dict[str, Any]] = []
    for urn, change in changes.items():
        now = new[urn]
        was = next((old[a] for a in [urn, *(now.get("aliases") or [])] if a in old), None)
        assert was is not None
        dangerous += _dangerous(change, was, now, servers.get(urn))
        disruptive += _disruptive(change, was, now, servers.get(urn))
    for item in result["removed"]:
        was = old[item["urn"]]
        dangerous += _dangerous(None, was, None, servers.get(item["urn"]))
        disruptive += _disruptive(None, was, None, servers.get(item["urn"]))
    if result.get("new"):
        disruptive = []  # a new stack interrupts nobody
    # A server replaced or removed as a whole: that says it all, its parts going with it add nothing.
    whole = {e.get("server") for e in disruptive if e["type"] == INSTANCE and e["action"] in ("replace", "remove")}
    disruptive = [e for e in disruptive if e.get("server") not in whole or e["type"] == INSTANCE]
    disruptive.sort(key=lambda e: (not (e["downtime"] and e.get("role") in ALWAYS_ON), e.get("server", ""), e["name"]))
    return {"dangerous": dangerous, "disruptive": disruptive, "servers": _servers(result, old, new, servers)}


def _servers(
    result: dict[str, Any], old: dict[str, Any], new: dict[str, Any], servers: dict[str, tuple[str, str]]
) -> dict[str, list[str]]:
    """Servers whose component appears, disappears, or whose machine is replaced."""

    def components(document: dict[str, Any]) -> dict[str, str]:
        return {
            servers[urn][0]: urn for urn, r in document.items() if r["type"] in SERVER_COMPONENTS and urn in servers
        }

    before, after = components(old), components(new)
    replaced = {
        servers[c["urn"]][0]
        for c in result["changed"]
        if c["type"] == INSTANCE and c["replace"] and c["urn"] in servers
    }
    # The same name under another URN (a renamed customer, a server moved in the tree) is a new server.
    replaced |= {name for name in set(before) & set(after) if before[name] != after[name]}
    return {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "replaced": sorted(replaced),
    }
