"""The containers and networks the infrastructure declares on a server, as data.

A hub's or lab's host follows Constellab's lab-host contract (`lab_host`): two system containers and
three networks, the lab manager running everything else. The collaborative space's server is not a
lab host and keeps its own set: its proxy, its application and its database.

Values that only exist at deployment time (generated passwords, bucket names, configured secrets)
appear as `Ref`s and are filled in by `components.containers`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from constellab import naming, traefik
from constellab.config import Images, PlatformConfig
from constellab.naming import Server
from constellab.values import Configured, Generated, Value

DOCKER_SOCKET = "/var/run/docker.sock"
DB_PORT = 3306


@dataclass(frozen=True)
class Ref:
    """A value known only at deployment: a generated password, a configured secret, a bucket name."""

    name: Value
    secret: bool = True
    generated: bool = False
    """Generated for the server (a `RandomPassword` kept in state) rather than handed in."""


EnvValue = str | Ref


@dataclass(frozen=True)
class Mount:
    """A host folder (or the Docker socket) mounted into a container."""

    host_path: str
    container_path: str
    read_only: bool = False


@dataclass(frozen=True)
class File:
    """A file written into the container before it starts (configuration, or a secret with mode 0400)."""

    path: str
    content: str | Ref
    mode: int = 0o444


@dataclass(frozen=True)
class Port:
    """A container port published on the host (the proxy's 80 and 443)."""

    internal: int
    external: int


@dataclass(frozen=True)
class NetworkSpec:
    """A Docker bridge network of the server, by its exact name."""

    name: str
    subnet: str | None = None
    """A fixed subnet, for a network a host firewall rule names."""
    ip_range: str | None = None
    """Where Docker picks addresses it assigns itself: the rest of the subnet stays for pinned addresses,
    which no container started earlier can take."""
    reaches_instance_role: bool = False
    """Its containers may reach the instance metadata service, so the server's role (a cloud server's
    glab and Codelab, on the lab manager's prod and dev networks), but those pinned here without it."""


@dataclass(frozen=True)
class ContainerSpec:
    """One container the infrastructure declares."""

    role: str
    """Short name of the resource in the program (`<server>-<role>`)."""
    name: str
    """Container name on the host, also its DNS name on its networks."""
    image: str
    networks: tuple[str, ...]
    env: dict[str, EnvValue] = field(default_factory=dict)
    mounts: tuple[Mount, ...] = ()
    files: tuple[File, ...] = ()
    ports: tuple[Port, ...] = ()
    command: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    restart: str = "unless-stopped"
    previous_roles: tuple[str, ...] = ()
    """Roles the same container had in earlier versions of the toolkit (kept as aliases, not re-created)."""
    addresses: dict[str, str] = field(default_factory=dict)
    """Pinned IPv4 address per network name (a firewall rule names it)."""
    instance_role: bool = False
    """It uses the server's instance role (the space's application, for its S3 storage)."""

    @property
    def refs(self) -> set[Ref]:
        found = {value for value in self.env.values() if isinstance(value, Ref)}
        found |= {file.content for file in self.files if isinstance(file.content, Ref)}
        return found


@dataclass(frozen=True)
class ServerSet:
    """Everything the infrastructure declares in a server's Docker: networks, then containers."""

    networks: tuple[NetworkSpec, ...]
    containers: tuple[ContainerSpec, ...]


def is_database_secret(name: Value) -> bool:
    """Whether a generated secret is a database's password (which its data depends on)."""
    return name.startswith("db-")


def generated_secret_names(containers: tuple[ContainerSpec, ...] | list[ContainerSpec]) -> list[Value]:
    """Passwords and keys to generate for a server: every `Ref` marked generated."""
    return sorted({ref.name for spec in containers for ref in spec.refs if ref.generated})


def proxy_settings(platform: PlatformConfig, server: Server) -> traefik.ProxySettings:
    """How a server's proxy is configured."""
    certificates = server.certificates
    return traefik.ProxySettings(
        kind="space" if naming.role_of(server) == "space" else "lab-host",
        host=naming.server_host(server.name, platform.base_domain),
        tls=platform.certificate_mode(server),
        acme_email=platform.acme_email,
        httpreq_endpoint=getattr(certificates, "endpoint", None),
    )


def proxy_files(settings: traefik.ProxySettings) -> tuple[File, ...]:
    """The proxy's files as container files: rendered ones, and the values filled in at deployment."""
    return tuple(
        File(proxy.path, Ref(proxy.value, secret=proxy.secret) if proxy.value else proxy.content, proxy.mode)
        for proxy in traefik.proxy_files(settings)
    )


# ---------------------------------------------------------------------------------------------
# The collaborative space's server
# ---------------------------------------------------------------------------------------------

SPACE_NETWORKS = (
    NetworkSpec("space-edge", subnet="172.30.240.0/24", ip_range="172.30.240.128/25"),
    NetworkSpec("space-data", subnet="172.30.241.0/24", ip_range="172.30.241.128/25"),
)
"""The space's own networks: its proxy and application on the edge, the application and database on data.
Fixed subnets: the application's pinned addresses are the only ones the host lets reach the instance role."""
SPACE_ADDRESSES = {"space-edge": "172.30.240.10", "space-data": "172.30.241.10"}
"""The space application's pinned addresses (it stores its documents in S3 with the instance role)."""


def _db_env(prefix: str, database: str, password: Generated, name: str) -> dict[str, EnvValue]:
    return {
        f"{prefix}_HOST": database,
        f"{prefix}_USER": "gws",
        f"{prefix}_PASSWORD": Ref(password, generated=True),
        f"{prefix}_NAME": name,
        f"{prefix}_PORT": str(DB_PORT),
    }


def space_set(platform: PlatformConfig, images: Images, server: Server) -> ServerSet:
    """The collaborative space: its application and database behind its own Traefik."""
    assert images.space is not None, "validated: a space has an image"
    settings = proxy_settings(platform, server)
    edge, data = (network.name for network in SPACE_NETWORKS)
    env: dict[str, EnvValue] = {
        "VIRTUAL_HOST": settings.host,
        "SPACE_STORAGE_S3_BUCKET": Ref(Configured.SPACE_BUCKET, secret=False),
        "SPACE_STORAGE_S3_PREFIX": Ref(Configured.SPACE_PREFIX, secret=False),
        "AWS_REGION": Ref(Configured.AWS_REGION, secret=False),
        "COMMUNITY_API_URL": platform.endpoints.community_api_url,
        "COMMUNITY_API_KEY": Ref(Configured.COMMUNITY_API_KEY),
    }
    env |= _db_env("SPACE_DB", "db-space", Generated.DB_SPACE_PASSWORD, "gws_core")
    database = ContainerSpec(
        role="db-space",
        name="db-space",
        image=images.space_database,
        networks=(data,),
        env={
            "MARIADB_DATABASE": "gws_core",
            "MARIADB_USER": "gws",
            "MARIADB_PASSWORD_FILE": "/run/secrets/db_password",
            "MARIADB_ROOT_PASSWORD_FILE": "/run/secrets/db_root_password",
        },
        files=(
            File("/run/secrets/db_password", Ref(Generated.DB_SPACE_PASSWORD, generated=True), 0o400),
            File("/run/secrets/db_root_password", Ref(Generated.DB_SPACE_ROOT_PASSWORD, generated=True), 0o400),
        ),
        mounts=(Mount(f"{naming.DATA_ROOT}/gws_db/space", "/var/lib/mysql"),),
        command=("--max_allowed_packet=256M",),
    )
    containers = (
        ContainerSpec(
            role="traefik",
            name="traefik",
            image=images.traefik,
            networks=(edge,),
            env=dict(traefik.environment(settings)),
            mounts=(Mount(f"{naming.DATA_ROOT}/traefik/acme", traefik.ACME_DIR),),
            files=proxy_files(settings),
            ports=(Port(80, 80), Port(443, 443)),
        ),
        ContainerSpec(
            role="space",
            name="space",
            image=images.space,
            networks=(edge, data),
            env=env,
            mounts=(Mount(f"{naming.DATA_ROOT}/space/data", "/data"),),
            addresses=dict(SPACE_ADDRESSES),
            instance_role=True,
        ),
        database,
    )
    return ServerSet(networks=SPACE_NETWORKS, containers=containers)


def server_set(platform: PlatformConfig, server: Server) -> ServerSet:
    """What the infrastructure declares on any server of the platform."""
    from constellab import lab_host
    from constellab.config import CloudPlacement, Space

    if isinstance(server, Space):
        return space_set(platform, platform.images, server)
    return lab_host.system_set(platform, server, pinned=isinstance(server.placement, CloudPlacement))
