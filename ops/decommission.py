"""A hub or lab taken out of a stack file: refused unless it was retired first, with the way to do it.

Its data is protected (data volume, buckets, database passwords): a `pulumi up` without it would stop at
the first protected resource, after deleting what is not. Retiring first (`retired: true`, one `up`)
removes the server and releases its data from protection while keeping it in AWS; only then may the
server leave the file, and the next `up` forgets the kept data without deleting it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from constellab import yaml_io
from constellab.raw_document import raw_servers
from constellab.settings import PLATFORM_KEY
from ops.git import run_git


@dataclass(frozen=True)
class Removal:
    """A hub or lab that was in the stack file at the ref and is not any more."""

    stack: str
    kind: str
    name: str
    retired_first: bool
    placement: str

    def message(self) -> str:
        if self.retired_first:
            return (
                f"{self.stack}: {self.kind} {self.name} leaves the stack after its retirement: the next `pulumi up` "
                "forgets its kept data, which stays in AWS (tagged constellab:retired)"
            )
        kept = ["its backup buckets"]
        if self.placement == "cloud":
            kept.insert(0, "its data volume")
        if self.kind == "hub":
            kept.append("its data lake")
        running = (
            f" with the server running (`./run ops lab start {self.name} --stack {self.stack} --wait` if it is asleep)"
            if self.placement == "cloud"
            else ""
        )
        return (
            f"{self.stack}: {self.kind} {self.name} is no longer in the stack file, but it was not retired first: "
            f"`pulumi up` would delete its server and then stop at its protected data ({', '.join(kept)}, and any "
            f"database passwords). To decommission it and keep the data: put it back with `retired: true`, run "
            f"`pulumi up`{running} (the data is released from protection and kept), then remove it "
            f'(README, "Decommissioning a hub or a lab")'
        )


def _servers(document: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
    """The hubs and labs of a stack file, by (kind, name)."""
    platform = (document.get("config") or {}).get(PLATFORM_KEY) or {}
    return {
        (server.kind, server.name): server.fields
        for server in raw_servers(platform)
        if server.kind != "space" and isinstance(server.name, str)
    }


def removals(stack: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Removal]:
    """The hubs and labs of `before` that `after` no longer has, in the order of `before`."""
    now = _servers(after)
    return [
        Removal(
            stack=stack,
            kind=kind,
            name=name,
            retired_first=server.get("retired") is True,
            placement=str((server.get("placement") or {}).get("kind", "")),
        )
        for (kind, name), server in _servers(before).items()
        if (kind, name) not in now
    ]


def stack_file_at(root: Path, commit: str, relative: str) -> Mapping[str, Any] | None:
    """The stack file as it is at `commit` (None where it did not exist or cannot be read)."""
    shown = run_git(root, "show", f"{commit}:{relative}")
    if shown.returncode != 0:
        return None
    try:
        document = yaml_io.load(shown.stdout)
    except Exception:
        return None
    return document if isinstance(document, Mapping) else None
