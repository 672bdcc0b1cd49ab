"""A new cloud server's first boot under Debian 13's real cloud-init, over the user data `pulumi up` renders.

One container boots once for the whole module (`tests.cloud_init_harness` says what is real and what
stands in, and why). The user data is that of an instance replaced since it was rendered: its
`ssh_authorized_keys` is an old key, its tags carry the new ones. The boot runs as systemd runs it:
cloud-init's local and network stages; then what systemd starts once the network stage is over (the
keys unit that bootcmd queued, sshd); then, as `pulumi up` does on a new server, a real SSH login
that runs the readiness check, opened before cloud-init's config and final modules ran (so before
the admin user joined the docker group: a session's groups are fixed at login); then the config and
final stages. The checks follow: GID 999, the data volume, the folders, daemon.json, the keys, and
the readiness check passing in that old session, where the former check (`docker version`) fails.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from constellab import cloud_init, host_setup, lab_host, ssh_keys
from tests import cloud_init_harness as machine
from tests.cloud_init_harness import ADMIN, ENGINE_VERSION, RECORD, CloudServer

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("docker-engine")]

SERVER = "lab1"
VOLUME_ID = "vol-0a1b2c3d4e5f60718"
OLD_KEY = "old-ed25519"
"""The key of the user data (the instance this one replaced was created with it)."""
TAG_KEYS = ("new-ed25519", "new-rsa")
"""The keys of the instance's tags, the stack's current `sshPublicKeys` (RSA 4096: several tags)."""
SESSION = "/tmp/constellab-session"
"""Where the old session writes what it saw (the admin user's)."""
STAGES = (("init-local", "init --local"), ("init", "init"), ("config", "modules --mode config"),
          ("final", "modules --mode final"))  # fmt: skip


@dataclass
class Finished:
    """A process that ended: its exit status and output."""

    returncode: int
    stdout: str
    stderr: str

    @classmethod
    def of(cls, process: subprocess.Popen[str], timeout: float) -> Finished:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            return cls(-1, stdout, f"timed out after {timeout} s\n{stderr}")
        return cls(process.returncode, stdout, stderr)


@dataclass
class Boot:
    """What the first boot did, recorded as it went."""

    server: CloudServer
    keys: dict[str, str]
    stages: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    units: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    docker_group_after_init: str = ""
    keys_after_init: list[str] = field(default_factory=list)
    keys_after_units: list[str] = field(default_factory=list)
    keys_after_final: list[str] = field(default_factory=list)
    logins: dict[str, Finished] = field(default_factory=dict)
    """A login with each key once the keys unit ran, before the modules."""
    waiting_before_modules: bool = False
    waiting_after_config: bool = False
    eager: Finished | None = None
    """The readiness command alone, exactly as `HostPreparation` runs it, from a login before the modules."""
    old_session: Finished | None = None
    """The same, held at a gate until the final stage finished, then checking its own groups first."""

    def out(self, command: str) -> str:
        return self.server.out(command)

    def session(self, name: str) -> str:
        return self.out(f"cat {SESSION}/{name}")


def _gated(readiness: str) -> str:
    """The old session's command: what it is at login, a wait for the gate, the former check, then the check."""
    return (
        f"id -nG > {SESSION}/groups-at-login; read go < {SESSION}/gate; "
        f"docker version > {SESSION}/former-check 2>&1; echo $? > {SESSION}/former-check.rc; "
        f"id -nG > {SESSION}/groups-at-check; {readiness}"
    )


def _wait_for(
    server: CloudServer, command: str, what: str, session: subprocess.Popen[str] | None = None, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while server.sh(command).returncode != 0:
        if session is not None and session.poll() is not None:
            ended = Finished.of(session, timeout=10)
            pytest.fail(f"{what}: the SSH session ended first ({ended.returncode}): {ended.stdout} {ended.stderr}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not after {timeout} s")
        time.sleep(0.2)


def _authorized_keys(server: CloudServer) -> list[str]:
    return server.out(f"cat ~{ADMIN}/.ssh/authorized_keys").splitlines()


def _first_boot(server: CloudServer) -> Boot:
    server.out("ip address add 169.254.169.254/32 dev lo")
    server.out(
        f"mkdir -p /root/keys && ssh-keygen -q -t ed25519 -N '' -C old@ops -f /root/keys/{OLD_KEY}"
        f" && ssh-keygen -q -t ed25519 -N '' -C new@ops -f /root/keys/{TAG_KEYS[0]}"
        f" && ssh-keygen -q -t rsa -b 4096 -N '' -C new-rsa@ops -f /root/keys/{TAG_KEYS[1]}"
    )
    keys = {name: server.out(f"cat /root/keys/{name}.pub") for name in (OLD_KEY, *TAG_KEYS)}
    boot = Boot(server, keys)
    new_keys = [keys[name] for name in TAG_KEYS]
    tags = {cloud_init.DATA_VOLUME_TAG: VOLUME_ID, **ssh_keys.key_tags(new_keys)}
    user_data = cloud_init.render_user_data(server_name=SERVER, ssh_public_keys=[keys[OLD_KEY]])
    server.put(machine.STAND_INS)
    if server.volume.loop is None:
        server.put(machine.NO_DEVICE_STAND_INS)
    server.put({f"{machine.IMDS_TAGS}/{name}": value for name, value in tags.items()}, 0o644)
    server.put(
        {
            "/etc/cloud/cloud.cfg.d/01_debian_cloud.cfg": machine.DEBIAN_CLOUD_CFG,
            "/etc/cloud/cloud.cfg.d/99_constellab_test.cfg": machine.TEST_CLOUD_CFG,
            "/var/lib/cloud/seed/nocloud/user-data": user_data,
            "/var/lib/cloud/seed/nocloud/meta-data": f"instance-id: i-0123456789abcdef0\nlocal-hostname: {SERVER}\n",
            "/usr/local/lib/fake-imds.py": machine.FAKE_IMDS,
        },
        0o644,
    )
    server.out(f": > {RECORD} && chmod 0666 {RECORD}")  # the docker stand-in records the admin's calls too
    subprocess.run(["docker", "exec", "-d", server.name, "python3", "/usr/local/lib/fake-imds.py", machine.IMDS_TAGS,
                    machine.IMDS_LOG], check=True, timeout=30)  # fmt: skip
    _wait_for(server, "curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 1' "
              "http://169.254.169.254/latest/api/token", "the fake metadata service")  # fmt: skip
    server.out(f": > {machine.IMDS_LOG}")
    # No mirror answers here (apt-get is a stand-in): only the public address can end the wait for the internet.
    server.out("echo '127.0.0.1 deb.debian.org' >> /etc/hosts")
    # udev's link for an EBS volume on a Nitro instance (the volume id, without its dash, is the serial).
    serial = VOLUME_ID.replace("-", "")
    if server.volume.loop is None:
        server.out(f"mknod {machine.DEVICE} b 259 1")
    server.out(
        f"mkdir -p /dev/disk/by-id && ln -s ../../nvme1n1 /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_{serial}"
    )

    for name, arguments in STAGES[:2]:
        boot.stages[name] = server.sh(f"cloud-init {arguments}")
        assert boot.stages[name].returncode == 0, f"cloud-init {arguments}: {boot.stages[name].stderr}"
    boot.docker_group_after_init = server.sh("getent group docker").stdout.strip()
    boot.keys_after_init = _authorized_keys(server)

    # What systemd starts once cloud-init's network stage is over: the queued unit(s), and sshd.
    for unit in server.out(f"ls {machine.UNIT_QUEUE}").split():
        boot.units[unit] = server.sh(f'sh -c "$(cat {machine.UNIT_QUEUE}/{unit})"')
    boot.keys_after_units = _authorized_keys(server)
    server.out("mkdir -p /run/sshd && /usr/sbin/sshd")
    boot.logins = {name: Finished.of(server.ssh(name, "echo in"), timeout=60) for name in (OLD_KEY, *TAG_KEYS)}

    if all(boot.logins[name].returncode == 0 for name in TAG_KEYS):
        _modules_under_old_sessions(boot, new_keys)
    else:  # no session can open (the keys test says why): the modules run all the same
        _modules(boot)
    return boot


def _modules(boot: Boot, eager: subprocess.Popen[str] | None = None) -> None:
    """cloud-init's config and final stages (noting whether the eager session still waits, after config)."""
    for name, arguments in STAGES[2:]:
        boot.stages[name] = boot.server.sh(f"cloud-init {arguments}")
        if name == "config" and eager is not None:
            boot.waiting_after_config = eager.poll() is None
    boot.keys_after_final = _authorized_keys(boot.server)


def _modules_under_old_sessions(boot: Boot, new_keys: list[str]) -> None:
    """`pulumi up` logs in as soon as sshd takes its key: two such sessions run the readiness check."""
    server = boot.server
    readiness = host_setup.remote_command(cloud_init.ADMIN_USER, 22, after_cloud_init=True)
    server.out(f"install -d -o {ADMIN} -m 0755 {SESSION} && mkfifo -m 0644 {SESSION}/gate")
    with tempfile.NamedTemporaryFile("w", prefix="constellab-prepare-", suffix=".sh") as script:
        script.write(host_setup.prepare_script(new_keys))  # the standard input `HostPreparation` sends
        script.flush()
        with open(script.name) as eager_stdin, open(script.name) as gated_stdin:
            eager = server.ssh(TAG_KEYS[1], readiness, stdin=eager_stdin.fileno())
            gated = server.ssh(TAG_KEYS[0], _gated(readiness), stdin=gated_stdin.fileno())
    try:
        _wait_for(server, f"test -s {SESSION}/groups-at-login", "the old session's login", gated)
        _wait_for(server, f"pgrep -u {ADMIN} -f 'cloud-init status --wait'", "the readiness check's wait", eager)
        boot.waiting_before_modules = eager.poll() is None
        _modules(boot, eager)
        boot.eager = Finished.of(eager, timeout=120)
        server.sh(f"echo go > {SESSION}/gate", timeout=30)
        boot.old_session = Finished.of(gated, timeout=120)
    finally:
        for process in (eager, gated):
            if process.poll() is None:
                process.kill()
                process.communicate()


@pytest.fixture(scope="module")
def boot() -> Iterator[Boot]:
    tag = machine.image()
    with machine.data_volume() as volume:
        server = CloudServer(tag, volume)
        try:
            yield _first_boot(server)
        finally:
            server.remove()


def test_every_stage_of_cloud_init_succeeds_and_its_status_says_done(boot: Boot):
    for name, arguments in STAGES:
        assert boot.stages[name].returncode == 0, f"cloud-init {arguments}:\n{boot.stages[name].stderr[-3000:]}"
    status = boot.server.sh("cloud-init status --wait --long")
    assert status.returncode in (0, 2), status.stdout + status.stderr
    assert "status: done" in status.stdout
    result = json.loads(boot.out("cat /run/cloud-init/result.json"))["v1"]
    assert result["errors"] == [], result
    assert boot.out("hostname") == SERVER


def test_the_docker_group_has_gid_999_from_before_the_engine_was_installed(boot: Boot):
    assert boot.docker_group_after_init == "", "no docker group before the preparation"
    assert boot.out("getent group docker") == f"docker:x:{lab_host.DOCKER_GID}:{ADMIN}"
    installs = [call for call in boot.out(f"cat {RECORD}").splitlines() if " docker.io " in f"{call} "]
    assert installs == [f"apt-get install -y -q docker.io docker-compose (docker gid: {lab_host.DOCKER_GID})"], (
        "installed once, with the group at 999 already"
    )
    journal = boot.out("getent group systemd-journal").split(":")
    assert journal[2] != str(lab_host.DOCKER_GID), "Debian's systemd-journal gave GID 999 up"


def test_the_data_volume_is_formatted_and_mounted_at_app_with_the_acme_store_bound_from_it(boot: Boot):
    if boot.server.volume.loop is None:
        pytest.skip(boot.server.volume.missing_reason)
    assert boot.out("findmnt -no SOURCE,FSTYPE /app").split() == [machine.DEVICE, "ext4"]
    assert boot.out(f"blkid -s LABEL -o value {machine.DEVICE}") == "constellab-data"
    uuid = boot.out(f"blkid -s UUID -o value {machine.DEVICE}")
    fstab = boot.out("cat /etc/fstab").splitlines()
    assert f"UUID={uuid} /app ext4 defaults,nofail 0 2" in fstab
    assert boot.out(f"findmnt -no SOURCE {lab_host.ACME_HOST_DIR}") == f"{machine.DEVICE}[/letsencrypt]"
    assert boot.out("findmnt -no TARGET -T /app/docker") == "/app", "Docker's data root is on the volume"
    assert boot.out("stat -c %a /app/letsencrypt") == "700"
    imds = boot.out(f"cat {machine.IMDS_LOG}").splitlines()
    assert f"GET /latest/meta-data/tags/instance/{cloud_init.DATA_VOLUME_TAG} token=valid" in imds


def test_the_folders_and_daemon_json_are_lab_configurers(boot: Boot):
    for folder, user_owned in lab_host.HOST_FOLDERS:
        assert boot.out(f"stat -c %U:%G {folder}") == (f"{ADMIN}:{ADMIN}" if user_owned else "root:root"), folder
    assert json.loads(boot.out("cat /etc/docker/daemon.json")) == lab_host.DOCKER_DAEMON


def test_the_admin_logs_in_with_exactly_the_keys_of_the_tags_and_the_old_key_is_gone(boot: Boot):
    old, new = boot.keys[OLD_KEY], [boot.keys[name] for name in TAG_KEYS]
    assert boot.keys_after_init == [old], "cloud-init's own key module installed the user data's key"
    assert {name: unit.returncode for name, unit in boot.units.items()} == {f"{cloud_init.KEYS_UNIT}.service": 0}
    assert boot.keys_after_units == new, "the keys unit replaced it with the tags' keys"
    assert boot.keys_after_final == new and _authorized_keys(boot.server) == new
    # sshd itself, at boot and at the end: the old key is refused, each new one (RSA from 5 tags) let in.
    for logins in (boot.logins, {name: Finished.of(boot.server.ssh(name, "echo in"), 60) for name in boot.keys}):
        refused = logins[OLD_KEY]
        assert refused.returncode == 255 and "Permission denied (publickey" in refused.stderr, refused
        for name in TAG_KEYS:
            assert (logins[name].returncode, logins[name].stdout) == (0, "in\n"), logins[name].stderr
    imds = [line for line in boot.out(f"cat {machine.IMDS_LOG}").splitlines() if "ttl=60" not in line]
    imds = [line for line in imds if "public-ipv4" not in line]  # the wait for the address, before the keys
    assert imds[0] == "PUT /latest/api/token ttl=300", "IMDSv2: a token first"
    assert all(line.endswith("token=valid") for line in imds if line.startswith("GET")), imds


def test_the_readiness_check_passes_in_a_session_opened_before_the_admin_joined_the_docker_group(boot: Boot):
    session = boot.old_session
    assert session is not None, "no session opened: the tags' keys do not log in"
    assert session.returncode == 0, session.stderr
    assert session.stdout.strip().splitlines()[-2:] == [host_setup.READY_MARKER, ENGINE_VERSION]
    assert "docker" not in boot.session("groups-at-login").split(), "the session predates the group"
    assert "docker" not in boot.session("groups-at-check").split(), "and its groups never change"
    # The former readiness check, `docker version` in that same session, is refused by the socket.
    assert boot.session("former-check.rc") == "1"
    assert "connect: permission denied" in boot.session("former-check")
    # A new login has the group, and the former check passes there.
    fresh = Finished.of(boot.server.ssh(TAG_KEYS[0], "id -nG; docker version --format '{{.Server.Version}}'"), 60)
    assert fresh.returncode == 0, fresh.stderr
    groups, version = fresh.stdout.strip().splitlines()
    assert "docker" in groups.split() and version == ENGINE_VERSION


def test_the_readiness_command_itself_waits_for_cloud_init_to_finish(boot: Boot):
    assert boot.waiting_before_modules and boot.waiting_after_config, "still in `cloud-init status --wait`"
    eager = boot.eager
    assert eager is not None, "no session opened: the tags' keys do not log in"
    assert eager.returncode == 0, eager.stderr
    assert eager.stdout.strip().splitlines()[-2:] == [host_setup.READY_MARKER, ENGINE_VERSION]


def test_the_first_boot_waits_for_its_public_address_before_the_packages(boot: Boot):
    imds = boot.out(f"cat {machine.IMDS_LOG}").splitlines()
    asked = [line for line in imds if line.startswith("GET /latest/meta-data/public-ipv4")]
    assert len(asked) == 3 and all(line.endswith("token=valid") for line in asked), "until the third answer had it"
    assert boot.stages["init"].returncode == 0
