"""The OpenSSH options of every connection Pulumi opens to a server: Docker's, and the lab manager's tunnel.

Docker over SSH (the provider's `ssh_opts`, handed to docker/cli's connection helper) starts one
`ssh ... docker system dial-stdio` per API connection, and Pulumi runs resource operations in
parallel: without multiplexing, the handshakes arrive together and sshd drops those past its
`MaxStartups` (10 by default), which fails at random with exit 255 (docker/compose#10117). With
`ControlMaster=auto` the first connection becomes a master that the next ones ride as sessions, and
`ControlPersist` keeps it for a minute after the last one ends (an `up` touches a server in bursts).
A session the server refuses past its `MaxSessions` (10) opens a connection of its own, as before.

The control socket lives in the user's own `~/.ssh`: a socket at a predictable path in a shared folder
such as /tmp could be planted by another local user, and every Docker call would go through it.
"""

from __future__ import annotations

from pathlib import Path

KEEPALIVE = ["-o", "ServerAliveInterval=30"]
ON_PREM_HOST_KEYS = ["-o", "StrictHostKeyChecking=accept-new"]
CLOUD_HOST_KEYS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
"""A replaced instance keeps its Elastic IP but not its host keys: a remembered key would block Docker."""
CONTROL_DIRECTORY = Path("~/.ssh")
MULTIPLEXING = [
    "-o",
    "ControlMaster=auto",
    "-o",
    f"ControlPath={CONTROL_DIRECTORY}/constellab-%C",
    "-o",
    "ControlPersist=60",
]


def tunnel_options(cloud: bool) -> list[str]:
    """For the lab manager's tunnel: one long-lived process the client stops itself, never a master."""
    return [*(CLOUD_HOST_KEYS if cloud else ON_PREM_HOST_KEYS), *KEEPALIVE]


def docker_options(cloud: bool) -> list[str]:
    """For Docker's connections: multiplexed over one master per server."""
    return [*tunnel_options(cloud), *MULTIPLEXING]


def ensure_control_directory() -> None:
    """Creates `~/.ssh` (0700) when missing: without it ssh cannot bind the master's socket and multiplexes
    nothing (it warns and connects alone)."""
    CONTROL_DIRECTORY.expanduser().mkdir(mode=0o700, exist_ok=True)
