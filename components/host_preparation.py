"""HostPreparation: an on-prem server prepared over SSH as lab-configurer prepares a lab host."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_command import remote

from constellab import host_setup


@dataclass(frozen=True)
class HostPreparationArgs:
    """Arguments of `HostPreparation`."""

    ssh_host: str
    ssh_user: str
    ssh_port: int


class HostPreparation(pulumi.ComponentResource):
    """Runs `host_setup.prepare_script()` as root (`sudo -n`) over SSH; again whenever the script changes
    (it is the command's standard input, so a new script is an update).

    The script is idempotent and keeps what the host already has (a running Docker, its daemon.json, an
    active ufw). `ready` resolves once it has finished, so the Docker provider waits for it.
    """

    ready: pulumi.Output[str]

    def __init__(self, name: str, args: HostPreparationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("constellab:host_preparation:HostPreparation", name, None, opts)
        script = host_setup.prepare_script()
        command = host_setup.remote_command(args.ssh_user, args.ssh_port)
        prepared = remote.Command(
            f"{name}-prepare",
            connection=remote.ConnectionArgs(
                host=args.ssh_host, port=args.ssh_port, user=args.ssh_user, dial_error_limit=10, per_dial_timeout=15
            ),
            # The script travels on standard input, so the command line stays short and readable.
            create=command,
            update=command,
            stdin=script,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.ready = prepared.stdout
        self.register_outputs({"ready": self.ready})
