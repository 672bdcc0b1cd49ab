"""Where the lab manager client's connections go: straight to an address, or through an SSH tunnel."""

from __future__ import annotations

import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

from constellab.lab_manager.https import Endpoint
from constellab.lab_manager.request import DirectTransport, LabManagerError, LabManagerRequest, SshTransport
from constellab.lab_manager.wording import in_seconds, in_words, one_line

TUNNEL_TIMEOUT_SECONDS = 60.0
"""How long `ssh` may take to open its local port."""
SSH_ENV = "CONSTELLAB_SSH"
"""Environment variable naming the ssh binary (default `ssh`)."""


@contextmanager
def open_endpoint(
    request: LabManagerRequest, ssh: str, clock: Callable[[], float], sleep: Callable[[float], None]
) -> Iterator[Endpoint]:
    """Where the request's connections go; an SSH tunnel, when the transport asks for one, is open meanwhile."""
    transport = request.transport
    if isinstance(transport, DirectTransport):
        yield Endpoint(transport.address, transport.port)
        return
    # stderr goes to a file, not a pipe: a chatty ssh can never block on it.
    with tempfile.TemporaryFile() as errors:
        tunnel = _Tunnel(request.lab, transport, ssh, errors)
        tunnel.start()
        try:
            tunnel.wait_open(clock, sleep)
            yield Endpoint("127.0.0.1", tunnel.local_port, tunnel.check)
        finally:
            tunnel.stop()


class _Tunnel:
    """`ssh -N -L 127.0.0.1:<local>:127.0.0.1:<remote> <destination>`; its stderr goes to `errors`."""

    def __init__(self, lab: str, transport: SshTransport, binary: str, errors: IO[bytes]) -> None:
        self.lab = lab
        self.transport = transport
        self.local_port = _free_port()
        self.argv = [
            binary,
            "-N",
            "-o",
            "ExitOnForwardFailure=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "ServerAliveInterval=30",
            "-p",
            str(transport.port),
            *transport.options,
            "-L",
            f"127.0.0.1:{self.local_port}:127.0.0.1:{transport.remote_port}",
            transport.destination,
        ]
        self.errors = errors
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        try:
            self.process = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.errors
            )
        except OSError as error:
            reason = "no such program" if isinstance(error, FileNotFoundError) else in_words(error)
            raise LabManagerError(f"lab {self.lab}: cannot start ssh ({self.argv[0]}): {reason}") from None

    def stop(self) -> None:
        """Terminates ssh (killed if it lingers) and reaps it."""
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stderr(self) -> str:
        self.errors.seek(0)
        lines = [line.strip() for line in self.errors.read().decode("utf-8", errors="replace").splitlines()]
        return one_line(" | ".join(line for line in lines if line))[:500] or "no message"

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def check(self) -> None:
        code = self.exited()
        if code is not None:
            raise LabManagerError(
                f"lab {self.lab}: the SSH tunnel to {self.transport.destination} closed "
                f"(ssh exited with code {code}): {self.stderr()}"
            )

    def wait_open(self, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        deadline = clock() + TUNNEL_TIMEOUT_SECONDS
        while True:
            code = self.exited()
            if code is not None:
                raise LabManagerError(
                    f"lab {self.lab}: ssh {self.transport.destination} exited with code {code} "
                    f"before the tunnel was open: {self.stderr()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.local_port), timeout=1):
                    return
            except OSError:
                pass
            if clock() >= deadline:
                raise LabManagerError(
                    f"lab {self.lab}: the SSH tunnel to {self.transport.destination} did not open "
                    f"127.0.0.1:{self.local_port} within {in_seconds(TUNNEL_TIMEOUT_SECONDS)} s"
                )
            sleep(0.05)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
