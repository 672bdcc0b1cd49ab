"""Rules that span several fields of a stack file, checked on the raw document so they are reported with the
field errors (values of the wrong type are skipped: the field validation reports them)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from constellab import ssh_keys
from constellab.aws import recovery
from constellab.config_types import INSTANCE_TYPE_PATTERN
from constellab.raw_document import mappings, raw_servers
from policies.rules import field_limits


class ConfigIssue(BaseModel):
    """One problem in a stack file: where it is and what to do about it."""

    model_config = ConfigDict(frozen=True)
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def key_in_path(key: object) -> str:
    """A key as a problem's path shows it: as written, or quoted when it is empty, starts or ends with a space, or
    holds a character that does not print (a line break, a NUL), so that every problem stays on its line."""
    text = str(key)
    return text if text and text.isprintable() and text == text.strip() else repr(text)


def _get(document: object, *keys: str) -> object:
    for key in keys:
        if not isinstance(document, Mapping):
            return None
        document = document.get(key)
    return document


def cross_checks(document: Mapping[str, Any]) -> list[ConfigIssue]:
    """Rules that span several fields, on the raw document so they are reported with field errors.

    Values of the wrong type are skipped here: the field validation reports them.
    """
    issues: list[ConfigIssue] = []
    space = document.get("space")
    servers = [(server.path, server.fields) for server in raw_servers(document)]
    declared = any(document.get(key) not in (None, [], {}) for key in ("space", "hubs", "labs"))
    if not servers and not declared:  # a malformed declaration is reported by the field validation
        issues.append(ConfigIssue(path="labs", message="the stack declares no space, hub or lab: add at least one"))

    first_use: dict[str, str] = {}
    for path, server in servers:
        name = server.get("name")
        if not isinstance(name, str):
            continue
        if name in first_use:
            issues.append(
                ConfigIssue(
                    path=f"{path}.name",
                    message=f"{name!r} is already the name of {first_use[name]}: names are unique per stack",
                )
            )
        else:
            first_use[name] = path

    # Only names written as text: a list or a mapping (reported by the field validation) is no name to look up.
    hub_names = {name for hub in mappings(document.get("hubs")) if isinstance(name := hub.get("name"), str)}
    known = ", ".join(sorted(key_in_path(name) for name in hub_names)) or "none declared"  # odd names quoted
    references = [
        (f"labs[{i}].hub", lab.get("hub"), lab.get("retired") is True)
        for i, lab in enumerate(mappings(document.get("labs")))
    ]
    if _get(space, "storage", "kind") == "hub":
        references.append(("space.storage.hub", _get(space, "storage", "hub"), False))
    retired_hubs = {
        name
        for hub in mappings(document.get("hubs"))
        if hub.get("retired") is True and isinstance(name := hub.get("name"), str)
    }
    for path, hub, retiring in references:
        if not isinstance(hub, str):
            continue  # the field validation reports it
        if hub not in hub_names:
            issues.append(ConfigIssue(path=path, message=f"no hub named {hub!r} (hubs: {known})"))
        elif hub in retired_hubs and not retiring:
            issues.append(
                ConfigIssue(
                    path=path,
                    message=f"hub {hub!r} is retired: its data lake is released, nothing may write to it; "
                    "point this at another hub, or retire this server too",
                )
            )
    if (
        isinstance(space, Mapping)
        and isinstance(document.get("images"), Mapping)
        and not _get(document, "images", "space")
    ):
        issues.append(ConfigIssue(path="images.space", message="a space is declared: pin its image here"))

    kinds = {path: _get(server, "placement", "kind") for path, server in servers}
    local = [path for path, kind in kinds.items() if kind == "local"]
    if local and set(kinds.values()) - {"local", None}:
        issues += [
            ConfigIssue(
                path=f"{path}.placement.kind",
                message="'local' cannot be mixed with cloud or onPrem servers: keep local labs in a stack of their own",
            )
            for path in local
        ]
    issues += [
        ConfigIssue(
            path=f"{path}.placement.kind",
            message="only one local server per stack: they would all need this machine's ports 80 and 443",
        )
        for path in local[1:]
    ]
    for path in local:
        server = next(server for server_path, server in servers if server_path == path)
        docker_host = _get(server, "placement", "dockerHost")
        if isinstance(docker_host, str) and not docker_host.startswith("unix://"):
            issues.append(
                ConfigIssue(
                    path=f"{path}.placement.dockerHost",
                    message="a local lab runs on this machine's Docker (its lab manager is configured through "
                    "127.0.0.1:443): use its socket, unix:///var/run/docker.sock, or place the lab onPrem",
                )
            )
        if _get(server, "configuration", "mode") in ("space", None):
            issues.append(
                ConfigIssue(
                    path=f"{path}.configuration.mode",
                    message="the Space cannot reach a lab on this machine: set configuration.mode to stack "
                    "and declare the lab's configuration",
                )
            )
    if local and _get(document, "dns", "provider") not in ("none", None):
        issues.append(
            ConfigIssue(path="dns.provider", message="a local stack has no public address to publish: use 'none'")
        )
    for path, server in servers:
        if path == "space":
            continue  # the space has no such fields: its unknown-field errors say so
        power = [key for key in ("schedule", "idleStop") if server.get(key) is not None]
        power += ["state"] if server.get("state") == "stopped" else []
        for key in power:
            if not path.startswith("labs["):
                issues.append(
                    ConfigIssue(
                        path=f"{path}.{key}",
                        message=f"hubs are always on (they hold the company's data): remove {key}",
                    )
                )
            elif _get(server, "placement", "kind") in ("onPrem", "local"):
                issues.append(
                    ConfigIssue(
                        path=f"{path}.{key}",
                        message="only cloud labs can be started and stopped: remove it or place the lab in the cloud",
                    )
                )
    for path, server in servers:
        instance_type = _get(server, "placement", "instanceType")
        if path.startswith("labs[") or _get(server, "placement", "kind") != "cloud":
            continue  # labs have no recover alarm: a schedule or a person starts them again
        if not isinstance(instance_type, str) or not INSTANCE_TYPE_PATTERN.match(instance_type):
            continue  # the field's own check reports it
        if not field_limits.instance_type_allowed(instance_type):
            continue  # refused by the field's own check too (the guardrails' families)
        refusal = recovery.recovery_refusal(instance_type)
        if refusal is not None:
            issues.append(
                ConfigIssue(
                    path=f"{path}.placement.instanceType",
                    message=f"{refusal}, and this server is always on: EC2's recover action moves it to healthy "
                    "hardware when its host fails; choose a type without instance store, such as m6i.large or "
                    "m7g.large",
                )
            )
    for path, server in servers:
        by_stack = _get(server, "configuration", "mode") == "stack"
        mode = _get(server, "certificates", "mode") or (
            "acme" if _get(document, "dns", "provider") == "cloudflare" else "default"
        )
        if by_stack and mode == "default" and _get(server, "placement", "kind") == "cloud":
            issues.append(
                ConfigIssue(
                    path=f"{path}.certificates.mode",
                    message="a cloud lab the stack configures receives its secrets over the network: give it a "
                    "certificate that can be checked (acme, httpreq or manual), not Traefik's own",
                )
            )
        if _get(server, "certificates", "mode") == "acme" and _get(document, "dns", "provider") != "cloudflare":
            issues.append(
                ConfigIssue(
                    path=f"{path}.certificates.mode",
                    message="acme solves DNS-01 in Cloudflare: set dns.provider to cloudflare, "
                    "or use manual (your certificate) or default",
                )
            )
    on_prem_lab_hosts = [path for path, kind in kinds.items() if kind == "onPrem" and path != "space"]
    if not document.get("adminCidrs") and ("cloud" in kinds.values() or on_prem_lab_hosts):
        issues.append(
            ConfigIssue(
                path="adminCidrs",
                message="cloud servers are administered over SSH: list at least one administrator network"
                if "cloud" in kinds.values()
                else "the lab manager publishes Codelab's SSH (2222) past the host firewall, and only the "
                "administrator networks may reach it: list at least one",
            )
        )
    issues += _networks_listed_twice(document.get("adminCidrs"))
    if "cloud" in kinds.values():
        keys = document.get("sshPublicKeys")
        if not keys:
            issues.append(
                ConfigIssue(
                    path="sshPublicKeys",
                    message="cloud servers are reached over SSH: list at least one administrator's public key",
                )
            )
        elif isinstance(keys, list) and all(isinstance(key, str) for key in keys):
            taken = len(ssh_keys.key_tags(keys))
            if taken > ssh_keys.MAX_TAGS:
                issues.append(
                    ConfigIssue(
                        path="sshPublicKeys",
                        message=f"these keys take {taken} instance tags, more than the {ssh_keys.MAX_TAGS} they "
                        "may (each tag holds 256 characters): list fewer keys, or ed25519 keys, which are shorter",
                    )
                )
    return issues


def _networks_listed_twice(cidrs: object) -> list[ConfigIssue]:
    """Each administrator network once: every server opens SSH to each with a rule of its own, and a second rule for
    the same network (however written) would be the same resource twice, which a deployment refuses."""
    issues: list[ConfigIssue] = []
    first: dict[ipaddress.IPv4Network | ipaddress.IPv6Network, int] = {}
    for index, cidr in enumerate(cidrs if isinstance(cidrs, list) else []):
        try:
            network = ipaddress.ip_network(cidr.strip(), strict=False) if isinstance(cidr, str) else None
        except ValueError:
            continue  # the field validation reports it
        if network is None:
            continue
        if network in first:
            issues.append(
                ConfigIssue(
                    path=f"adminCidrs[{index}]",
                    message=f"{cidr!r} is the network of adminCidrs[{first[network]}] again: list each network once",
                )
            )
        else:
            first[network] = index
    return issues
