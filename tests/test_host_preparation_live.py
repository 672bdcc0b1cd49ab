"""The host preparation script, run for real in a Debian 13 (trixie) system built with debootstrap.

Real: the shell, Debian's `getent`, `groupadd`/`groupmod`/`usermod`, `find`/`chgrp`, `stat`, `chown`,
the files it writes. Stand-ins, because a container has no init system, kernel firewall or engine of
its own, and they would change this machine: `systemctl`, `ufw`, `apt-get` and Docker's commands are
small scripts that record how they were called (`apt-get install docker.io` puts the Docker
stand-ins in place, recording the docker group's GID at that moment).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest

from constellab import host_setup, lab_host
from tests import docker_harness as harness
from tests.conftest import missing

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("docker-engine")]

IMAGE = "constellab-test/debian-trixie:prepare"
"""debootstrap's output, kept between runs (it is a cache: removing it only costs a minute)."""

RECORD = "/var/log/stand-ins"
STAND_INS = {
    # systemctl: no init system in a container.
    "systemctl": 'echo "systemctl $*" >> /var/log/stand-ins\n',
    # ufw: its state in a file; `status` as ufw prints it.
    "ufw": """echo "ufw $*" >> /var/log/stand-ins
case "$1" in
  status) if [ -e /var/lib/ufw-active ]; then echo "Status: active"; else echo "Status: inactive"; fi ;;
  --force) touch /var/lib/ufw-active ;;
esac
""",
    # apt-get: nothing is downloaded; installing docker.io provides the engine's stand-ins.
    "apt-get": """echo "apt-get $* (docker gid: $(getent group docker | cut -d: -f3))" >> /var/log/stand-ins
case " $* " in *" docker.io "*) cp /opt/engine/docker /opt/engine/dockerd /usr/local/bin/ ;; esac
""",
}
ENGINE = {
    "dockerd": "exit 0\n",
    "docker": """case "$1" in
  info) echo "${DOCKER_ROOT:-/var/lib/docker}" ;;
  version) echo 26.1.5 ;;
esac
""",
}


def _script(body: str) -> str:
    return "#!/bin/sh\nset -eu\n" + body


@pytest.fixture(scope="module")
def debian() -> str:
    """A Debian 13 image from debootstrap (minbase), with the stand-ins; built once, then cached."""
    if not harness.docker_ready():
        missing("no Docker engine answers `docker version` (CI's .ci/run starts one)")
    if harness.docker("image", "inspect", IMAGE, check=False).returncode == 0:
        return IMAGE
    rootfs = harness.debian_rootfs()
    for name, body in STAND_INS.items():
        path = rootfs / "usr" / "local" / "bin" / name
        path.write_text(_script(body))
        path.chmod(0o755)
    (rootfs / "opt" / "engine").mkdir(parents=True, exist_ok=True)
    for name, body in ENGINE.items():
        path = rootfs / "opt" / "engine" / name
        path.write_text(_script(body))
        path.chmod(0o755)
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    imported = subprocess.run(["docker", "import", "-", IMAGE], stdin=tar.stdout, capture_output=True, text=True)
    tar.wait()
    if imported.returncode != 0:
        pytest.fail(f"docker import of the Debian rootfs failed: {imported.stderr}")
    return IMAGE


