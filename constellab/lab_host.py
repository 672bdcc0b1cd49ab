"""Constellab's lab-host contract: what a hub's or lab's host provides, and what its lab manager runs.

Sources (public repositories, read for this contract):
- `Constellab/lab-configurer`: `utils/prepare_server.sh`, `utils/init.sh`, `utils/ensure_docker_gid.sh`,
  `utils/docker/daemon.json` (how a server is prepared) and `docker-compose.yml`, the "system compose"
  of the two containers the infrastructure owns, `lab_manager` and `reverse_proxy`;
- `Constellab/lab-manager`: `src/assets/docker-compose.yml`, the template of every other container,
  which the lab manager renders into `/app/conf/docker-compose.yml` and runs with `docker compose`.

The infrastructure owns the host, the three networks and the two system containers; the lab manager
owns the rest, by fixed container names on those networks. `LAB_MANAGER_SET` describes that rest so
the preview, the diagram and the README show the whole lab; nothing here declares it.
"""

from __future__ import annotations

import dataclasses
import posixpath
from dataclasses import dataclass

from constellab import naming
from constellab.config import Hub, Lab, PlatformConfig
from constellab.topology import (
    DOCKER_SOCKET,
    ContainerSpec,
    Mount,
    NetworkSpec,
    Port,
    Ref,
    ServerSet,
    proxy_files,
    proxy_settings,
)
from constellab.traefik import ACME_DIR, CERT_RESOLVER, DOCKER_PROXY_SOCKET, environment
from constellab.values import Configured

NETWORK_MANAGER = "gencovery-network-manager"
NETWORK_DEV = "gencovery-network-dev"
NETWORK_PROD = "gencovery-network-prod"
NETWORKS = (NETWORK_MANAGER, NETWORK_DEV, NETWORK_PROD)
"""Names the lab manager's compose files declare as `external`: they must exist, with exactly these names."""

LAB_MANAGER = "lab_manager"
REVERSE_PROXY = "reverse_proxy"
SYSTEM_CONTAINERS = (LAB_MANAGER, REVERSE_PROXY)
LAB_MANAGER_PORT = 3080
LAB_MANAGER_ROUTER = "lab-manager-router"
DOCKER_PROXY_DIR = posixpath.dirname(DOCKER_PROXY_SOCKET)
"""The folder of the host's read-only Docker API proxy's socket (`hostfiles/docker_proxy.py`)."""
ACME_HOST_DIR = "/srv/letsencrypt"
"""The proxy's ACME store on the host, as lab-configurer mounts it (`/srv/letsencrypt:/letsencrypt`)."""

DATA_ROOT = naming.DATA_ROOT
DOCKER_GID = 999
"""The `docker` group's id: the lab manager's image runs as `labuser`, a member of group 999."""
# (folder, owned by the login user?) as lab-configurer's init.sh creates them.
HOST_FOLDERS: tuple[tuple[str, bool], ...] = (
    (DATA_ROOT, True),
    (f"{DATA_ROOT}/dev", True),
    (f"{DATA_ROOT}/dev/etc-ssh", False),
    (f"{DATA_ROOT}/docker", False),
)
DOCKER_DAEMON = {
    "log-driver": "json-file",
    "log-opts": {"max-size": "1m", "max-file": "3"},
    "data-root": f"{DATA_ROOT}/docker",
}
"""lab-configurer's `utils/docker/daemon.json`."""
CODELAB_SSH_PORT = 2222
"""Codelab's SSH server, published on the host by the lab manager's template (`2222:2222`)."""


# ---------------------------------------------------------------------------------------------
# The system compose: the two containers the infrastructure owns
# ---------------------------------------------------------------------------------------------


def lab_manager_labels(host: str, request_wildcard: bool) -> dict[str, str]:
    """The lab manager's Traefik labels, as lab-configurer's `docker-compose.yml` writes them.

    Its router carries the request for the one wildcard certificate `*.<H>`, which every other host of
    the lab (the lab manager's own routers) then shares.
    """
    router = f"traefik.http.routers.{LAB_MANAGER_ROUTER}"
    labels = {
        "traefik.enable": "true",
        f"{router}.rule": f"Host(`lab-manager.{host}`)",
        f"{router}.service": "lab-manager-service",
        "traefik.http.services.lab-manager-service.loadbalancer.server.port": str(LAB_MANAGER_PORT),
        f"{router}.entrypoints": "websecure",
        f"{router}.tls": "true",
    }
    if request_wildcard:
        labels[f"{router}.tls.certresolver"] = CERT_RESOLVER
        labels[f"{router}.tls.domains[0].main"] = f"*.{host}"
    return labels


CLOUD_SUBNETS = {
    NETWORK_MANAGER: "172.30.253.0/24",
    NETWORK_PROD: "172.30.252.0/24",
    NETWORK_DEV: "172.30.254.0/24",
}
"""A cloud lab host's networks: fixed, so that its firewall can name who reaches the instance role."""
PROXY_HOST_NUMBER = 2
"""The proxy's pinned address on each of them (`.2`); Docker assigns the upper half (`.128/25`) itself."""


def cloud_network(name: str) -> NetworkSpec:
    subnet = CLOUD_SUBNETS[name]
    prefix = subnet.rsplit(".", 1)[0]
    # glab and Codelab (prod and dev) read the hub's data lake with the instance role; the lab manager
    # backs up with the key its backup target gives it, and the proxy never needs it.
    return NetworkSpec(
        name, subnet=subnet, ip_range=f"{prefix}.128/25", reaches_instance_role=name in (NETWORK_PROD, NETWORK_DEV)
    )


