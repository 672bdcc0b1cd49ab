"""The host rules that limit what Docker's own rules let through, rendered as one idempotent script.

Docker routes published ports and container traffic in the kernel's FORWARD chain, past the INPUT
rules of a host firewall such as UFW; it runs the chain `DOCKER-USER` first and leaves it to the
administrator (https://docs.docker.com/engine/network/packet-filtering-firewalls/). Two limits go there:
- Codelab's SSH, which the lab manager publishes on 2222, answers only the administrator networks
  (`adminCidrs`), on every lab host (published ports are the DNAT'ed connections: `--ctstate DNAT`);
- on a cloud server, the instance metadata service (169.254.169.254, so the instance role) answers only
  the containers that use the role: those on networks marked `reaches_instance_role` but the pinned
  addresses of containers without it (the proxy), and the pinned addresses of containers marked
  `instance_role` (the space's application). Traefik, internet-facing, never reaches it.
The rules are loaded with `iptables-restore --noflush` (one transaction: no moment without them) into
chains of their own, jumped to from `DOCKER-USER`; a systemd unit loads them again whenever Docker starts.
IPv4 only: Docker publishes IPv6 through its userland proxy, which the host firewall's INPUT rules see.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from constellab.topology import ServerSet

SCRIPT_PATH = "/usr/local/sbin/constellab-docker-firewall"
UNIT = "constellab-docker-firewall.service"
IMDS_ADDRESS = "169.254.169.254/32"
ADMIN_CHAIN = "CONSTELLAB-ADMIN"
IMDS_CHAIN = "CONSTELLAB-IMDS"
FORMER_IMDS_GUARD = "constellab-imds-guard.service"
"""The earlier versions' guard (user data): it let only the manager network reach the metadata service."""


@dataclass(frozen=True)
class ImdsAccess:
    """Who on a server's Docker networks reaches the instance metadata service."""

    denied: tuple[str, ...]
    """Pinned addresses refused first (containers on an allowed network that must not use the role)."""
    allowed: tuple[str, ...]
    """Subnets and addresses let through; everything else is refused."""


def imds_access(server_set: ServerSet) -> ImdsAccess:
    """From the topology: the networks and containers marked as using the role, minus everyone else pinned."""
    networks = {network.name: network for network in server_set.networks}
    allowed = [network.subnet for network in server_set.networks if network.reaches_instance_role and network.subnet]
    denied: list[str] = []
    for spec in server_set.containers:
        if spec.instance_role:
            allowed += [spec.addresses[name] for name in spec.networks]
            continue
        for name in spec.networks:
            if networks[name].reaches_instance_role:
                if name not in spec.addresses:
                    raise ValueError(f"{spec.name} is on {name}, which reaches the instance role: pin its address")
                denied.append(spec.addresses[name])
    return ImdsAccess(denied=tuple(sorted(denied)), allowed=tuple(sorted(allowed)))


def _ipv4(cidrs: Sequence[str]) -> list[str]:
    return [cidr for cidr in cidrs if ipaddress.ip_network(cidr, strict=False).version == 4]


