"""LabConfiguration: a lab declared in the stack file, handed to its lab manager by `pulumi up`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_random as random
from pulumi_command import local

from constellab import lab_config
from constellab.config import Endpoints, StackConfiguration

CLIENT_COMMAND = ".venv/bin/python -m constellab.lab_manager_client"
"""Runs in the project's folder, where the engine starts the program and its plugins, with the project's
own interpreter (`Pulumi.yaml`: `virtualenv: .venv`). Its whole input, secrets included, is the command's
standard input."""
HEALTH_TIMEOUT_SECONDS = 900
"""A first deployment waits for the proxy and its wildcard certificate as well as the lab manager."""


@dataclass(frozen=True)
class LabManagerAccess:
    """How the machine running `pulumi up` reaches the lab manager: its own proxy, or an SSH tunnel."""

    kind: Literal["direct", "ssh"]
    address: pulumi.Input[str]
    """The proxy's address (direct), or the SSH destination `user@host` (ssh)."""
    port: int
    ssh_options: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LabConfigurationArgs:
    """Arguments of `LabConfiguration`."""

    server_name: str
    host: str
    """The server's virtual host `<H>`; the lab manager answers at `lab-manager.<H>`."""
    configuration: StackConfiguration
    endpoints: Endpoints
    access: LabManagerAccess
    api_key: pulumi.Input[str]
    space_api_key: pulumi.Input[str]
    community_api_key: pulumi.Input[str]
    codelab_token: pulumi.Input[str]
    openai_api_key: pulumi.Input[str] | None = None
    verify: Literal["system", "pem", "none"] = "system"
    """How the lab manager's certificate is checked: Let's Encrypt's (system), the site's chain, or not at all
    (Traefik's own certificate, on this machine's loopback only)."""
    trusted_chain: str | None = None
    """The site's certificate chain, for `verify: pem`."""
    lab_manager: pulumi.Input[str] | None = None
    """The lab_manager container's id: a new container (a new host, an upgraded lab manager) is configured again."""
    after: list[pulumi.Resource] = field(default_factory=list)
    """What must be deployed first: the lab manager and its proxy (the server's containers)."""


def client_document(
    args: LabConfigurationArgs, address: str, secrets: dict[str, str], prod_password: str, dev_password: str
) -> str:
    """The client's input (`constellab.lab_manager_client`): where to go, the two bodies, the key."""
    transport: dict[str, Any]
    if args.access.kind == "direct":
        transport = {"kind": "direct", "address": address, "port": args.access.port}
    else:
        transport = {
            "kind": "ssh",
            "destination": address,
            "port": args.access.port,
            "options": args.access.ssh_options,
        }
    endpoints = args.endpoints
    init = lab_config.init_body(
        args.configuration,
        args.server_name,
        space_api_url=endpoints.space_api_url,
        space_front_url=endpoints.space_front_url,
        space_api_key=secrets["space"],
        community_api_url=endpoints.community_api_url,
        community_front_url=endpoints.community_front_url,
        community_api_key=secrets["community"],
        codelab_token=secrets["codelab"],
        prod_db_password=prod_password,
        dev_db_password=dev_password,
        openai_api_key=secrets.get("openai"),
    )
    document = {
        "lab": args.server_name,
        "host": args.host,
        "transport": transport,
        "apiKey": secrets["apiKey"],
        "config": lab_config.config_body(args.configuration, args.server_name),
        "init": init,
        "tls": {"verify": args.verify, "ca": args.trusted_chain} if args.verify == "pem" else {"verify": args.verify},
        "healthTimeoutSeconds": HEALTH_TIMEOUT_SECONDS,
        # The lab manager pulls every image of the lab (and Biota's data directory) before it reports UP.
        "upTimeoutSeconds": args.configuration.up_timeout_seconds,
    }
    return json.dumps(document, sort_keys=True)


class LabConfiguration(pulumi.ComponentResource):
    """The lab's two database passwords, and the call that configures and starts the lab.

    `PUT /lab/config` then `POST /lab/init-all`, then a bounded wait for `/health-check` and for
    `GET /lab/status` to report the lab UP. Everything the call sends, secrets included, is one secret
    input (the command's standard input), so a change of any of it, a password or a brick version, runs
    the call again; nothing secret is on a command line or in the command's output.
    """

    def __init__(self, name: str, args: LabConfigurationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("constellab:lab_configuration:LabConfiguration", name, None, opts)
        # The lab manager creates each database with its password once: a new one would lock the data out.
        kept = pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True)
        passwords = {
            environment: random.RandomPassword(f"{name}-{environment}-db-password", length=32, special=False, opts=kept)
            for environment in ("prod", "dev")
        }
        secrets: dict[str, pulumi.Input[str]] = {
            "apiKey": args.api_key,
            "space": args.space_api_key,
            "community": args.community_api_key,
            "codelab": args.codelab_token,
        }
        if args.configuration.openai and args.openai_api_key is not None:
            secrets["openai"] = args.openai_api_key
        names = sorted(secrets)
        stdin = pulumi.Output.all(
            pulumi.Output.from_input(args.access.address),
            passwords["prod"].result,
            passwords["dev"].result,
            *[secrets[key] for key in names],
        ).apply(
            lambda found: client_document(
                args,
                str(found[0]),
                dict(zip(names, (str(value) for value in found[3:]), strict=True)),
                str(found[1]),
                str(found[2]),
            )
        )
        secret_stdin: pulumi.Output[str] = pulumi.Output.secret(stdin)
        self.applied = local.Command(
            f"{name}-apply",
            create=CLIENT_COMMAND,
            update=CLIENT_COMMAND,
            stdin=secret_stdin,
            # The client prints progress only; its output never holds a secret.
            logging=local.Logging.STDOUT_AND_STDERR,
            add_previous_output_in_env=False,
            triggers=[args.lab_manager] if args.lab_manager is not None else None,
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.after),
        )
        self.register_outputs({"status": self.applied.stdout})


class RetiredLabConfiguration(pulumi.ComponentResource):
    """What stays of a decommissioned lab's configuration: its two database passwords, no longer protected.

    Same type and name as the `LabConfiguration` it follows, so the passwords keep their identity; they are
    exported (secret) because the databases on the kept data volume open with them only.
    """

    passwords: pulumi.Output[dict[str, str]]

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("constellab:lab_configuration:LabConfiguration", name, None, opts)
        released = pulumi.ResourceOptions(parent=self, protect=False)
        found = {
            environment: random.RandomPassword(
                f"{name}-{environment}-db-password", length=32, special=False, opts=released
            ).result
            for environment in ("prod", "dev")
        }
        self.passwords = pulumi.Output.secret(pulumi.Output.all(**found))
        self.register_outputs({})