class Host:
    """One throw-away Debian host (a container), prepared by the real script."""

    def __init__(self, image: str, name: str) -> None:
        self.name = f"constellab-test-prepare-{name}"
        harness.docker("rm", "--force", self.name, check=False)
        harness.docker("run", "-d", "--name", self.name, "--label", f"{harness.TEST_LABEL}=prepare", image,
                       "sleep", "600")  # fmt: skip

    def sh(self, command: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", "exec", "-i", self.name, "sh", "-c", command],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def out(self, command: str) -> str:
        done = self.sh(command)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def prepare(self, *arguments: str, keys: list[str] | None = None) -> subprocess.CompletedProcess[str]:
        """The script as `HostPreparation` runs it: standard input, as root, with its arguments."""
        return self.sh(f"sh -s -- {' '.join(arguments)}", stdin=host_setup.prepare_script(keys))

    def remove(self) -> None:
        harness.docker("rm", "--force", self.name, check=False)


@pytest.fixture
def host(debian: str, request: pytest.FixtureRequest) -> Iterator[Host]:
    machine = Host(debian, request.node.name.split("[")[0][-40:].replace("_", "-"))
    # Debian's login user of cloud images, and what Debian's systemd would have made: a group at GID 999
    # (systemd-journal holds it on Debian) owning its files.
    machine.out("useradd -m -u 1000 -s /bin/sh admin && groupadd -g 999 systemd-journal")
    machine.out("mkdir -p /var/log/journal && chgrp systemd-journal /var/log/journal")
    try:
        yield machine
    finally:
        machine.remove()


def test_a_fresh_server_gets_docker_at_gid_999_before_the_engine_then_its_settings_and_folders(host: Host):
    done = host.prepare("admin", "22", "ufw", "2200")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-2:] == [host_setup.READY_MARKER, "26.1.5"]

    assert host.out("getent group docker | cut -d: -f3") == "999"
    moved = host.out("getent group systemd-journal | cut -d: -f3")
    assert moved != "999" and host.out("stat -c %g /var/log/journal") == moved, "its files moved with it"
    calls = host.out(f"cat {RECORD}").splitlines()
    install = next(call for call in calls if "docker.io" in call)
    assert install.endswith("(docker gid: 999)"), "the group had GID 999 when the engine was installed"
    assert json.loads(host.out("cat /etc/docker/daemon.json")) == lab_host.DOCKER_DAEMON
    for folder, user_owned in lab_host.HOST_FOLDERS:
        assert host.out(f"stat -c %U:%G {folder}") == ("admin:admin" if user_owned else "root:root"), folder
    assert "docker" in host.out("id -nG admin").split()
    assert "Unattended-Upgrade" in host.out("cat /etc/apt/apt.conf.d/20auto-upgrades")
    firewall = [call for call in calls if call.startswith("ufw ")]
    assert firewall[:4] == ["ufw status", "ufw default deny incoming", "ufw default allow outgoing", "ufw allow 22/tcp"]
    assert {"ufw allow 2200/tcp", "ufw allow 80/tcp", "ufw allow 443/tcp", "ufw --force enable"} <= set(firewall)


def test_running_it_again_changes_nothing(host: Host):
    assert host.prepare("admin", "22", "ufw").returncode == 0
    before = host.out("getent group docker systemd-journal; cat /etc/docker/daemon.json; ls -ln /app")
    host.out(f": > {RECORD}")

    again = host.prepare("admin", "22", "ufw")

    assert again.returncode == 0, again.stderr
    assert host.out("getent group docker systemd-journal; cat /etc/docker/daemon.json; ls -ln /app") == before
    assert "moving group" not in again.stdout and "wrote /etc/docker/daemon.json" not in again.stdout
    calls = host.out(f"cat {RECORD}").splitlines()
    assert not [call for call in calls if "docker.io" in call], "Docker is installed already"
    assert "ufw is active: kept" in again.stdout
    assert "systemctl restart docker" not in calls


def test_a_server_already_running_docker_keeps_its_containers_and_gets_the_group_moved(host: Host):
    # Docker's own package made its group (GID 105) and keeps containers in /var/lib/docker.
    host.out("groupadd -g 105 docker && cp /opt/engine/docker /opt/engine/dockerd /usr/local/bin/")
    host.out("mkdir -p /var/lib/docker/containers/0123 /run/docker && chgrp docker /run/docker")

    done = host.prepare("admin", "22", "ufw")

    assert done.returncode == 0, done.stderr
    assert host.out("getent group docker | cut -d: -f3") == "999"
    assert host.out("stat -c %g /run/docker") == "999", "the docker group's files follow it"
    daemon = json.loads(host.out("cat /etc/docker/daemon.json"))
    assert "data-root" not in daemon and daemon["log-opts"] == {"max-size": "1m", "max-file": "3"}
    assert "Docker already keeps its data in /var/lib/docker: it stays there" in done.stderr
    calls = host.out(f"cat {RECORD}").splitlines()
    assert "systemctl restart docker" in calls, "the socket's group follows the moved group"
    assert not [call for call in calls if "docker.io" in call]


