"""A server on this machine's Docker (`kind: local`): no machine, no identity, no preparation."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from components.lab_configuration import LabManagerAccess
from components.placement import PlacedHost, PlacementContext
from constellab.config import LocalPlacement


def place(context: PlacementContext) -> PlacedHost:
    placement = context.server.placement
    assert isinstance(placement, LocalPlacement)
    return PlacedHost(
        address=pulumi.Output.from_input("127.0.0.1"),
        docker_host=placement.docker_host,
        lab_manager_access=LabManagerAccess("direct", "127.0.0.1", 443),
    )


def retire(context: PlacementContext) -> Mapping[str, pulumi.Input[object]]:
    return {}
