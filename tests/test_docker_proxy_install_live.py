"""The preparation installs Traefik's read-only Docker API proxy on a Debian 13 host, and it answers.

Real: Debian 13 with Python from Debian's packages (the cloud-init test image), the preparation script as
`HostPreparation` sends it, the proxy it writes, run with the `ExecStart` of the unit it writes, and the
real Docker engine behind it (this machine's socket, mounted where a host has it). Stand-ins, as in the
other preparation tests: `systemctl` (no init system in a container: it records, and starts a unit's
`ExecStart` in the background, as systemd would, after making its `RuntimeDirectory`), `apt-get`, `ufw`,
and the engine's own commands inside the container.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest

from constellab import host_setup, lab_host, topology
from tests import cloud_init_harness
from tests import docker_harness as harness

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("docker-engine")]

NAME = "constellab-test-proxy-install"
RECORD = "/var/log/stand-ins"
SOCKET = f"{lab_host.DOCKER_PROXY_DIR}/docker-ro.sock"
STAND_INS = {
    "systemctl": f"""echo "systemctl $*" >> {RECORD}
case "$1" in
  start|restart)
    unit="/etc/systemd/system/$2"
    case "$2" in constellab-docker-proxy*) ;; *) exit 0 ;; esac
    if [ "$1" = start ] && [ -S {SOCKET} ]; then exit 0; fi
    pkill -f constellab-docker-proxy.py 2>/dev/null; pkill -f /usr/local/sbin/constellab-docker-proxy || true
    runtime=$(sed -n 's/^RuntimeDirectory=//p' "$unit")
    [ -z "$runtime" ] || mkdir -p "/run/$runtime"
    command=$(sed -n '/^ExecStart=/,/[^\\\\]$/p' "$unit" | sed 's/^ExecStart=//; s/\\\\$//' | tr '\\n' ' ')
    nohup sh -c "$command" >/var/log/docker-proxy.log 2>&1 &
    ;;
esac
""",
    "apt-get": f'echo "apt-get $*" >> {RECORD}\n',
    "ufw": f"""echo "ufw $*" >> {RECORD}
case "$1" in status) echo "Status: inactive" ;; esac
""",
    "dockerd": "exit 0\n",
    "docker": """case "$1" in
  info) echo /app/docker ;;
  version) echo 26.1.5 ;;
esac
""",
}


class Host:
    def __init__(self, image: str) -> None:
        harness.docker("rm", "--force", NAME, check=False)
        harness.docker("run", "-d", "--name", NAME, "--label", f"{harness.TEST_LABEL}=proxy-install",
                       "-v", f"{topology.DOCKER_SOCKET}:{topology.DOCKER_SOCKET}", image, "sleep", "600")  # fmt: skip
        for name, body in STAND_INS.items():
            self.out(f"cat > /usr/local/bin/{name} && chmod 755 /usr/local/bin/{name}", stdin=f"#!/bin/sh\n{body}")
        self.out("id admin >/dev/null 2>&1 || useradd -m -u 1000 -s /bin/sh admin")

    def sh(self, command: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", "exec", "-i", NAME, "sh", "-c", command], input=stdin,
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    def out(self, command: str, stdin: str | None = None) -> str:
        done = self.sh(command, stdin)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout.strip()

    def prepare(self) -> subprocess.CompletedProcess[str]:
        return self.sh("sh -s -- admin 22 ufw", stdin=host_setup.prepare_script(docker_api_proxy=True))

    def api(self, method: str, path: str) -> str:
        """`<status>` of one request through the proxy's socket, with the host's curl."""
        return self.out(
            f"curl -s -o /dev/null -w '%{{http_code}}' -X {method} --unix-socket {SOCKET} http://docker{path}"
        )


@pytest.fixture(scope="module")
def host() -> Iterator[Host]:
    machine = Host(cloud_init_harness.image())
    try:
        yield machine
    finally:
        harness.docker("rm", "--force", NAME, check=False)


def test_the_preparation_installs_the_proxy_and_traefiks_reads_go_through_it(host: Host):
    done = host.prepare()

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Docker API proxy for Traefik: {SOCKET}" in done.stdout
    assert host.out(f"stat -c %a {host_setup.PROXY_SCRIPT_PATH}") == "755"
    for _ in range(20):
        if host.api("GET", "/_ping") == "200":
            break
        time.sleep(0.25)
    assert host.api("GET", "/_ping") == "200", host.out("cat /var/log/docker-proxy.log")
    assert host.api("GET", "/v1.41/containers/json?all=1") == "200", "the engine behind it is the real one"
    assert host.api("POST", "/v1.41/containers/create") == "405"
    assert host.api("GET", "/v1.41/images/json") == "403"


def test_running_the_preparation_again_leaves_the_running_proxy_alone(host: Host):
    host.out(f": > {RECORD}")

    again = host.prepare()

    assert again.returncode == 0, again.stdout + again.stderr
    calls = host.out(f"cat {RECORD}").splitlines()
    assert f"systemctl start {host_setup.PROXY_UNIT}" in calls
    assert f"systemctl restart {host_setup.PROXY_UNIT}" not in calls, "unchanged: not restarted"
    assert host.api("GET", "/_ping") == "200"
