"""A Debian 13 cloud server in a container, for cloud-init's own modules over the rendered user data.

Real, from Debian 13's packages: cloud-init (its four stages, its NoCloud datasource, its user, key,
file, package and script modules), configured as Debian's AWS images configure it (the default user
`admin`, `01_debian_cloud.cfg` below); `sudo`, OpenSSH's `sshd` and `ssh` (logins are real SSH
sessions with real keys), `curl`, `getent`/`groupadd`/`groupmod`/`usermod`, util-linux's `blkid`,
`mount`, `mountpoint`, e2fsprogs' `mkfs.ext4`. Where this machine can attach a loop device, the data
volume is a real block device at the path an EBS volume has on a Nitro instance, so the mount script
formats and mounts it for real.

Stand-ins, each for something a container cannot have or must not do to this machine:
- `systemctl`, `systemd-run`: there is no init system. `systemctl` records its calls; `start docker`
  creates the engine's socket as Debian's `docker.socket` does (root:docker, 0660); `enable --now`
  refuses a unit file that does not exist but starts nothing. `systemd-run` records the transient
  unit and queues its command: the flow runs the queue right after cloud-init's network stage, when
  systemd would start it (it is ordered after that stage).
- `apt-get`: nothing is downloaded (of the packages the user data lists, all but apt-listchanges and
  ufw are in the image from Debian already). It records each call with the docker group's GID at
  that moment; installing `docker.io` creates the group as Debian's package would when it is
  missing, and puts the engine's stand-ins in place.
- the Docker engine (`dockerd`, `docker`): no engine runs inside. The `docker` stand-in refuses a
  caller who may not write the socket, as connect(2) refuses one on the real socket, so a login
  session whose groups were fixed before its user joined `docker` is refused as on a real server.
- `ufw`: no kernel firewall is changed; its state is a file.
- the EC2 instance metadata service: a small HTTP server on 169.254.169.254:80 inside the container
  (the address on its loopback), IMDSv2 only (a token from `PUT /latest/api/token`, required on every
  GET), answering the instance tags (`/latest/meta-data/tags/instance[/<key>]`).
- udev: the `/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_<serial>` link of the EBS volume.
- cloud-init's network configuration is disabled: the container's network is Docker's.
Without a loop device, a tmpfs is mounted at /app and `blkid`/`mkfs.ext4` stand-ins answer for a
device node: then the formatting and the mount of the data volume are not exercised (`DataVolume`).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import docker_harness as harness
from tests.conftest import missing

REPOSITORY = "constellab-test/debian-trixie"
"""debootstrap's minbase output, shared with the host preparation's live test (a cache)."""
ROOTFS_STAND_INS = ("./usr/local/bin/*", "./opt/engine")
"""What the host preparation's test writes into the shared rootfs: never part of this image."""
PACKAGES = (
    "cloud-init",
    "sudo",
    "openssh-server",
    "openssh-client",
    "curl",
    "ca-certificates",
    "unattended-upgrades",
    "iproute2",
    "e2fsprogs",
    "procps",
)
"""From Debian 13, as a Debian cloud image has them (iproute2: the metadata address; procps: pgrep)."""

ADMIN = "admin"
ENGINE_VERSION = "26.1.5+dfsg1"
"""What the engine's stand-in reports: the version of Debian 13's docker.io."""
RECORD = "/var/log/stand-ins"
UNIT_QUEUE = "/run/stand-ins/units"
IMDS_LOG = "/var/log/fake-imds.log"
IMDS_TAGS = "/etc/fake-imds/tags"
"""One tag per file, named by its key: what the fake metadata service answers."""
DEVICE = "/dev/nvme1n1"
"""The data volume inside the container, as a Nitro instance's second NVMe disk."""

DEBIAN_CLOUD_CFG = """\
# As Debian's AWS images (debian-cloud-images, config_space/files/etc/cloud/cloud.cfg.d/01_debian_cloud.cfg/EC2)
system_info:
  default_user:
    name: admin
    lock_passwd: True
    gecos: Debian
    groups: [adm, audio, cdrom, dialout, dip, floppy, plugdev, sudo, video]
    sudo: ["ALL=(ALL) NOPASSWD:ALL"]
    shell: /bin/bash
"""
TEST_CLOUD_CFG = """\
# The test's machine: the user data comes from the NoCloud seed, the network from Docker.
datasource_list: [NoCloud]
network: {config: disabled}
"""

