"""Hands a lab's configuration to Constellab's lab manager over its HTTP API and waits until the lab is up.

Run by the Pulumi program during `pulumi up` as `python -m constellab.lab_manager_client`: it reads one
JSON document on stdin (see `parse_request` for its keys) and applies it:

1. waits until `GET /health-check` answers 200 `true` (the proxy or its certificate may still be starting);
2. sends the configuration (`PUT /lab/config`), then starts the lab (`POST /lab/init-all`);
3. polls `GET /lab/status` until the containers are UP and the lab is RUNNING.

Progress goes to stdout; a failure is one line on stderr with exit code 1, a bad document exit code 2.
Secrets (the API key, passwords in the init body) arrive only on stdin: they are never printed, never put on
a command line and never part of an error message (any server text that echoes one is redacted).

The lab manager is reached at `https://lab-manager.<host>` (Traefik routes it by SNI and Host header), either
directly at an address (the machine itself), or through an SSH local port forward started with the system
`ssh` (`CONSTELLAB_SSH` names another binary; the tests use a fake).

The lab manager's certificate is verified, with its name (`tls`): against the system's trust store
(Let's Encrypt's wildcard, `system`), or against the site's own chain (`pem`, manual certificates), so
the secrets are safe even where the tunnel cannot authenticate the host (a replaced cloud instance has
new host keys). Only Traefik's own self-signed certificate (`none`) goes unverified: the `local` lab on
this machine's loopback. On a first deployment the wildcard certificate takes a minute or two to be
issued, and Traefik refuses the handshake meanwhile (strict SNI): the health wait keeps trying.

Only the standard library is imported: this module runs in whatever Python runs the Pulumi program.

This module is the entry point (the command Pulumi stores) and `apply`; the parts are in
`constellab.lab_manager`: the request document, the answers, HTTPS and TLS, the SSH tunnel, the waits.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from constellab.lab_manager.answers import Answer, LabStatus, server_message
from constellab.lab_manager.request import (
    DEFAULT_HEALTH_TIMEOUT_SECONDS,
    DEFAULT_POLL_SECONDS,
    DEFAULT_UP_TIMEOUT_SECONDS,
    SETTLE_SECONDS,
    DirectTransport,
    InvalidRequestError,
    LabManagerError,
    LabManagerRequest,
    SshTransport,
    Transport,
    Verify,
    parse_request,
)
from constellab.lab_manager.session import REQUEST_TIMEOUT_SECONDS, Session
from constellab.lab_manager.tunnel import SSH_ENV, TUNNEL_TIMEOUT_SECONDS, open_endpoint
from constellab.lab_manager.wording import one_line, redact

__all__ = [
    "DEFAULT_HEALTH_TIMEOUT_SECONDS",
    "DEFAULT_POLL_SECONDS",
    "DEFAULT_UP_TIMEOUT_SECONDS",
    "REQUEST_TIMEOUT_SECONDS",
    "SETTLE_SECONDS",
    "SSH_ENV",
    "TUNNEL_TIMEOUT_SECONDS",
    "Answer",
    "DirectTransport",
    "InvalidRequestError",
    "LabManagerError",
    "LabManagerRequest",
    "LabStatus",
    "SshTransport",
    "Transport",
    "Verify",
    "apply",
    "main",
    "parse_request",
    "server_message",
]

_PREFIX = "lab manager client"


def apply(
    request: LabManagerRequest,
    *,
    out: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    ssh: str | None = None,
) -> None:
    """Waits for the lab manager, sends the configuration and init body, and waits until the lab is up.

    Progress lines go to `out` (stdout by default). `ssh` is the ssh binary (default: `$CONSTELLAB_SSH`, else
    `ssh`). Raises `LabManagerError`, whose message is one line naming the lab and carries no secret.
    """
    session = Session(request, out if out is not None else sys.stdout, clock, sleep)
    try:
        with open_endpoint(request, ssh or os.environ.get(SSH_ENV) or "ssh", clock, sleep) as endpoint:
            session.run(endpoint)
    except LabManagerError as error:
        raise LabManagerError(redact(str(error), request.secrets())) from None


def main(
    argv: Sequence[str] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Reads the request document on stdin and applies it: 0 when the lab is up, 1 on failure, 2 on bad input."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments:
        print(f"{_PREFIX}: takes no arguments; give the request document as JSON on stdin", file=err)
        return 2
    text = (stdin if stdin is not None else sys.stdin).read()
    if not text.strip():
        print(f"{_PREFIX}: stdin is empty; give the request document as JSON", file=err)
        return 2
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        print(f"{_PREFIX}: stdin is not JSON (line {error.lineno}, column {error.colno}: {error.msg})", file=err)
        return 2
    try:
        request = parse_request(document)
    except InvalidRequestError as error:
        print(f"{_PREFIX}: {error}", file=err)
        return 2
    try:
        apply(request, out=out)
    except LabManagerError as error:
        print(error, file=err)
        return 1
    except KeyboardInterrupt:
        print(f"lab {request.lab}: interrupted", file=err)
        return 130
    except Exception as error:  # one line and no traceback, as for every other failure
        message = redact(one_line(f"{type(error).__name__}: {error}"), request.secrets())
        print(f"lab {request.lab}: unexpected error: {message}", file=err)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
