"""The preparation of a lab host, as Constellab's lab-configurer does it, as one idempotent shell script.

lab-configurer prepares a server by hand (`utils/prepare_server.sh`, `utils/ensure_docker_gid.sh`,
`utils/init.sh`, `utils/docker/daemon.json`). The same steps run here from one script, safe to run again:
cloud-init runs it on a new cloud server, and `pulumi up` runs it over SSH on an on-prem server, which
may already run Docker:

1. the `docker` group gets GID 999 before the engine is installed (a group already at 999 moves to a
   free system GID, and files keep their group: unlike upstream's script, which only looks at GID 998
   and only fixes Docker's folders, this also works on Debian, where `systemd-journal` holds 999);
2. `/etc/docker/daemon.json` (json-file logs 1m x 3, data root `/app/docker`) is written when absent
   (an existing one is kept, as upstream does, with a warning when it differs);
3. Docker Engine and Compose are installed from the distribution when Docker is missing;
4. the login user joins the `docker` group; on a cloud server, its `authorized_keys` becomes exactly
   the stack's `sshPublicKeys` (a removed key goes; cloud-init's key module only runs at first boot);
5. `/app`, `/app/dev` (owned by the login user), `/app/dev/etc-ssh`, `/app/docker` (root);
6. unattended security upgrades;
7. the firewall (ufw): incoming denied but SSH, 80 and 443; an active ufw is kept, with 80 and 443 allowed;
8. what Docker routes past ufw, limited (`host_firewall`): Codelab's published SSH for the administrator
   networks only, and on a cloud server the instance role for the containers that use it only;
9. the read-only Docker API proxy Traefik reads the lab manager's labels through
   (`hostfiles/docker_proxy.py`), as a systemd service started before Docker, so the proxy's container
   never gets the socket.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from constellab import host_firewall, lab_host, ssh_keys

PREPARE_SCRIPT_PATH = "/usr/local/sbin/constellab-prepare-host"
MOUNT_SCRIPT_PATH = "/usr/local/sbin/constellab-mount-data"
"""Written by a cloud server's cloud-init: where it exists, the data volume must be mounted first."""
DAEMON_JSON = json.dumps(lab_host.DOCKER_DAEMON, indent=2) + "\n"
LOGS_ONLY_DAEMON_JSON = (
    json.dumps({k: v for k, v in lab_host.DOCKER_DAEMON.items() if k != "data-root"}, indent=2) + "\n"
)
"""For a host whose Docker already keeps containers elsewhere: moving its data root would hide them."""
AUTO_UPGRADES = 'APT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";\n'
READY_MARKER = "constellab-prepare: ready"

INSTALL_KEYS = r"""install_keys() {  # $1: user; stdin: the authorized_keys text, installed exactly and atomically
  home=$(getent passwd "$1" | cut -d: -f6)
  primary=$(id -gn "$1")
  install -d -m 0700 -o "$1" -g "$primary" "$home/.ssh"
  staged=$(mktemp "$home/.ssh/.authorized_keys.XXXXXX")
  cat > "$staged"
  [ -s "$staged" ] || { rm -f "$staged"; echo "constellab: no SSH key for $1: authorized_keys kept" >&2; return 1; }
  chown "$1:$primary" "$staged"
  chmod 0600 "$staged"
  mv -f "$staged" "$home/.ssh/authorized_keys"
}
"""
"""Shell function shared by the preparation and a cloud server's boot (`cloud_init`)."""