def system_set(platform: PlatformConfig, server: Hub | Lab, *, pinned: bool = False) -> ServerSet:
    """The three networks and the two system containers of a hub's or lab's host.

    `pinned` (a cloud server): fixed subnets, and the proxy at a fixed address on each, so that the host's
    firewall keeps it away from the instance metadata service (`host_firewall`).
    """
    settings = proxy_settings(platform, server)
    host = settings.host
    lab_manager = ContainerSpec(
        role="lab-manager",
        name=LAB_MANAGER,
        image=platform.images.lab_manager,
        networks=(NETWORK_MANAGER,),
        env={
            "VOLUME_PATH": DATA_ROOT,
            "LOG_PATH": f"{DATA_ROOT}/lab_manager/logs",
            "VIRTUAL_HOST": host,
            # The key the Space generated for this lab (it calls the Space with it); generated here for a lab
            # on this machine, which no Space knows.
            "LAB_MANAGER_API_KEY": Ref(Configured.LAB_MANAGER_API_KEY, generated=server.placement.kind == "local"),
            "ENVIRONMENT_PROFILE": platform.environment_profile,
            "AUTO_START_LAB": "true",
        },
        # Same path inside and out: the lab manager drives Docker through the socket with host paths.
        mounts=(Mount(DOCKER_SOCKET, DOCKER_SOCKET), Mount(DATA_ROOT, DATA_ROOT)),
        labels=lab_manager_labels(host, request_wildcard=settings.tls in ("acme", "httpreq")),
        restart="always",
    )
    reverse_proxy = ContainerSpec(
        role="reverse-proxy",
        name=REVERSE_PROXY,
        image=platform.images.traefik,
        networks=NETWORKS,
        env=dict(environment(settings)),
        # The host's read-only Docker API proxy, never the socket: whoever takes Traefik must not get root.
        # Its folder, not the socket file: a restarted proxy makes a new socket, which a file mount misses.
        mounts=(Mount(ACME_HOST_DIR, ACME_DIR), Mount(DOCKER_PROXY_DIR, DOCKER_PROXY_DIR, read_only=True)),
        files=proxy_files(settings),
        ports=(Port(80, 80), Port(443, 443)),
        restart="always",
        previous_roles=("traefik",),
    )
    if not pinned:
        return ServerSet(
            networks=tuple(NetworkSpec(name) for name in NETWORKS), containers=(lab_manager, reverse_proxy)
        )
    networks = tuple(cloud_network(name) for name in NETWORKS)
    proxy_addresses = {
        network.name: f"{network.subnet.rsplit('.', 1)[0]}.{PROXY_HOST_NUMBER}"
        for network in networks
        if network.subnet
    }
    return ServerSet(
        networks=networks, containers=(lab_manager, dataclasses.replace(reverse_proxy, addresses=proxy_addresses))
    )


# ---------------------------------------------------------------------------------------------
# What the lab manager runs itself (described, never declared)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpstreamRoute:
    """A host the lab manager routes to one of its containers with its own labels."""

    host: str
    """The host under `<H>`: `glab`, or a pattern such as `app-<x>`."""
    port: int
    basic_auth: bool = False


@dataclass(frozen=True)
class UpstreamContainer:
    """A container of the lab manager's template: its fixed name, networks and routes."""

    name: str
    role: str
    networks: tuple[str, ...]
    routes: tuple[UpstreamRoute, ...] = ()
    published_ports: tuple[int, ...] = ()
    data: tuple[str, ...] = ()
    """Host folders it keeps its data in."""
    biota_only: bool = False
    """Started only when the lab has the Biota brick (older lab managers)."""


LAB_MANAGER_SET = (
    UpstreamContainer(
        "front",
        "web interface (prod and dev)",
        (NETWORK_PROD,),
        routes=(UpstreamRoute("lab", 81), UpstreamRoute("front", 81), UpstreamRoute("dev-lab", 81)),
    ),
    UpstreamContainer(
        "glab",
        "prod environment",
        (NETWORK_PROD,),
        routes=(UpstreamRoute("glab", 3000), UpstreamRoute("app-<x>", 8510)),
        data=(f"{DATA_ROOT}/prod/lab", f"{DATA_ROOT}/prod/data"),
    ),
    UpstreamContainer(
        "codelab",
        "dev environment (Codelab)",
        (NETWORK_DEV,),
        routes=(
            UpstreamRoute("codelab", 8080, basic_auth=True),
            UpstreamRoute("glab-dev", 3000),
            UpstreamRoute("appdev-<x>", 8510),
        ),
        published_ports=(CODELAB_SSH_PORT,),
        data=(f"{DATA_ROOT}/dev/lab", f"{DATA_ROOT}/dev/data"),
    ),
    UpstreamContainer(
        "gws_core_prod_db", "prod database", (NETWORK_PROD,), data=(f"{DATA_ROOT}/gws_db/gws_core/prod/mariadb",)
    ),
    UpstreamContainer(
        "gws_core_dev_db", "dev database", (NETWORK_DEV,), data=(f"{DATA_ROOT}/gws_db/gws_core/dev/mariadb",)
    ),
    UpstreamContainer("test_gws_dev_db", "test database (in memory)", (NETWORK_DEV,)),
    UpstreamContainer(
        "gws_biota_db",
        "Biota database, read-only",
        (NETWORK_PROD, NETWORK_DEV),
        data=(f"{DATA_ROOT}/gws_db/gws_biota/mariadb",),
        biota_only=True,
    ),
)
LAB_MANAGER_NAMES = frozenset(container.name for container in LAB_MANAGER_SET)
"""Container names the lab manager's `docker compose up` creates: the infrastructure must never use them."""


def lab_manager_containers(biota: bool) -> list[UpstreamContainer]:
    """The containers the lab manager runs on a host (Biota's database only with the brick)."""
    return [container for container in LAB_MANAGER_SET if biota or not container.biota_only]
