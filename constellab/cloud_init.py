"""Cloud-init user data for a cloud server: data volume at /app first, then the lab host's preparation.

Order matters. The data volume is attached after the instance boots, so the mount script waits for
it; it formats the volume only when it holds no filesystem (a replaced instance finds its data
intact). The preparation (`host_setup`, the same script on-prem servers get over SSH) runs after the
mount: the docker group at GID 999, daemon.json with its data root on the volume, Docker and Compose,
the /app folders, unattended upgrades and the firewall, so nothing Docker writes lands on the root disk.
The limits on Docker's traffic (`host_firewall`: who reaches the instance role) come with the preparation
over SSH, before any container exists.
"""

from __future__ import annotations

from constellab import host_setup, lab_host, ssh_keys, yaml_io
from constellab.naming import DATA_ROOT

CLOUD_DATA_ROOT = DATA_ROOT
MOUNT_SCRIPT_PATH = host_setup.MOUNT_SCRIPT_PATH
KEYS_SCRIPT_PATH = "/usr/local/sbin/constellab-ssh-keys"
KEYS_UNIT = "constellab-ssh-keys"
DATA_VOLUME_TAG = "constellab-data-volume"
"""Instance tag holding the data volume's id; the metadata service shows it (`instance_metadata_tags`)."""
ADMIN_USER = "admin"
"""The default user of Debian's cloud images (uid 1000); Pulumi reaches Docker over SSH as this user."""
ACME_ON_VOLUME = f"{DATA_ROOT}/letsencrypt"
"""The proxy's ACME store lives on the data volume, bind-mounted where upstream mounts it from
(`/srv/letsencrypt`): a replaced instance keeps its certificates instead of asking Let's Encrypt again."""

_MOUNT_SCRIPT = """#!/bin/sh
# Waits for the data volume, formats it only if it is blank, mounts it at {root} for good.
set -eu
# The volume's id is the instance's tag {tag} (instance metadata tags): the user data never changes with it.
metadata="curl -sf --retry 10 --retry-connrefused --retry-delay 3"
token=$($metadata -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 300" http://169.254.169.254/latest/api/token) || true
volume_id=$($metadata -H "X-aws-ec2-metadata-token: $token" \
  http://169.254.169.254/latest/meta-data/tags/instance/{tag}) || true
if [ -z "$volume_id" ]; then echo "constellab: no {tag} tag in the instance metadata" >&2; exit 1; fi
volume_serial=$(echo "$volume_id" | tr -d -)
device=""
for attempt in $(seq 1 180); do
  for candidate in "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_$volume_serial" /dev/xvdf /dev/sdf; do
    if [ -b "$candidate" ]; then device="$candidate"; break 2; fi
  done
  sleep 5
done
if [ -z "$device" ]; then echo "constellab: data volume $volume_id never appeared" >&2; exit 1; fi
if ! blkid "$device" >/dev/null 2>&1; then mkfs.ext4 -q -L constellab-data "$device"; fi
uuid=$(blkid -s UUID -o value "$device")
mkdir -p {root}
grep -q "UUID=$uuid" /etc/fstab || echo "UUID=$uuid {root} ext4 defaults,nofail 0 2" >> /etc/fstab
systemctl daemon-reload
mountpoint -q {root} || mount {root}
mkdir -p {acme_volume} {acme_host}
chmod 0700 {acme_volume}
bind="{acme_volume} {acme_host} none bind,nofail,x-systemd.requires-mounts-for={root} 0 0"
grep -q " {acme_host} " /etc/fstab || echo "$bind" >> /etc/fstab
systemctl daemon-reload
mountpoint -q {acme_host} || mount {acme_host}
"""

_KEYS_SCRIPT = """#!/bin/sh
# The admin user logs in with exactly the keys in this instance's tags {prefix}NN (base64 pieces):
# the current ones, even on an instance that booted with the user data of the one it replaced.
set -eu
user="$1"
metadata="curl -sf --retry 10 --retry-connrefused --retry-delay 3"
token=$($metadata -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 300" http://169.254.169.254/latest/api/token)
tags=$($metadata -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/tags/instance)
encoded=""
for tag in $(printf '%s\\n' "$tags" | grep '^{prefix}' | sort); do
  encoded="$encoded$($metadata -H "X-aws-ec2-metadata-token: $token" \\
    "http://169.254.169.254/latest/meta-data/tags/instance/$tag")"
done
{install_keys}
printf '%s' "$encoded" | base64 -d | install_keys "$user"
echo "constellab: authorized_keys of $user from the instance's tags"
"""