_SCRIPT = r"""#!/bin/sh
# Prepares a Constellab lab host as lab-configurer does; safe to run again.
# Usage: <login user> <ssh port> <firewall: ufw|none> [the port this SSH session came in on]
set -eu
login_user="$1"
ssh_port="${2:-22}"
firewall="${3:-ufw}"
session_port="${4:-}"
[ "$session_port" != "$ssh_port" ] || session_port=""  # reached on the port sshd listens on
log() { echo "constellab-prepare: $*"; }
warn() { echo "constellab-prepare: warning: $*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }
getent passwd "$login_user" >/dev/null || { echo "constellab-prepare: no user $login_user on this host" >&2; exit 1; }
if [ -x __MOUNT_SCRIPT__ ] && ! mountpoint -q __DATA_ROOT__; then
  echo "constellab-prepare: the data volume is not mounted at __DATA_ROOT__ (see __MOUNT_SCRIPT__'s output)" >&2
  exit 1
fi

regroup() {  # files of GID $1 get GID $2, on the filesystems a system keeps files on
  for fs in / /run /var /var/log /home __DATA_ROOT__; do
    [ -d "$fs" ] && find "$fs" -xdev -gid "$1" -exec chgrp -h "$2" {} + 2>/dev/null || true
  done
}

# 1. The docker group at GID __GID__, before the engine is installed.
current=$(getent group docker | cut -d: -f3 || true)
if [ "$current" != "__GID__" ]; then
  holder=$(getent group __GID__ | cut -d: -f1 || true)
  if [ -n "$holder" ]; then
    free=""
    for gid in $(seq 998 -1 100); do
      if ! getent group "$gid" >/dev/null; then free=$gid; break; fi
    done
    [ -n "$free" ] || { echo "constellab-prepare: no free system GID for group $holder" >&2; exit 1; }
    log "moving group $holder from GID __GID__ to $free"
    groupmod -g "$free" "$holder"
    regroup __GID__ "$free"
  fi
  if [ -z "$current" ]; then
    groupadd -g __GID__ docker
  else
    log "moving group docker from GID $current to __GID__"
    groupmod -g __GID__ docker
    regroup "$current" __GID__
    restart_docker=yes
  fi
fi

# 2. The engine's settings: capped json-file logs, data root on the data disk.
mkdir -p /etc/docker
if [ ! -e /etc/docker/daemon.json ]; then
  root=""
  if have dockerd; then root=$(docker info --format '{{.DockerRootDir}}' 2>/dev/null || echo /var/lib/docker); fi
  if [ -n "$root" ] && [ "$root" != "__DATA_ROOT__/docker" ]; then
    # Docker ran here already: its images, volumes and containers stay where they are.
    cat > /etc/docker/daemon.json <<'JSON'
__LOGS_ONLY_JSON__JSON
    warn "Docker already keeps its data in $root: it stays there; daemon.json caps the logs only"
    warn "the log settings apply at Docker's next restart (this one does not restart it for them)"
  else
    cat > /etc/docker/daemon.json <<'JSON'
__DAEMON_JSON__JSON
  fi
  chmod 0644 /etc/docker/daemon.json
  log "wrote /etc/docker/daemon.json"
elif ! grep -q '"data-root": *"__DATA_ROOT__/docker"' /etc/docker/daemon.json; then
  warn "/etc/docker/daemon.json is kept as it is, but its data-root is not __DATA_ROOT__/docker"
fi

# 3. Docker Engine with Compose, when Docker is missing.
if ! have dockerd; then
  if ! have apt-get; then
    echo "constellab-prepare: Docker is missing: install Docker Engine 20.10+ with Compose" >&2
    exit 1
  fi
  log "installing Docker Engine and Compose"
  # Standard input is this script (sh -s): no child may read it.
  apt-get update -q </dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io docker-compose </dev/null
elif ! docker compose version >/dev/null 2>&1; then
  # An engine installed by the site (Docker CE, say) is left as it is: a package of ours could conflict with it.
  warn "Docker Compose v2 is missing (docker compose version fails): install the site's compose plugin"
fi

# 4. The login user drives Docker, and logs in with exactly the declared keys (where they are declared).
usermod -aG docker "$login_user"
__KEYS__
# 5. The data folders and their owners (lab-configurer's init.sh).
group=$(id -gn "$login_user")
__FOLDERS__
# 6. Unattended security upgrades.
if have apt-get; then
  if ! dpkg -s unattended-upgrades >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q unattended-upgrades </dev/null
  fi
  cat > /etc/apt/apt.conf.d/20auto-upgrades <<'APT'
__AUTO_UPGRADES__APT
fi

# 7. The firewall: incoming denied but SSH and the web; an active one is kept, with the web allowed.
if [ "$firewall" = none ]; then
  log "firewall left to the site (firewall: none): allow only SSH, 80 and 443 in"
else
  if ! have ufw && have apt-get; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q ufw </dev/null; fi
  if have ufw; then
    if ufw status | grep -q "Status: active"; then
      log "ufw is active: kept, with 80 and 443 allowed"
    else
      ufw default deny incoming
      ufw default allow outgoing
      # The port sshd listens on may differ from the one reached through NAT: allow both, never lock out.
      for port in "$ssh_port" $session_port; do ufw allow "$port/tcp"; done
    fi
    ufw allow 80/tcp
    ufw allow 443/tcp
    ufw --force enable
    log "ufw: incoming denied but SSH ($ssh_port${session_port:+, $session_port}), 80 and 443"
  else
    warn "no ufw on this host: limit incoming traffic to SSH, 80 and 443 with your firewall"
  fi
fi

systemctl enable docker >/dev/null 2>&1 || true
if [ "${restart_docker:-no}" = yes ]; then systemctl restart docker; else systemctl start docker; fi
__DOCKER_FIREWALL____DOCKER_PROXY__echo "__READY__"
docker version --format '{{.Server.Version}}'
"""


