"""Waiting, over SSH, until a server just started takes Docker calls.

A server the power gate has just started answers EC2's `running` long before it answers Docker: sshd
starts with the network, Docker after its data volume is mounted, and on a first boot cloud-init prepares
the host first. The gate therefore waits, after starting it, until one SSH session sees cloud-init done and
the engine answering, read as root (a session's groups are fixed at login: see `host_setup.remote_command`).
The session uses Docker's own SSH options, so it also opens the master connection Docker's calls then share.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence

READY_CHECK = "cloud-init status --wait >/dev/null 2>&1; sudo -n docker version --format '{{.Server.Version}}'"
CONNECT_TIMEOUT_SECONDS = 10


class NotReadyError(Exception):
    """The server did not take Docker calls in time: names the server and the last thing SSH said."""


def ssh_command(destination: str, options: Sequence[str]) -> list[str]:
    """The one SSH session that checks readiness: never prompts, gives up a connection after 10 s."""
    return [
        "ssh",
        "-o",
        "BatchMode=yes",
        "-o",
        f"ConnectTimeout={CONNECT_TIMEOUT_SECONDS}",
        *options,
        destination,
        READY_CHECK,
    ]


def wait_ready(
    destination: str,
    options: Sequence[str],
    *,
    label: str,
    timeout: float,
    poll: float,
    progress: Callable[[str], None],
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Tries the check until it passes; returns the engine's version. Raises `NotReadyError` after `timeout`."""
    command = ssh_command(destination, options)
    deadline = clock() + timeout
    last = "no answer"
    while True:
        done = run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        version = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
        if done.returncode == 0 and version:
            progress(f"{label} takes Docker calls (engine {version})")
            return version
        last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        if clock() >= deadline:
            raise NotReadyError(
                f"{label} was started but does not take Docker calls after {timeout:.0f} s over SSH "
                f"({destination}): {last}"
            )
        sleep(poll)