# Docker must never start on an unmounted /app: it would create an empty data root on the root disk.
_DOCKER_WAITS_FOR_DATA = f"""[Unit]
RequiresMountsFor={CLOUD_DATA_ROOT}
"""


WAIT_FOR_INTERNET = """command -v curl >/dev/null 2>&1 || exit 0
imds=http://169.254.169.254/latest
for attempt in $(seq 1 60); do
  token=$(curl -s -m 2 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' $imds/api/token || true)
  if [ -n "$token" ] && curl -sf -m 2 -H "X-aws-ec2-metadata-token: $token" $imds/meta-data/public-ipv4 >/dev/null
  then exit 0; fi
  curl -s -m 3 -o /dev/null http://deb.debian.org/ && exit 0
  sleep 5
done
echo 'constellab: neither a public address nor the Debian mirror after 5 minutes' >&2
"""
"""Every boot, before cloud-init's modules: until the instance has its public address (or, in a subnet with
a NAT gateway, reaches Debian's mirror), for 5 minutes at most."""


def render_user_data(*, server_name: str, ssh_public_keys: list[str]) -> str:
    """The `#cloud-config` document of a cloud server's first boot.

    It depends only on the server's identity, never on its container set nor its data volume (found by
    the instance tag `DATA_VOLUME_TAG`): cloud-init runs it once per instance, and the preparation
    reaches running servers over SSH afterwards.
    """
    mount_script = _MOUNT_SCRIPT.format(
        root=CLOUD_DATA_ROOT, tag=DATA_VOLUME_TAG, acme_volume=ACME_ON_VOLUME, acme_host=lab_host.ACME_HOST_DIR
    )
    document = {
        "hostname": server_name,
        # The new name resolves (sudo warns on every call otherwise): 127.0.1.1 in /etc/hosts.
        "manage_etc_hosts": "localhost",
        "package_update": True,
        "package_upgrade": True,
        # Not Docker: its package creates the docker group, which must first get GID 999 (runcmd).
        "packages": ["ca-certificates", "curl", "unattended-upgrades", "apt-listchanges", "ufw"],
        # The keys of a new instance's first boot; the tags' keys replace them as soon as the user exists.
        "ssh_authorized_keys": list(ssh_public_keys),
        # Every boot. bootcmd runs before cloud-init creates the user and writes the files, so it only queues
        # a unit that runs once cloud-init's init stage is over: seconds later, long before the first-boot
        # packages and scripts of the final stage.
        "bootcmd": [
            # The first boot's packages need the internet, which a new instance reaches through its Elastic IP:
            # Pulumi associates it once EC2 reports the instance running, seconds before or after this point.
            ["sh", "-c", WAIT_FOR_INTERNET],
            [
                "systemd-run",
                "--no-block",
                f"--unit={KEYS_UNIT}",
                # cloud-init-network.service on Debian 13 (cloud-init 24.3+), cloud-init.service before it.
                "--property=After=cloud-init-network.service cloud-init.service network-online.target",
                "--property=Wants=network-online.target",
                "/bin/sh",
                KEYS_SCRIPT_PATH,
                ADMIN_USER,
            ],
        ],
        "write_files": [
            {
                "path": KEYS_SCRIPT_PATH,
                "permissions": "0755",
                "owner": "root:root",
                "content": _KEYS_SCRIPT.format(prefix=ssh_keys.TAG_PREFIX, install_keys=host_setup.INSTALL_KEYS),
            },
            {
                "path": MOUNT_SCRIPT_PATH,
                "permissions": "0755",
                "owner": "root:root",
                "content": mount_script,
            },
            {
                "path": host_setup.PREPARE_SCRIPT_PATH,
                "permissions": "0755",
                "owner": "root:root",
                "content": host_setup.prepare_script(),
            },
            {
                "path": "/etc/systemd/system/docker.service.d/10-constellab-data.conf",
                "permissions": "0644",
                "content": _DOCKER_WAITS_FOR_DATA,
            },
        ],
        "runcmd": [
            # One shell that stops at the first failure: the host is never prepared without its data volume.
            ["sh", "-ec", f"{MOUNT_SCRIPT_PATH} && {host_setup.PREPARE_SCRIPT_PATH} {ADMIN_USER} 22 ufw"],
        ],
    }
    return "#cloud-config\n" + yaml_io.dump(document, sort_keys=False, width=200)
