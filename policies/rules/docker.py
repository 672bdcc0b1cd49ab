"""Docker: no privileged containers, the socket only where needed, pinned images, no published database,
dev and prod kept apart, no plain credentials in environments, restart policies, and the lab-host contract
(no container named like the lab manager's own, the three networks it names)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from . import field_limits
from .common import Rule, as_list, of_type, report

CONTAINER = "docker:index/container:Container"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
SOCKET = "/var/run/docker.sock"
# The two system containers of a lab host (constellab/lab_host.py; the pack cannot import the program).
SOCKET_USERS = ("lab_manager",)
"""The lab manager drives Docker; the proxy reads labels through the host's read-only API proxy."""
SYSTEM_CONTAINERS = ("lab_manager", "reverse_proxy")
LAB_MANAGER = "lab_manager"
NETWORK = "docker:index/network:Network"
LAB_HOST_NETWORKS = ("gencovery-network-manager", "gencovery-network-dev", "gencovery-network-prod")
# What the lab manager's `docker compose up` creates, by container_name (its src/assets/docker-compose.yml).
LAB_MANAGER_NAMES = frozenset(
    {"front", "glab", "codelab", "gws_core_prod_db", "gws_core_dev_db", "test_gws_dev_db", "gws_biota_db"}
)
DATABASE_PORTS = {3306, 5432, 1433, 1521, 27017, 6379, 9200}
CREDENTIAL_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_KEY|ACCESS_KEY", re.IGNORECASE)
KEY_SHAPES = (
    re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
)
COMMON_PASSWORDS = {"password", "changeme", "admin", "root", "secret", "gencovery", "123456", "mariadb", "mysql"}


def _name(args: ResourceValidationArgs) -> str:
    return str(args.props.get("name") or args.name)