_SYSTEMCTL = f"""echo "systemctl $*" >> {RECORD}
case "$*" in
  "start docker"|"restart docker")
    command -v dockerd >/dev/null \\
      || {{ echo "Failed to start docker.service: Unit docker.service not found." >&2; exit 5; }}
    # docker.socket: ListenStream=/run/docker.sock, SocketMode=0660, SocketGroup=docker
    install -m 0660 -o root -g docker /dev/null /run/docker.sock ;;
  "enable --now "*)
    unit="${{3%.service}}.service"
    [ -e "/etc/systemd/system/$unit" ] || [ -e "/usr/lib/systemd/system/$unit" ] \\
      || {{ echo "Failed to enable unit: Unit file $unit does not exist." >&2; exit 1; }} ;;
esac
"""
_SYSTEMD_RUN = f"""echo "systemd-run $*" >> {RECORD}
unit="run-$$"
while [ $# -gt 0 ]; do
  case "$1" in --unit=*) unit="${{1#--unit=}}"; shift ;; --*) shift ;; *) break ;; esac
done
mkdir -p {UNIT_QUEUE}
for argument in "$@"; do
  printf "'%s' " "$(printf '%s' "$argument" | sed "s/'/'\\\\\\\\''/g")"
done > "{UNIT_QUEUE}/$unit.service"
echo "Running as unit: $unit.service" >&2
"""
_APT_GET = f"""echo "apt-get $* (docker gid: $(getent group docker | cut -d: -f3))" >> {RECORD}
case " $* " in
  *" docker.io "*)
    getent group docker >/dev/null || groupadd --system docker  # as docker.io's postinst
    cp /opt/engine/docker /opt/engine/dockerd /usr/local/bin/ ;;
esac
"""
_UFW = f"""echo "ufw $*" >> {RECORD}
case "$1" in
  status) if [ -e /var/lib/ufw-active ]; then echo "Status: active"; else echo "Status: inactive"; fi ;;
  --force) touch /var/lib/ufw-active ;;
esac
"""
_DOCKER = f"""echo "docker $*" >> {RECORD}
if [ ! -e /run/docker.sock ]; then
  echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
  exit 1
fi
if [ ! -w /run/docker.sock ]; then
  echo "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock:" \\
    "Get \\"http://%2Fvar%2Frun%2Fdocker.sock/v1.45/version\\":" \\
    "dial unix /var/run/docker.sock: connect: permission denied" >&2
  exit 1
fi
case "$*" in
  "version --format {{{{.Server.Version}}}}") echo {ENGINE_VERSION} ;;
  version*) printf 'Client:\\n Version: {ENGINE_VERSION}\\n\\nServer:\\n Engine:\\n  Version: {ENGINE_VERSION}\\n' ;;
  info*) sed -n 's/.*"data-root": *"\\([^"]*\\)".*/\\1/p' /etc/docker/daemon.json 2>/dev/null | grep . \\
    || echo /var/lib/docker ;;
esac
"""
_DOCKERD = f'echo "dockerd $*" >> {RECORD}\n'
# Only without a loop device: a device node no one may open, answered for by these two.
_BLKID = f"""echo "blkid $*" >> {RECORD}
[ -e /var/lib/stand-in-mkfs ] || exit 2
case "$*" in
  "-s UUID -o value "*) echo 0b7d3a52-5a4e-4c1e-9a0e-6f3f1f7c2d11 ;;
  *) echo "$1: LABEL=\\"constellab-data\\" UUID=\\"0b7d3a52-5a4e-4c1e-9a0e-6f3f1f7c2d11\\" TYPE=\\"ext4\\"" ;;
esac
"""
_MKFS = f'echo "mkfs.ext4 $*" >> {RECORD}\ntouch /var/lib/stand-in-mkfs\n'