def test_an_engine_of_the_sites_without_compose_is_left_as_it_is_with_a_warning(host: Host):
    host.out("cp /opt/engine/docker /opt/engine/dockerd /usr/local/bin/")
    host.out('sed -i \'s/^case "$1" in$/case "$1" in\\n  compose) exit 1 ;;/\' /usr/local/bin/docker')
    assert host.sh("docker compose version").returncode == 1, "the stand-in has no compose"

    done = host.prepare("admin", "22", "ufw")

    assert done.returncode == 0, done.stderr
    assert "Docker Compose v2 is missing (docker compose version fails)" in done.stderr
    installs = [call for call in host.out(f"cat {RECORD}").splitlines() if call.startswith("apt-get install")]
    assert not [call for call in installs if "docker" in call.split(" (")[0]], "nothing of ours beside it"


def test_a_site_that_keeps_its_own_firewall_is_left_alone(host: Host):
    done = host.prepare("admin", "22", "none")

    assert done.returncode == 0, done.stderr
    assert not [call for call in host.out(f"cat {RECORD}").splitlines() if call.startswith("ufw")]
    assert "firewall left to the site" in done.stdout


def test_a_missing_login_user_is_refused_before_anything_changes(host: Host):
    done = host.prepare("nobody-here", "22", "ufw")

    assert done.returncode == 1
    assert done.stderr.strip() == "constellab-prepare: no user nobody-here on this host"
    assert host.sh("getent group docker").returncode != 0 and host.sh(f"test -e {RECORD}").returncode != 0


def test_a_cloud_server_whose_data_volume_is_not_mounted_is_never_prepared(host: Host):
    # cloud-init wrote the mount script, which failed: /app is a plain folder of the root disk.
    host.out(
        f"printf '#!/bin/sh\\nexit 1\\n' > {host_setup.MOUNT_SCRIPT_PATH} && chmod 755 {host_setup.MOUNT_SCRIPT_PATH}"
    )

    done = host.prepare("admin", "22", "ufw")

    assert done.returncode == 1
    assert "the data volume is not mounted at /app" in done.stderr
    assert host.sh("getent group docker").returncode != 0, "nothing was changed"


OLD_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9sZC1rZXktb2YtYS1kZXBhcnRlZC1hZG1pbmlzdHJhdG9y old@acme"
NEW_KEY = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDbmV3LWtleS1vZi10aGUtbmV3LWFkbWluaXN0cmF0b3I= new@acme"


def test_a_cloud_servers_login_keys_become_exactly_the_declared_ones(host: Host):
    host.out("mkdir -p ~admin/.ssh && echo 'ssh-ed25519 AAAAhand-added by@hand' > ~admin/.ssh/authorized_keys")

    assert host.prepare("admin", "22", "ufw", keys=[OLD_KEY, NEW_KEY]).returncode == 0
    assert host.out("cat ~admin/.ssh/authorized_keys").splitlines() == [OLD_KEY, NEW_KEY]
    assert host.out("stat -c '%U:%G %a' ~admin/.ssh ~admin/.ssh/authorized_keys").splitlines() == [
        "admin:admin 700",
        "admin:admin 600",
    ]

    removed = host.prepare("admin", "22", "ufw", keys=[NEW_KEY])

    assert removed.returncode == 0, removed.stderr
    assert "authorized_keys of admin: 1 key(s)" in removed.stdout
    assert host.out("cat ~admin/.ssh/authorized_keys").splitlines() == [NEW_KEY], "a removed key goes"
    assert host.out("ls -A ~admin/.ssh") == "authorized_keys", "nothing staged is left behind"


def test_an_on_prem_servers_logins_are_left_to_its_site(host: Host):
    host.out("mkdir -p ~admin/.ssh && echo 'ssh-ed25519 AAAAsite-key site@pharma' > ~admin/.ssh/authorized_keys")

    assert host.prepare("admin", "22", "ufw").returncode == 0

    assert host.out("cat ~admin/.ssh/authorized_keys") == "ssh-ed25519 AAAAsite-key site@pharma"