def _folders() -> str:
    lines = []
    for folder, user_owned in lab_host.HOST_FOLDERS:
        quoted = shlex.quote(folder)
        lines.append(f"mkdir -p {quoted}")
        # As init.sh: only a folder with the wrong owner is changed. Root's folders are changed with
        # what is in them; Docker's data root is never walked when it already belongs to root.
        if user_owned:
            lines.append(f'[ "$(stat -c %U {quoted})" = "$login_user" ] || chown "$login_user:$group" {quoted}')
        else:
            lines.append(f'[ "$(stat -c %U {quoted})" = root ] || chown -R root:root {quoted}')
    return "\n".join(lines) + "\n"


def _keys_step(keys: Sequence[str] | None) -> str:
    if keys is None:
        return ""  # an on-prem site manages its own logins
    text = ssh_keys.authorized_keys(keys)
    return (
        f"{INSTALL_KEYS}install_keys \"$login_user\" <<'KEYS'\n{text}KEYS\n"
        f'log "authorized_keys of $login_user: {len(keys)} key(s)"\n'
    )


def _firewall_step(firewall: host_firewall.DockerFirewall | None) -> str:
    if firewall is None:
        return ""
    return (
        "# 8. What Docker routes past ufw, limited; loaded again whenever Docker starts.\n"
        f"cat > {host_firewall.SCRIPT_PATH} <<'FIREWALL'\n{firewall.script()}FIREWALL\n"
        f"chmod 0755 {host_firewall.SCRIPT_PATH}\n"
        f"cat > /etc/systemd/system/{host_firewall.UNIT} <<'UNIT'\n{host_firewall.UNIT_TEXT}UNIT\n"
        "systemctl daemon-reload\n"
        f"systemctl enable {host_firewall.UNIT} >/dev/null 2>&1 || true\n"
        # Run here rather than through systemd: a failure stops the preparation, with its message.
        f"{host_firewall.SCRIPT_PATH}\n"
    )


PROXY_SCRIPT_PATH = "/usr/local/sbin/constellab-docker-proxy"
PROXY_UNIT = "constellab-docker-proxy.service"
PROXY_UNIT_TEXT = f"""[Unit]
Description=Constellab: Traefik's read-only view of the Docker API
# Before Docker: the proxy's container (restart always) finds its folder when Docker starts it.
After=docker.socket
Before=docker.service
Wants=docker.socket
StartLimitIntervalSec=0

[Service]
ExecStart=/usr/bin/python3 -I {PROXY_SCRIPT_PATH} --listen {lab_host.DOCKER_PROXY_DIR}/docker-ro.sock \\
  --docker /var/run/docker.sock
Restart=always
RestartSec=2
RuntimeDirectory={lab_host.DOCKER_PROXY_DIR.rsplit("/", 1)[1]}
RuntimeDirectoryMode=0755
RuntimeDirectoryPreserve=yes
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
RestrictAddressFamilies=AF_UNIX
CapabilityBoundingSet=

[Install]
WantedBy=multi-user.target
"""


