"""Docker over SSH against a real sshd: a burst of API connections rides one multiplexed connection.

Real: OpenSSH's `sshd` (Debian's openssh-server) on a loopback port, the `ssh` client, the Docker CLI's
`docker system dial-stdio` on the far side and the engine it reaches. Each connection runs exactly the
command docker/cli's connection helper runs for the Docker provider (`ssh -l <user> -p <port> <ssh_opts>
-o ConnectTimeout=30 -T -- <host> docker system dial-stdio`) and sends one API call through it, as the
provider does per HTTP connection. The server is strict on purpose (`MaxStartups 1:100:1`: a second
handshake in progress is dropped) so that a burst fails for certain without multiplexing, as it does at
random against a default sshd under Pulumi's parallelism. The test only adds its own key and known-hosts
file; `~/.ssh` is the real user's (ssh expands `~` from the password database, not from $HOME).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from constellab import ssh_options
from tests import docker_harness as harness
from tests.conftest import missing

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("docker-engine")]

SSHD = "/usr/sbin/sshd"
BURST = 8


@dataclass(frozen=True)
class Server:
    port: int
    key: Path
    known_hosts: Path
    log: Path

    def accepted(self) -> int:
        """Connections sshd authenticated (one line each in its log)."""
        return self.log.read_text().count("Accepted publickey")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Server]:
    if os.geteuid() != 0 or not Path(SSHD).exists():
        missing("sshd needs root and Debian's openssh-server (CI's .ci/run installs it)")
    if not harness.docker_ready():
        missing("no Docker engine answers `docker version` (CI's .ci/run starts one)")
    key = tmp_path / "id_ed25519"
    host_key = tmp_path / "host_ed25519"
    for path in (key, host_key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    (tmp_path / "authorized_keys").write_text(Path(f"{key}.pub").read_text())
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation folder
    port = _free_port()
    settings = [
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {host_key}",
        f"AuthorizedKeysFile {tmp_path}/authorized_keys",
        f"PidFile {tmp_path}/sshd.pid",
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "MaxStartups 1:100:1",
        "MaxSessions 10",
        "LogLevel VERBOSE",
        # OpenSSH 9.8+ would also penalise the refused handshakes' source for the next tests.
        "PerSourcePenalties no",
    ]
    config = tmp_path / "sshd_config"
    config.write_text("\n".join(settings) + "\n")
    if subprocess.run([SSHD, "-t", "-f", str(config)], capture_output=True).returncode != 0:
        config.write_text("\n".join(settings[:-1]) + "\n")  # an sshd older than 9.8 has no such setting
    log = tmp_path / "sshd.log"
    daemon = subprocess.Popen([SSHD, "-D", "-f", str(config), "-E", str(log)])
    # Ready once it says so: a probing connection would itself hold the one handshake slot for a while.
    for _ in range(100):
        if log.exists() and "Server listening" in log.read_text():
            break
        time.sleep(0.1)
    server = Server(port=port, key=key, known_hosts=tmp_path / "known_hosts", log=log)
    try:
        yield server
    finally:
        _close_master(server)
        daemon.terminate()
        daemon.wait(timeout=10)


def _client_options(server: Server) -> list[str]:
    """What the test adds for itself: its key and known-hosts file, never a prompt."""
    return ["-i", str(server.key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={server.known_hosts}"]  # fmt: skip


def _dial(server: Server, options: list[str]) -> tuple[int, str]:
    """One Docker API connection as the provider opens it; `GET /_ping` through it."""
    argv = ["ssh", "-l", "root", "-p", str(server.port), *_client_options(server), *options,
            "-o", "ConnectTimeout=30", "-T", "--", "127.0.0.1", "docker", "system", "dial-stdio"]  # fmt: skip
    done = subprocess.run(
        argv,
        input=b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n",
        capture_output=True,
        timeout=60,
    )
    return done.returncode, done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")


def _burst(server: Server, options: list[str]) -> list[tuple[int, str]]:
    with ThreadPoolExecutor(max_workers=BURST) as pool:
        return list(pool.map(lambda _: _dial(server, options), range(BURST)))


def _close_master(server: Server) -> None:
    subprocess.run(
        ["ssh", "-l", "root", "-p", str(server.port), *_client_options(server), *ssh_options.MULTIPLEXING,
         "-O", "exit", "127.0.0.1"],
        capture_output=True,
        timeout=30,
    )  # fmt: skip


def test_the_docker_providers_connections_share_one_ssh_connection(sshd: Server):
    options = ssh_options.docker_options(cloud=False)
    # The provider pings the engine once before it works: that first connection becomes the master.
    first = _dial(sshd, options)
    assert first[0] == 0 and "OK" in first[1], first[1]

    results = _burst(sshd, options)

    assert [code for code, _ in results] == [0] * BURST, [out for code, out in results if code]
    assert all("OK" in out for _, out in results)
    assert sshd.accepted() == 1, "every API connection after the first is a session of the same connection"


def test_without_multiplexing_the_same_burst_is_refused_by_sshd(sshd: Server):
    """Proves the check above can fail: the same burst, each connection on its own."""
    options = ssh_options.tunnel_options(cloud=False)
    _dial(sshd, options)

    results = _burst(sshd, options)

    refused = [out for code, out in results if code == 255]
    assert refused, "sshd dropped none of the concurrent handshakes"
