"""`constellab/cloud_init.py`: a cloud server's user data, read as data and checked by Debian's `cloud-init
schema` (the real first boot runs in test_cloud_init_live.py)."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from constellab import cloud_init, host_setup
from tests.conftest import acme, tool


def user_data() -> str:
    platform = acme()
    lab = platform.labs[0]
    return cloud_init.render_user_data(
        server_name=lab.name,
        ssh_public_keys=list(platform.ssh_public_keys),
    )


def test_user_data_mounts_the_data_volume_then_prepares_the_host():
    document = yaml.safe_load(user_data())
    commands = [" ".join(command) for command in document["runcmd"]]
    first_boot = next(c for c in commands if host_setup.PREPARE_SCRIPT_PATH in c)
    assert first_boot.startswith("sh -ec"), "one shell that stops at the first failure"
    assert first_boot.index("constellab-mount-data &&") < first_boot.index(host_setup.PREPARE_SCRIPT_PATH)
    assert "docker.io" not in document["packages"], "the docker group must get GID 999 before Docker's package"
    files = {f["path"]: f["content"] for f in document["write_files"]}
    script = files["/usr/local/sbin/constellab-mount-data"]
    assert "meta-data/tags/instance/constellab-data-volume" in script, "the volume's id is a tag, not user data"
    assert "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_$volume_serial" in script
    assert 'if ! blkid "$device"' in script, "an existing filesystem is never formatted again"
    assert "/app/letsencrypt /srv/letsencrypt none bind" in script, "the ACME store outlives the instance"
    units = files["/etc/systemd/system/docker.service.d/10-constellab-data.conf"]
    assert "RequiresMountsFor=/app" in units, "Docker never starts on an unmounted /app"
    assert files[host_setup.PREPARE_SCRIPT_PATH] == host_setup.prepare_script()
    assert "DOCKER-USER" not in user_data(), "the firewall comes with the preparation over SSH, before containers"


def test_every_boot_installs_the_tags_keys_once_cloud_init_made_the_user():
    document = yaml.safe_load(user_data())
    wait, queued = document["bootcmd"]
    assert wait == ["sh", "-c", cloud_init.WAIT_FOR_INTERNET], "first, the internet for the first boot's packages"
    assert queued[:2] == ["systemd-run", "--no-block"], "bootcmd must not wait for the stage it runs in"
    assert "--property=After=cloud-init-network.service cloud-init.service network-online.target" in queued
    assert queued[-3:] == ["/bin/sh", cloud_init.KEYS_SCRIPT_PATH, "admin"]
    files = {f["path"]: f["content"] for f in document["write_files"]}
    script = files[cloud_init.KEYS_SCRIPT_PATH]
    assert "meta-data/tags/instance" in script and "grep '^constellab-ssh-keys-' | sort" in script
    assert host_setup.INSTALL_KEYS in script


def cloud_init_schema(tmp_path, document: str) -> subprocess.CompletedProcess[str]:
    """Runs Debian's `cloud-init schema` on a user-data document."""
    cloud_init_cli = tool("cloud-init")
    path = tmp_path / "user-data.yaml"
    path.write_text(document)
    return subprocess.run([cloud_init_cli, "schema", "--config-file", str(path)], capture_output=True, text=True)


@pytest.mark.slow
def test_user_data_passes_cloud_init_schema(tmp_path):
    result = cloud_init_schema(tmp_path, user_data())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid" in result.stdout


@pytest.mark.slow
def test_cloud_init_schema_rejects_a_broken_document(tmp_path):
    """Proves the check above can fail: cloud-init must refuse an invalid key type."""
    result = cloud_init_schema(tmp_path, user_data().replace("package_update: true", "package_update: sometimes"))
    assert result.returncode != 0
