"""HostPreparation: a lab host prepared over SSH as lab-configurer prepares one, again whenever that changes."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_command import remote

from constellab import host_firewall, host_setup


@dataclass(frozen=True)
class HostPreparationArgs:
    """Arguments of `HostPreparation`."""

    ssh_host: pulumi.Input[str]
    ssh_user: str
    ssh_port: int = 22
    firewall: host_setup.Firewall = "ufw"
    authorized_keys: list[str] | None = None
    """The keys the login user logs in with, exactly (a cloud server's `sshPublicKeys`); None leaves the
    host's logins to its site."""
    docker_firewall: host_firewall.DockerFirewall | None = None
    """The server's limits on Docker's traffic, loaded by the preparation and again at every Docker start."""
    docker_api_proxy: bool = False
    """Install Traefik's read-only Docker API proxy (a lab host)."""
    after_cloud_init: bool = False
    """A cloud server: wait for its first boot (cloud-init, which prepared it once already) before running."""
    triggers: list[pulumi.Input[str]] = field(default_factory=list)
    """Run again when one changes: a cloud server's instance id (a replaced instance is a new host)."""
    after: list[pulumi.Resource] = field(default_factory=list)
    """What must exist first (a cloud server's address and data volume)."""


class HostPreparation(pulumi.ComponentResource):
    """Runs `host_setup.prepare_script()` as root (`sudo -n`) over SSH.

    The script is the command's standard input, so a new script is an update: what changes reaches a
    running server, without a restart. It keeps what a host already has (a running Docker, its data,
    an active ufw). `ready` (the engine's version) resolves once it has finished, so the Docker
    provider waits for it.
    """

    ready: pulumi.Output[str]

    def __init__(self, name: str, args: HostPreparationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("constellab:host_preparation:HostPreparation", name, None, opts)
        command = host_setup.remote_command(
            args.ssh_user, args.ssh_port, args.firewall, after_cloud_init=args.after_cloud_init
        )
        prepared = remote.Command(
            f"{name}-prepare",
            connection=remote.ConnectionArgs(
                host=args.ssh_host,
                port=args.ssh_port,
                user=args.ssh_user,
                # A new cloud server takes a while before sshd answers.
                dial_error_limit=60 if args.after_cloud_init else 10,
                per_dial_timeout=10 if args.after_cloud_init else 15,
            ),
            create=command,
            update=command,
            stdin=host_setup.prepare_script(args.authorized_keys, args.docker_firewall, args.docker_api_proxy),
            triggers=list(args.triggers) or None,
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.after),
        )
        self.ready = prepared.stdout
        self.register_outputs({"ready": self.ready})