FAKE_IMDS = '''\
"""The EC2 instance metadata service, IMDSv2 only, for the instance tags (and nothing else)."""
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TAGS = {name: open(os.path.join(sys.argv[1], name)).read() for name in os.listdir(sys.argv[1])}
TOKEN = "AQAEAConstellabTestToken=="
PREFIX = "/latest/meta-data/tags/instance"
PUBLIC_IPV4 = "/latest/meta-data/public-ipv4"
ASKED = {"public-ipv4": 0}
"""The Elastic IP is associated a little after the boot started: the first two answers have none."""
LOG = open(sys.argv[2], "a", buffering=1)


class Handler(BaseHTTPRequestHandler):
    def answer(self, status, body=""):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass

    def do_PUT(self):
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        LOG.write(f"PUT {self.path} ttl={ttl}\\n")
        if self.path != "/latest/api/token":
            return self.answer(404)
        if not ttl:
            return self.answer(400)
        return self.answer(200, TOKEN)

    def do_GET(self):
        token = self.headers.get("X-aws-ec2-metadata-token")
        LOG.write(f"GET {self.path} token={'valid' if token == TOKEN else token}\\n")
        if token != TOKEN:
            return self.answer(401)
        if self.path == PREFIX:
            return self.answer(200, "\\n".join(sorted(TAGS)))
        if self.path == PUBLIC_IPV4:
            ASKED["public-ipv4"] += 1
            return self.answer(200, "203.0.113.7") if ASKED["public-ipv4"] > 2 else self.answer(404)
        name = self.path[len(PREFIX) + 1 :] if self.path.startswith(PREFIX + "/") else None
        if name in TAGS:
            return self.answer(200, TAGS[name])
        return self.answer(404)


ThreadingHTTPServer(("169.254.169.254", 80), Handler).serve_forever()
'''


def _script(body: str) -> str:
    return "#!/bin/sh\nset -eu\n" + body


STAND_INS: dict[str, str] = {
    "/usr/local/bin/systemctl": _script(_SYSTEMCTL),
    "/usr/local/bin/systemd-run": _script(_SYSTEMD_RUN),
    "/usr/local/bin/apt-get": _script(_APT_GET),
    "/usr/local/bin/ufw": _script(_UFW),
    "/opt/engine/docker": "#!/bin/sh\n" + _DOCKER,
    "/opt/engine/dockerd": _script(_DOCKERD),
}
NO_DEVICE_STAND_INS: dict[str, str] = {
    "/usr/local/sbin/blkid": "#!/bin/sh\n" + _BLKID,
    "/usr/local/sbin/mkfs.ext4": _script(_MKFS),
}


def image() -> str:
    """Debian 13 (debootstrap minbase) with `PACKAGES` from Debian; built once per package list, then cached."""
    if not harness.docker_ready():
        missing("no Docker engine answers `docker version` (CI's .ci/run starts one)")
    tag = f"{REPOSITORY}:cloud-init-{hashlib.sha256(' '.join(PACKAGES).encode()).hexdigest()[:12]}"
    if harness.docker("image", "inspect", tag, check=False).returncode == 0:
        return tag
    base = f"{REPOSITORY}:cloud-init-base"
    if harness.docker("image", "inspect", base, check=False).returncode != 0:
        _import_rootfs(base)
    builder = f"constellab-test-cloud-init-build-{os.getpid()}"
    install = (
        "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "
        + " ".join(PACKAGES)
        + " && apt-get clean"
    )
    try:
        built = harness.docker("run", "--name", builder, "--label", f"{harness.TEST_LABEL}=cloud-init-build", base,
                               "sh", "-c", install, check=False, timeout=900)  # fmt: skip
        if built.returncode != 0:
            pytest.fail(
                f"installing Debian's {' '.join(PACKAGES)} failed:\n{built.stdout[-3000:]}\n{built.stderr[-2000:]}"
            )
        harness.docker("commit", "--change", 'CMD ["sleep", "infinity"]', builder, tag, timeout=600)
    finally:
        harness.docker("rm", "--force", builder, check=False)
    return tag


def _import_rootfs(tag: str) -> None:
    rootfs = harness.debian_rootfs()
    excludes = [f"--exclude={pattern}" for pattern in ROOTFS_STAND_INS]
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", *excludes, "."], stdout=subprocess.PIPE)
    imported = subprocess.run(["docker", "import", "-", tag], stdin=tar.stdout, capture_output=True, text=True)
    tar.wait()
    if imported.returncode != 0 or tar.returncode != 0:
        pytest.fail(f"docker import of the Debian rootfs failed: {imported.stderr}")


