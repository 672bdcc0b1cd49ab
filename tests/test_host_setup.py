"""`constellab/host_setup.py`: the host preparation script, read as text (it runs for real in
test_host_preparation_live.py)."""

from __future__ import annotations

import json

from constellab import host_setup


def test_the_preparation_gives_docker_gid_999_then_writes_daemon_json_then_installs_docker():
    script = host_setup.prepare_script()
    group = script.index("groupadd -g 999 docker")
    daemon = script.index("cat > /etc/docker/daemon.json")
    install = script.index("apt-get install -y -q docker.io docker-compose")
    assert group < daemon < install
    logs_only, full = (part.split("JSON\n", 1)[0] for part in script[daemon:].split("<<'JSON'\n")[1:3])
    assert json.loads(full) == {
        "log-driver": "json-file",
        "log-opts": {"max-size": "1m", "max-file": "3"},
        "data-root": "/app/docker",
    }
    # A host whose Docker already keeps containers elsewhere keeps its data root (moving it would hide them).
    assert json.loads(logs_only) == {"log-driver": "json-file", "log-opts": {"max-size": "1m", "max-file": "3"}}
    for folder, owner in (("/app", '"$login_user:$group"'), ("/app/dev", '"$login_user:$group"'),
                          ("/app/dev/etc-ssh", "-R root:root"), ("/app/docker", "-R root:root")):  # fmt: skip
        assert f"mkdir -p {folder}\n" in script and f"chown {owner} {folder}\n" in script
    assert 'for port in "$ssh_port" $session_port; do ufw allow "$port/tcp"; done' in script
    assert "ufw allow 443/tcp" in script and 'if [ "$firewall" = none ]' in script
    assert "unattended-upgrades" in script