def _proxy_step(enabled: bool) -> str:
    if not enabled:
        return ""
    source = (Path(__file__).resolve().parent.parent / "hostfiles" / "docker_proxy.py").read_text()
    socket = f"{lab_host.DOCKER_PROXY_DIR}/docker-ro.sock"
    return (
        "# 9. Traefik's read-only view of the Docker API, a service of its own (restarted when it changes).\n"
        "if ! have python3 && have apt-get; then\n"
        "  DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-minimal </dev/null\n"
        "fi\n"
        "have python3 || { echo 'constellab-prepare: the Docker API proxy needs python3: install it' >&2; exit 1; }\n"
        f"cat > {PROXY_SCRIPT_PATH}.new <<'PROXY'\n{source}PROXY\n"
        f"cat > /etc/systemd/system/{PROXY_UNIT}.new <<'UNIT'\n{PROXY_UNIT_TEXT}UNIT\n"
        "proxy_changed=no\n"
        f"for file in {PROXY_SCRIPT_PATH} /etc/systemd/system/{PROXY_UNIT}; do\n"
        '  if cmp -s "$file.new" "$file"; then rm -f "$file.new"\n'
        '  else mv -f "$file.new" "$file"; proxy_changed=yes; fi\n'
        "done\n"
        f"chmod 0755 {PROXY_SCRIPT_PATH}\n"
        "systemctl daemon-reload\n"
        f"systemctl enable {PROXY_UNIT} >/dev/null 2>&1 || true\n"
        f'if [ "$proxy_changed" = yes ]; then systemctl restart {PROXY_UNIT}; else systemctl start {PROXY_UNIT}; fi\n'
        f"for attempt in $(seq 1 30); do [ -S {socket} ] && break; sleep 1; done\n"
        f"[ -S {socket} ] || {{ journalctl -u {PROXY_UNIT} -n 20 --no-pager >&2 || true; "
        f"echo 'constellab-prepare: the Docker API proxy did not start' >&2; exit 1; }}\n"
        f'log "Docker API proxy for Traefik: {socket}"\n'
    )


def prepare_script(
    authorized_keys: Sequence[str] | None = None,
    docker_firewall: host_firewall.DockerFirewall | None = None,
    docker_api_proxy: bool = False,
) -> str:
    """The preparation script (POSIX sh, run as root with the login user and the SSH port as arguments).

    `authorized_keys`: the keys the login user logs in with, exactly (a cloud server's); None leaves
    the host's logins as they are. `docker_firewall`: the server's limits on Docker's traffic (a lab host
    or the space; None for the first boot's run, before any container exists). `docker_api_proxy`: install
    Traefik's read-only Docker API proxy (a lab host; not at first boot: its source would not fit in the
    16 KB of user data, and no container exists before the preparation over SSH).
    """
    return (
        _SCRIPT.replace("__GID__", str(lab_host.DOCKER_GID))
        .replace("__DATA_ROOT__", lab_host.DATA_ROOT)
        .replace("__DAEMON_JSON__", DAEMON_JSON)
        .replace("__LOGS_ONLY_JSON__", LOGS_ONLY_DAEMON_JSON)
        .replace("__AUTO_UPGRADES__", AUTO_UPGRADES)
        .replace("__FOLDERS__", _folders())
        .replace("__READY__", READY_MARKER)
        .replace("__MOUNT_SCRIPT__", MOUNT_SCRIPT_PATH)
        # Last: the keys are the stack's text, never searched for placeholders.
        .replace("__DOCKER_FIREWALL__", _firewall_step(docker_firewall))
        .replace("__DOCKER_PROXY__", _proxy_step(docker_api_proxy))
        .replace("__KEYS__", _keys_step(authorized_keys))
    )


Firewall = Literal["ufw", "none"]


def remote_command(
    login_user: str, ssh_port: int, firewall: Firewall = "ufw", *, after_cloud_init: bool = False
) -> str:
    """The command that runs the script, read from standard input, as root on a host reached over SSH.

    The SSH session's own port (from `SSH_CONNECTION`, before sudo drops it) is allowed through the
    firewall too. On a cloud server, cloud-init has prepared the host once already (its first boot):
    the command waits for it to finish, then runs the script again, so what changed since reaches the
    running server. Its last line is the engine's version, read as root: the check passes in a session
    opened before the login user joined the docker group.
    """
    run = f'sudo -n sh -s -- {shlex.quote(login_user)} {ssh_port} {firewall} "${{SSH_CONNECTION##* }}"'
    if not after_cloud_init:
        return run
    # cloud-init exits 2 for recoverable warnings (degraded), 1 for errors.
    wait = (
        "cloud-init status --wait >/dev/null; status=$?; "
        'if [ "$status" -ne 0 ] && [ "$status" -ne 2 ]; then cloud-init status --long >&2; exit "$status"; fi'
    )
    return f"{wait}; {run}"