@dataclass(frozen=True)
class DataVolume:
    """The block device given to the container as the data volume, or why there is none."""

    loop: str | None
    missing_reason: str = ""


@contextmanager
def data_volume(size_mib: int = 64) -> Iterator[DataVolume]:
    """A blank file on a loop device of this machine (detached afterwards), where one can be attached."""
    folder = Path(tempfile.mkdtemp(prefix="constellab-data-volume-", dir="/var/tmp"))
    backing = folder / "volume.img"
    with backing.open("wb") as blank:
        blank.truncate(size_mib * 1024 * 1024)
    losetup = ["losetup"] if os.geteuid() == 0 else ["sudo", "-n", "losetup"]
    loop = None
    reason = ""
    try:
        attached = subprocess.run([*losetup, "--find", "--show", str(backing)], capture_output=True, text=True,
                                  timeout=60)  # fmt: skip
        if attached.returncode == 0 and attached.stdout.strip().startswith("/dev/loop"):
            loop = attached.stdout.strip()
        else:
            reason = (attached.stderr or attached.stdout).strip() or f"exit {attached.returncode}"
    except (OSError, subprocess.TimeoutExpired) as error:
        reason = str(error)
    try:
        yield DataVolume(
            loop,
            ""
            if loop
            else (
                f"no block device for the data volume in this sandbox (`losetup --find` failed: {reason}): a tmpfs "
                "stands in at /app, and the mount script's mkfs.ext4, fstab resolution and mount of the volume are "
                "not exercised"
            ),
        )
    finally:
        if loop:
            subprocess.run([*losetup, "--detach", loop], capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


class CloudServer:
    """One container booted like a new cloud server; removed by `remove`."""

    def __init__(self, image_tag: str, volume: DataVolume) -> None:
        self.name = f"constellab-test-cloud-init-{os.getpid()}"
        self.volume = volume
        harness.docker("rm", "--force", self.name, check=False)
        disk = ["--device", f"{volume.loop}:{DEVICE}"] if volume.loop else ["--tmpfs", "/app:rw,mode=0755"]
        harness.docker(
            "run", "-d", "--name", self.name, "--label", f"{harness.TEST_LABEL}=cloud-init",
            "--hostname", "ip-10-0-1-23",
            "--cap-add", "SYS_ADMIN",  # mount(2): the data volume, its bind mount; the hostname
            "--cap-add", "NET_ADMIN",  # the metadata service's address on the loopback
            "--security-opt", "apparmor=unconfined",  # Docker's AppArmor profile refuses mount(2)
            *disk, image_tag, "sleep", "infinity",
        )  # fmt: skip

    def sh(self, command: str, *, user: str = "root", timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", "exec", "-u", user, self.name, "sh", "-c", command], capture_output=True,
                              text=True, timeout=timeout)  # fmt: skip

    def out(self, command: str, *, user: str = "root") -> str:
        done = self.sh(command, user=user)
        assert done.returncode == 0, f"{command}: {done.stdout}\n{done.stderr}"
        return done.stdout.strip()

    def put(self, files: Mapping[str, str], mode: int = 0o755) -> None:
        """Writes files (root's, `mode`), their folders first."""
        folders = sorted({str(Path(path).parent) for path in files})
        self.out("mkdir -p " + " ".join(folders))
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for path, content in files.items():
                data = content.encode()
                info = tarfile.TarInfo(path.lstrip("/"))
                info.size = len(data)
                info.mode = mode
                archive.addfile(info, io.BytesIO(data))
        subprocess.run(["docker", "cp", "-", f"{self.name}:/"], input=buffer.getvalue(), check=True, timeout=60)

    def ssh(self, key: str, command: str, stdin: int | None = None) -> subprocess.Popen[str]:
        """A real SSH login as the admin user, from the container itself, with one of root's keys."""
        return subprocess.Popen(
            ["docker", "exec", "-i", self.name, "ssh", "-i", f"/root/keys/{key}", "-o", "BatchMode=yes",
             "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "LogLevel=ERROR", f"{ADMIN}@127.0.0.1", command],
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip

    def remove(self) -> None:
        harness.docker("rm", "--force", self.name, check=False)
