"""Where a server runs, one module per kind of placement: each returns what `ServerHost` needs to wire the
server (its address, how Docker and the lab manager are reached, its credentials and outputs, and what happens
once everything is deployed on it).

- `aws`: an EC2 instance (`kind: cloud`) with its instance role, woken and put back by its power gates;
- `on_prem`: a machine reached over SSH (`kind: onPrem`), prepared there, with an IAM user's key;
- `local`: this machine's Docker (`kind: local`).

A new placement (another cloud, bare metal by another route) is one module here with `place` and `retire`,
one line in `PLACEMENTS`, and its kind in the stack file's models.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import pulumi

from components.identity import BucketGrant
from components.lab_configuration import LabManagerAccess
from components.values import ServerValues
from constellab import host_firewall, lab_host, topology
from constellab.config import Hub, Lab, PlatformConfig, Space
from constellab.naming import Role

if TYPE_CHECKING:
    from components.network import Network


@dataclass(frozen=True)
class PlacementContext:
    """What a placement is given: the server, its set, its values, and where its resources go."""

    name: str
    """The `ServerHost`'s name: its children are `<name>-<role>`."""
    parent: pulumi.Resource
    platform: PlatformConfig
    server: Space | Hub | Lab
    role: Role
    tags: dict[str, str]
    grants: list[BucketGrant]
    server_set: topology.ServerSet
    values: ServerValues
    network: Network | None = None
    region: str | None = None

    def child(self, **options: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self.parent, **options)


@dataclass
class PlacedHost:
    """A placed server, as `ServerHost` wires it."""

    address: pulumi.Output[str]
    docker_host: pulumi.Input[str]
    lab_manager_access: LabManagerAccess
    docker_ssh_options: list[str] | None = None
    docker_daemon_check: bool = True
    """False for a server that may sleep: the provider must not ping an engine no resource needs."""
    outputs: dict[str, pulumi.Input[object]] = field(default_factory=dict)
    credentials: dict[str, Any] = field(default_factory=dict)
    deploy_after: list[pulumi.Resource] = field(default_factory=list)
    """What the lab's configuration waits for besides the containers (a gate that wakes the server)."""
    finish: Callable[[list[pulumi.Resource]], Mapping[str, pulumi.Input[object]]] = lambda deployed: {}
    """Declares what comes after everything deployed on the server; returns more outputs."""


class Placement(Protocol):
    def place(self, context: PlacementContext) -> PlacedHost: ...

    def retire(self, context: PlacementContext) -> Mapping[str, pulumi.Input[object]]: ...


def docker_firewall(
    platform: PlatformConfig, server: Space | Hub | Lab, server_set: topology.ServerSet, *, cloud: bool
) -> host_firewall.DockerFirewall:
    """A server's limits on Docker's traffic: Codelab's published SSH for administrators (a lab host), and
    on a cloud server the instance role for the containers that use it only."""
    return host_firewall.DockerFirewall(
        admin_cidrs=tuple(platform.admin_cidrs),
        admin_ports=() if isinstance(server, Space) else (lab_host.CODELAB_SSH_PORT,),
        imds=host_firewall.imds_access(server_set) if cloud else None,
    )


def placement_for(kind: str) -> Placement:
    """The module that places a server of this kind (imported on use: a local stack never loads AWS)."""
    import importlib
    from typing import cast

    return cast(Placement, importlib.import_module(f"components.placement.{PLACEMENTS[kind]}"))


PLACEMENTS = {"cloud": "aws", "onPrem": "on_prem", "local": "local"}
"""Each stack-file placement kind, and its module here."""