@dataclass(frozen=True)
class DockerFirewall:
    """One server's limits on Docker's traffic."""

    admin_cidrs: tuple[str, ...]
    admin_ports: tuple[int, ...]
    """Published ports only the administrator networks reach (Codelab's SSH on a lab host)."""
    imds: ImdsAccess | None = None
    """A cloud server's access to the instance metadata service."""

    def rules(self) -> str:
        """The `iptables-restore --noflush` input: the chains, flushed and filled in one transaction."""
        lines = ["*filter", f":{ADMIN_CHAIN} - [0:0]"]
        lines += [f"-A {ADMIN_CHAIN} -s {cidr} -j RETURN" for cidr in _ipv4(self.admin_cidrs)]
        lines.append(f"-A {ADMIN_CHAIN} -j DROP")
        if self.imds is not None:
            lines.append(f":{IMDS_CHAIN} - [0:0]")
            lines += [f"-A {IMDS_CHAIN} -s {address} -j DROP" for address in self.imds.denied]
            lines += [f"-A {IMDS_CHAIN} -s {source} -j RETURN" for source in self.imds.allowed]
            lines.append(f"-A {IMDS_CHAIN} -j DROP")
        lines.append("COMMIT")
        return "\n".join(lines) + "\n"

    def jumps(self) -> list[str]:
        """The `DOCKER-USER` rules that send traffic to the chains (each inserted once)."""
        # Written as `iptables -S` prints them, so that a former jump is recognised and removed. The
        # original direction only: a reply (from Codelab's container address) is DNAT'ed traffic too.
        found = [
            f"-p tcp -m conntrack --ctstate DNAT --ctorigdstport {port} --ctdir ORIGINAL -j {ADMIN_CHAIN}"
            for port in sorted(self.admin_ports)
        ]
        if self.imds is not None:
            found.append(f"-d {IMDS_ADDRESS} -j {IMDS_CHAIN}")
        return found

    def script(self) -> str:
        """The script the unit runs: the chains (one transaction), then each jump inserted once."""
        jumps = self.jumps()
        jump_lines = "".join(
            f"iptables -w -C DOCKER-USER {jump} 2>/dev/null || iptables -w -I DOCKER-USER {jump}\n" for jump in jumps
        )
        # A jump an earlier version inserted, and this one no longer renders, goes (Docker never flushes
        # DOCKER-USER): after the new ones are in, so there is no moment without them.
        kept = "|".join(f'"{jump}"' for jump in jumps) or '""'
        # The first version's guard of the metadata service (a unit of its own, from cloud-init): it would
        # drop what the chain above lets through.
        jump_lines += (
            f"if [ -e /etc/systemd/system/{FORMER_IMDS_GUARD} ]; then\n"
            f"  systemctl disable --now {FORMER_IMDS_GUARD} >/dev/null 2>&1 || true\n"
            f"  rm -f /etc/systemd/system/{FORMER_IMDS_GUARD}\n"
            "fi\n"
            # As iptables prints it: `! -s <manager subnet> -d 169.254.169.254/32 -j DROP`.
            "iptables -w -S DOCKER-USER | sed -n 's/^-A DOCKER-USER //p' |\n"
            "  grep -e '^! -s [0-9./]* -d 169.254.169.254/32 -j DROP$' |\n"
            "  while IFS= read -r rule; do iptables -w -D DOCKER-USER $rule; done\n"
        )
        jump_lines += (
            "iptables -w -S DOCKER-USER | sed -n 's/^-A DOCKER-USER //p' | grep -e '-j CONSTELLAB-' |\n"
            "  while IFS= read -r rule; do\n"
            f'    case "$rule" in {kept}) ;; *) iptables -w -D DOCKER-USER $rule ;; esac\n'
            "  done\n"
        )
        ports = ", ".join(str(port) for port in sorted(self.admin_ports)) or "none"
        summary = f"published admin port(s) {ports} for {len(_ipv4(self.admin_cidrs))} administrator network(s)"
        if self.imds is not None:
            summary += f"; the instance role for {len(self.imds.allowed)} source(s), refused to {len(self.imds.denied)}"
        # Codelab's SSH then goes through the host firewall's INPUT rules; but nothing would keep the containers
        # from the instance role: on a cloud server, that is a failure, not a note.
        missing = "exit 1" if self.imds is not None else "exit 0"
        return (
            _SCRIPT.replace("__RULES__", self.rules())
            .replace("__JUMPS__", jump_lines)
            .replace("__SUMMARY__", summary)
            .replace("__MISSING__", missing)
        )


_SCRIPT = """#!/bin/sh
# Constellab: limits on what Docker's rules let through (DOCKER-USER runs before them). Safe to run again.
set -eu
if ! iptables -w -n -L DOCKER-USER >/dev/null 2>&1; then
  echo "constellab-docker-firewall: no DOCKER-USER chain: Docker does not manage iptables here," \\
    "so its published ports go through the host firewall's INPUT rules" >&2
  __MISSING__
fi
iptables-restore -w --noflush <<'RULES'
__RULES__RULES
__JUMPS__echo "constellab-docker-firewall: __SUMMARY__"
"""

UNIT_TEXT = f"""[Unit]
Description=Constellab: Codelab's SSH for administrators only, the instance role for the containers using it
After=docker.service
PartOf=docker.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart={SCRIPT_PATH}

[Install]
WantedBy=docker.service
"""
"""The systemd unit: the rules again whenever Docker (re)starts."""