def no_privileged(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == CONTAINER and args.props.get("privileged") is True:
        report(
            report_violation,
            args.name,
            args.resource_type,
            "runs privileged",
            "drop privileged; grant the one capability it needs instead",
        )


def _mounts_socket(props: Mapping[str, Any]) -> bool:
    paths = [v.get("hostPath") for v in as_list(props.get("volumes")) if isinstance(v, dict)]
    paths += [m.get("source") for m in as_list(props.get("mounts")) if isinstance(m, dict)]
    return SOCKET in paths


def socket_only_where_needed(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == CONTAINER and _mounts_socket(args.props) and _name(args) not in SOCKET_USERS:
        report(
            report_violation,
            args.name,
            args.resource_type,
            f"{_name(args)} mounts the Docker socket (root on the host)",
            "only lab_manager may mount /var/run/docker.sock; Traefik reads through the host's read-only proxy "
            "(/run/constellab)",
        )


def images_pinned(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    field = {CONTAINER: "image", REMOTE_IMAGE: "name"}.get(args.resource_type)
    if field is None:
        return
    reference = str(args.props.get(field, ""))
    problem = field_limits.unpinned(reference)
    if problem:
        report(
            report_violation,
            args.name,
            args.resource_type,
            f"image {reference} {problem}",
            "pin a version tag (e.g. 1.2.3) or a sha256 digest",
        )


def no_database_port_published(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CONTAINER:
        return
    for port in as_list(args.props.get("ports")):
        internal, external = int(port.get("internal") or 0), int(port.get("external") or 0)
        if internal in DATABASE_PORTS or external in DATABASE_PORTS:
            report(
                report_violation,
                args.name,
                args.resource_type,
                f"publishes database port {internal} on the host as {external}",
                "remove the port: databases are reached over their Docker network only",
            )


def _networks(props: Mapping[str, Any]) -> set[str]:
    return {str(n.get("name")) for n in as_list(props.get("networksAdvanced")) if isinstance(n, dict)}


def dev_and_prod_separated(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CONTAINER or _name(args) == "reverse_proxy":
        return
    if {"gencovery-network-dev", "gencovery-network-prod"} <= _networks(args.props):
        report(
            report_violation,
            args.name,
            args.resource_type,
            f"{_name(args)} joins both the dev and the prod network",
            "attach it to one of them: only the reverse proxy serves both environments",
        )


def no_lab_manager_names(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == CONTAINER and _name(args) in LAB_MANAGER_NAMES:
        report(
            report_violation,
            args.name,
            args.resource_type,
            f"is named {_name(args)}, a container the lab manager creates itself (its compose would collide)",
            "leave the lab's containers to the lab manager; declare only lab_manager and reverse_proxy",
        )


def lab_host_networks(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    networks: dict[str, set[str]] = {}
    for network in of_type(args.resources, NETWORK):
        networks.setdefault(_provider_of(network), set()).add(str(network.props.get("name")))
    for manager in of_type(args.resources, CONTAINER):
        if manager.props.get("name") != LAB_MANAGER:
            continue
        missing = [name for name in LAB_HOST_NETWORKS if name not in networks.get(_provider_of(manager), set())]
        if missing:
            report(
                report_violation,
                manager.name,
                manager.resource_type,
                f"its host has no network {', '.join(missing)}, which the lab manager's compose files name as external",
                "declare the three gencovery-network-* networks on the same Docker host",
                manager.urn,
            )


def _provider_of(resource: Any) -> str:
    provider = getattr(resource, "provider", None)
    return str(getattr(provider, "urn", "")) if provider is not None else ""


def _plain_credential(key: str, value: str) -> str | None:
    if key.endswith("_FILE") or not value:
        return None
    for shape in KEY_SHAPES:
        if shape.search(value):
            return "holds a key"
    weak = value.lower() in COMMON_PASSWORDS or len(value) < 20 or len(set(value)) < 10
    if CREDENTIAL_NAME.search(key) and weak:
        return "holds a short or well-known password"
    return None


def no_plain_credentials_in_environment(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CONTAINER:
        return
    for entry in as_list(args.props.get("envs")):
        key, _, value = str(entry).partition("=")
        problem = _plain_credential(key, value)
        if problem:
            report(
                report_violation,
                args.name,
                args.resource_type,
                f"environment variable {key} {problem}",
                "generate it (RandomPassword), keep it a Pulumi secret, or pass a *_FILE secret file",
            )


def restart_policy_set(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CONTAINER:
        return
    restart = args.props.get("restart")
    if _name(args) in SYSTEM_CONTAINERS and restart != "always":
        # lab-configurer's system compose: both come back whatever stopped them.
        report(
            report_violation, args.name, args.resource_type, f"restart policy is {restart!r}", 'set restart to "always"'
        )
    elif restart not in ("always", "unless-stopped", "on-failure"):
        report(
            report_violation,
            args.name,
            args.resource_type,
            f"restart policy is {restart!r}",
            'set restart to "unless-stopped"',
        )


RULES = [
    Rule("docker-no-privileged", "No container runs privileged", "mandatory", no_privileged),
    Rule(
        "docker-socket-only-system-containers",
        "Only lab_manager mounts the Docker socket",
        "mandatory",
        socket_only_where_needed,
    ),
    Rule("docker-images-pinned", "Images are pinned to a version tag or digest", "mandatory", images_pinned),
    Rule(
        "docker-no-database-port-published",
        "No database port is published on the host",
        "mandatory",
        no_database_port_published,
    ),
    Rule(
        "docker-dev-and-prod-separated",
        "No container but the reverse proxy joins both the dev and the prod network",
        "mandatory",
        dev_and_prod_separated,
    ),
    Rule(
        "docker-no-lab-manager-names",
        "No declared container takes a name the lab manager creates",
        "mandatory",
        no_lab_manager_names,
    ),
    Rule(
        "docker-lab-host-networks",
        "Every lab host has the three gencovery-network-* networks",
        "mandatory",
        lab_host_networks,
        scope="stack",
    ),
    Rule(
        "docker-no-plain-credentials",
        "No environment value looks like a plain password or a key",
        "mandatory",
        no_plain_credentials_in_environment,
    ),
    Rule("docker-restart-policy", "Containers restart after a failure or a reboot", "mandatory", restart_policy_set),
]
