"""Names, hosts, tags and URLs derived from the config: one place, so every component agrees."""

from __future__ import annotations

from typing import Literal

from constellab import config
from constellab.config import Hub, Lab, Space

Role = Literal["lab", "hub", "space"]
Server = Space | Hub | Lab

DATA_ROOT = config.DATA_ROOT
"""The data root of every lab host and of the space's server (the cloud data volume's mount point)."""

TAG_STACK = "constellab:stack"
TAG_SERVER = "constellab:server"
TAG_RETIRED = "constellab:retired"
TAG_ROLE = "constellab:role"


def role_of(server: Server) -> Role:
    if isinstance(server, Space):
        return "space"
    if isinstance(server, Hub):
        return "hub"
    return "lab"


def server_host(server_name: str, base_domain: str) -> str:
    """The server's virtual host `<H>`: every route is a subdomain of it, and `*.<H>` points at it."""
    return f"{server_name}.{base_domain}"


def server_tags(stack: str, server_name: str, role: Role, *, retired: bool = False) -> dict[str, str]:
    """Tags on every taggable AWS resource of a server; `ops lab` finds instances by them. A decommissioned
    server's kept data says so (`constellab:retired`), in AWS as in the guardrails."""
    tags = {TAG_STACK: stack, TAG_SERVER: server_name, TAG_ROLE: role, "Name": f"{stack}-{server_name}"}
    return tags | ({TAG_RETIRED: "true"} if retired else {})


def bucket_prefix(customer: str, server_name: str, purpose: str) -> str:
    """A readable S3 bucket-name prefix; AWS appends a unique suffix (the prefix may be 37 characters)."""
    return _prefix(f"{customer}-{server_name}", purpose)


def _prefix(stem: str, purpose: str) -> str:
    return f"{stem[: 36 - len(purpose) - 1].rstrip('-')}-{purpose}-"


ACCESS_LOGS = "access-logs"
"""The purpose and the role tag of the stack's access-log bucket (`components.access_logs`); no server has it."""
SHARED = "shared"
"""The server tag of what the stack's servers share rather than own (the access-log bucket)."""


def stack_bucket_prefix(customer: str, purpose: str) -> str:
    """The prefix of a bucket of the whole stack rather than of one server: `<customer>-<purpose>-`."""
    return _prefix(customer, purpose)


def shared_tags(stack: str, purpose: str) -> dict[str, str]:
    """Tags of what the whole stack shares (the access-log bucket): every required tag (`aws-required-tags`),
    with `constellab:server` saying no server owns it and `constellab:role` what it is for."""
    return {TAG_STACK: stack, TAG_SERVER: SHARED, TAG_ROLE: purpose, "Name": f"{stack}-{purpose}"}


def urls(host: str, role: Role) -> dict[str, str]:
    """The addresses people use, per server (a lab's are served by the containers its lab manager runs)."""
    if role == "space":
        return {"front": f"https://{host}"}
    return {
        "front": f"https://lab.{host}",
        "codelab": f"https://codelab.{host}",
        "labManager": f"https://lab-manager.{host}",
    }
